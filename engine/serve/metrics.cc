#include "engine/serve/metrics.h"

#include <algorithm>
#include <limits>

#include "engine/common/prometheus_text.h"

namespace conveyor::serve {
namespace {

const std::vector<double> kTaskBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                          2.5,   5,    10,    30,   60,  300,  900, 3600};
const std::vector<double> kLoopBuckets = {0.0001, 0.0005, 0.001, 0.0025, 0.005,
                                          0.01,   0.025,  0.05,  0.1,    0.5};
const std::vector<double> kPredictionBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.5,    1};
const std::vector<double> kScoreBuckets = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};

void RenderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const Metrics::Histogram& h) {
  const std::string sep = labels.empty() ? "" : ",";
  long cumulative = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    out += name + "_bucket{" + labels + sep + "le=\"" + PrometheusNumber(h.bounds[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + sep + "le=\"" +
         PrometheusNumber(std::numeric_limits<double>::infinity()) + "\"} " +
         std::to_string(h.count) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + PrometheusNumber(h.sum) + "\n";
  out += name + "_count" + braces + " " + std::to_string(h.count) + "\n";
}

}  // namespace

void Metrics::Histogram::Observe(double value) {
  if (counts.empty()) counts.assign(bounds.size() + 1, 0);
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
  ++counts[i];
  sum += value;
  ++count;
}

void Metrics::ObserveTaskDuration(const std::string& dag_id, const std::string& task_id,
                                  double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& h = task_durations_[{dag_id, task_id}];
  if (h.bounds.empty()) h.bounds = kTaskBuckets;
  h.Observe(seconds);
}

void Metrics::ObserveSchedulerLoop(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (loop_.bounds.empty()) loop_.bounds = kLoopBuckets;
  loop_.Observe(seconds);
}

void Metrics::SetQueueDepth(int ready_tasks) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_depth_ = ready_tasks;
}

void Metrics::SetPoolSlots(const std::map<std::string, int>& used,
                           const std::map<std::string, int>& size) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_used_ = used;
  pool_size_ = size;
}

void Metrics::SetResources(const dag::Resources& capacity, const dag::Resources& in_use) {
  std::lock_guard<std::mutex> lock(mutex_);
  resources_capacity_ = capacity;
  resources_in_use_ = in_use;
}

void Metrics::SetDagFiles(int files, int import_errors) {
  std::lock_guard<std::mutex> lock(mutex_);
  dag_files_ = files;
  import_errors_ = import_errors;
}

void Metrics::CountHttpRequest(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++http_requests_[{route, status}];
}

void Metrics::SetSchedulerHeartbeat(double unix_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  heartbeat_ = unix_seconds;
}

void Metrics::CountDeadlineMiss(const std::string& dag_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++deadline_misses_[dag_id];
}

void Metrics::ObservePrediction(const std::string& model, int version, const std::string& protocol,
                                int status, double seconds, const std::vector<float>& scores) {
  std::lock_guard<std::mutex> lock(mutex_);
  Served& served = served_[{model, version}];
  ++served.requests[{protocol, status}];
  if (served.latency.bounds.empty()) served.latency.bounds = kPredictionBuckets;
  served.latency.Observe(seconds);
  served.rows += static_cast<long>(scores.size());
  if (served.scores.bounds.empty()) served.scores.bounds = kScoreBuckets;
  for (const float score : scores) served.scores.Observe(score);
}

void Metrics::CountPredictionLog(const std::string& model, int version, long written,
                                 long dropped) {
  std::lock_guard<std::mutex> lock(mutex_);
  Served& served = served_[{model, version}];
  served.logged += written;
  served.log_dropped += dropped;
}

std::vector<Metrics::ServedVersion> Metrics::ServedVersions(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ServedVersion> out;
  for (auto it = served_.lower_bound({model, 1}); it != served_.end() && it->first.first == model;
       ++it) {
    const Served& served = it->second;
    out.push_back({it->first.second, served.requests, served.latency, served.rows, served.scores,
                   served.logged, served.log_dropped});
  }
  return out;
}

std::string Metrics::Render(const std::map<std::string, long>& runs_by_state,
                            const std::map<std::string, long>& task_instances_by_state) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  AppendPrometheusHeader(out, "conveyor_dag_runs", "gauge", "DAG runs in the database by state.");
  for (const auto& [state, n] : runs_by_state) {
    out += "conveyor_dag_runs{state=\"" + PrometheusLabelValue(state) + "\"} " + std::to_string(n) +
           "\n";
  }
  AppendPrometheusHeader(out, "conveyor_task_instances", "gauge",
                         "Task instances in the database by state.");
  for (const auto& [state, n] : task_instances_by_state) {
    out += "conveyor_task_instances{state=\"" + PrometheusLabelValue(state) + "\"} " +
           std::to_string(n) + "\n";
  }
  AppendPrometheusHeader(out, "conveyor_task_duration_seconds", "histogram",
                         "Duration of finished tries, by DAG and task.");
  for (const auto& [key, h] : task_durations_) {
    RenderHistogram(out, "conveyor_task_duration_seconds",
                    "dag_id=\"" + PrometheusLabelValue(key.first) + "\",task_id=\"" +
                        PrometheusLabelValue(key.second) + "\"",
                    h);
  }
  AppendPrometheusHeader(out, "conveyor_scheduler_loop_seconds", "histogram",
                         "Time a scheduling round takes, sleeping excluded.");
  Histogram loop = loop_;
  if (loop.bounds.empty()) {
    loop.bounds = kLoopBuckets;
    loop.counts.assign(loop.bounds.size() + 1, 0);
  }
  RenderHistogram(out, "conveyor_scheduler_loop_seconds", "", loop);
  AppendPrometheusHeader(out, "conveyor_scheduler_heartbeat_timestamp_seconds", "gauge",
                         "When the scheduler last ran a round, in seconds since the epoch.");
  out += "conveyor_scheduler_heartbeat_timestamp_seconds " + PrometheusNumber(heartbeat_) + "\n";
  AppendPrometheusHeader(out, "conveyor_queue_depth", "gauge",
                         "Task instances ready and waiting for a worker.");
  out += "conveyor_queue_depth " + std::to_string(queue_depth_) + "\n";
  AppendPrometheusHeader(out, "conveyor_pool_slots_used", "gauge", "Slots of each pool in use.");
  for (const auto& [pool, size] : pool_size_) {
    auto used = pool_used_.find(pool);
    out += "conveyor_pool_slots_used{pool=\"" + PrometheusLabelValue(pool) + "\"} " +
           std::to_string(used == pool_used_.end() ? 0 : used->second) + "\n";
  }
  AppendPrometheusHeader(out, "conveyor_pool_slots", "gauge", "Slots of each pool.");
  for (const auto& [pool, size] : pool_size_) {
    out += "conveyor_pool_slots{pool=\"" + PrometheusLabelValue(pool) + "\"} " +
           std::to_string(size) + "\n";
  }
  const auto render_resources = [&out](const std::string& name, const dag::Resources& amounts) {
    out += name + "{resource=\"cpus\"} " + PrometheusNumber(amounts.millicpus / 1000.0) + "\n";
    out += name + "{resource=\"memory_bytes\"} " + std::to_string(amounts.memory_bytes) + "\n";
    out += name + "{resource=\"gpus\"} " + std::to_string(amounts.gpus) + "\n";
  };
  AppendPrometheusHeader(out, "conveyor_resources_capacity", "gauge",
                         "What the machine offers tries of the local executor (config resources).");
  render_resources("conveyor_resources_capacity", resources_capacity_);
  AppendPrometheusHeader(out, "conveyor_resources_in_use", "gauge",
                         "What the running tries of the local executor hold of it.");
  render_resources("conveyor_resources_in_use", resources_in_use_);
  AppendPrometheusHeader(out, "conveyor_dag_files", "gauge", "DAG files in the DAG folder.");
  out += "conveyor_dag_files " + std::to_string(dag_files_) + "\n";
  AppendPrometheusHeader(out, "conveyor_dag_import_errors", "gauge", "DAG files that do not load.");
  out += "conveyor_dag_import_errors " + std::to_string(import_errors_) + "\n";
  AppendPrometheusHeader(out, "conveyor_http_requests_total", "counter",
                         "HTTP requests by route and status.");
  for (const auto& [key, n] : http_requests_) {
    out += "conveyor_http_requests_total{route=\"" + PrometheusLabelValue(key.first) +
           "\",code=\"" + std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  RenderServing(out);
  AppendPrometheusHeader(out, "conveyor_deadline_misses_total", "counter",
                         "Runs that missed their DAG's deadline, seen by this process.");
  for (const auto& [dag_id, n] : deadline_misses_) {
    out += "conveyor_deadline_misses_total{dag_id=\"" + PrometheusLabelValue(dag_id) + "\"} " +
           std::to_string(n) + "\n";
  }
  return out;
}

void Metrics::RenderServing(std::string& out) const {
  AppendPrometheusHeader(out, "conveyor_serving_requests_total", "counter",
                         "Prediction requests by model, version, protocol and status.");
  const auto labels = [](const std::pair<std::string, int>& key) {
    return "model=\"" + PrometheusLabelValue(key.first) + "\",version=\"" +
           (key.second > 0 ? std::to_string(key.second) : std::string()) + "\"";
  };
  for (const auto& [key, served] : served_) {
    for (const auto& [request, n] : served.requests) {
      out += "conveyor_serving_requests_total{" + labels(key) + ",protocol=\"" +
             PrometheusLabelValue(request.first) + "\",code=\"" + std::to_string(request.second) +
             "\"} " + std::to_string(n) + "\n";
    }
  }
  AppendPrometheusHeader(out, "conveyor_serving_request_seconds", "histogram",
                         "Time to answer a prediction request, by model and version.");
  for (const auto& [key, served] : served_) {
    RenderHistogram(out, "conveyor_serving_request_seconds", labels(key), served.latency);
  }
  AppendPrometheusHeader(out, "conveyor_serving_rows_total", "counter",
                         "Rows scored, by model and version.");
  for (const auto& [key, served] : served_) {
    out += "conveyor_serving_rows_total{" + labels(key) + "} " + std::to_string(served.rows) + "\n";
  }
  AppendPrometheusHeader(out, "conveyor_serving_prediction_score", "histogram",
                         "Predicted scores, by model and version.");
  for (const auto& [key, served] : served_) {
    if (served.scores.count > 0) {
      RenderHistogram(out, "conveyor_serving_prediction_score", labels(key), served.scores);
    }
  }
  AppendPrometheusHeader(out, "conveyor_serving_log_rows_total", "counter",
                         "Scored rows written to the prediction log (serving.log).");
  for (const auto& [key, served] : served_) {
    out += "conveyor_serving_log_rows_total{" + labels(key) + "} " + std::to_string(served.logged) +
           "\n";
  }
  AppendPrometheusHeader(out, "conveyor_serving_log_dropped_total", "counter",
                         "Scored rows the prediction log dropped: its queue was full or the "
                         "data database refused them.");
  for (const auto& [key, served] : served_) {
    out += "conveyor_serving_log_dropped_total{" + labels(key) + "} " +
           std::to_string(served.log_dropped) + "\n";
  }
}

}  // namespace conveyor::serve
