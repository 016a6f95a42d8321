#pragma once

// Internal to engine/store: the changes a transaction makes to `state_counts`, the number of runs
// and task instances in each state that /metrics reads.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::store {

class SqliteDb;

// The one place the counts are kept: from the store's writes, which know the state each row
// leaves (a write checks the state the scheduler believes the row holds, and reads it when that
// check fails). A trigger would cost two statements for each of a task's three state changes on
// the scheduler's hot path. Writes made outside conveyor (the sqlite3 shell) are not counted.
class StateCountChanges {
 public:
  // `table` is "dag_runs" or "task_instances"; a task instance without a state counts as "none".
  void Added(std::string_view table, std::string_view state);
  void Moved(std::string_view table, std::string_view from, std::string_view to);
  // Applies the changes in the caller's transaction and forgets them.
  Status Write(SqliteDb& db);

 private:
  struct Change {
    std::string table;
    std::string state;
    std::int64_t n;
  };
  void Add(std::string_view table, std::string_view state, std::int64_t n);
  // A few entries (one per table and state touched): searched in order, not hashed or sorted.
  std::vector<Change> changes_;
};

}  // namespace conveyor::store
