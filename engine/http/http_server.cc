#include "engine/http/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "engine/http/web_assets.h"

namespace conveyor::http {

bool TokenMatches(const std::string& presented, const std::string& expected) {
  unsigned char differ = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    differ |= static_cast<unsigned char>(presented[i] ^
                                         expected[i % std::max<size_t>(1, expected.size())]);
  }
  return differ == 0 && !expected.empty();
}

struct HttpServer::Impl {
  ServerSettings settings;
  Api& api;
  serve::Metrics& metrics;
  httplib::Server server;
  std::thread thread;

  using Handler = ApiResponse (Api::*)(const ApiRequest&);

  void Route(const char* method, const std::string& pattern, const std::string& route,
             Handler handler) {
    auto serve = [this, route, handler, mutating = std::string(method) != "GET"](
                     const httplib::Request& req, httplib::Response& res) {
      ApiResponse response;
      if (mutating && !settings.token.empty()) {
        const std::string header = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (header.empty()) {
          response = Problem(401, "this endpoint needs an Authorization: Bearer token");
        } else if (header.rfind(prefix, 0) != 0 ||
                   !TokenMatches(header.substr(prefix.size()), settings.token)) {
          response = Problem(403, "the token is not valid");
        }
      }
      if (response.body.empty()) {
        ApiRequest request;
        for (size_t i = 1; i < req.matches.size(); ++i) request.params.push_back(req.matches[i]);
        for (const auto& [key, value] : req.params) request.query.emplace(key, value);
        request.body = req.body;
        request.accepts_json =
            req.get_header_value("Accept").find("application/json") != std::string::npos;
        // The HTTP boundary: a handler's unexpected failure is a 500, never a dropped connection.
        try {
          response = (api.*handler)(request);
        } catch (const std::exception& e) {
          spdlog::error("{} {}: {}", req.method, req.path, e.what());
          response = Problem(500, e.what());
        }
      }
      res.status = response.status;
      res.set_content(response.body, response.content_type);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Cache-Control", "no-store");
      metrics.CountHttpRequest(route, response.status);
    };
    const std::string m = method;
    if (m == "GET") server.Get(pattern, serve);
    if (m == "POST") server.Post(pattern, serve);
    if (m == "PATCH") server.Patch(pattern, serve);
  }
};

HttpServer::HttpServer(ServerSettings settings, Api& api, serve::Metrics& metrics)
    : impl_(new Impl{std::move(settings), api, metrics, {}, {}}) {
  Impl& s = *impl_;
  const std::string id = "([A-Za-z0-9_.~-]+)";  // DAG ids; "~" means every DAG where allowed
  const std::string run = "([A-Za-z0-9_.:+-]+)";
  const std::string dag = "/api/v1/dags/" + id;
  s.Route("GET", "/api/v1/health", "/api/v1/health", &Api::Health);
  s.Route("GET", "/api/v1/dags", "/api/v1/dags", &Api::ListDags);
  s.Route("GET", "/api/v1/models", "/api/v1/models", &Api::ListModels);
  s.Route("GET", "/api/v1/drift", "/api/v1/drift", &Api::ListDriftTasks);
  s.Route("GET", "/api/v1/drift/" + id + "/" + id, "/api/v1/drift/{dag_id}/{task_id}",
          &Api::GetDriftReport);
  s.Route("GET", "/api/v1/models/" + id, "/api/v1/models/{name}", &Api::GetModel);
  s.Route("GET", dag, "/api/v1/dags/{dag_id}", &Api::GetDag);
  s.Route("PATCH", dag, "/api/v1/dags/{dag_id}", &Api::PatchDag);
  s.Route("GET", dag + "/source", "/api/v1/dags/{dag_id}/source", &Api::DagSource);
  s.Route("GET", dag + "/graph", "/api/v1/dags/{dag_id}/graph", &Api::DagGraph);
  s.Route("POST", dag + "/dagRuns", "/api/v1/dags/{dag_id}/dagRuns", &Api::TriggerRun);
  s.Route("GET", dag + "/dagRuns", "/api/v1/dags/{dag_id}/dagRuns", &Api::ListRuns);
  s.Route("GET", dag + "/dagRuns/" + run, "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}",
          &Api::GetRun);
  s.Route("GET", dag + "/dagRuns/" + run + "/taskInstances",
          "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", &Api::ListTaskInstances);
  s.Route("GET", dag + "/dagRuns/" + run + "/taskInstances/" + id,
          "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
          &Api::GetTaskInstance);
  s.Route("GET", dag + "/dagRuns/" + run + "/taskInstances/" + id + "/logs/([^/]+)",
          "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
          &Api::GetLog);
  s.Route("POST", dag + "/clearTaskInstances", "/api/v1/dags/{dag_id}/clearTaskInstances",
          &Api::ClearTaskInstances);
  s.Route("GET", "/metrics", "/metrics", &Api::MetricsText);

  // The web UI, from memory: only names in the embedded table, never a filesystem path.
  auto asset = [](const std::string& name, httplib::Response& res) {
    const auto& assets = WebAssets();
    auto it = assets.find(name);
    if (it == assets.end()) {
      const ApiResponse problem = Problem(404, "no such file: " + name);
      res.status = 404;
      res.set_content(problem.body, problem.content_type);
      return;
    }
    const auto dot = name.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
    const char* type = ext == ".html"  ? "text/html; charset=utf-8"
                       : ext == ".js"  ? "text/javascript; charset=utf-8"
                       : ext == ".css" ? "text/css; charset=utf-8"
                       : ext == ".svg" ? "image/svg+xml"
                                       : "application/octet-stream";
    res.set_content(std::string(it->second), type);
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                   "connect-src 'self'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
  };
  s.server.Get("/", [&s, asset](const httplib::Request&, httplib::Response& res) {
    asset("index.html", res);
    s.metrics.CountHttpRequest("/", res.status);
  });
  s.server.Get("/static/([A-Za-z0-9_./-]+)",
               [&s, asset](const httplib::Request& req, httplib::Response& res) {
                 asset(req.matches[1], res);
                 s.metrics.CountHttpRequest("/static", res.status);
               });

  s.server.new_task_queue = [threads = s.settings.threads] {
    return new httplib::ThreadPool(static_cast<size_t>(std::max(1, threads)));
  };
  s.server.set_payload_max_length(s.settings.max_body_bytes);
  // Responses go out as soon as they are written (no Nagle delay against the client's ACKs).
  s.server.set_tcp_nodelay(true);
  s.server.set_keep_alive_max_count(1000);
  s.server.set_read_timeout(s.settings.timeout_seconds, 0);
  s.server.set_write_timeout(s.settings.timeout_seconds, 0);
  s.server.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    // Called for every status >= 400; the API's handlers have written their problem already.
    // What is left: unrouted paths and httplib's own refusals (413, 400).
    if (!res.body.empty()) return;
    const ApiResponse problem =
        res.status == 404 ? Problem(404, "no such endpoint: " + req.method + " " + req.path)
                          : Problem(res.status, "the request was refused");
    res.set_content(problem.body, problem.content_type);
    s.metrics.CountHttpRequest("unrouted", res.status);
  });
  s.server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::info("http {} {} {} {}B {}", req.method, req.path, res.status, res.body.size(),
                 req.remote_addr);
  });
}

HttpServer::~HttpServer() { Stop(); }

Result<int> HttpServer::Start() {
  Impl& s = *impl_;
  int port = s.settings.port;
  if (port == 0) {
    port = s.server.bind_to_any_port(s.settings.host);
    if (port < 0) return IoError("cannot bind " + s.settings.host);
  } else if (!s.server.bind_to_port(s.settings.host, port)) {
    return IoError("cannot bind " + s.settings.host + ":" + std::to_string(port) +
                   " (in use, or not an address of this machine)");
  }
  s.thread = std::thread([&s] { s.server.listen_after_bind(); });
  return port;
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace conveyor::http
