#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/data/drift_results.h"
#include "engine/exec/model_registry.h"
#include "engine/serve/dag_snapshot.h"
#include "engine/serve/metrics.h"
#include "engine/store/state_store.h"

namespace conveyor::http {

// A request as the handlers see it, already routed: `params` are the path's captures in order.
struct ApiRequest {
  std::string method;
  std::string path;
  std::vector<std::string> params;
  std::multimap<std::string, std::string> query;
  std::string body;
  bool accepts_json = false;  // Accept: application/json (for logs)
  std::string remote_addr;    // recorded with every write in the event log
};

// A part of a file sent as the body without reading it into memory (a task's log).
struct FileRange {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::optional<FileRange> file = std::nullopt;  // when set, the body is this range of a file
  std::vector<std::pair<std::string, std::string>> headers = {};  // beyond the usual ones
};

// An RFC 7807 problem: {"type","title","status","detail"}, as application/problem+json.
ApiResponse Problem(int status, const std::string& detail);

// The longest id (DAG, run, task) a request may name.
inline constexpr size_t kMaxIdLength = 250;
// The largest conf a run may be given, serialised.
inline constexpr size_t kMaxConfBytes = 64 * 1024;

struct ApiSettings {
  std::string db;       // the state database; each HTTP thread opens its own connection
  std::string data_db;  // the data database (drift results); empty: none
  bool dags_are_paused_at_creation = true;
  std::string who = "api";  // recorded in the event log
};

// The REST API's handlers (the shapes of Airflow's stable API v1). Thread-safe: the DAGs come
// from the scheduler's published snapshot, the database through a connection per thread, and
// every write wakes the scheduler through `wake`.
class Api {
 public:
  Api(ApiSettings settings, const serve::SharedDags& dags, const serve::Metrics& metrics,
      std::function<void()> wake);

  ApiResponse Health(const ApiRequest& request);
  ApiResponse ListDags(const ApiRequest& request);
  ApiResponse GetDag(const ApiRequest& request);
  ApiResponse PatchDag(const ApiRequest& request);
  ApiResponse DagSource(const ApiRequest& request);
  ApiResponse DagGraph(const ApiRequest& request);
  ApiResponse TriggerRun(const ApiRequest& request);
  ApiResponse ListRuns(const ApiRequest& request);
  ApiResponse GetRun(const ApiRequest& request);
  ApiResponse ListTaskInstances(const ApiRequest& request);
  ApiResponse GetTaskInstance(const ApiRequest& request);
  ApiResponse GetLog(const ApiRequest& request);
  ApiResponse ClearTaskInstances(const ApiRequest& request);
  ApiResponse MetricsText(const ApiRequest& request);
  ApiResponse ListModels(const ApiRequest& request);
  ApiResponse GetModel(const ApiRequest& request);
  // What each version of a model has served since serve started: requests by protocol and
  // status, latency and score histograms, rows, the prediction log's rows (for the model page).
  ApiResponse GetModelServing(const ApiRequest& request);
  ApiResponse ListDriftTasks(const ApiRequest& request);
  ApiResponse GetDriftReport(const ApiRequest& request);
  ApiResponse ListEventLogs(const ApiRequest& request);

  // Records an API write in the event log: `action` (api.trigger_dag_run, ...), the caller's
  // address, the method, path and the answer's status (Airflow's audit log).
  void RecordWrite(const std::string& action, const ApiRequest& request, int status);

 private:
  store::StateStore& Store();
  exec::ModelRegistry& Registry();
  // nullptr without a data database.
  data::DriftResults* Drift();
  // A DAG's API object, serialized, without the database's is_paused: the same until its
  // next_dagrun moves on or the scheduler publishes new DAGs, so it is built once per DAG and
  // interval.
  std::string DagText(const std::shared_ptr<const serve::DagSnapshot>& snapshot,
                      const std::string& dag_id, Instant now);
  // DagText with is_paused, as listings and GET /dags/{id} answer it.
  std::string DagWithPaused(const std::shared_ptr<const serve::DagSnapshot>& snapshot,
                            const std::string& dag_id, bool is_paused, Instant now);

  struct CachedDag {
    std::string text;
    Instant valid_until;
  };
  std::mutex cache_mutex_;
  std::shared_ptr<const serve::DagSnapshot> cached_snapshot_;  // GUARDED_BY(cache_mutex_)
  std::map<std::string, CachedDag> cache_;                     // GUARDED_BY(cache_mutex_)

  ApiSettings settings_;
  const serve::SharedDags& dags_;
  const serve::Metrics& metrics_;
  std::function<void()> wake_;
};

}  // namespace conveyor::http
