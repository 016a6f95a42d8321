#include "engine/store/state_counts.h"

#include "engine/store/sqlite_db.h"

namespace conveyor::store {

void StateCountChanges::Add(std::string_view table, std::string_view state, std::int64_t n) {
  if (state.empty()) state = "none";
  for (Change& change : changes_) {
    if (change.state == state && change.table == table) {
      change.n += n;
      return;
    }
  }
  changes_.push_back({std::string(table), std::string(state), n});
}

void StateCountChanges::Added(std::string_view table, std::string_view state) {
  Add(table, state, 1);
}

void StateCountChanges::Moved(std::string_view table, std::string_view from, std::string_view to) {
  if (from == to) return;
  Add(table, from, -1);
  Add(table, to, 1);
}

Status StateCountChanges::Write(SqliteDb& db) {
  CachedStatement add = db.Cached(
      "INSERT INTO state_counts (tbl, state, n) VALUES (?, ?, ?) "
      "ON CONFLICT DO UPDATE SET n = n + excluded.n");
  for (const Change& change : changes_) {
    if (change.n == 0) continue;
    if (Status s = add->Bind(1, change.table).Bind(2, change.state).Bind(3, change.n).Run();
        !s.ok()) {
      return s;
    }
  }
  changes_.clear();
  return Status::Ok();
}

}  // namespace conveyor::store
