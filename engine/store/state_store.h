#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/common/error.h"
#include "engine/store/dag_registry.h"
#include "engine/store/event_log.h"
#include "engine/store/lease_store.h"
#include "engine/store/records.h"
#include "engine/store/run_store.h"
#include "engine/store/state_count_reader.h"
#include "engine/store/store_upkeep.h"
#include "engine/store/write_batch.h"

namespace conveyor::store {

// conveyor's durable state, by role: each caller takes the narrowest role it needs, and a second
// implementation (another database) implements them all. A store is safe for concurrent use
// from several threads: its calls take turns. Several processes may open the same SQLite
// database (WAL mode, BEGIN IMMEDIATE, busy timeout).
class StateStore : public RunStore,
                   public EventLog,
                   public LeaseStore,
                   public DagRegistry,
                   public StateCountReader,
                   public StoreUpkeep {};

// The run `run_id` of DAG `dag_id`, or a kNotFound error naming both.
inline Result<DagRunRecord> RequireRun(RunStore& store, const std::string& dag_id,
                                       const std::string& run_id) {
  auto found = store.FindRun(dag_id, run_id);
  if (!found.ok()) return found.error();
  if (!*found) return NotFound("DAG '" + dag_id + "' has no run '" + run_id + "'");
  return **found;
}

struct SqliteStoreOptions {
  const Clock* clock = &WallClock();  // stamps events; outlives the store
  bool synchronous_full = false;      // synchronous=FULL instead of NORMAL
  // The page cache, in MiB; 0 keeps SQLite's default (2 MiB). The connection that creates and
  // runs runs wants one that holds the index pages a round of cron runs writes (a few hundred
  // DAGs each write into their own part of dag_runs' per-DAG indexes); readers do not.
  int cache_mib = 0;
};

// Opens (creating and migrating) the SQLite database at `path`.
Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& path,
                                                    const SqliteStoreOptions& options = {});

}  // namespace conveyor::store
