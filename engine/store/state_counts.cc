#include "engine/store/state_counts.h"

#include "engine/store/sqlite_db.h"

namespace conveyor::store {
namespace {

std::pair<std::string, std::string> Key(std::string_view table, std::string_view state) {
  return {std::string(table), std::string(state.empty() ? "none" : state)};
}

}  // namespace

void StateCountChanges::Added(std::string_view table, std::string_view state) {
  ++changes_[Key(table, state)];
}

void StateCountChanges::Moved(std::string_view table, std::string_view from, std::string_view to) {
  if (from == to) return;
  --changes_[Key(table, from)];
  ++changes_[Key(table, to)];
}

Status StateCountChanges::Write(SqliteDb& db) {
  CachedStatement add = db.Cached(
      "INSERT INTO state_counts (tbl, state, n) VALUES (?, ?, ?) "
      "ON CONFLICT DO UPDATE SET n = n + excluded.n");
  for (const auto& [key, n] : changes_) {
    if (n == 0) continue;
    if (Status s = add->Bind(1, key.first).Bind(2, key.second).Bind(3, n).Run(); !s.ok()) {
      return s;
    }
  }
  changes_.clear();
  return Status::Ok();
}

}  // namespace conveyor::store
