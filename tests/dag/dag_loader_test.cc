#include "engine/dag/dag_loader.h"

#include <gtest/gtest.h>

#include "engine/cli/command_context.h"

namespace conveyor::dag {
namespace {

// The spec's example DAG, word for word.
constexpr char kSpecExample[] = R"(dag_id: credit_default_training      # default: file stem
description: Train the loan default model and register it
schedule: "0 3 * * *"
timezone: Europe/Moscow
start_date: 2026-01-01
end_date: null
catchup: false
max_active_runs: 1
max_active_tasks: 16
tags: [ml, training]
params: {model_name: credit_default}
default_args:
  retries: 2
  retry_delay: 30s
  retry_exponential_backoff: true
  max_retry_delay: 10m
  execution_timeout: 1h
on_failure: [{webhook: "http://127.0.0.1:9000/hook"}]
tasks:
  - id: ingest
    operator: ingest
    args: {source: dags/data/credit_train.csv, table: credit_train}
  - id: train
    operator: train
    depends_on: [ingest]
    args: {table: credit_train, label: default, model: "{{ params.model_name }}"}
  - id: report
    operator: shell
    depends_on: [train]
    trigger_rule: all_done
    command: echo "{{ run_id }} {{ ds }} auc={{ outputs.train.auc }}"
    env: {LC_ALL: C}
    pool: default
    priority_weight: 1
)";

TEST(DagLoaderTest, ReadsEveryKeyOfTheSpecExample) {
  DagFile file = ParseDagText(kSpecExample, "dags/x.yaml", cli::BuiltinRegistry());
  ASSERT_TRUE(file.ok()) << file.errors.front().ToString();
  const Dag& dag = *file.dag;
  EXPECT_EQ(dag.dag_id, "credit_default_training");
  EXPECT_EQ(dag.description, "Train the loan default model and register it");
  EXPECT_EQ(dag.timetable.schedule().text(), "0 3 * * *");
  EXPECT_EQ(dag.timezone, "Europe/Moscow");
  EXPECT_EQ(FormatUtc(*dag.timetable.start_date()), "2025-12-31T21:00:00Z");
  EXPECT_FALSE(dag.timetable.end_date());
  EXPECT_FALSE(dag.catchup);
  EXPECT_EQ(dag.max_active_runs, 1);
  EXPECT_EQ(dag.max_active_tasks, 16);
  EXPECT_EQ(dag.tags, (std::vector<std::string>{"ml", "training"}));
  EXPECT_EQ(dag.params, nlohmann::json({{"model_name", "credit_default"}}));
  ASSERT_EQ(dag.callbacks.on_failure.size(), 1u);
  EXPECT_EQ(dag.callbacks.on_failure[0].webhook, "http://127.0.0.1:9000/hook");
  ASSERT_EQ(dag.tasks.size(), 3u);

  const Task& train = dag.tasks[1];
  EXPECT_EQ(train.operator_name, "train");
  EXPECT_EQ(train.depends_on, (std::vector<std::string>{"ingest"}));
  EXPECT_EQ(train.args["model"], "{{ params.model_name }}");
  EXPECT_EQ(train.retry.retries, 2);
  EXPECT_EQ(train.retry.retry_delay, std::chrono::seconds(30));
  EXPECT_TRUE(train.retry.retry_exponential_backoff);
  EXPECT_EQ(*train.retry.max_retry_delay, std::chrono::minutes(10));
  EXPECT_EQ(*train.retry.execution_timeout, std::chrono::hours(1));
  EXPECT_TRUE(train.callbacks.on_failure.empty());  // run-level only

  const Task& report = dag.tasks[2];
  EXPECT_EQ(report.trigger_rule, TriggerRule::kAllDone);
  EXPECT_EQ(*report.command, "echo \"{{ run_id }} {{ ds }} auc={{ outputs.train.auc }}\"");
  EXPECT_EQ(report.env.at("LC_ALL"), "C");
  EXPECT_EQ(report.pool, "default");
  EXPECT_EQ(report.priority_weight, 1);
  ASSERT_EQ(report.output_references.size(), 1u);
  EXPECT_EQ(report.output_references[0].task_id, "train");
  EXPECT_EQ(report.output_references[0].key, "auc");
  EXPECT_EQ(report.output_references[0].location.ToString(), "dags/x.yaml:31:46");
  EXPECT_EQ(report.location.ToString(), "dags/x.yaml:27:9");
}

TEST(DagLoaderTest, DefaultsAndTaskOverrides) {
  DagFile file = ParseDagText(R"(schedule: null
default_args: {retries: 3, pool: heavy}
tasks:
  - id: a
    command: [echo, "{{ ds }}"]
    retries: 0
    retry_delay: 500ms
  - {id: b, operator: noop, depends_on: a, trigger_rule: one_failed, priority_weight: -5}
)",
                              "/some/where/my-dag.yml", cli::BuiltinRegistry());
  ASSERT_TRUE(file.ok()) << file.errors.front().ToString();
  const Dag& dag = *file.dag;
  EXPECT_EQ(dag.dag_id, "my-dag");
  EXPECT_EQ(dag.timetable.schedule().kind(), cron::Schedule::Kind::kNone);
  EXPECT_EQ(dag.timezone, "UTC");
  EXPECT_EQ(dag.max_active_runs, 16);
  EXPECT_EQ(dag.tasks[0].operator_name, "shell");
  EXPECT_EQ(*dag.tasks[0].command, nlohmann::json({"echo", "{{ ds }}"}));
  EXPECT_EQ(dag.tasks[0].retry.retries, 0);
  EXPECT_EQ(dag.tasks[0].retry.retry_delay, std::chrono::milliseconds(500));
  EXPECT_EQ(dag.tasks[0].pool, "heavy");
  EXPECT_EQ(dag.tasks[1].retry.retries, 3);
  EXPECT_EQ(dag.tasks[1].retry.retry_delay, std::chrono::minutes(5));
  EXPECT_EQ(dag.tasks[1].depends_on, (std::vector<std::string>{"a"}));
  EXPECT_EQ(dag.tasks[1].trigger_rule, TriggerRule::kOneFailed);
  EXPECT_EQ(dag.tasks[1].priority_weight, -5);
}

TEST(DagLoaderTest, ArgsKeepTheirYamlTypes) {
  DagFile file = ParseDagText(R"(tasks:
  - id: t
    operator: ingest
    args: {source: a.csv, table: t, min_rows: 10, delimiter: ";", columns: {x: integer}}
)",
                              "t.yaml", cli::BuiltinRegistry());
  ASSERT_TRUE(file.ok()) << file.errors.front().ToString();
  EXPECT_EQ(file.dag->tasks[0].args, nlohmann::json({{"source", "a.csv"},
                                                     {"table", "t"},
                                                     {"min_rows", 10},
                                                     {"delimiter", ";"},
                                                     {"columns", {{"x", "integer"}}}}));
}

TEST(DagLoaderTest, MissingFileIsAnError) {
  DagFile file = LoadDagFile("/nonexistent/dag.yaml", cli::BuiltinRegistry());
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].ToString(), "/nonexistent/dag.yaml: cannot read file");
}

}  // namespace
}  // namespace conveyor::dag
