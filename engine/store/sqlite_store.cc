#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

#include "engine/common/json_text.h"
#include "engine/store/lease.h"
#include "engine/store/schema.h"
#include "engine/store/sqlite_db.h"
#include "engine/store/state_counts.h"
#include "engine/store/state_store.h"

namespace conveyor::store {
namespace {

// Rows written between idle checkpoints, at least: about a minute's writes of 200 minutely DAGs
// with one task each; a scheduler's heartbeats alone take hours to get there.
constexpr std::int64_t kCheckpointAfterRows = 4096;

using state::RunState;
using state::TaskState;

std::int64_t Micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint FromMicros(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }
std::int64_t Sec(Instant t) { return t.time_since_epoch().count(); }
Instant FromSec(std::int64_t s) { return Instant(std::chrono::seconds(s)); }

template <typename T, typename F>
std::optional<std::int64_t> Map(const std::optional<T>& value, F f) {
  if (!value) return std::nullopt;
  return f(*value);
}

std::optional<TimePoint> OptionalMicros(const Statement& s, int column) {
  auto v = s.OptionalInt(column);
  if (!v) return std::nullopt;
  return FromMicros(*v);
}

std::optional<Instant> OptionalSec(const Statement& s, int column) {
  auto v = s.OptionalInt(column);
  if (!v) return std::nullopt;
  return FromSec(*v);
}

// As stored: a task instance without a state has NULL, counted as "none".
std::string_view StateName(TaskState state) {
  return state == TaskState::kNone ? std::string_view() : state::Name(state);
}

// Binds the state as stored: NULL for none.
Statement& BindState(Statement& statement, int index, TaskState state) {
  return state == TaskState::kNone ? statement.BindNull(index)
                                   : statement.BindUnowned(index, state::Name(state));
}

TaskState ReadTaskState(const Statement& s, int column) {
  if (s.IsNull(column)) return TaskState::kNone;
  return state::ParseTaskState(s.Text(column)).value_or(TaskState::kNone);
}

constexpr char kRunColumns[] =
    "id, dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, conf, "
    "state, queued_at, start_date, end_date, no_cache";

DagRunRecord ReadRun(const Statement& s) {
  DagRunRecord run;
  run.id = s.Int(0);
  run.dag_id = s.Text(1);
  run.run_id = s.Text(2);
  run.run_type = s.Text(3);
  run.logical_date = OptionalSec(s, 4);
  run.data_interval_start = OptionalSec(s, 5);
  run.data_interval_end = OptionalSec(s, 6);
  run.conf = nlohmann::json::parse(s.Text(7), nullptr, false);
  if (run.conf.is_discarded()) run.conf = nlohmann::json::object();
  run.state = state::ParseRunState(s.Text(8)).value_or(RunState::kQueued);
  run.queued_at = OptionalMicros(s, 9);
  run.start_date = OptionalMicros(s, 10);
  run.end_date = OptionalMicros(s, 11);
  run.no_cache = s.Int(12) != 0;
  return run;
}

class SqliteStore : public StateStore {
 public:
  SqliteStore(std::unique_ptr<SqliteDb> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}

  Result<RunKey> CreateRun(const DagRunRecord& run,
                           const std::vector<TaskInstanceRecord>& tasks) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    writing_at_ = clock_.PreciseNow();
    StateCountChanges counts;
    auto key = InsertRun(run, false, std::nullopt, counts);
    if (!key.ok()) return key.error();
    WriteBatch batch;
    AddTaskInstances(**key, tasks, batch);
    if (Status s = WriteAll(batch, counts); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return **key;
  }

  Result<RunKey> ReserveRunKeys(int n) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    auto first = TakeRunKeys(n);
    if (!first.ok()) return first.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return *first;
  }

  Result<std::vector<bool>> CreateRunsIfAbsent(const std::vector<NewRun>& runs, int lease_pid,
                                               TimePoint now, WriteBatch batch) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    writing_at_ = now;
    std::vector<bool> created;
    std::set<RunKey> existed;
    WriteBatch writes;
    StateCountChanges counts;
    for (const NewRun& run : runs) {
      auto key = InsertRun(run.run, true, RunLease{lease_pid, now}, counts);
      if (!key.ok()) return key.error();
      created.push_back(key->has_value());
      if (*key) {
        AddTaskInstances(**key, run.tasks, writes);
      } else {
        existed.insert(run.run.id);
      }
    }
    if (!existed.empty()) batch.DropRuns(existed);
    writes.Append(std::move(batch));
    if (Status s = WriteAll(writes, counts); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return created;
  }

  Result<std::optional<DagRunRecord>> FindRun(const std::string& dag_id,
                                              const std::string& run_id) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        (std::string("SELECT ") + kRunColumns + " FROM dag_runs WHERE dag_id = ? AND run_id = ?")
            .c_str());
    select->Bind(1, dag_id).Bind(2, run_id);
    std::optional<DagRunRecord> found;
    auto row = select->ForFirstRow([&] { found = ReadRun(select); });
    if (!row.ok()) return row.error();
    return found;
  }

  Result<DagRunRecord> GetRun(RunKey run) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select =
        db_->Cached((std::string("SELECT ") + kRunColumns + " FROM dag_runs WHERE id = ?").c_str());
    select->Bind(1, run);
    DagRunRecord record;
    auto row = select->ForFirstRow([&] { record = ReadRun(select); });
    if (!row.ok()) return row.error();
    if (!*row) return NotFound("no run with key " + std::to_string(run));
    return record;
  }

  Result<std::vector<DagRunRecord>> ListRuns(const RunFilter& filter, int* total) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    // Only the filters given, so that SQLite can use an index: `(? IS NULL OR state = ?)`
    // scans every run ever made, and the scheduler asks for the queued and running ones at each
    // round of cron runs.
    std::string where;
    if (filter.dag_id) where += " WHERE dag_id = ?1";
    if (filter.state) where += filter.dag_id ? " AND state = ?2" : " WHERE state = ?2";
    const auto bind_filter = [&filter](Statement& statement) {
      if (filter.dag_id) statement.Bind(1, *filter.dag_id);
      if (filter.state) statement.Bind(2, std::string(state::Name(*filter.state)));
    };
    if (total != nullptr) {
      CachedStatement count = db_->Cached("SELECT count(*) FROM dag_runs" + where);
      bind_filter(count);
      auto counted = count->ScalarInt();
      if (!counted.ok()) return counted.error();
      *total = static_cast<int>(*counted);
    }
    CachedStatement select =
        db_->Cached(std::string("SELECT ") + kRunColumns + " FROM dag_runs" + where +
                    (filter.oldest_first ? " ORDER BY logical_date, id"
                                         : " ORDER BY logical_date DESC, id DESC") +
                    " LIMIT ?3 OFFSET ?4");
    bind_filter(select);
    select->Bind(3, filter.limit).Bind(4, filter.offset);
    std::vector<DagRunRecord> out;
    const Status read = select->ForEachRow([&] { out.push_back(ReadRun(select)); });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::optional<CachedTry>> FindCachedTry(const std::string& key) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        "SELECT dag_id, run_id, task_id, try_number, outputs, created_at FROM task_cache "
        "WHERE key = ?");
    select->Bind(1, key);
    std::optional<CachedTry> out;
    const Status read = select->ForEachRow([&] {
      CachedTry cached;
      cached.key = key;
      cached.dag_id = select->Text(0);
      cached.run_id = select->Text(1);
      cached.task_id = select->Text(2);
      cached.try_number = static_cast<int>(select->Int(3));
      cached.outputs = nlohmann::json::parse(select->Text(4), nullptr, false);
      if (!cached.outputs.is_object()) cached.outputs = nlohmann::json::object();
      cached.created_at = FromMicros(select->Int(5));
      out = std::move(cached);
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::vector<TaskInstanceRecord>> ListTaskInstances(RunKey run) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        "SELECT task_id, state, try_number, max_tries, start_date, end_date, "
        "next_try_at, hostname, pid, operator, pool, priority_weight, "
        "external_executor_id, rowid, note, cached_from FROM task_instances WHERE run = ? "
        "ORDER BY rowid");
    select->Bind(1, run);
    std::vector<TaskInstanceRecord> out;
    const Status read = select->ForEachRow([&] {
      TaskInstanceRecord ti;
      ti.run = run;
      ti.task_id = select->Text(0);
      ti.state = ReadTaskState(select, 1);
      ti.try_number = static_cast<int>(select->Int(2));
      ti.max_tries = static_cast<int>(select->Int(3));
      ti.start_date = OptionalMicros(select, 4);
      ti.end_date = OptionalMicros(select, 5);
      ti.next_try_at = OptionalMicros(select, 6);
      ti.hostname = select->Text(7);
      if (auto pid = select->OptionalInt(8)) ti.pid = static_cast<int>(*pid);
      ti.operator_name = select->Text(9);
      ti.pool = select->Text(10);
      ti.priority_weight = static_cast<int>(select->Int(11));
      ti.external_executor_id = select->Text(12);
      ti.row = select->Int(13);
      ti.note = select->Text(14);
      ti.cached_from = select->Text(15);
      out.push_back(std::move(ti));
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::vector<TryRecord>> ListTries(RunKey run, const std::string& task_id) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        "SELECT try_number, state, start_date, end_date, pid, log_path, note "
        "FROM task_tries WHERE run = ? AND task_id = ? ORDER BY try_number");
    select->Bind(1, run).Bind(2, task_id);
    std::vector<TryRecord> out;
    const Status read = select->ForEachRow([&] {
      TryRecord attempt;
      attempt.run = run;
      attempt.task_id = task_id;
      attempt.try_number = static_cast<int>(select->Int(0));
      attempt.state = ReadTaskState(select, 1);
      attempt.start_date = OptionalMicros(select, 2);
      attempt.end_date = OptionalMicros(select, 3);
      if (auto pid = select->OptionalInt(4)) attempt.pid = static_cast<int>(*pid);
      attempt.log_path = select->Text(5);
      attempt.note = select->Text(6);
      out.push_back(std::move(attempt));
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<nlohmann::json> ReadOutputs(RunKey run) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select =
        db_->Cached("SELECT task_id, key, value FROM task_outputs WHERE run = ?");
    select->Bind(1, run);
    nlohmann::json out = nlohmann::json::object();
    const Status read =
        select->ForEachRow([&] { out[select->Text(0)][select->Text(1)] = select->Text(2); });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::vector<EventRecord>> ListEvents(RunKey run, std::int64_t after_id) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        "SELECT id, at, run, task_id, try_number, from_state, to_state, who, note "
        "FROM events WHERE id > ?2 AND run = ?1 ORDER BY id");
    select->Bind(1, run).Bind(2, after_id);
    std::vector<EventRecord> out;
    const Status read = select->ForEachRow([&] {
      out.push_back({select->Int(0), FromMicros(select->Int(1)), select->Int(2),
                     select->IsNull(3) ? "" : select->Text(3),
                     static_cast<int>(select->OptionalInt(4).value_or(0)),
                     select->IsNull(5) ? "" : select->Text(5), select->Text(6), select->Text(7),
                     select->Text(8)});
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::int64_t> LastEventId() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement last = db_->Cached("SELECT coalesce(max(id), 0) FROM events");
    return last->ScalarInt();
  }

  Result<int> CountEvents(RunKey run, const std::string& task_id,
                          const std::string& to_state) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement count =
        db_->Cached("SELECT count(*) FROM events WHERE run = ? AND task_id = ? AND to_state = ?");
    count->Bind(1, run).Bind(2, task_id).Bind(3, to_state);
    auto counted = count->ScalarInt();
    if (!counted.ok()) return counted.error();
    return static_cast<int>(*counted);
  }

  Status AppendEvent(const std::string& event, const std::string& who,
                     const std::string& note) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement insert =
        db_->Cached("INSERT INTO events (at, run, to_state, who, note) VALUES (?, 0, ?, ?, ?)");
    return insert->Bind(1, Micros(clock_.PreciseNow()))
        .Bind(2, event)
        .Bind(3, who)
        .Bind(4, note)
        .Run();
  }

  Result<bool> RecordDeadlineMiss(RunKey run, const std::string& who,
                                  const std::string& note) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    const std::int64_t at = Micros(clock_.PreciseNow());
    CachedStatement insert =
        db_->Cached("INSERT OR IGNORE INTO deadline_misses (run, at) VALUES (?, ?)");
    if (Status s = insert->Bind(1, run).Bind(2, at).Run(); !s.ok()) return s.error();
    if (sqlite3_changes(db_->handle()) == 0) return false;
    CachedStatement event = db_->Cached(
        "INSERT INTO events (at, run, to_state, who, note) VALUES (?, ?, 'deadline_missed', ?, ?)");
    if (Status s = event->Bind(1, at).Bind(2, run).Bind(3, who).Bind(4, note).Run(); !s.ok()) {
      return s.error();
    }
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return true;
  }

  Result<std::vector<EventLogEntry>> ListEventLog(const EventLogFilter& filter,
                                                  int* total) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    // An event of no run (an audit record) names its DAG in its JSON note.
    static constexpr char kDagOf[] =
        "CASE WHEN e.run = 0 AND json_valid(e.note) THEN json_extract(e.note, '$.dag_id') "
        "ELSE r.dag_id END";
    std::string where = " WHERE 1";
    if (filter.event) where += " AND e.to_state = ?1";
    if (filter.dag_id) where += std::string(" AND ") + kDagOf + " = ?2";
    if (filter.run_id) where += " AND r.run_id = ?3";
    if (filter.task_id) where += " AND e.task_id = ?4";
    if (filter.owner) where += " AND e.who = ?5";
    const std::string from = " FROM events e LEFT JOIN dag_runs r ON r.id = e.run" + where;
    const auto bind_filter = [&filter](Statement& statement) {
      if (filter.event) statement.Bind(1, *filter.event);
      if (filter.dag_id) statement.Bind(2, *filter.dag_id);
      if (filter.run_id) statement.Bind(3, *filter.run_id);
      if (filter.task_id) statement.Bind(4, *filter.task_id);
      if (filter.owner) statement.Bind(5, *filter.owner);
    };
    if (total != nullptr) {
      Statement count(*db_, ("SELECT count(*)" + from).c_str());
      bind_filter(count);
      auto counted = count.ScalarInt();
      if (!counted.ok()) return counted.error();
      *total = static_cast<int>(*counted);
    }
    const std::string sql = std::string(
                                "SELECT e.id, e.at, e.run, e.task_id, e.try_number, "
                                "e.from_state, e.to_state, e.who, e.note, ") +
                            kDagOf + ", r.run_id, r.logical_date" + from + " ORDER BY e.id" +
                            (filter.oldest_first ? "" : " DESC") + " LIMIT ?6 OFFSET ?7";
    Statement select(*db_, sql.c_str());
    bind_filter(select);
    select.Bind(6, filter.limit).Bind(7, filter.offset);
    std::vector<EventLogEntry> out;
    const Status read = select.ForEachRow([&] {
      EventLogEntry entry;
      entry.event = {select.Int(0),
                     FromMicros(select.Int(1)),
                     select.Int(2),
                     select.IsNull(3) ? "" : select.Text(3),
                     static_cast<int>(select.OptionalInt(4).value_or(0)),
                     select.IsNull(5) ? "" : select.Text(5),
                     select.Text(6),
                     select.Text(7),
                     select.Text(8)};
      entry.dag_id = select.IsNull(9) ? "" : select.Text(9);
      entry.run_id = select.IsNull(10) ? "" : select.Text(10);
      entry.logical_date = OptionalSec(select, 11);
      out.push_back(std::move(entry));
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<bool> CheckpointIfWritten() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const std::int64_t changes = sqlite3_total_changes64(db_->handle());
    if (changes - changes_at_checkpoint_ < kCheckpointAfterRows) return false;
    changes_at_checkpoint_ = changes;
    const int rc = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    // Busy: another connection is checkpointing or writing; the next idle moment will do.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      return db_->LastError("checkpoint");
    }
    return rc == SQLITE_OK;
  }

  Status Commit(const WriteBatch& batch) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (batch.empty()) return Status::Ok();
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s;
    writing_at_ = clock_.PreciseNow();
    StateCountChanges counts;
    if (Status s = WriteAll(batch, counts); !s.ok()) return s;
    return txn.Commit();
  }

  Result<bool> AcquireLease(RunKey run, int pid, TimePoint now, TimePoint stale_before,
                            bool (*is_alive)(int), int* previous) override {
    return TakeLease(run, pid, now, stale_before, is_alive, previous);
  }

  Status Heartbeat(RunKey run, int pid, TimePoint now) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement beat =
        db_->Cached("UPDATE dag_runs SET lease_heartbeat = ? WHERE id = ? AND lease_pid = ?");
    return beat->Bind(1, Micros(now)).Bind(2, run).Bind(3, pid).Run();
  }

  Status ReleaseLease(RunKey run, int pid) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement release = db_->Cached(
        "UPDATE dag_runs SET lease_pid = NULL, lease_heartbeat = NULL "
        "WHERE id = ? AND lease_pid = ?");
    return release->Bind(1, run).Bind(2, pid).Run();
  }

  Result<std::optional<RunLease>> GetLease(RunKey run) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select =
        db_->Cached("SELECT lease_pid, lease_heartbeat FROM dag_runs WHERE id = ?");
    select->Bind(1, run);
    std::optional<RunLease> lease;
    auto row = select->ForFirstRow([&] {
      if (!select->IsNull(0)) {
        lease = RunLease{static_cast<int>(select->Int(0)), FromMicros(select->Int(1))};
      }
    });
    if (!row.ok()) return row.error();
    return lease;
  }

  Result<std::vector<DagRunRecord>> FindRunsAt(const std::string& dag_id,
                                               Instant logical_date) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select =
        db_->Cached((std::string("SELECT ") + kRunColumns +
                     " FROM dag_runs WHERE dag_id = ? AND logical_date = ? ORDER BY id")
                        .c_str());
    select->Bind(1, dag_id).Bind(2, Sec(logical_date));
    std::vector<DagRunRecord> out;
    const Status read = select->ForEachRow([&] { out.push_back(ReadRun(select)); });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::optional<DagRunRecord>> PreviousRun(const std::string& dag_id,
                                                  Instant logical_date) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        (std::string("SELECT ") + kRunColumns +
         " FROM dag_runs WHERE dag_id = ? AND logical_date < ? ORDER BY logical_date DESC, id DESC "
         "LIMIT 1")
            .c_str());
    select->Bind(1, dag_id).Bind(2, Sec(logical_date));
    std::optional<DagRunRecord> previous;
    auto row = select->ForFirstRow([&] { previous = ReadRun(select); });
    if (!row.ok()) return row.error();
    return previous;
  }

  Result<std::optional<Instant>> LatestAutomatedRun(const std::string& dag_id) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached(
        "SELECT max(logical_date) FROM dag_runs WHERE dag_id = ? AND run_type IN "
        "('scheduled', 'backfill')");
    select->Bind(1, dag_id);
    std::optional<Instant> latest;
    auto row = select->ForFirstRow([&] { latest = OptionalSec(select, 0); });
    if (!row.ok()) return row.error();
    return latest;
  }

  Status RecordDagParse(const std::string& dag_id, const std::string& fileloc,
                        const std::string& import_error, bool paused_if_new,
                        TimePoint now) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement upsert = db_->Cached(
        "INSERT INTO dags (dag_id, is_paused, fileloc, import_error, last_parsed_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dag_id) DO UPDATE SET "
        "fileloc = ?3, import_error = ?4, last_parsed_at = ?5");
    upsert->Bind(1, dag_id).Bind(2, paused_if_new ? 1 : 0).Bind(3, fileloc);
    upsert->Bind(4, import_error).Bind(5, Micros(now));
    return upsert->Run();
  }

  Status SetPaused(const std::string& dag_id, bool paused) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement upsert = db_->Cached(
        "INSERT INTO dags (dag_id, is_paused) VALUES (?1, ?2) "
        "ON CONFLICT (dag_id) DO UPDATE SET is_paused = ?2");
    return upsert->Bind(1, dag_id).Bind(2, paused ? 1 : 0).Run();
  }

  Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    auto dags = SelectDags(dag_id);
    if (!dags.ok()) return dags.error();
    if (dags->empty()) return std::optional<DagRecord>();
    return std::optional<DagRecord>(dags->front());
  }

  Result<std::vector<DagRecord>> ListDags() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return SelectDags(std::nullopt);
  }

  Result<std::optional<std::string>> FindParsedDag(const std::string& path,
                                                   const std::string& build,
                                                   std::string_view source) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement find = db_->Cached(
        "SELECT dag FROM parsed_dag_files WHERE path = ?1 AND build = ?2 AND source = ?3");
    find->Bind(1, path).Bind(2, build).BindBlob(3, source);
    std::optional<std::string> encoded;
    auto row = find->ForFirstRow([&] { encoded = find->Blob(0); });
    if (!row.ok()) return row.error();
    return encoded;
  }

  Status SaveParsedDag(const std::string& path, const std::string& build, std::string_view source,
                       std::string_view encoded) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement save = db_->Cached(
        "INSERT INTO parsed_dag_files (path, build, source, dag) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (path) DO UPDATE SET build = ?2, source = ?3, dag = ?4");
    save->Bind(1, path).Bind(2, build).BindBlob(3, source).BindBlob(4, encoded);
    return save->Run();
  }

  Result<bool> AcquireSchedulerLease(int pid, TimePoint now, TimePoint stale_before,
                                     bool (*is_alive)(int), int* previous) override {
    return TakeLease(std::nullopt, pid, now, stale_before, is_alive, previous);
  }

  Status SchedulerHeartbeat(int pid, TimePoint now) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement beat = db_->Cached("UPDATE scheduler_lease SET heartbeat = ? WHERE pid = ?");
    return beat->Bind(1, Micros(now)).Bind(2, pid).Run();
  }

  Status ReleaseSchedulerLease(int pid) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement release = db_->Cached("DELETE FROM scheduler_lease WHERE pid = ?");
    return release->Bind(1, pid).Run();
  }

  Result<std::optional<RunLease>> GetSchedulerLease() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached("SELECT pid, heartbeat FROM scheduler_lease WHERE id = 1");
    std::optional<RunLease> lease;
    auto row = select->ForFirstRow([&] {
      lease = RunLease{static_cast<int>(select->Int(0)), FromMicros(select->Int(1))};
    });
    if (!row.ok()) return row.error();
    return lease;
  }

  Result<std::map<std::string, long>> CountRunsByState() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return CountBy("SELECT state, n FROM state_counts WHERE tbl = 'dag_runs'");
  }

  Result<std::map<std::string, long>> CountTaskInstancesByState() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return CountBy("SELECT state, n FROM state_counts WHERE tbl = 'task_instances'");
  }

  Result<std::int64_t> DataVersion() override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    CachedStatement select = db_->Cached("PRAGMA data_version");
    return select->ScalarInt();
  }

 private:
  // A run's lease (`run`), or the scheduler's (no run): taken for `pid` in one transaction
  // unless another live process holds it (AcquireLease).
  Result<bool> TakeLease(std::optional<RunKey> run, int pid, TimePoint now, TimePoint stale_before,
                         bool (*is_alive)(int), int* previous) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    auto lease = run ? GetLease(*run) : GetSchedulerLease();
    if (!lease.ok()) return lease.error();
    *previous = *lease ? (*lease)->pid : 0;
    if (WhoHolds(*lease, pid, stale_before, is_alive) == LeaseHolder::kOtherLive) return false;
    CachedStatement take =
        db_->Cached(run ? "UPDATE dag_runs SET lease_pid = ?1, lease_heartbeat = ?2 WHERE id = ?3"
                        : "INSERT INTO scheduler_lease (id, pid, heartbeat) VALUES (1, ?1, ?2) "
                          "ON CONFLICT (id) DO UPDATE SET pid = ?1, heartbeat = ?2");
    take->Bind(1, pid).Bind(2, Micros(now));
    if (run) take->Bind(3, *run);
    if (Status s = take->Run(); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return true;
  }

  Result<std::map<std::string, long>> CountBy(const char* sql) {
    CachedStatement select = db_->Cached(sql);
    std::map<std::string, long> out;
    const Status read =
        select->ForEachRow([&] { out[select->Text(0)] = static_cast<long>(select->Int(1)); });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<std::vector<DagRecord>> SelectDags(const std::optional<std::string>& dag_id) {
    CachedStatement select = db_->Cached(
        "SELECT dag_id, is_paused, fileloc, import_error, last_parsed_at FROM dags "
        "WHERE ?1 IS NULL OR dag_id = ?1 ORDER BY dag_id");
    select->BindOptional(1, dag_id);
    std::vector<DagRecord> out;
    const Status read = select->ForEachRow([&] {
      out.push_back({select->Text(0), select->Int(1) != 0, select->IsNull(2) ? "" : select->Text(2),
                     select->IsNull(3) ? "" : select->Text(3), OptionalMicros(select, 4)});
    });
    if (!read.ok()) return read.error();
    return out;
  }

  // Inside a transaction: the first of `n` keys taken from the database's run key counter.
  Result<RunKey> TakeRunKeys(int n) {
    // Never below the last run's key: a run written by something other than conveyor (the
    // sqlite3 shell) takes its key without the counter.
    CachedStatement take = db_->Cached(
        "UPDATE run_keys SET next = max(next, (SELECT coalesce(max(id), 0) + 1 FROM dag_runs)) + "
        "?1 "
        "RETURNING next - ?1");
    take->Bind(1, static_cast<std::int64_t>(n));
    RunKey first = 0;
    auto row = take->ForFirstRow([&] { first = take->Int(0); });
    if (!row.ok()) return row.error();
    if (!*row) return Error{ErrorCode::kInternal, "the database has no run key counter", {}};
    return first;
  }

  // Inside a transaction. With `ignore_duplicates` an existing run gives nothing, not an error.
  // The run's row (with its key, `run.id`, when it has one reserved; else the next one) and its
  // creation event; its task instances go in a batch (AddTaskInstances).
  Result<std::optional<RunKey>> InsertRun(const DagRunRecord& run, bool ignore_duplicates,
                                          std::optional<RunLease> lease,
                                          StateCountChanges& counts) {
    RunKey id = run.id;
    if (id == 0) {
      auto taken = TakeRunKeys(1);
      if (!taken.ok()) return taken.error();
      id = *taken;
    }
    CachedStatement insert =
        db_->Cached(ignore_duplicates
                        ? "INSERT OR IGNORE INTO dag_runs (dag_id, run_id, run_type, logical_date, "
                          "data_interval_start, data_interval_end, conf, state, queued_at, "
                          "lease_pid, lease_heartbeat, start_date, id, no_cache) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        : "INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, "
                          "data_interval_start, data_interval_end, conf, state, queued_at, "
                          "lease_pid, lease_heartbeat, start_date, id, no_cache) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->Bind(13, id).Bind(14, static_cast<std::int64_t>(run.no_cache ? 1 : 0));
    insert->Bind(1, run.dag_id).Bind(2, run.run_id).Bind(3, run.run_type);
    insert->BindOptional(4, Map(run.logical_date, Sec));
    insert->BindOptional(5, Map(run.data_interval_start, Sec));
    insert->BindOptional(6, Map(run.data_interval_end, Sec));
    insert->Bind(7, DumpJson(run.conf)).Bind(8, std::string(state::Name(run.state)));
    insert->BindOptional(9, Map(run.queued_at, Micros));
    insert->BindOptional(10, Map(lease, [](const RunLease& l) -> std::int64_t { return l.pid; }));
    insert->BindOptional(11, Map(lease, [](const RunLease& l) { return Micros(l.heartbeat); }));
    insert->BindOptional(12, Map(run.start_date, Micros));
    if (Status s = insert->Run(); !s.ok()) {
      if (s.error().code == ErrorCode::kAlreadyExists &&
          s.error().message.find("logical_date") != std::string::npos) {
        return Error{ErrorCode::kAlreadyExists,
                     "DAG '" + run.dag_id + "' already has a run for logical date " +
                         (run.logical_date ? FormatUtc(*run.logical_date) : "-"),
                     {}};
      }
      if (s.error().code == ErrorCode::kAlreadyExists) {
        return Error{ErrorCode::kAlreadyExists,
                     "DAG '" + run.dag_id + "' already has a run '" + run.run_id + "'",
                     {}};
      }
      return s.error();
    }
    if (sqlite3_changes(db_->handle()) == 0) {
      // Ignored as a duplicate run, or because its key was taken (by a writer that does not use
      // the counter) after it was reserved: that run would be lost, not a duplicate.
      CachedStatement taken = db_->Cached("SELECT count(*) FROM dag_runs WHERE id = ?");
      taken->Bind(1, id);
      auto found = taken->ScalarInt();
      if (!found.ok()) return found.error();
      if (*found > 0) {
        return Error{ErrorCode::kInternal,
                     "run key " + std::to_string(id) + " for run '" + run.run_id + "' of DAG '" +
                         run.dag_id + "' is taken by a run written outside conveyor",
                     {}};
      }
      return std::optional<RunKey>();
    }
    const RunKey key = id;
    counts.Added("dag_runs", state::Name(run.state));
    if (Status s = AppendRunEvent(key, std::nullopt, run.state, "create"); !s.ok()) {
      return s.error();
    }
    return std::optional<RunKey>(key);
  }

  static void AddTaskInstances(RunKey run, const std::vector<TaskInstanceRecord>& tasks,
                               WriteBatch& batch) {
    for (TaskInstanceRecord ti : tasks) {
      ti.run = run;
      batch.AddTaskInstance(ti);
    }
  }

  Status AppendRunEvent(RunKey run, std::optional<RunState> from, RunState to,
                        const std::string& who) {
    CachedStatement event = db_->Cached(
        "INSERT INTO events (at, run, from_state, to_state, who) VALUES (?, ?, ?, ?, ?)");
    std::optional<std::string> from_text;
    if (from) from_text = std::string(state::Name(*from));
    return event->Bind(1, Micros(writing_at_))
        .Bind(2, run)
        .BindOptional(3, from_text)
        .Bind(4, "run:" + std::string(state::Name(to)))
        .Bind(5, who)
        .Run();
  }

  // Writes the batch and then the counts by state, with the changes it made to them.
  Status WriteAll(const WriteBatch& batch, StateCountChanges& counts);
  // The state a row has before the batch changes it; nothing for a row not yet written.
  Result<std::optional<std::string>> CurrentState(const char* sql, RunKey run,
                                                  const std::string* task_id);
  Status AppendTaskEvents(const std::vector<WriteBatch::Event>& events, TimePoint at);

  // Every public method holds it: the scheduler's commits run on their own thread while the
  // scheduler thread reads and writes through the same connection and its statement cache.
  std::recursive_mutex mutex_;
  std::unique_ptr<SqliteDb> db_;            // GUARDED_BY(mutex_)
  std::int64_t changes_at_checkpoint_ = 0;  // GUARDED_BY(mutex_)
  const Clock& clock_;
  // When the transaction being written takes effect: the time of its events.
  TimePoint writing_at_{};  // GUARDED_BY(mutex_)
};

bool RunEnded(RunState state) { return state == RunState::kSuccess || state == RunState::kFailed; }

Status SqliteStore::AppendTaskEvents(const std::vector<WriteBatch::Event>& events, TimePoint at) {
  // Several rows per statement: a batch holds a few events per task, and each statement run
  // costs about as much as the rows it inserts.
  constexpr size_t kRowsPerInsert = 16;
  static const std::vector<std::string> kInsertRows = [] {
    std::vector<std::string> sql(kRowsPerInsert + 1);
    std::string values;
    for (size_t rows = 1; rows <= kRowsPerInsert; ++rows) {
      values += rows == 1 ? "(?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?)";
      sql[rows] =
          "INSERT INTO events (at, run, task_id, try_number, from_state, to_state, who, note) "
          "VALUES " +
          values;
    }
    return sql;
  }();
  for (size_t first = 0; first < events.size(); first += kRowsPerInsert) {
    const size_t rows = std::min(kRowsPerInsert, events.size() - first);
    CachedStatement insert = db_->Cached(kInsertRows[rows]);
    for (size_t i = 0; i < rows; ++i) {
      const WriteBatch::Event& e = events[first + i];
      const int column = static_cast<int>(i * 8);
      insert->Bind(column + 1, Micros(at))
          .Bind(column + 2, e.run)
          .BindUnowned(column + 3, e.task_id)
          .Bind(column + 4, e.try_number);
      BindState(*insert, column + 5, e.from)
          .BindUnowned(column + 6, state::Name(e.to))
          .BindUnowned(column + 7, e.who)
          .BindUnowned(column + 8, e.note);
    }
    if (Status s = insert->Run(); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> SqliteStore::CurrentState(const char* sql, RunKey run,
                                                             const std::string* task_id) {
  CachedStatement select = db_->Cached(sql);
  select->Bind(1, run);
  if (task_id) select->Bind(2, *task_id);
  std::optional<std::string> state;
  auto row = select->ForFirstRow([&] { state = select->IsNull(0) ? "" : select->Text(0); });
  if (!row.ok()) return row.error();
  return state;
}

Status SqliteStore::WriteAll(const WriteBatch& batch, StateCountChanges& counts) {
  CachedStatement put_run = db_->Cached(
      "UPDATE dag_runs SET state = ?1, start_date = ?2, end_date = ?3, conf = ?4, "
      // A finished run needs no lease: it goes with the final state.
      "lease_pid = CASE WHEN ?1 IN ('success', 'failed') THEN NULL ELSE lease_pid "
      "END WHERE id = ?5");
  for (const auto& write : batch.runs()) {
    const DagRunRecord& run = write.run;
    auto was = CurrentState("SELECT state FROM dag_runs WHERE id = ?", run.id, nullptr);
    if (!was.ok()) return was.error();
    if (*was) counts.Moved("dag_runs", **was, state::Name(run.state));
    put_run->Bind(1, std::string(state::Name(run.state)))
        .BindOptional(2, Map(run.start_date, Micros))
        .BindOptional(3, Map(run.end_date, Micros))
        .Bind(4, DumpJson(run.conf))
        .Bind(5, run.id);
    if (Status s = put_run->Run(); !s.ok()) return s;
    // A run's end follows its tasks' in the event log; its start precedes them.
    if (write.from != run.state && !RunEnded(run.state)) {
      if (Status s = AppendRunEvent(run.id, write.from, run.state, write.who); !s.ok()) return s;
    }
  }
  // A task instance is written several times after it is created (scheduled, queued, its end):
  // an UPDATE does that with less work than an upsert, which builds the row to insert first. It
  // is made only if the row holds the state the batch believes it holds (?15), which is then the
  // state the counts move it from; otherwise the row's state is read first.
  constexpr const char* kUpdateTi =
      "UPDATE task_instances SET state = ?3, try_number = ?4, max_tries = ?5, start_date = ?6, "
      "end_date = ?7, next_try_at = ?8, hostname = ?9, pid = ?10, external_executor_id = ?14, "
      "note = ?17, cached_from = ?18 "
      "WHERE run = ?1 AND task_id = ?2";
  CachedStatement update_believed = db_->Cached(std::string(kUpdateTi) + " AND state IS ?15");
  CachedStatement update_believed_row =
      db_->Cached(std::string(kUpdateTi) + " AND state IS ?15 AND rowid = ?16");
  CachedStatement update_ti = db_->Cached(kUpdateTi);
  CachedStatement insert_ti = db_->Cached(
      "INSERT INTO task_instances (run, task_id, state, try_number, max_tries, "
      "start_date, end_date, next_try_at, hostname, pid, operator, pool, "
      "priority_weight, external_executor_id, note, cached_from) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?17, ?18)");
  for (size_t i = 0; i < batch.task_instances().size(); ++i) {
    const TaskInstanceRecord& ti = batch.task_instances()[i];
    const std::optional<TaskState>& before = batch.task_instances_before()[i];
    // The batch outlives each statement's run: its text is bound in place.
    const auto bind = [&ti](Statement& statement) -> Statement& {
      BindState(statement, 3, ti.state);
      return statement.Bind(1, ti.run)
          .BindUnowned(2, ti.task_id)
          .Bind(4, ti.try_number)
          .Bind(5, ti.max_tries)
          .BindOptional(6, Map(ti.start_date, Micros))
          .BindOptional(7, Map(ti.end_date, Micros))
          .BindOptional(8, Map(ti.next_try_at, Micros))
          .BindUnowned(9, ti.hostname)
          .BindOptional(10, ti.pid ? std::optional<std::int64_t>(*ti.pid) : std::nullopt)
          .BindUnowned(11, ti.operator_name)
          .BindUnowned(12, ti.pool)
          .Bind(13, ti.priority_weight)
          .BindUnowned(14, ti.external_executor_id)
          .BindUnowned(17, ti.note)
          .BindUnowned(18, ti.cached_from);
    };
    const std::string_view state = StateName(ti.state);
    if (!before) {  // a row the batch creates: its run is new
      counts.Added("task_instances", state);
      if (Status s = bind(*insert_ti).Run(); !s.ok()) return s;
      continue;
    }
    Statement& update = ti.row != 0 ? update_believed_row->Bind(16, ti.row) : *update_believed;
    BindState(bind(update), 15, *before);
    if (Status s = update.Run(); !s.ok()) return s;
    if (sqlite3_changes(db_->handle()) > 0) {
      counts.Moved("task_instances", StateName(*before), state);
      continue;
    }
    // Another writer changed the row since this one read it: count from what it holds.
    auto was = CurrentState("SELECT state FROM task_instances WHERE run = ? AND task_id = ?",
                            ti.run, &ti.task_id);
    if (!was.ok()) return was.error();
    if (*was) {
      counts.Moved("task_instances", **was, state);
      if (Status s = bind(*update_ti).Run(); !s.ok()) return s;
    } else {
      counts.Added("task_instances", state);
      if (Status s = bind(*insert_ti).Run(); !s.ok()) return s;
    }
  }
  if (Status s = AppendTaskEvents(batch.events(), writing_at_); !s.ok()) return s;
  for (const auto& write : batch.runs()) {
    if (write.from != write.run.state && RunEnded(write.run.state)) {
      if (Status s = AppendRunEvent(write.run.id, write.from, write.run.state, write.who);
          !s.ok()) {
        return s;
      }
    }
  }
  CachedStatement put_try = db_->Cached(
      "INSERT INTO task_tries (run, task_id, try_number, state, start_date, "
      "end_date, pid, log_path, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (run, task_id, try_number) DO UPDATE SET state = excluded.state, "
      "start_date = coalesce(excluded.start_date, start_date), "
      "end_date = excluded.end_date, pid = excluded.pid, note = excluded.note");
  for (const TryRecord& attempt : batch.tries()) {
    put_try->Bind(1, attempt.run)
        .BindUnowned(2, attempt.task_id)
        .Bind(3, attempt.try_number)
        .BindUnowned(4, state::Name(attempt.state))
        .BindOptional(5, Map(attempt.start_date, Micros))
        .BindOptional(6, Map(attempt.end_date, Micros))
        .BindOptional(7, attempt.pid ? std::optional<std::int64_t>(*attempt.pid) : std::nullopt)
        .BindUnowned(8, attempt.log_path)
        .BindUnowned(9, attempt.note);
    if (Status s = put_try->Run(); !s.ok()) return s;
  }
  CachedStatement put_output = db_->Cached(
      "INSERT OR REPLACE INTO task_outputs (run, task_id, key, value) "
      "VALUES (?, ?, ?, ?)");
  for (const auto& write : batch.outputs()) {
    for (const auto& item : write.outputs.items()) {
      const std::string value =
          item.value().is_string() ? item.value().get<std::string>() : DumpJson(item.value());
      put_output->Bind(1, write.run).Bind(2, write.task_id).Bind(3, item.key()).Bind(4, value);
      if (Status s = put_output->Run(); !s.ok()) return s;
    }
  }
  if (!batch.cached_tries().empty()) {
    CachedStatement put_cached = db_->Cached(
        "INSERT OR REPLACE INTO task_cache (key, dag_id, run_id, task_id, try_number, outputs, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& [run, cached] : batch.cached_tries()) {
      put_cached->Bind(1, cached.key)
          .Bind(2, cached.dag_id)
          .Bind(3, cached.run_id)
          .Bind(4, cached.task_id)
          .Bind(5, cached.try_number)
          .Bind(6, DumpJson(cached.outputs))
          .Bind(7, Micros(cached.created_at));
      if (Status s = put_cached->Run(); !s.ok()) return s;
    }
  }
  return counts.Write(*db_);
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& path,
                                                    const SqliteStoreOptions& options) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.error();
  for (const char* pragma :
       {"PRAGMA foreign_keys = ON", "PRAGMA temp_store = MEMORY",
        // SQLite checkpoints inside the commit that takes the log past this many pages (32 MB
        // here, 4 MB by default): a long run checkpoints less often, and serve checkpoints when
        // idle (CheckpointIfWritten) before it gets there.
        "PRAGMA wal_autocheckpoint = 8000"}) {
    if (Status s = (*db)->Exec(pragma); !s.ok()) return s.error();
  }
  if (Status s = (*db)->Exec(options.synchronous_full ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL");
      !s.ok()) {
    return s.error();
  }
  // Negative: in KiB. The cache grows only as pages are read.
  if (options.cache_mib > 0) {
    const std::string pragma = "PRAGMA cache_size = -" + std::to_string(options.cache_mib * 1024);
    if (Status s = (*db)->Exec(pragma); !s.ok()) return s.error();
  }
  if (Status s = Migrate(**db); !s.ok()) return s.error();
  return std::unique_ptr<StateStore>(new SqliteStore(std::move(db).value(), *options.clock));
}

}  // namespace conveyor::store
