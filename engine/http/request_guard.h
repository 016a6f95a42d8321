#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/http/api.h"

namespace conveyor::http {

// Who may ask what of the server (docs/security.md). Built once when the server starts.
struct AccessPolicy {
  std::string token;  // never empty in serve: configured or generated
  bool reads_need_token = false;
  // Host header values (without port) that name this server: loopback names, the bound
  // address, the public URL's host.
  std::vector<std::string> hosts;
  // The public URL's origin ("https://conveyor.example.com"), or empty.
  std::string public_origin;
};

// The parts of a request the guard reads.
struct RequestHead {
  std::string method;
  std::string path;
  std::string host;
  std::string origin;
  std::string referer;
  std::string authorization;
  std::string content_type;
  // The address the client connected to: a Host that is exactly this IP names the server (a
  // rebinding attack sends a name, never the address itself).
  std::string local_addr;
};

// The HTTP methods that change something.
bool IsWrite(std::string_view method);

// Refuses what a hostile web page, a rebinding DNS name or a caller without the token may send,
// in this order: a Host that does not name the server (403), a cross-origin Origin or Referer
// (403), a missing or wrong token (401, 403), a write that is not JSON (415). An open path
// needs no token. A prediction (`post_is_read`) is a POST that changes nothing: it needs the
// token only when reads do, and its handler checks its media type. Returns nothing when the
// request may go on.
std::optional<ApiResponse> CheckRequest(const RequestHead& head, const AccessPolicy& policy,
                                        bool open_path, bool post_is_read = false);

// The host of a Host header or an origin's authority: "[::1]:8080" -> "::1",
// "Example.COM:80" -> "example.com".
std::string HostOfAuthority(std::string_view authority);

// True when `host` is exactly a loopback address (127.0.0.0/8, ::1) or "localhost"; a name such
// as "127.0.0.1.example.com" is not.
bool IsLoopbackHost(std::string_view host);

// The Host values a server bound to `bind_host` answers to: the loopback names, the bound address
// and the public URL's host.
std::vector<std::string> ServerHostNames(const std::string& bind_host,
                                         const std::string& public_url);

// "https://example.com:8443/x" -> "https://example.com:8443"; empty when not an http(s) URL.
std::string OriginOfUrl(std::string_view url);

}  // namespace conveyor::http
