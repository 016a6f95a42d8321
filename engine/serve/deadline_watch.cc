#include "engine/serve/deadline_watch.h"

#include <spdlog/spdlog.h>

#include "engine/store/records_json.h"

namespace conveyor::serve {

std::optional<PreciseInstant> DeadlineOf(const dag::Deadline& deadline,
                                         const store::DagRunRecord& run) {
  std::optional<PreciseInstant> reference;
  switch (deadline.reference) {
    case dag::Deadline::Reference::kLogicalDate:
      if (run.logical_date) reference = PreciseInstant(*run.logical_date);
      break;
    case dag::Deadline::Reference::kQueued:
      reference = run.queued_at;
      break;
    case dag::Deadline::Reference::kStart:
      reference = run.start_date;
      break;
  }
  if (!reference) return std::nullopt;
  return *reference + std::chrono::duration_cast<std::chrono::microseconds>(deadline.after);
}

DeadlineWatch::DeadlineWatch(store::StateStore& store, WebhookSender* webhooks, Metrics* metrics,
                             std::string base_url, std::string who)
    : store_(store),
      webhooks_(webhooks),
      metrics_(metrics),
      base_url_(std::move(base_url)),
      who_(std::move(who)) {}

Result<std::optional<PreciseInstant>> DeadlineWatch::Check(
    const std::vector<std::shared_ptr<const graph::LoadedDag>>& dags, PreciseInstant now) {
  if (now < next_look_ && (!next_deadline_ || now < *next_deadline_)) return next_deadline_;
  next_look_ = now + std::chrono::seconds(1);
  next_deadline_.reset();
  for (const auto& loaded : dags) {
    const dag::Dag& dag = loaded->dag;
    if (!dag.deadline) continue;
    for (const state::RunState state : {state::RunState::kQueued, state::RunState::kRunning}) {
      store::RunFilter filter;
      filter.dag_id = dag.dag_id;
      filter.state = state;
      filter.limit = 10'000;
      auto runs = store_.ListRuns(filter, nullptr);
      if (!runs.ok()) return runs.error();
      for (const store::DagRunRecord& run : *runs) {
        if (recorded_.count(run.id) != 0) continue;
        const auto deadline = DeadlineOf(*dag.deadline, run);
        if (!deadline) continue;
        if (now < *deadline) {
          if (!next_deadline_ || *deadline < *next_deadline_) next_deadline_ = deadline;
          continue;
        }
        const std::string when = FormatUtcMillis(*deadline);
        auto first = store_.RecordDeadlineMiss(run.id, who_, "deadline " + when + " missed");
        if (!first.ok()) return first.error();
        recorded_.insert(run.id);
        if (!*first) continue;  // recorded by an earlier process: called then
        spdlog::warn("run {} of {} missed its deadline {}", run.run_id, dag.dag_id, when);
        if (metrics_ != nullptr) metrics_->CountDeadlineMiss(dag.dag_id);
        if (webhooks_ == nullptr) continue;
        const nlohmann::json payload = {
            {"event", "deadline_missed"},
            {"dag_id", dag.dag_id},
            {"dag_run_id", run.run_id},
            {"task_id", nullptr},
            {"state", std::string(state::Name(run.state))},
            {"logical_date", store::DateToJson(run.logical_date)},
            {"deadline", when},
            {"url", base_url_ + "/api/v1/dags/" + dag.dag_id + "/dagRuns/" + run.run_id}};
        for (const dag::Callback& callback : dag.deadline->on_miss) {
          webhooks_->Post(callback.webhook, payload);
        }
      }
    }
  }
  return next_deadline_;
}

}  // namespace conveyor::serve
