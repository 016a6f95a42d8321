#include "engine/http/api.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/common/json_text.h"
#include "engine/common/suggest.h"
#include "engine/data/model_json.h"
#include "engine/data/sqlite_model_registry.h"
#include "engine/graph/dag_json.h"
#include "engine/http/json_body.h"
#include "engine/scheduler/clear.h"
#include "engine/scheduler/run_driver.h"
#include "engine/scheduler/run_factory.h"
#include "engine/store/lease.h"
#include "engine/store/records_json.h"

namespace conveyor::http {
namespace {

constexpr int kMaxLimit = 1000;

const char* Title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

ApiResponse Json(const nlohmann::json& value, int status = 200) {
  return {status, "application/json", DumpJson(value)};
}

ApiResponse FromError(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return Problem(400, error.message);
    case ErrorCode::kNotFound:
      return Problem(404, error.message);
    case ErrorCode::kAlreadyExists:
      return Problem(409, error.message);
    default:
      return Problem(500, error.message);
  }
}

std::optional<std::string> QueryValue(const ApiRequest& request, const std::string& key) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return std::nullopt;
  return it->second;
}

// limit (1..1000, default 100) and offset (>= 0, default 0), or a 400 problem.
std::optional<ApiResponse> ReadPage(const ApiRequest& request, int& limit, int& offset) {
  limit = 100;
  offset = 0;
  for (auto [key, target, low, high] :
       {std::tuple<const char*, int*, int, int>{"limit", &limit, 1, kMaxLimit},
        std::tuple<const char*, int*, int, int>{"offset", &offset, 0, 1 << 30}}) {
    auto text = QueryValue(request, key);
    if (!text) continue;
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || errno != 0 || value < low || value > high) {
      return Problem(400, std::string(key) + " must be an integer from " + std::to_string(low) +
                              " to " + std::to_string(high) + ", got '" + *text + "'");
    }
    *target = static_cast<int>(value);
  }
  return std::nullopt;
}

Result<nlohmann::json> ParseBody(const std::string& body) { return ParseJsonBody(body); }

}  // namespace

ApiResponse Problem(int status, const std::string& detail) {
  return {status, "application/problem+json",
          DumpJson({{"type", "about:blank"},
                    {"title", Title(status)},
                    {"status", status},
                    {"detail", detail}})};
}

Api::Api(ApiSettings settings, const serve::SharedDags& dags, const serve::Metrics& metrics,
         std::function<void()> wake)
    : settings_(std::move(settings)), dags_(dags), metrics_(metrics), wake_(std::move(wake)) {}

std::string Api::DagText(const std::shared_ptr<const serve::DagSnapshot>& snapshot,
                         const std::string& dag_id, Instant now) {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cached_snapshot_ != snapshot) {
    cache_.clear();
    cached_snapshot_ = snapshot;
  }
  if (auto it = cache_.find(dag_id); it != cache_.end() && now < it->second.valid_until) {
    return it->second.text;
  }
  const auto dag = snapshot->Find(dag_id);
  const auto* file = snapshot->FileOf(dag_id);
  nlohmann::json json;
  CachedDag entry{"", Instant::max()};
  if (dag) {
    json = graph::DagToJson(*dag, now);
    const auto& end = json["next_dagrun_data_interval_end"];
    if (end.is_string()) {
      if (auto parsed = ParseDateTime(end.get<std::string>()); parsed.ok()) {
        entry.valid_until = std::chrono::sys_seconds(parsed->local.time_since_epoch()) -
                            parsed->utc_offset.value_or(std::chrono::seconds(0));
      }
    }
  } else {
    json = graph::BrokenDagToJson(dag_id, file ? file->path : "", file ? file->error : "");
    json["description"] = nullptr;
  }
  json.erase("is_paused");  // DagWithPaused adds the stored flag
  const bool broken = file != nullptr && !file->error.empty();
  json["has_import_errors"] = broken;
  json["import_error"] = broken ? nlohmann::json(file->error) : nlohmann::json(nullptr);
  entry.text = DumpJson(json);
  cache_[dag_id] = entry;
  return entry.text;
}

// A DAG's API object: the last good version's fields, the file's current error, the paused flag.
std::string Api::DagWithPaused(const std::shared_ptr<const serve::DagSnapshot>& snapshot,
                               const std::string& dag_id, bool is_paused, Instant now) {
  const std::string text = DagText(snapshot, dag_id, now);  // "{...}", never empty
  return std::string("{\"is_paused\":") + (is_paused ? "true," : "false,") + text.substr(1);
}

namespace {

// SQLite connections are not shared between threads: each HTTP thread opens its own, once per
// database path.
template <typename T, typename Open>
T& ThreadConnection(const std::string& path, const Open& open) {
  thread_local std::map<std::string, std::unique_ptr<T>> connections;
  auto& connection = connections[path];
  if (!connection) {
    auto opened = open(path);
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    connection = std::move(opened).value();
  }
  return *connection;
}

}  // namespace

store::StateStore& Api::Store() {
  return ThreadConnection<store::StateStore>(
      settings_.db, [](const std::string& path) { return store::OpenSqliteStore(path); });
}

exec::ModelRegistry& Api::Registry() {
  return ThreadConnection<exec::ModelRegistry>(settings_.db, data::OpenSqliteModelRegistry);
}

data::DriftResults* Api::Drift() {
  if (settings_.data_db.empty()) return nullptr;
  return &ThreadConnection<data::DriftResults>(settings_.data_db, data::DriftResults::Open);
}

ApiResponse Api::ListDriftTasks(const ApiRequest&) {
  nlohmann::json tasks = nlohmann::json::array();
  if (auto* drift = Drift()) {
    auto found = drift->Tasks();
    if (!found.ok()) return FromError(found.error());
    tasks = *found;
  }
  return Json({{"drift_tasks", tasks}, {"total_entries", tasks.size()}});
}

ApiResponse Api::GetDriftReport(const ApiRequest& request) {
  auto* drift = Drift();
  if (drift == nullptr) return Problem(404, "no data database is configured");
  auto report = drift->Report(request.params.at(0), request.params.at(1));
  if (!report.ok()) return FromError(report.error());
  return Json(*report);
}

ApiResponse Api::ListModels(const ApiRequest& request) {
  int limit = 0;
  int offset = 0;
  if (auto problem = ReadPage(request, limit, offset)) return *problem;
  auto names = Registry().ModelNames();
  if (!names.ok()) return FromError(names.error());
  nlohmann::json models = nlohmann::json::array();
  const size_t end = std::min(names->size(), static_cast<size_t>(offset) + limit);
  for (size_t i = static_cast<size_t>(offset); i < end; ++i) {
    auto versions = Registry().Versions((*names)[i]);
    if (!versions.ok()) return FromError(versions.error());
    models.push_back(data::ModelSummaryToJson((*names)[i], *versions));
  }
  return Json({{"models", models}, {"total_entries", names->size()}});
}

ApiResponse Api::GetModel(const ApiRequest& request) {
  const std::string& name = request.params.at(0);
  auto versions = Registry().Versions(name);
  if (!versions.ok()) return FromError(versions.error());
  return Json(data::ModelToJson(name, *versions));
}

ApiResponse Api::GetModelServing(const ApiRequest& request) {
  const std::string& name = request.params.at(0);
  auto versions = Registry().Versions(name);
  if (!versions.ok()) return FromError(versions.error());
  const auto histogram = [](const serve::Metrics::Histogram& h) {
    return nlohmann::json{
        {"bounds", h.bounds}, {"counts", h.counts}, {"sum", h.sum}, {"count", h.count}};
  };
  std::map<int, serve::Metrics::ServedVersion> figures;
  for (auto& version : metrics_.ServedVersions(name)) figures[version.version] = version;
  // Every registered version, newest first, with what registered it and what it has served.
  nlohmann::json served = nlohmann::json::array();
  for (const exec::ModelVersion& registered : *versions) {
    const serve::Metrics::ServedVersion& version = figures[registered.version];
    nlohmann::json requests = nlohmann::json::array();
    for (const auto& [key, n] : version.requests) {
      requests.push_back({{"protocol", key.first}, {"status", key.second}, {"count", n}});
    }
    served.push_back({{"version", registered.version},
                      {"dag_id", registered.dag_id},
                      {"run_id", registered.run_id},
                      {"task_id", registered.task_id},
                      {"requests", requests},
                      {"latency_seconds", histogram(version.latency)},
                      {"rows", version.rows},
                      {"scores", histogram(version.scores)},
                      {"log_rows", version.logged},
                      {"log_dropped", version.log_dropped}});
  }
  return Json(
      {{"name", name}, {"at", FormatUtcMillis(WallClock().PreciseNow())}, {"versions", served}});
}

ApiResponse Api::Health(const ApiRequest&) {
  auto lease = Store().GetSchedulerLease();
  if (!lease.ok()) return FromError(lease.error());
  nlohmann::json scheduler = {{"status", "unhealthy"}, {"latest_scheduler_heartbeat", nullptr}};
  if (*lease) {
    const bool fresh = store::LeaseFresh(**lease, WallClock().PreciseNow());
    scheduler = {{"status", fresh ? "healthy" : "unhealthy"},
                 {"latest_scheduler_heartbeat", FormatUtcMillis((*lease)->heartbeat)}};
  }
  return Json({{"metadatabase", {{"status", "healthy"}}}, {"scheduler", scheduler}});
}

ApiResponse Api::ListDags(const ApiRequest& request) {
  int limit = 0;
  int offset = 0;
  if (auto problem = ReadPage(request, limit, offset)) return *problem;
  const auto snapshot = dags_.Get();
  auto records = Store().ListDags();
  if (!records.ok()) return FromError(records.error());
  std::map<std::string, bool> paused;
  for (const auto& record : *records) paused[record.dag_id] = record.is_paused;
  std::vector<std::string> tags;
  for (auto [it, end] = request.query.equal_range("tags"); it != end; ++it) {
    tags.push_back(it->second);
  }
  const auto pattern = QueryValue(request, "dag_id_pattern");
  const auto paused_filter = QueryValue(request, "paused");
  // Every DAG id the folder knows, broken files included, in order.
  std::map<std::string, std::shared_ptr<const graph::LoadedDag>> ids;
  for (const auto& file : snapshot->files) ids.emplace(file.dag_id, snapshot->Find(file.dag_id));
  const Instant now = WallClock().Now();
  std::string items;
  int total = 0;
  for (const auto& [id, dag] : ids) {
    auto flag = paused.find(id);
    const bool is_paused =
        flag == paused.end() ? settings_.dags_are_paused_at_creation : flag->second;
    if (pattern && id.find(*pattern) == std::string::npos) continue;
    if (paused_filter && (*paused_filter == "true") != is_paused) continue;
    if (!tags.empty()) {
      if (!dag) continue;
      bool any = false;
      for (const auto& tag : tags) {
        any = any ||
              std::find(dag->dag.tags.begin(), dag->dag.tags.end(), tag) != dag->dag.tags.end();
      }
      if (!any) continue;
    }
    if (total >= offset && total < offset + limit) {
      if (!items.empty()) items += ',';
      items += DagWithPaused(snapshot, id, is_paused, now);
    }
    ++total;
  }
  // Assembled from the cached objects' text: this is the endpoint dashboards poll most.
  return {200, "application/json",
          "{\"dags\":[" + items + "],\"total_entries\":" + std::to_string(total) + "}"};
}

ApiResponse Api::GetDag(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto snapshot = dags_.Get();
  if (!snapshot->Find(id) && !snapshot->FileOf(id)) {
    std::vector<std::string> known;
    for (const auto& file : snapshot->files) known.push_back(file.dag_id);
    return Problem(404, "unknown DAG '" + id + "'" + DidYouMean(id, known));
  }
  auto record = Store().GetDag(id);
  if (!record.ok()) return FromError(record.error());
  const bool is_paused = *record ? (*record)->is_paused : settings_.dags_are_paused_at_creation;
  return {200, "application/json", DagWithPaused(snapshot, id, is_paused, WallClock().Now())};
}

ApiResponse Api::PatchDag(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto snapshot = dags_.Get();
  if (!snapshot->Find(id) && !snapshot->FileOf(id)) {
    return Problem(404, "unknown DAG '" + id + "'");
  }
  auto body = ParseBody(request.body);
  if (!body.ok()) return FromError(body.error());
  for (const auto& item : body->items()) {
    if (item.key() != "is_paused") {
      return Problem(400, "unknown field '" + item.key() + "' (only is_paused can change)");
    }
  }
  if (!body->contains("is_paused") || !(*body)["is_paused"].is_boolean()) {
    return Problem(400, "is_paused must be true or false");
  }
  if (Status s = Store().SetPaused(id, (*body)["is_paused"].get<bool>()); !s.ok()) {
    return FromError(s.error());
  }
  wake_();
  return GetDag(request);
}

ApiResponse Api::DagSource(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto snapshot = dags_.Get();
  const auto* file = snapshot->FileOf(id);
  if (file == nullptr) return Problem(404, "unknown DAG '" + id + "'");
  // The path comes from the loaded DAG folder, never from the request.
  std::ifstream in(file->path, std::ios::binary);
  if (!in) return Problem(404, "the file of DAG '" + id + "' is gone");
  std::ostringstream text;
  text << in.rdbuf();
  if (request.accepts_json) return Json({{"content", text.str()}, {"fileloc", file->path}});
  return {200, "text/plain; charset=utf-8", text.str()};
}

ApiResponse Api::DagGraph(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto dag = dags_.Get()->Find(id);
  if (!dag) return Problem(404, "unknown DAG '" + id + "'");
  nlohmann::json nodes = nlohmann::json::array();
  nlohmann::json edges = nlohmann::json::array();
  for (const dag::Task& task : dag->dag.tasks) {
    nodes.push_back(
        {{"task_id", task.id},
         {"operator", task.operator_name},
         {"trigger_rule", std::string(dag::TriggerRuleName(task.trigger_rule))},
         {"group", task.group.empty() ? nlohmann::json(nullptr) : nlohmann::json(task.group)}});
    for (const std::string& upstream : task.depends_on) {
      edges.push_back({{"source", upstream}, {"target", task.id}});
    }
  }
  nlohmann::json groups = nlohmann::json::array();
  for (const dag::TaskGroup& group : dag->dag.groups) {
    groups.push_back({{"group_id", group.id}, {"description", group.description}});
  }
  nlohmann::json latest = nullptr;
  store::RunFilter filter;
  filter.dag_id = id;
  filter.limit = 1;
  auto runs = Store().ListRuns(filter, nullptr);
  if (!runs.ok()) return FromError(runs.error());
  if (!runs->empty()) {
    const auto& run = runs->front();
    auto tis = Store().ListTaskInstances(run.id);
    if (!tis.ok()) return FromError(tis.error());
    nlohmann::json states = nlohmann::json::object();
    for (const auto& ti : *tis) {
      states[ti.task_id] = ti.state == state::TaskState::kNone
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(std::string(state::Name(ti.state)));
    }
    latest = store::RunToJson(run);
    latest["task_states"] = states;
  }
  return Json({{"dag_id", id},
               {"nodes", nodes},
               {"edges", edges},
               {"groups", groups},
               {"latest_run", latest}});
}

ApiResponse Api::TriggerRun(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto dag = dags_.Get()->Find(id);
  if (!dag) return Problem(404, "unknown DAG '" + id + "'");
  auto body = ParseBody(request.body);
  if (!body.ok()) return FromError(body.error());
  scheduler::RunRequest run_request;
  for (const auto& item : body->items()) {
    const std::string& key = item.key();
    if (key == "dag_run_id") {
      if (!item.value().is_string()) return Problem(400, "dag_run_id must be a string");
      run_request.run_id = item.value().get<std::string>();
      if (run_request.run_id->size() > kMaxIdLength) {
        return Problem(400,
                       "dag_run_id is longer than " + std::to_string(kMaxIdLength) + " characters");
      }
      if (run_request.run_id->starts_with('.')) {
        return Problem(400, "dag_run_id must not begin with '.'");
      }
    } else if (key == "logical_date" || key == "execution_date") {
      if (!item.value().is_string()) return Problem(400, key + " must be an ISO-8601 string");
      auto parsed = ParseDateTime(item.value().get<std::string>());
      if (!parsed.ok()) return Problem(400, key + ": " + parsed.error().message);
      run_request.logical_date = dag->dag.timetable.schedule().zone().Resolve(*parsed);
    } else if (key == "conf") {
      if (!item.value().is_object()) return Problem(400, "conf must be a JSON object");
      if (DumpJson(item.value()).size() > kMaxConfBytes) {
        return Problem(400, "conf is larger than " + std::to_string(kMaxConfBytes) + " bytes");
      }
      run_request.conf = item.value();
    } else if (key == "no_cache") {
      if (!item.value().is_boolean()) return Problem(400, "no_cache must be true or false");
      run_request.no_cache = item.value().get<bool>();
    } else if (key != "note") {
      return Problem(400, "unknown field '" + key + "'");
    }
  }
  auto run = scheduler::CreateRun(Store(), *dag, run_request, WallClock().PreciseNow());
  if (!run.ok()) return FromError(run.error());
  wake_();
  return Json(store::RunToJson(*run));
}

ApiResponse Api::ListRuns(const ApiRequest& request) {
  int limit = 0;
  int offset = 0;
  if (auto problem = ReadPage(request, limit, offset)) return *problem;
  store::RunFilter filter;
  const std::string& id = request.params.at(0);
  if (id != "~") {
    if (!dags_.Get()->Find(id) && !dags_.Get()->FileOf(id)) {
      return Problem(404, "unknown DAG '" + id + "'");
    }
    filter.dag_id = id;
  }
  filter.limit = limit;
  filter.offset = offset;
  if (auto state_text = QueryValue(request, "state")) {
    filter.state = state::ParseRunState(*state_text);
    if (!filter.state) {
      return Problem(400, "unknown run state '" + *state_text +
                              "' (expected queued, running, success or failed)");
    }
  }
  int total = 0;
  auto runs = Store().ListRuns(filter, &total);
  if (!runs.ok()) return FromError(runs.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& run : *runs) items.push_back(store::RunToJson(run));
  return Json({{"dag_runs", items}, {"total_entries", total}});
}

ApiResponse Api::GetRun(const ApiRequest& request) {
  auto run = store::RequireRun(Store(), request.params.at(0), request.params.at(1));
  if (!run.ok()) return FromError(run.error());
  return Json(store::RunToJson(*run));
}

ApiResponse Api::ListTaskInstances(const ApiRequest& request) {
  auto run = store::RequireRun(Store(), request.params.at(0), request.params.at(1));
  if (!run.ok()) return FromError(run.error());
  auto tis = Store().ListTaskInstances(run->id);
  if (!tis.ok()) return FromError(tis.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& ti : *tis) items.push_back(store::TaskInstanceToJson(*run, ti));
  return Json({{"task_instances", items}, {"total_entries", items.size()}});
}

ApiResponse Api::GetTaskInstance(const ApiRequest& request) {
  auto run = store::RequireRun(Store(), request.params.at(0), request.params.at(1));
  if (!run.ok()) return FromError(run.error());
  auto tis = Store().ListTaskInstances(run->id);
  if (!tis.ok()) return FromError(tis.error());
  for (const auto& ti : *tis) {
    if (ti.task_id != request.params.at(2)) continue;
    auto tries = Store().ListTries(run->id, ti.task_id);
    if (!tries.ok()) return FromError(tries.error());
    nlohmann::json out = store::TaskInstanceToJson(*run, ti);
    out["tries"] = nlohmann::json::array();
    for (const auto& attempt : *tries) out["tries"].push_back(store::TryToJson(attempt));
    return Json(out);
  }
  return Problem(404, "run '" + run->run_id + "' has no task '" + request.params.at(2) + "'");
}

namespace {

constexpr std::uint64_t kMaxLogChunk = 1 << 20;

// A non-negative integer query value, or a 400 problem.
std::optional<ApiResponse> ReadCount(const ApiRequest& request, const std::string& key,
                                     std::uint64_t& target) {
  auto text = QueryValue(request, key);
  if (!text) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || error != std::errc() || end != text->data() + text->size()) {
    return Problem(400, key + " must be a non-negative integer, got '" + *text + "'");
  }
  target = value;
  return std::nullopt;
}

// The end of a chunk moved back so that it does not split a UTF-8 sequence (unless the chunk is
// one broken sequence).
size_t Utf8Boundary(const std::string& bytes) {
  size_t end = bytes.size();
  for (size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    const auto c = static_cast<unsigned char>(bytes[bytes.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (length > back) end = bytes.size() - back;
    break;
  }
  return end == 0 ? bytes.size() : end;
}

}  // namespace

ApiResponse Api::GetLog(const ApiRequest& request) {
  auto run = store::RequireRun(Store(), request.params.at(0), request.params.at(1));
  if (!run.ok()) return FromError(run.error());
  const std::string& task_id = request.params.at(2);
  const std::string& try_text = request.params.at(3);
  if (try_text.empty() || try_text.size() > 6 ||
      try_text.find_first_not_of("0123456789") != std::string::npos || try_text == "0") {
    return Problem(400, "try_number must be a positive integer, got '" + try_text + "'");
  }
  // Where to start: Airflow's continuation token (the offset the previous chunk ended at), or
  // an offset; full_content starts at the beginning.
  std::uint64_t offset = 0;
  std::uint64_t limit = request.accepts_json ? kMaxLogChunk : UINT64_MAX;
  if (auto problem = ReadCount(request, "offset", offset)) return *problem;
  if (auto problem = ReadCount(request, "token", offset)) return *problem;
  if (auto problem = ReadCount(request, "limit", limit)) return *problem;
  if (QueryValue(request, "full_content").value_or("false") == "true") offset = 0;
  if (limit == 0) return Problem(400, "limit must be a positive integer, got '0'");
  if (request.accepts_json) limit = std::min(limit, kMaxLogChunk);
  const int try_number = std::stoi(try_text);
  auto tries = Store().ListTries(run->id, task_id);
  if (!tries.ok()) return FromError(tries.error());
  for (const auto& attempt : *tries) {
    if (attempt.try_number != try_number) continue;
    // The path is the one the scheduler stored for this try, never one from the request.
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(attempt.log_path, ec);
    const std::uint64_t from = ec ? 0 : std::min(offset, size);
    const std::uint64_t length = ec ? 0 : std::min(limit, size - from);
    if (!request.accepts_json) {
      ApiResponse text{200, "text/plain; charset=utf-8", "", std::nullopt};
      if (length > 0) text.file = FileRange{attempt.log_path, from, length};
      return text;
    }
    std::string content(length, '\0');
    if (length > 0) {
      std::ifstream in(attempt.log_path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(from));
      in.read(content.data(), static_cast<std::streamsize>(length));
      content.resize(static_cast<size_t>(in.gcount()));
      if (from + content.size() < size) content.resize(Utf8Boundary(content));
    }
    const std::uint64_t next = from + content.size();
    return Json({{"content", content}, {"continuation_token", std::to_string(next)}});
  }
  return Problem(404, "task '" + task_id + "' of run '" + run->run_id + "' has no try " + try_text);
}

ApiResponse Api::ListEventLogs(const ApiRequest& request) {
  int limit = 0;
  int offset = 0;
  if (auto problem = ReadPage(request, limit, offset)) return *problem;
  store::EventLogFilter filter;
  filter.limit = limit;
  filter.offset = offset;
  filter.event = QueryValue(request, "event");
  filter.dag_id = QueryValue(request, "dag_id");
  filter.run_id = QueryValue(request, "run_id");
  filter.task_id = QueryValue(request, "task_id");
  filter.owner = QueryValue(request, "owner");
  const std::string order = QueryValue(request, "order_by").value_or("event_log_id");
  if (order == "event_log_id" || order == "when") {
    filter.oldest_first = true;
  } else if (order != "-event_log_id" && order != "-when") {
    return Problem(
        400, "order_by must be event_log_id, -event_log_id, when or -when, got '" + order + "'");
  }
  int total = 0;
  auto entries = Store().ListEventLog(filter, &total);
  if (!entries.ok()) return FromError(entries.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& entry : *entries) items.push_back(store::EventLogToJson(entry));
  return Json({{"event_logs", items}, {"total_entries", total}});
}

void Api::RecordWrite(const std::string& action, const ApiRequest& request, int status) {
  nlohmann::json extra = {{"remote_addr", request.remote_addr},
                          {"method", request.method},
                          {"path", request.path},
                          {"status", status}};
  if (!request.params.empty()) extra["dag_id"] = request.params.front();
  if (Status s = Store().AppendEvent(action, "api", DumpJson(extra)); !s.ok()) {
    // The write itself went through; an audit row that cannot be written is logged loudly.
    spdlog::error("cannot record {} {} in the event log: {}", request.method, request.path,
                  s.error().message);
  }
}

ApiResponse Api::ClearTaskInstances(const ApiRequest& request) {
  const std::string& id = request.params.at(0);
  const auto dag = dags_.Get()->Find(id);
  if (!dag) return Problem(404, "unknown DAG '" + id + "'");
  auto body = ParseBody(request.body);
  if (!body.ok()) return FromError(body.error());
  std::string run_id;
  std::vector<std::string> task_ids;
  bool downstream = false;
  bool only_failed = false;
  bool dry_run = true;  // Airflow's default
  for (const auto& item : body->items()) {
    const std::string& key = item.key();
    const auto& value = item.value();
    if (key == "dag_run_id" && value.is_string()) {
      run_id = value.get<std::string>();
    } else if (key == "task_ids" && value.is_array()) {
      for (const auto& task : value) {
        if (!task.is_string()) return Problem(400, "task_ids must be a list of strings");
        task_ids.push_back(task.get<std::string>());
      }
    } else if ((key == "include_downstream" || key == "only_failed" || key == "dry_run") &&
               value.is_boolean()) {
      (key == "include_downstream" ? downstream
       : key == "only_failed"      ? only_failed
                                   : dry_run) = value.get<bool>();
    } else {
      return Problem(400, "bad field '" + key + "'");
    }
  }
  if (run_id.empty()) return Problem(400, "dag_run_id is required");
  auto run = store::RequireRun(Store(), id, run_id);
  if (!run.ok()) return FromError(run.error());
  auto lease = Store().GetLease(run->id);
  if (!lease.ok()) return FromError(lease.error());
  const auto stale_before = WallClock().PreciseNow() - store::kLeaseStaleAfter;
  const bool serve_holds_it =
      store::WhoHolds(*lease, getpid(), stale_before, &scheduler::ProcessAlive) ==
      store::LeaseHolder::kSelf;
  const bool active =
      run->state == state::RunState::kQueued || run->state == state::RunState::kRunning;
  if (serve_holds_it && active) {
    return Problem(409, "run '" + run_id + "' is running; clear it once it has finished");
  }
  if (only_failed) {
    auto tis = Store().ListTaskInstances(run->id);
    if (!tis.ok()) return FromError(tis.error());
    std::vector<std::string> failed;
    for (const auto& ti : *tis) {
      const bool chosen = task_ids.empty() ||
                          std::find(task_ids.begin(), task_ids.end(), ti.task_id) != task_ids.end();
      if (chosen && state::IsFailure(ti.state)) failed.push_back(ti.task_id);
    }
    if (failed.empty()) return Json({{"task_instances", nlohmann::json::array()}});
    task_ids = failed;
  }
  for (const std::string& task : task_ids) {
    if (dag->dag.TaskIndex(task) < 0) {
      return Problem(400, "DAG '" + id + "' has no task '" + task + "'");
    }
  }
  auto cleared = scheduler::ClearTasks(Store(), *dag, *run, task_ids, downstream, settings_.who,
                                       WallClock().PreciseNow(), dry_run);
  if (!cleared.ok()) return Problem(409, cleared.error().message);
  if (!dry_run) wake_();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& task : *cleared) {
    items.push_back({{"dag_id", id},
                     {"dag_run_id", run_id},
                     {"task_id", task},
                     {"execution_date", store::RunToJson(*run)["logical_date"]}});
  }
  return Json({{"task_instances", items}});
}

ApiResponse Api::MetricsText(const ApiRequest&) {
  auto runs = Store().CountRunsByState();
  if (!runs.ok()) return FromError(runs.error());
  auto tis = Store().CountTaskInstancesByState();
  if (!tis.ok()) return FromError(tis.error());
  std::string text = metrics_.Render(*runs, *tis);
  if (auto* drift = Drift()) {
    auto latest = drift->Latest();
    if (!latest.ok()) return FromError(latest.error());
    text += data::RenderDriftGauges(*latest);
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", text};
}

}  // namespace conveyor::http
