#include "engine/dag/dag_codec.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/cli/command_context.h"
#include "engine/dag/dag_loader.h"
#include "engine/graph/dag_bag.h"

namespace conveyor::dag {
namespace {

// Every key the DAG format has, each with a value other than its default.
constexpr const char* kEveryKey = R"(dag_id: every_key
description: all of it
schedule: "30 6 * * 1-5"
timezone: Europe/Berlin
start_date: 2026-01-01
end_date: 2027-06-30T12:00:00
catchup: true
max_active_runs: 3
max_active_tasks: 7
tags: [nightly, ml]
params: {n: 5, name: x, ratio: 0.25, flags: [true, null], nested: {deep: "7"}}
default_args:
  retries: 2
  retry_delay: 30s
  retry_exponential_backoff: true
  max_retry_delay: 10m
  execution_timeout: 1h
  pool: small
  priority_weight: 4
  executor: local
  slurm: {partition: cpu, cpus: 2}
  on_retry: [{webhook: "http://127.0.0.1:9000/retry"}]
on_success: [{webhook: "http://127.0.0.1:9000/ok"}]
on_failure: [{webhook: "http://127.0.0.1:9000/fail"}, {webhook: "https://example.org/x"}]
tasks:
  - id: extract
    description: fetch it
    command: echo "{{ ds }} {{ params.name }}" > "$CONVEYOR_OUTPUT"
    env: {A: "1", B: "{{ run_id }}"}
  - id: train
    operator: shell
    depends_on: [extract]
    trigger_rule: one_failed
    command: [/bin/echo, "{{ outputs.extract.rows }}"]
    executor: slurm
    slurm: {partition: gpu, cpus: 8, mem: 4G, gres: "gpu:1", time: "1:00:00", account: lab,
            qos: high, extra_args: [--exclusive, --nice=5]}
    retries: 0
    on_success: [{webhook: "http://127.0.0.1:9000/train"}]
  - id: wait
    operator: sleep
    depends_on: [train, extract]
    trigger_rule: all_done
    args: {duration: 500ms}
    pool: default
    priority_weight: 9
)";

void ExpectSameDag(const Dag& decoded, const Dag& original) {
  EXPECT_EQ(decoded.dag_id, original.dag_id);
  EXPECT_EQ(decoded.description, original.description);
  EXPECT_EQ(decoded.file, original.file);
  EXPECT_EQ(decoded.timezone, original.timezone);
  EXPECT_EQ(decoded.timetable.schedule().kind(), original.timetable.schedule().kind());
  EXPECT_EQ(decoded.timetable.schedule().text(), original.timetable.schedule().text());
  EXPECT_EQ(decoded.timetable.schedule().zone().name(),
            original.timetable.schedule().zone().name());
  EXPECT_EQ(decoded.timetable.start_date(), original.timetable.start_date());
  EXPECT_EQ(decoded.timetable.end_date(), original.timetable.end_date());
  EXPECT_EQ(decoded.catchup, original.catchup);
  EXPECT_EQ(decoded.max_active_runs, original.max_active_runs);
  EXPECT_EQ(decoded.max_active_tasks, original.max_active_tasks);
  EXPECT_EQ(decoded.tags, original.tags);
  EXPECT_EQ(decoded.params, original.params);
  EXPECT_EQ(decoded.params.dump(), original.params.dump());
  EXPECT_EQ(decoded.default_retry, original.default_retry);
  EXPECT_EQ(decoded.callbacks, original.callbacks);
  EXPECT_EQ(decoded.tasks, original.tasks);
  for (const Task& task : original.tasks) {
    EXPECT_EQ(decoded.TaskIndex(task.id), original.TaskIndex(task.id)) << task.id;
  }
}

Dag Parse(const std::string& text) {
  DagFile file = ParseDagText(text, "/dags/every_key.yaml", cli::BuiltinRegistry());
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.errors.front().ToString());
  return std::move(*file.dag);
}

TEST(DagCodecTest, EveryKeyComesBackAsParsed) {
  const Dag original = Parse(kEveryKey);
  // The fixture reaches what it means to: values other than the defaults.
  ASSERT_EQ(original.tasks.size(), 3u);
  EXPECT_EQ(original.tasks[1].slurm.extra_args.size(), 2u);
  EXPECT_EQ(original.tasks[1].output_references.size(), 1u);
  EXPECT_TRUE(original.default_retry.execution_timeout.has_value());
  EXPECT_EQ(original.timetable.schedule().zone().name(), "Europe/Berlin");

  const std::string encoded = EncodeDag(original);
  const auto decoded = DecodeDag(encoded);
  ASSERT_TRUE(decoded.has_value());
  ExpectSameDag(*decoded, original);
  EXPECT_EQ(EncodeDag(*decoded), encoded);
  // The schedule works as parsed: the next weekday 06:30 in Berlin after a Friday evening.
  const auto next = decoded->timetable.schedule().Next(Instant(std::chrono::seconds(1798826400)));
  EXPECT_EQ(next, original.timetable.schedule().Next(Instant(std::chrono::seconds(1798826400))));
}

TEST(DagCodecTest, EveryExampleDagComesBackAsParsed) {
  const auto bag =
      graph::DagBag::LoadFolder(std::string(CONVEYOR_SOURCE_DIR) + "/dags", cli::BuiltinRegistry());
  ASSERT_GE(bag.dags().size(), 5u);
  for (const graph::LoadedDag& loaded : bag.dags()) {
    const auto decoded = DecodeDag(EncodeDag(loaded.dag));
    ASSERT_TRUE(decoded.has_value()) << loaded.dag.dag_id;
    ExpectSameDag(*decoded, loaded.dag);
  }
}

// A record cut short or from another format is refused, never half read.
TEST(DagCodecTest, ATruncatedOrForeignRecordIsRefused) {
  const std::string encoded = EncodeDag(Parse(kEveryKey));
  for (size_t size = 0; size < encoded.size(); ++size) {
    EXPECT_FALSE(DecodeDag(std::string_view(encoded).substr(0, size)).has_value()) << size;
  }
  EXPECT_FALSE(DecodeDag(encoded + "x").has_value());
  std::string other_format = encoded;
  other_format[0] = static_cast<char>(other_format[0] + 1);
  EXPECT_FALSE(DecodeDag(other_format).has_value());
}

}  // namespace
}  // namespace conveyor::dag
