#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "engine/graph/dag_bag.h"
#include "engine/serve/metrics.h"
#include "engine/serve/webhook_sender.h"
#include "engine/store/state_store.h"

namespace conveyor::serve {

// When a run's deadline falls: its reference time (logical date, queued or start) plus `after`;
// nullopt while that time is unknown (a run not started yet, for `start`).
std::optional<PreciseInstant> DeadlineOf(const dag::Deadline& deadline,
                                         const store::DagRunRecord& run);

// Airflow 3.1's deadline alerts for `serve`: finds the unfinished runs of DAGs with a `deadline`
// that are past it, records each miss once in the database (so that a restart does not call
// again), counts it on /metrics and calls the DAG's on_miss webhooks.
class DeadlineWatch {
 public:
  DeadlineWatch(store::StateStore& store, WebhookSender* webhooks, Metrics* metrics,
                std::string base_url, std::string who);

  // Looks at most once a second unless a deadline falls sooner. Returns when the next deadline
  // of an unfinished run falls, if one is known.
  Result<std::optional<PreciseInstant>> Check(
      const std::vector<std::shared_ptr<const graph::LoadedDag>>& dags, PreciseInstant now);

 private:
  store::StateStore& store_;
  WebhookSender* webhooks_;
  Metrics* metrics_;
  std::string base_url_;
  std::string who_;
  std::set<store::RunKey> recorded_;  // misses this process has recorded or found recorded
  PreciseInstant next_look_{};
  std::optional<PreciseInstant> next_deadline_;
};

}  // namespace conveyor::serve
