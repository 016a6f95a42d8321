#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "engine/common/error.h"
#include "engine/http/api.h"
#include "engine/http/request_guard.h"
#include "engine/serving/model_server.h"

namespace conveyor::http {

// What GET /version answers on the server of one model: the MLflow version whose scoring
// protocol it speaks.
inline constexpr std::string_view kMlflowCompatibleVersion = "2.9.2";

struct ServerSettings {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 8;  // connection threads kept when idle
  AccessPolicy access;
  size_t max_body_bytes = 1 << 20;
  // A request's head and body must have arrived this long after the connection became readable
  // (or the previous response went out); an idle keep-alive connection is closed after it too.
  std::chrono::milliseconds header_timeout{5000};
  int max_connections = 512;  // beyond it, a new connection is answered 503 at once
  std::chrono::milliseconds write_timeout{10000};
  bool access_log = true;  // one info line per request in serve's log
};

// conveyor's HTTP server (cpp-httplib's request parser and router): the REST API under /api/v1,
// /metrics and the web UI. Each connection has a thread of its own, up to max_connections, so a
// slow or idle client holds only its own; every request passes the RequestGuard first; writes are
// recorded in the event log with the caller's address.
class HttpServer {
 public:
  // With `models`, also MLflow's scoring protocol at /models/NAME@ALIAS/invocations and
  // /models/NAME/VERSION/invocations.
  HttpServer(ServerSettings settings, Api& api, serve::Metrics& metrics,
             serving::ModelServer* models = nullptr);
  // The server of one model, `reference`, at exactly the paths of MLflow's scoring server:
  // POST /invocations, GET /ping, /health and /version (`conveyor serve-model`).
  HttpServer(ServerSettings settings, serve::Metrics& metrics, serving::ModelServer& models,
             const std::string& reference);
  ~HttpServer();
  // Binds and starts serving on background threads; returns the port bound (for port 0).
  Result<int> Start();
  void Stop();

  // Parses and answers one request given as raw bytes, as a connection would, without a socket:
  // the HTTP fuzzer's way in. Returns the raw response.
  std::string HandleRaw(std::string_view request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conveyor::http
