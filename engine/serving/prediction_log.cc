#include "engine/serving/prediction_log.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <random>

#include "engine/common/time_format.h"

namespace conveyor::serving {
namespace {

// How long one commit waits for another writer of the data database (an ingest) before its
// rows are dropped: the queue behind it keeps filling meanwhile.
constexpr auto kLockWait = std::chrono::seconds(2);
// Rows committed in one transaction at most.
constexpr size_t kRowsPerCommit = 50'000;

bool Sampled(double share) {
  if (share >= 1.0) return true;
  if (share <= 0.0) return false;
  thread_local std::minstd_rand random(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(random) < share;
}

std::string NowUtc() {
  return FormatUtcMillis(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
}

// The model scores 32-bit floats; each is stored as the shortest decimal that reads back as it
// (0.5878f as 0.5878, not 0.5878000259), which is what the client sent whenever it sent at most
// 7 significant digits, so a drift check sees the baseline's values. NaN and infinities are
// stored as NULL, the data database's missing value.
void AppendReal(std::vector<exec::Cell>& cells, float value) {
  if (std::isfinite(value)) {
    char text[32];
    const auto printed = std::to_chars(text, text + sizeof(text), value);
    double shortest = value;
    std::from_chars(text, printed.ptr, shortest);
    cells.emplace_back(std::in_place_type<double>, shortest);
  } else {
    cells.emplace_back(std::in_place_type<std::monostate>);
  }
}

}  // namespace

PredictionLog::PredictionLog(exec::DataOpener open_data,
                             std::map<std::string, PredictionLogTarget> targets,
                             size_t capacity_rows, Counter count)
    : open_data_(std::move(open_data)),
      targets_(std::move(targets)),
      capacity_rows_(capacity_rows),
      count_(std::move(count)),
      writer_([this] { Run(); }) {}

PredictionLog::~PredictionLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  writer_.join();
}

void PredictionLog::Record(const std::string& reference,
                           const std::shared_ptr<const LoadedModel>& model,
                           const operators::DenseMatrix& rows, std::span<const float> scores) {
  const auto target = targets_.find(reference);
  if (target == targets_.end() || rows.rows == 0) return;
  Batch batch{&target->second, model, {}, {}, NowUtc()};
  for (size_t r = 0; r < rows.rows && r < scores.size(); ++r) {
    if (!Sampled(target->second.sample)) continue;
    const auto row = rows.values.begin() + static_cast<std::ptrdiff_t>(r * rows.cols);
    batch.values.insert(batch.values.end(), row, row + static_cast<std::ptrdiff_t>(rows.cols));
    batch.scores.push_back(scores[r]);
  }
  const size_t n = batch.scores.size();
  if (n == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_rows_ + n <= capacity_rows_ && !stopping_) {
      queued_rows_ += n;
      ++pushed_;
      queue_.push_back(std::move(batch));
      ready_.notify_one();
      return;
    }
  }
  count_(model->name, model->version, 0, static_cast<std::int64_t>(n));
}

void PredictionLog::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t target = pushed_;
  drained_.wait(lock, [&] { return handled_ >= target; });
}

void PredictionLog::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    std::vector<Batch> batches;
    size_t rows = 0;
    while (!queue_.empty() && rows < kRowsPerCommit) {
      rows += queue_.front().scores.size();
      batches.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_rows_ -= rows;
    lock.unlock();
    Write(batches);
    lock.lock();
    handled_ += batches.size();
    drained_.notify_all();
  }
}

void PredictionLog::Write(std::vector<Batch>& batches) {
  // One transaction per table, in the order the batches came.
  std::map<std::string, std::vector<Batch*>> by_table;
  for (Batch& batch : batches) by_table[batch.target->table].push_back(&batch);
  // A connection per batch of commits: its wait for another writer's lock starts now.
  exec::LockWait wait;
  wait.deadline = std::chrono::steady_clock::now() + kLockWait;
  auto store = open_data_ ? open_data_(wait)
                          : Result<std::unique_ptr<exec::DataStore>>(NotFound("no data database"));
  for (auto& [table, group] : by_table) {
    Status status = store.ok() ? Status::Ok() : Status(store.error());
    // The table's columns: the features of the first batch's model, then the prediction, the
    // version and the time. A later version with other features cannot append to it.
    std::unique_ptr<exec::TableWriter> writer;
    if (status.ok()) {
      std::vector<exec::Column> columns;
      for (const std::string& feature : group.front()->model->features) {
        columns.push_back({feature, exec::ColumnType::kReal});
      }
      columns.push_back({"prediction", exec::ColumnType::kReal});
      columns.push_back({"model_version", exec::ColumnType::kInteger});
      columns.push_back({"scored_at", exec::ColumnType::kTimestamp});
      auto opened = (*store)->WriteTable(table, columns, false);
      if (opened.ok()) {
        writer = std::move(opened).value();
      } else {
        status = opened.error();
      }
    }
    std::vector<exec::Cell> cells;
    for (const Batch* batch : group) {
      if (!status.ok()) break;
      if (batch->model->features != group.front()->model->features) continue;  // dropped below
      const size_t cols = batch->model->features.size();
      for (size_t r = 0; r < batch->scores.size() && status.ok(); ++r) {
        cells.clear();
        for (size_t c = 0; c < cols; ++c) {
          AppendReal(cells, batch->values[r * cols + c]);
        }
        AppendReal(cells, batch->scores[r]);
        cells.emplace_back(std::int64_t{batch->model->version});
        cells.emplace_back(batch->scored_at);
        status = writer->Append(cells);
      }
    }
    if (status.ok()) status = writer->Commit();
    if (!status.ok()) {
      // Logged once per table until it works again; every dropped row is counted.
      if (reported_.insert(table).second) {
        spdlog::error("serving.log: cannot write table '{}': {}; its rows are dropped", table,
                      status.error().message);
      }
    } else {
      reported_.erase(table);
    }
    for (const Batch* batch : group) {
      const bool written = status.ok() && batch->model->features == group.front()->model->features;
      const auto n = static_cast<std::int64_t>(batch->scores.size());
      count_(batch->model->name, batch->model->version, written ? n : 0, written ? 0 : n);
    }
  }
}

}  // namespace conveyor::serving
