#include "engine/cli/http_settings.h"

namespace conveyor::cli {

http::ServerSettings HttpSettingsOf(const Config& config, const std::string& token) {
  http::ServerSettings settings;
  settings.host = config.host;
  settings.port = config.port;
  settings.threads = config.http_threads;
  settings.access.token = token;
  // Reads are open by default only on loopback without a public URL: behind a proxy on the same
  // machine, the loopback bind is reachable from elsewhere.
  settings.access.reads_need_token = config.reads_need_token.value_or(
      !config.public_url.empty() ||
      !http::IsLoopbackHost(http::HostOfAuthority(
          config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host)));
  settings.access.hosts = http::ServerHostNames(config.host, config.public_url);
  settings.access.public_origin = http::OriginOfUrl(config.public_url);
  settings.max_body_bytes = config.http_max_body;
  settings.header_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.http_header_timeout);
  settings.max_connections = config.http_max_connections;
  settings.access_log = config.http_access_log;
  return settings;
}

}  // namespace conveyor::cli
