#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/dag/resources.h"

namespace conveyor::serve {

// conveyor's Prometheus metrics: counters, gauges and histograms kept in memory by `serve`, and
// rendered in the text exposition format. Thread-safe.
class Metrics {
 public:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<long> counts;  // per bound, not cumulative; one more for +Inf
    double sum = 0;
    long count = 0;
    void Observe(double value);
  };

  void ObserveTaskDuration(const std::string& dag_id, const std::string& task_id, double seconds);
  void ObserveSchedulerLoop(double seconds);
  // When the scheduler last ran a round, in seconds since the epoch (for a staleness alert).
  void SetSchedulerHeartbeat(double unix_seconds);
  void SetQueueDepth(int ready_tasks);
  void SetPoolSlots(const std::map<std::string, int>& used, const std::map<std::string, int>& size);
  // What the machine offers the local executor's tries (config `resources:`) and what they hold.
  void SetResources(const dag::Resources& capacity, const dag::Resources& in_use);
  void SetDagFiles(int files, int import_errors);
  void CountHttpRequest(const std::string& route, int status);
  void CountDeadlineMiss(const std::string& dag_id);
  // One prediction request to a served model: `version` 0 when no version answered (an unknown
  // model), `scores` empty when it failed.
  void ObservePrediction(const std::string& model, int version, const std::string& protocol,
                         int status, double seconds, const std::vector<float>& scores);
  // Rows of the prediction log (serving.log) written to the data database, or dropped.
  void CountPredictionLog(const std::string& model, int version, long written, long dropped);

  // What one version of a model has served since serve started (for the UI's model page).
  struct ServedVersion {
    int version = 0;
    std::map<std::pair<std::string, int>, long> requests;  // by (protocol, status)
    Histogram latency;                                     // seconds
    long rows = 0;
    Histogram scores;
    long logged = 0;
    long log_dropped = 0;
  };
  std::vector<ServedVersion> ServedVersions(const std::string& model) const;

  // Every metric; `runs_by_state` and `task_instances_by_state` come from the database.
  std::string Render(const std::map<std::string, long>& runs_by_state,
                     const std::map<std::string, long>& task_instances_by_state) const;

 private:
  void RenderServing(std::string& out) const;  // holding mutex_

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Histogram> task_durations_;
  Histogram loop_;
  double heartbeat_ = 0;
  int queue_depth_ = 0;
  std::map<std::string, int> pool_used_;
  std::map<std::string, int> pool_size_;
  dag::Resources resources_capacity_;
  dag::Resources resources_in_use_;
  int dag_files_ = 0;
  int import_errors_ = 0;
  std::map<std::pair<std::string, int>, long> http_requests_;
  std::map<std::string, long> deadline_misses_;  // by DAG
  // Serving, by (model, version): requests by (protocol, code), latency, rows, scores.
  struct Served {
    std::map<std::pair<std::string, int>, long> requests;
    Histogram latency;
    long rows = 0;
    Histogram scores;
    long logged = 0;
    long log_dropped = 0;
  };
  std::map<std::pair<std::string, int>, Served> served_;
};

}  // namespace conveyor::serve
