#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/store/records.h"

namespace conveyor::store {

// A page of the whole event log (Airflow's event logs), newest first unless `oldest_first`.
struct EventLogFilter {
  std::optional<std::string> event;   // to_state, or an audit action such as api.patch_dag
  std::optional<std::string> dag_id;  // the run's DAG, or the DAG an audit event names
  std::optional<std::string> run_id;
  std::optional<std::string> task_id;
  std::optional<std::string> owner;
  int limit = 100;
  int offset = 0;
  bool oldest_first = false;
};

// One row of the event log with its run's ids (empty for events of no run).
struct EventLogEntry {
  EventRecord event;
  std::string dag_id;
  std::string run_id;
  std::optional<Instant> logical_date;
};

// The append-only log of every state change and audited action (Airflow's event log). Events are
// appended by RunStore::Commit with the writes they record, and by AppendEvent.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // The run's events with an id above `after_id`, oldest first. Reads every event logged after
  // `after_id` (the log has no index by run): a reader follows the log from LastEventId() on.
  virtual Result<std::vector<EventRecord>> ListEvents(RunKey run, std::int64_t after_id) = 0;
  // The id of the latest event logged, or 0; every later event has a greater id.
  virtual Result<std::int64_t> LastEventId() = 0;
  // Reads the whole log: for tests and tools.
  virtual Result<int> CountEvents(RunKey run, const std::string& task_id,
                                  const std::string& to_state) = 0;

  // Appends an event of no run (run 0), such as an API write's audit record: `event` goes to
  // to_state, `who` to who, `note` is free text (an audit's JSON extra).
  virtual Status AppendEvent(const std::string& event, const std::string& who,
                             const std::string& note) = 0;
  // Records, once per run, that it missed its DAG's deadline: the event `deadline_missed` on the
  // run, with `note`. True when this call recorded it; false when it was recorded before.
  virtual Result<bool> RecordDeadlineMiss(RunKey run, const std::string& who,
                                          const std::string& note) = 0;
  // The event log, filtered and paged; `total` (if given) receives the count before paging.
  virtual Result<std::vector<EventLogEntry>> ListEventLog(const EventLogFilter& filter,
                                                          int* total) = 0;
};

}  // namespace conveyor::store
