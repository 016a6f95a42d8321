#include "engine/http/http_server.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>

#include "engine/common/secret_masker.h"
#include "engine/http/guarded_server.h"
#include "engine/http/inference_protocols.h"
#include "engine/http/mlflow_scoring.h"
#include "engine/http/web_assets.h"

namespace conveyor::http {
namespace {

constexpr size_t kFileChunk = 64 * 1024;
// Connection threads beyond max_connections: they answer the refused connections' 503.
constexpr size_t kSpareThreads = 16;
// Requests one keep-alive connection may carry.
constexpr size_t kKeepAliveRequests = 1000;

// The names of a route's captures, in order: "/dags/{dag_id}/dagRuns/{dag_run_id}" ->
// {"dag_id", "dag_run_id"}.
std::vector<std::string> CaptureNames(const std::string& route) {
  std::vector<std::string> names;
  for (size_t open = route.find('{'); open != std::string::npos; open = route.find('{', open)) {
    const size_t close = route.find('}', open);
    names.push_back(route.substr(open + 1, close - open - 1));
    open = close;
  }
  return names;
}

void SetResponse(const ApiResponse& response, httplib::Response& res) {
  res.status = response.status;
  if (response.file) {
    // Streamed from the file a chunk at a time, never read whole into memory.
    const FileRange range = *response.file;
    res.set_content_provider(range.length, response.content_type,
                             [range](size_t offset, size_t length, httplib::DataSink& sink) {
                               std::FILE* file = std::fopen(range.path.c_str(), "rb");
                               if (file == nullptr) return false;
                               std::string chunk(std::min(length, kFileChunk), '\0');
                               const bool read =
                                   fseeko(file, static_cast<off_t>(range.offset + offset),
                                          SEEK_SET) == 0 &&
                                   std::fread(chunk.data(), 1, chunk.size(), file) == chunk.size();
                               std::fclose(file);
                               return read && sink.write(chunk.data(), chunk.size());
                             });
  } else if (HasSecrets()) {
    res.set_content(MaskSecrets(response.body), response.content_type);
  } else {
    res.set_content(response.body, response.content_type);
  }
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
}

RequestHead HeadOf(const httplib::Request& req) {
  return {req.method,
          req.path,
          req.get_header_value("Host"),
          req.get_header_value("Origin"),
          req.get_header_value("Referer"),
          req.get_header_value("Authorization"),
          req.get_header_value("Content-Type"),
          req.local_addr};
}

}  // namespace

struct HttpServer::Impl {
  Impl(ServerSettings settings_in, Api* api_in, serve::Metrics& metrics_in,
       serving::ModelServer* models_in)
      : settings(std::move(settings_in)),
        api(api_in),
        metrics(metrics_in),
        models(models_in),
        server({settings.max_connections, settings.header_timeout, settings.write_timeout,
                kKeepAliveRequests}) {}

  ServerSettings settings;
  Api* api;  // null on the server of one model (serve-model)
  serve::Metrics& metrics;
  serving::ModelServer* models;
  GuardedServer server;
  std::thread thread;

  using Handler = ApiResponse (Api::*)(const ApiRequest&);

  // `action` names a write in the event log (Airflow's audit log); empty for reads. An open
  // route needs no token.
  void Route(const char* method, const std::string& pattern, const std::string& route,
             Handler handler, const std::string& action = "", bool open = false) {
    auto serve = [this, route, handler, action, open, names = CaptureNames(route)](
                     const httplib::Request& req, httplib::Response& res) {
      std::optional<ApiResponse> response = CheckRequest(HeadOf(req), settings.access, open);
      const bool guarded = response.has_value();
      ApiRequest request;
      request.method = req.method;
      request.path = req.path;
      request.remote_addr = req.remote_addr;
      for (size_t i = 1; i < req.matches.size(); ++i) {
        request.params.push_back(req.matches[i]);
        if (!response && request.params.back().size() > kMaxIdLength) {
          response =
              Problem(400, (i - 1 < names.size() ? names[i - 1] : "id") + " is longer than " +
                               std::to_string(kMaxIdLength) + " characters");
        }
      }
      if (!response) {
        for (const auto& [key, value] : req.params) request.query.emplace(key, value);
        request.body = req.body;
        request.accepts_json =
            req.get_header_value("Accept").find("application/json") != std::string::npos;
        // The HTTP boundary: a handler's unexpected failure is a 500, never a dropped connection.
        try {
          response = (api->*handler)(request);
        } catch (const std::exception& e) {
          spdlog::error("{} {}: {}", req.method, req.path, e.what());
          response = Problem(500, e.what());
        }
      }
      // Writes that passed the guard go to the event log; refused ones only to serve's log, so
      // that a hostile page cannot grow the database.
      if (!action.empty() && guarded) {
        spdlog::warn("refused {} {} from {}: {}", req.method, req.path, req.remote_addr,
                     response->status);
      } else if (!action.empty()) {
        api->RecordWrite(action, request, response->status);
      }
      SetResponse(*response, res);
      metrics.CountHttpRequest(route, response->status);
    };
    const std::string m = method;
    if (m == "GET") server.Get(pattern, serve);
    if (m == "POST") server.Post(pattern, serve);
    if (m == "PATCH") server.Patch(pattern, serve);
  }

  // A prediction endpoint: a POST that reads, answered with MLflow's bodies, errors included.
  // `reference` makes the model reference from the path's captures.
  void MlflowRoute(const std::string& pattern, const std::string& route,
                   std::function<std::string(const httplib::Request&)> reference) {
    ProtocolRoute("POST", pattern, route, AsMlflowError,
                  [this, reference](const httplib::Request& req) {
                    return MlflowInvocations(*models, metrics, reference(req),
                                             req.get_header_value("Content-Type"), req.body);
                  });
  }

  // An endpoint of an inference protocol: predictions (POSTs that read) and model metadata,
  // answered, refusals included, in the protocol's own error body (`error_of`). Its POSTs take
  // JSON only.
  void ProtocolRoute(const char* method, const std::string& pattern, const std::string& route,
                     std::function<ApiResponse(const ApiResponse&)> error_of,
                     std::function<ApiResponse(const httplib::Request&)> handler,
                     bool json_only = false) {
    auto serve = [this, route, error_of, handler, json_only](const httplib::Request& req,
                                                             httplib::Response& res) {
      std::optional<ApiResponse> refused = CheckRequest(HeadOf(req), settings.access, false, true);
      if (!refused && json_only && req.method == "POST") {
        const std::string type = req.get_header_value("Content-Type");
        if (type.rfind("application/json", 0) != 0) {
          refused = Problem(415, "Content-Type must be application/json, got '" + type + "'");
        }
      }
      const ApiResponse response = refused ? error_of(*refused) : handler(req);
      SetResponse(response, res);
      metrics.CountHttpRequest(route, response.status);
    };
    if (std::string(method) == "GET") {
      server.Get(pattern, serve);
    } else {
      server.Post(pattern, serve);
    }
  }

  // An endpoint open to anyone (health checks), past the Host and Origin checks.
  void OpenRoute(const std::string& path, std::string body, std::string content_type) {
    server.Get(path, [this, path, body, content_type](const httplib::Request& req,
                                                      httplib::Response& res) {
      std::optional<ApiResponse> refused = CheckRequest(HeadOf(req), settings.access, true);
      ApiResponse response;
      response.body = body;
      response.content_type = content_type;
      SetResponse(refused ? *refused : response, res);
      metrics.CountHttpRequest(path, res.status);
    });
  }

  void Configure();
};

void HttpServer::Impl::Configure() {
  Impl& s = *this;
  s.server.new_task_queue = [&s] {
    return new ConnectionThreads(static_cast<size_t>(std::max(1, s.settings.threads)),
                                 static_cast<size_t>(s.settings.max_connections) + kSpareThreads);
  };
  s.server.set_payload_max_length(s.settings.max_body_bytes);
  // What the Keep-Alive header announces: GuardedServer's own limits.
  s.server.set_keep_alive_max_count(kKeepAliveRequests);
  s.server.set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(s.settings.header_timeout).count()));
  // Responses go out as soon as they are written (no Nagle delay against the client's ACKs).
  s.server.set_tcp_nodelay(true);
  s.server.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    // Called for every status >= 400; the API's handlers have written their problem already.
    // What is left: unrouted paths and httplib's own refusals (413, 400).
    if (!res.body.empty()) return;
    const ApiResponse problem =
        res.status == 404   ? Problem(404, "no such endpoint: " + req.method + " " + req.path)
        : res.status == 413 ? Problem(413, "the request body is larger than " +
                                               std::to_string(s.settings.max_body_bytes) + " bytes")
                            : Problem(res.status, "the request was refused");
    res.set_content(problem.body, problem.content_type);
    s.metrics.CountHttpRequest("unrouted", res.status);
  });
  if (s.settings.access_log) {
    s.server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      spdlog::info("http {} {} {} {}B {}", req.method, req.path, res.status, res.body.size(),
                   req.remote_addr);
    });
  }
}

HttpServer::HttpServer(ServerSettings settings, serve::Metrics& metrics,
                       serving::ModelServer& models, const std::string& reference)
    : impl_(std::make_unique<Impl>(std::move(settings), nullptr, metrics, &models)) {
  Impl& s = *impl_;
  // MLflow's scoring server's paths, for one model.
  s.MlflowRoute("/invocations", "/invocations",
                [reference](const httplib::Request&) { return reference; });
  s.OpenRoute("/ping", "\n", "application/json");
  s.OpenRoute("/health", "\n", "application/json");
  s.OpenRoute("/version", std::string(kMlflowCompatibleVersion), "text/plain; charset=utf-8");
  s.Configure();
}

HttpServer::HttpServer(ServerSettings settings, Api& api, serve::Metrics& metrics,
                       serving::ModelServer* models)
    : impl_(std::make_unique<Impl>(std::move(settings), &api, metrics, models)) {
  Impl& s = *impl_;
  const std::string id = "([A-Za-z0-9_.~-]+)";  // DAG ids; "~" means every DAG where allowed
  const std::string run = "([A-Za-z0-9_.:+-]+)";
  const std::string dag = "/api/v1/dags/" + id;
  s.Route("GET", "/api/v1/health", "/api/v1/health", &Api::Health, "", true);
  s.Route("GET", "/api/v1/dags", "/api/v1/dags", &Api::ListDags);
  s.Route("GET", "/api/v1/eventLogs", "/api/v1/eventLogs", &Api::ListEventLogs);
  s.Route("GET", "/api/v1/models", "/api/v1/models", &Api::ListModels);
  s.Route("GET", "/api/v1/drift", "/api/v1/drift", &Api::ListDriftTasks);
  s.Route("GET", "/api/v1/drift/" + id + "/" + id, "/api/v1/drift/{dag_id}/{task_id}",
          &Api::GetDriftReport);
  s.Route("GET", "/api/v1/models/" + id, "/api/v1/models/{name}", &Api::GetModel);
  s.Route("GET", "/api/v1/models/" + id + "/serving", "/api/v1/models/{name}/serving",
          &Api::GetModelServing);
  s.Route("GET", dag, "/api/v1/dags/{dag_id}", &Api::GetDag);
  s.Route("PATCH", dag, "/api/v1/dags/{dag_id}", &Api::PatchDag, "api.patch_dag");
  s.Route("GET", dag + "/source", "/api/v1/dags/{dag_id}/source", &Api::DagSource);
  s.Route("GET", dag + "/graph", "/api/v1/dags/{dag_id}/graph", &Api::DagGraph);
  s.Route("POST", dag + "/dagRuns", "/api/v1/dags/{dag_id}/dagRuns", &Api::TriggerRun,
          "api.trigger_dag_run");
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
          &Api::ClearTaskInstances, "api.clear_task_instances");
  s.Route("GET", "/metrics", "/metrics", &Api::MetricsText);
  if (models != nullptr) {
    // MLflow's scoring protocol for every alias and version (serving.models narrows it).
    const std::string name = "([A-Za-z0-9_.-]+)";
    s.MlflowRoute("/models/" + name + "@" + name + "/invocations",
                  "/models/{name}@{alias}/invocations", [](const httplib::Request& req) {
                    return req.matches[1].str() + "@" + req.matches[2].str();
                  });
    s.MlflowRoute("/models/" + name + "/([0-9]+)/invocations",
                  "/models/{name}/{version}/invocations", [](const httplib::Request& req) {
                    return req.matches[1].str() + "/" + req.matches[2].str();
                  });
    // The Open Inference Protocol (KServe v2): the model as NAME, NAME@ALIAS, or a version.
    const auto v2_error = [](const ApiResponse& problem) {
      return V2Error(problem.status, DetailOf(problem));
    };
    const std::string model = "([A-Za-z0-9_.@-]+)";
    const std::string v2 = "/v2/models/" + model;
    const std::string versioned = v2 + "/versions/([0-9]+)";
    const auto m = [](const httplib::Request& req) { return req.matches[1].str(); };
    const auto v = [](const httplib::Request& req) {
      return req.matches.size() > 2 ? req.matches[2].str() : std::string();
    };
    for (const std::string& base : {v2, versioned}) {
      const std::string route =
          base == v2 ? "/v2/models/{model}" : "/v2/models/{model}/versions/{version}";
      s.ProtocolRoute(
          "POST", base + "/infer", route + "/infer", v2_error,
          [&s, m, v](const httplib::Request& req) {
            return InferV2(*s.models, s.metrics, m(req), v(req), req.body);
          },
          true);
      s.ProtocolRoute("GET", base, route, v2_error, [&s, m, v](const httplib::Request& req) {
        return ModelMetadataV2(*s.models, m(req), v(req));
      });
      s.ProtocolRoute("GET", base + "/ready", route + "/ready", v2_error,
                      [&s, m, v](const httplib::Request& req) {
                        return ModelReadyV2(*s.models, m(req), v(req));
                      });
    }
    s.OpenRoute("/v2/health/live", R"({"live":true})", "application/json");
    s.OpenRoute("/v2/health/ready", R"({"ready":true})", "application/json");
    // Seldon Core v1.
    s.ProtocolRoute(
        "POST", "/models/" + name + "@" + name + "/api/v1.0/predictions",
        "/models/{name}@{alias}/api/v1.0/predictions",
        [](const ApiResponse& problem) { return SeldonError(problem.status, DetailOf(problem)); },
        [&s](const httplib::Request& req) {
          return SeldonPredict(*s.models, s.metrics,
                               req.matches[1].str() + "@" + req.matches[2].str(), req.body);
        },
        true);
  }

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

  s.Configure();
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
  s.server.WidenBacklog();
  s.thread = std::thread([&s] { s.server.listen_after_bind(); });
  return port;
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string HttpServer::HandleRaw(std::string_view request) {
  return impl_->server.HandleRaw(request);
}

}  // namespace conveyor::http
