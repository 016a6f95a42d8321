#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/common/error.h"
#include "engine/cron/timetable.h"
#include "engine/graph/dag_bag.h"
#include "engine/store/run_store.h"

namespace conveyor::scheduler {

struct RunRequest {
  std::string run_type = "manual";  // manual, scheduled, backfill
  nlohmann::json conf = nlohmann::json::object();
  std::optional<std::string> run_id;           // default: <run_type>__<logical date>
  std::optional<Instant> logical_date;         // default: now
  std::optional<cron::DataInterval> interval;  // default: inferred as Airflow does
  bool no_cache = false;  // its cached tasks run, not reusing a cached try (--no-cache)
};

// Airflow's run ids: "manual__2026-01-01T00:00:00+00:00".
std::string MakeRunId(const std::string& run_type, Instant logical_date);

// A queued run and its task instances, checked but not stored.
// `now` is when it is queued (to the microsecond: a run id made from it tells quick triggers
// apart), and its logical date unless the request gives one.
Result<store::NewRun> BuildRun(const graph::LoadedDag& dag, const RunRequest& request,
                               PreciseInstant now);

// Creates a queued run and its task instances. Conf must be a JSON object; a run id must be
// unique per DAG (kAlreadyExists otherwise) and use [A-Za-z0-9_.:+-].
Result<store::DagRunRecord> CreateRun(store::RunStore& store, const graph::LoadedDag& dag,
                                      const RunRequest& request, PreciseInstant now);

}  // namespace conveyor::scheduler
