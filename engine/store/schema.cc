#include "engine/store/schema.h"

#include <string>
#include <vector>

namespace conveyor::store {
namespace {

// Times are INTEGER: logical dates and data intervals in seconds, other timestamps in
// microseconds, all since the Unix epoch in UTC.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE dags (
  dag_id TEXT PRIMARY KEY,
  is_paused INTEGER NOT NULL DEFAULT 0,
  fileloc TEXT,
  import_error TEXT,
  last_parsed_at INTEGER
);
CREATE TABLE dag_runs (
  id INTEGER PRIMARY KEY,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_type TEXT NOT NULL,
  logical_date INTEGER,
  data_interval_start INTEGER,
  data_interval_end INTEGER,
  conf TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  queued_at INTEGER,
  start_date INTEGER,
  end_date INTEGER,
  lease_pid INTEGER,
  lease_heartbeat INTEGER,
  UNIQUE (dag_id, run_id)
);
CREATE INDEX dag_runs_by_dag ON dag_runs (dag_id, logical_date);
CREATE INDEX dag_runs_by_state ON dag_runs (state);
CREATE TABLE task_instances (
  run INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  state TEXT,
  try_number INTEGER NOT NULL DEFAULT 0,
  max_tries INTEGER NOT NULL,
  start_date INTEGER,
  end_date INTEGER,
  next_try_at INTEGER,
  hostname TEXT NOT NULL DEFAULT '',
  pid INTEGER,
  operator TEXT NOT NULL,
  pool TEXT NOT NULL,
  priority_weight INTEGER NOT NULL,
  UNIQUE (run, task_id)
);
CREATE TABLE task_tries (
  run INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_date INTEGER,
  end_date INTEGER,
  pid INTEGER,
  log_path TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run, task_id, try_number)
) WITHOUT ROWID;
CREATE TABLE task_outputs (
  run INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run, task_id, key)
) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  run INTEGER NOT NULL,
  task_id TEXT,
  try_number INTEGER,
  from_state TEXT,
  to_state TEXT NOT NULL,
  who TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_run ON events (run);
)sql",
      // At most one scheduled or backfill run per interval, whoever creates it; manual runs may
      // share a logical date. The scheduler's lease says which `serve` owns the database.
      R"sql(
CREATE UNIQUE INDEX dag_runs_by_interval ON dag_runs (dag_id, logical_date)
  WHERE run_type != 'manual';
CREATE TABLE scheduler_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pid INTEGER NOT NULL,
  heartbeat INTEGER NOT NULL
);
)sql",
      // The model registry, as MLflow's: models, their numbered versions, and aliases that name
      // one version each. Alias changes go to the event log with run 0 (no run).
      R"sql(
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE model_versions (
  name TEXT NOT NULL REFERENCES registered_models (name),
  version INTEGER NOT NULL,
  artifact_path TEXT NOT NULL,
  dag_id TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  task_id TEXT NOT NULL DEFAULT '',
  metrics TEXT NOT NULL DEFAULT '{}',
  features TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE TABLE model_aliases (
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
) WITHOUT ROWID;
)sql",
      // The job of a try that runs outside conveyor (a Slurm job id), as Airflow's
      // external_executor_id: what a restart adopts instead of running the try again.
      R"sql(
ALTER TABLE task_instances ADD COLUMN external_executor_id TEXT NOT NULL DEFAULT '';
)sql",
      // How many runs and task instances are in each state, so that /metrics reads a few rows
      // instead of counting every row ever written (the triggers made here are dropped below).
      R"sql(
CREATE TABLE state_counts (
  tbl TEXT NOT NULL,
  state TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (tbl, state)
) WITHOUT ROWID;
INSERT INTO state_counts SELECT 'dag_runs', state, count(*) FROM dag_runs GROUP BY state;
INSERT INTO state_counts
  SELECT 'task_instances', coalesce(state, 'none'), count(*) FROM task_instances GROUP BY 2;
CREATE TRIGGER dag_runs_counted_in AFTER INSERT ON dag_runs BEGIN
  INSERT INTO state_counts VALUES ('dag_runs', new.state, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER dag_runs_counted_out AFTER DELETE ON dag_runs BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'dag_runs' AND state = old.state;
END;
CREATE TRIGGER dag_runs_counted_moved AFTER UPDATE OF state ON dag_runs
  WHEN old.state IS NOT new.state BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'dag_runs' AND state = old.state;
  INSERT INTO state_counts VALUES ('dag_runs', new.state, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER task_instances_counted_in AFTER INSERT ON task_instances BEGIN
  INSERT INTO state_counts VALUES ('task_instances', coalesce(new.state, 'none'), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER task_instances_counted_out AFTER DELETE ON task_instances BEGIN
  UPDATE state_counts SET n = n - 1
    WHERE tbl = 'task_instances' AND state = coalesce(old.state, 'none');
END;
CREATE TRIGGER task_instances_counted_moved AFTER UPDATE OF state ON task_instances
  WHEN old.state IS NOT new.state BEGIN
  UPDATE state_counts SET n = n - 1
    WHERE tbl = 'task_instances' AND state = coalesce(old.state, 'none');
  INSERT INTO state_counts VALUES ('task_instances', coalesce(new.state, 'none'), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
)sql",
      // The event log without an index by run: it cost a second b-tree insert for each of a
      // task's four events. Readers follow the log from an event id on (ListEvents), which the
      // table's own key serves.
      R"sql(
DROP INDEX IF EXISTS events_by_run;
)sql",
      // Parsed DAG files, so that a CLI command reuses the parse of an unchanged file
      // (graph::ParsedDagCache). `build` is the conveyor binary's build id: the encoding is
      // private to one build.
      R"sql(
CREATE TABLE parsed_dag_files (
  path TEXT PRIMARY KEY,
  build TEXT NOT NULL,
  source BLOB NOT NULL,
  dag BLOB NOT NULL
);
)sql",
      // The next run key: a scheduler reserves keys for runs it writes for before creating them
      // (RunStore::ReserveRunKeys), and every run, whoever creates it, takes its key here.
      R"sql(
CREATE TABLE run_keys (next INTEGER NOT NULL);
INSERT INTO run_keys SELECT coalesce(max(id), 0) + 1 FROM dag_runs;
)sql",
      // The counts by state are kept by the store's writes alone (state_counts.h): the triggers
      // that counted them a second time, for writers other than conveyor, go.
      R"sql(
DROP TRIGGER IF EXISTS dag_runs_counted_in;
DROP TRIGGER IF EXISTS dag_runs_counted_out;
DROP TRIGGER IF EXISTS dag_runs_counted_moved;
DROP TRIGGER IF EXISTS task_instances_counted_in;
DROP TRIGGER IF EXISTS task_instances_counted_out;
DROP TRIGGER IF EXISTS task_instances_counted_moved;
)sql",
      // Why the scheduler put a task instance in its state, when that is not plain: skipped by
      // a branch, waiting for a task of the run before (TaskInstanceRecord::note).
      R"sql(
ALTER TABLE task_instances ADD COLUMN note TEXT NOT NULL DEFAULT '';
)sql",
      // The runs that missed their DAG's deadline: its callbacks are called once per run, across
      // restarts (EventLog::RecordDeadlineMiss).
      R"sql(
CREATE TABLE deadline_misses (
  run INTEGER PRIMARY KEY REFERENCES dag_runs (id) ON DELETE CASCADE,
  at INTEGER NOT NULL
);
)sql",
      // Cached results (a task's `cache:`): the successful try each key was last written by, its
      // outputs, and when; a run triggered with --no-cache neither reads nor skips them. A task
      // instance that reused a try names it.
      R"sql(
CREATE TABLE task_cache (
  key TEXT PRIMARY KEY,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  outputs TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE dag_runs ADD COLUMN no_cache INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_instances ADD COLUMN cached_from TEXT NOT NULL DEFAULT '';
)sql",
  };
  return kMigrations;
}

}  // namespace

Status Migrate(SqliteDb& db) {
  const auto& migrations = Migrations();
  {
    // The common case, an up-to-date database, takes no write lock.
    Statement current(db, "PRAGMA user_version");
    auto have = current.ScalarInt();
    if (!have.ok()) return have.error();
    if (*have >= static_cast<std::int64_t>(migrations.size())) return Status::Ok();
  }
  for (size_t version = 0; version < migrations.size(); ++version) {
    Transaction txn(db);
    if (Status s = txn.Begin(); !s.ok()) return s;
    Statement current(db, "PRAGMA user_version");
    auto have = current.ScalarInt();
    if (!have.ok()) return have.error();
    if (*have > static_cast<std::int64_t>(version)) continue;
    if (Status s = db.Exec(migrations[version]); !s.ok()) return s;
    if (Status s = db.Exec("PRAGMA user_version = " + std::to_string(version + 1)); !s.ok()) {
      return s;
    }
    if (Status s = txn.Commit(); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace conveyor::store
