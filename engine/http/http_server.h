#pragma once

#include <memory>
#include <string>

#include "engine/common/error.h"
#include "engine/http/api.h"

namespace conveyor::http {

struct ServerSettings {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 8;
  std::string token;  // when set, POST/PATCH/DELETE need "Authorization: Bearer <token>"
  size_t max_body_bytes = 1 << 20;
  int timeout_seconds = 10;
};

// conveyor's HTTP server (cpp-httplib): the REST API under /api/v1, /metrics, and (later) the
// web UI, on a thread pool, with access logs, RFC 7807 errors and bearer-token auth.
class HttpServer {
 public:
  HttpServer(ServerSettings settings, Api& api, serve::Metrics& metrics);
  ~HttpServer();
  // Binds and starts serving on background threads; returns the port bound (for port 0).
  Result<int> Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compares a presented token with the expected one in time independent of where they differ.
bool TokenMatches(const std::string& presented, const std::string& expected);

}  // namespace conveyor::http
