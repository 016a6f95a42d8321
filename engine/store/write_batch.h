#pragma once

#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/store/records.h"

namespace conveyor::store {

// Writes that commit together (the scheduler's group commit). A task instance or try written
// several times in one batch is stored once, as last written; every change of a task
// instance's state (and every write with a note) still appends its own event.
class WriteBatch {
 public:
  void PutRun(const DagRunRecord& run, std::optional<state::RunState> from, std::string who);
  // `from` is the state the caller believes the row holds; the store checks it as it writes.
  void PutTaskInstance(const TaskInstanceRecord& ti, state::TaskState from, std::string who,
                       std::string note = "");
  // A task instance of a run being created: a new row, and no event.
  void AddTaskInstance(const TaskInstanceRecord& ti);
  // Fields left empty (start_date, log_path, note) keep what an earlier write gave them.
  void PutTry(const TryRecord& attempt);
  void PutOutputs(RunKey run, const std::string& task_id, const nlohmann::json& outputs);
  // Records a successful try of `run` as the cached result of its key (replacing an older one).
  void PutCachedTry(RunKey run, CachedTry cached);
  // Adds a later batch's writes, as if they had been put here after this batch's own: a task
  // instance or try both write is written once, in its last state; every event is kept, in order.
  void Append(WriteBatch&& later);
  // Drops every write of these runs.
  void DropRuns(const std::set<RunKey>& dropped);
  bool empty() const {
    return runs_.empty() && tis_.empty() && tries_.empty() && outputs_.empty() && events_.empty() &&
           cached_.empty();
  }

  struct RunWrite {
    DagRunRecord run;
    std::optional<state::RunState> from;
    std::string who;
  };
  struct Event {
    RunKey run;
    std::string task_id;
    int try_number;
    state::TaskState from;
    state::TaskState to;
    std::string who;
    std::string note;
  };
  struct OutputWrite {
    RunKey run;
    std::string task_id;
    nlohmann::json outputs;
  };
  const std::vector<RunWrite>& runs() const { return runs_; }
  const std::vector<TaskInstanceRecord>& task_instances() const { return tis_; }
  // For each of task_instances(), the state its row holds before the batch as the batch's first
  // write of it believed; nothing for a row the batch creates.
  const std::vector<std::optional<state::TaskState>>& task_instances_before() const {
    return ti_before_;
  }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<TryRecord>& tries() const { return tries_; }
  const std::vector<OutputWrite>& outputs() const { return outputs_; }
  const std::vector<std::pair<RunKey, CachedTry>>& cached_tries() const { return cached_; }

 private:
  // Its row in the batch: the record's latest write replaces any earlier one of the task.
  void PutTaskInstanceRow(TaskInstanceRecord ti, std::optional<state::TaskState> before);

  // A task's try (try_number), or its task instance (0). Hashed: a group commit merges tens of
  // thousands of rows, and a tree of strings costs a few comparisons of them per row.
  struct RowKey {
    RunKey run;
    std::string task_id;
    int try_number;
    bool operator==(const RowKey&) const = default;
  };
  struct RowKeyHash {
    size_t operator()(const RowKey& key) const;
  };

  std::vector<RunWrite> runs_;
  std::vector<TaskInstanceRecord> tis_;
  std::vector<std::optional<state::TaskState>> ti_before_;
  std::unordered_map<RowKey, size_t, RowKeyHash> ti_index_;
  std::vector<Event> events_;
  std::vector<TryRecord> tries_;
  std::unordered_map<RowKey, size_t, RowKeyHash> try_index_;
  std::vector<OutputWrite> outputs_;
  std::vector<std::pair<RunKey, CachedTry>> cached_;
};

}  // namespace conveyor::store
