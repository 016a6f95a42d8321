#include <algorithm>
#include <functional>
#include <iterator>

#include "engine/common/secret_masker.h"
#include "engine/store/state_store.h"

namespace conveyor::store {

size_t WriteBatch::RowKeyHash::operator()(const RowKey& key) const {
  const size_t task = std::hash<std::string>()(key.task_id);
  return task ^ (std::hash<RunKey>()(key.run) * 0x9e3779b97f4a7c15ULL +
                 static_cast<size_t>(key.try_number));
}

void WriteBatch::PutRun(const DagRunRecord& run, std::optional<state::RunState> from,
                        std::string who) {
  runs_.push_back({run, from, std::move(who)});
}

void WriteBatch::PutTaskInstanceRow(TaskInstanceRecord ti, std::optional<state::TaskState> before) {
  auto [it, inserted] = ti_index_.emplace(RowKey{ti.run, ti.task_id, 0}, tis_.size());
  if (inserted) {
    tis_.push_back(std::move(ti));
    ti_before_.push_back(before);
  } else {
    tis_[it->second] = std::move(ti);
  }
}

void WriteBatch::PutTaskInstance(const TaskInstanceRecord& ti, state::TaskState from,
                                 std::string who, std::string note) {
  PutTaskInstanceRow(ti, from);
  if (from != ti.state || !note.empty()) {
    events_.push_back({ti.run, ti.task_id, ti.try_number, from, ti.state, std::move(who),
                       HasSecrets() ? MaskSecrets(note) : std::move(note)});
  }
}

void WriteBatch::AddTaskInstance(const TaskInstanceRecord& ti) {
  PutTaskInstanceRow(ti, std::nullopt);
}

void WriteBatch::PutTry(const TryRecord& attempt) {
  auto [it, inserted] =
      try_index_.emplace(RowKey{attempt.run, attempt.task_id, attempt.try_number}, tries_.size());
  if (inserted) {
    tries_.push_back(attempt);
    if (HasSecrets()) tries_.back().note = MaskSecrets(attempt.note);
    return;
  }
  TryRecord& merged = tries_[it->second];
  const TryRecord earlier = merged;
  merged = attempt;
  if (HasSecrets()) merged.note = MaskSecrets(attempt.note);
  if (!merged.start_date) merged.start_date = earlier.start_date;
  if (merged.log_path.empty()) merged.log_path = earlier.log_path;
  if (merged.note.empty()) merged.note = earlier.note;
  if (!merged.pid) merged.pid = earlier.pid;
}

void WriteBatch::Append(WriteBatch&& later) {
  std::move(later.runs_.begin(), later.runs_.end(), std::back_inserter(runs_));
  for (size_t i = 0; i < later.tis_.size(); ++i) {
    PutTaskInstanceRow(std::move(later.tis_[i]), later.ti_before_[i]);
  }
  std::move(later.events_.begin(), later.events_.end(), std::back_inserter(events_));
  for (const TryRecord& attempt : later.tries_) PutTry(attempt);
  std::move(later.outputs_.begin(), later.outputs_.end(), std::back_inserter(outputs_));
  std::move(later.cached_.begin(), later.cached_.end(), std::back_inserter(cached_));
  later = WriteBatch();
}

void WriteBatch::DropRuns(const std::set<RunKey>& dropped) {
  const auto kept = [&dropped](RunKey run) { return dropped.count(run) == 0; };
  WriteBatch rest;
  for (RunWrite& write : runs_) {
    if (kept(write.run.id)) rest.runs_.push_back(std::move(write));
  }
  for (size_t i = 0; i < tis_.size(); ++i) {
    if (kept(tis_[i].run)) rest.PutTaskInstanceRow(std::move(tis_[i]), ti_before_[i]);
  }
  for (Event& event : events_) {
    if (kept(event.run)) rest.events_.push_back(std::move(event));
  }
  for (TryRecord& attempt : tries_) {
    if (!kept(attempt.run)) continue;
    rest.try_index_.emplace(RowKey{attempt.run, attempt.task_id, attempt.try_number},
                            rest.tries_.size());
    rest.tries_.push_back(std::move(attempt));
  }
  for (OutputWrite& output : outputs_) {
    if (kept(output.run)) rest.outputs_.push_back(std::move(output));
  }
  for (auto& cached : cached_) {
    if (kept(cached.first)) rest.cached_.push_back(std::move(cached));
  }
  *this = std::move(rest);
}

void WriteBatch::PutCachedTry(RunKey run, CachedTry cached) {
  cached_.emplace_back(run, std::move(cached));
}

void WriteBatch::PutOutputs(RunKey run, const std::string& task_id, const nlohmann::json& outputs) {
  if (!HasSecrets()) {
    outputs_.push_back({run, task_id, outputs});
    return;
  }
  nlohmann::json masked = nlohmann::json::object();
  for (const auto& item : outputs.items()) {
    masked[MaskSecrets(item.key())] =
        item.value().is_string() ? nlohmann::json(MaskSecrets(item.value().get<std::string>()))
                                 : item.value();
  }
  outputs_.push_back({run, task_id, std::move(masked)});
}

}  // namespace conveyor::store
