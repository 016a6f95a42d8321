#include "engine/store/state_store.h"

namespace conveyor::store {

void WriteBatch::PutRun(const DagRunRecord& run, std::optional<state::RunState> from,
                        std::string who) {
  runs_.push_back({run, from, std::move(who)});
}

void WriteBatch::PutTaskInstance(const TaskInstanceRecord& ti, state::TaskState from,
                                 std::string who, std::string note) {
  tis_.push_back({ti, from, std::move(who), std::move(note)});
}

void WriteBatch::PutTry(const TryRecord& attempt) { tries_.push_back(attempt); }

void WriteBatch::PutOutputs(RunKey run, const std::string& task_id, const nlohmann::json& outputs) {
  outputs_.push_back({run, task_id, outputs});
}

}  // namespace conveyor::store
