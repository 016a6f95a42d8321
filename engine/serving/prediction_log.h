#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/exec/data_store.h"
#include "engine/serving/model_server.h"

namespace conveyor::serving {

// Where the predictions of one served reference are logged (config `serving.log`).
struct PredictionLogTarget {
  std::string table;    // a table of the data database
  double sample = 1.0;  // the share of rows logged, 0 to 1
};

// Appends scored rows (their features, the prediction, the version that answered and the time)
// to tables of the data database, for drift checks on live traffic. Off the request path: Record
// copies the sampled rows into a bounded queue and returns; a writer thread commits them in
// batches. Rows that do not fit the queue, or that the database refuses, are dropped and counted,
// never waited for. Thread-safe.
class PredictionLog {
 public:
  // Counts rows of `model` at `version`: written to the database, or dropped.
  using Counter = std::function<void(const std::string& model, int version, std::int64_t written,
                                     std::int64_t dropped)>;

  PredictionLog(exec::DataOpener open_data, std::map<std::string, PredictionLogTarget> targets,
                size_t capacity_rows, Counter count);
  ~PredictionLog();  // writes what is queued, then stops
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  // `reference` as the request named it (NAME@ALIAS, NAME/VERSION or NAME): logged only when a
  // target is configured for it.
  void Record(const std::string& reference, const std::shared_ptr<const LoadedModel>& model,
              const operators::DenseMatrix& rows, std::span<const float> scores);

  // Blocks until everything queued before the call is written or dropped (for tests and
  // shutdown).
  void Flush();

 private:
  struct Batch {
    const PredictionLogTarget* target;
    std::shared_ptr<const LoadedModel> model;
    std::vector<float> values;  // sampled rows, row-major
    std::vector<float> scores;
    std::string scored_at;
  };
  void Run();
  void Write(std::vector<Batch>& batches);

  exec::DataOpener open_data_;
  std::map<std::string, PredictionLogTarget> targets_;
  size_t capacity_rows_;
  Counter count_;

  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable drained_;
  std::deque<Batch> queue_;         // GUARDED_BY(mutex_)
  size_t queued_rows_ = 0;          // GUARDED_BY(mutex_)
  std::uint64_t pushed_ = 0;        // batches ever queued, GUARDED_BY(mutex_)
  std::uint64_t handled_ = 0;       // batches written or dropped, GUARDED_BY(mutex_)
  bool stopping_ = false;           // GUARDED_BY(mutex_)
  std::set<std::string> reported_;  // tables whose failure was logged, writer's only
  std::thread writer_;
};

}  // namespace conveyor::serving
