#include "engine/http/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace conveyor::http {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Compares in time independent of where the two differ.
bool TokenMatches(std::string_view presented, std::string_view expected) {
  unsigned char differ = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    differ |= static_cast<unsigned char>(presented[i] ^
                                         expected[i % std::max<size_t>(1, expected.size())]);
  }
  return differ == 0 && !expected.empty();
}

bool NamesServer(const std::string& host, const AccessPolicy& policy) {
  return std::find(policy.hosts.begin(), policy.hosts.end(), host) != policy.hosts.end();
}

// The request's own origin is the scheme and authority it was sent to: http:// and the Host
// header, or the public URL's origin behind a proxy.
bool IsOwnOrigin(const std::string& origin, const RequestHead& head, const AccessPolicy& policy) {
  const std::string lowered = Lower(origin);
  if (lowered == "http://" + Lower(head.host)) return true;
  return !policy.public_origin.empty() && lowered == Lower(policy.public_origin);
}

std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return Lower(type);
}

}  // namespace

bool IsWrite(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

std::string HostOfAuthority(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return "";
    return Lower(authority.substr(1, close - 1));
  }
  const size_t colon = authority.find(':');
  return Lower(authority.substr(0, colon));
}

bool IsLoopbackHost(std::string_view host) {
  const std::string name = Lower(host);
  if (name == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, name.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, name.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string OriginOfUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  const std::string scheme = Lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return "";
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return "";
  return scheme + "://" + Lower(authority);
}

std::vector<std::string> ServerHostNames(const std::string& bind_host,
                                         const std::string& public_url) {
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  const std::string bound = HostOfAuthority(
      bind_host.find(':') != std::string::npos && bind_host.front() != '[' ? "[" + bind_host + "]"
                                                                           : bind_host);
  // 0.0.0.0 and :: are not names a client sends; the public URL names such a server.
  if (!bound.empty() && bound != "0.0.0.0" && bound != "::") hosts.push_back(bound);
  if (const std::string origin = OriginOfUrl(public_url); !origin.empty()) {
    hosts.push_back(HostOfAuthority(origin.substr(origin.find("://") + 3)));
  }
  return hosts;
}

std::optional<ApiResponse> CheckRequest(const RequestHead& head, const AccessPolicy& policy,
                                        bool open_path, bool post_is_read) {
  const std::string host = HostOfAuthority(head.host);
  if (!NamesServer(host, policy) && (host.empty() || host != Lower(head.local_addr))) {
    return Problem(403, "the Host header '" + head.host + "' does not name this server");
  }
  if (!head.origin.empty()) {
    if (!IsOwnOrigin(head.origin, head, policy)) {
      return Problem(403, "cross-origin request refused: Origin '" + head.origin +
                              "' is not this server's origin");
    }
  } else if (!head.referer.empty() && !IsOwnOrigin(OriginOfUrl(head.referer), head, policy)) {
    return Problem(403, "cross-origin request refused: Referer '" + head.referer +
                            "' is not from this server's origin");
  }
  if (open_path) return std::nullopt;
  const bool write = IsWrite(head.method) && !post_is_read;
  if (write || policy.reads_need_token) {
    constexpr std::string_view kBearer = "Bearer ";
    if (head.authorization.empty()) {
      return Problem(401, "this endpoint needs an Authorization: Bearer token");
    }
    if (head.authorization.rfind(kBearer, 0) != 0 ||
        !TokenMatches(std::string_view(head.authorization).substr(kBearer.size()), policy.token)) {
      return Problem(403, "the token is not valid");
    }
  }
  if (write && MediaType(head.content_type) != "application/json") {
    return Problem(415,
                   "a write needs Content-Type: application/json, got '" + head.content_type + "'");
  }
  return std::nullopt;
}

}  // namespace conveyor::http
