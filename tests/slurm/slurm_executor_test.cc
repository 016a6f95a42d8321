// The Slurm executor's parts without a cluster: job states as scontrol and jobcomp print them,
// sbatch options from DAG files and the config, the registry of a try away from the state
// database, and the executor itself driving stand-in sbatch/scontrol/scancel scripts.
#include "engine/slurm/slurm_executor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <mutex>

#include "engine/cli/command_context.h"
#include "engine/cli/config.h"
#include "engine/dag/dag_loader.h"
#include "engine/data/registry_snapshot.h"
#include "engine/data/sqlite_model_registry.h"
#include "engine/exec/try_files.h"
#include "engine/slurm/job_states.h"
#include "engine/slurm/sbatch_flags.h"
#include "engine/store/state_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::slurm {
namespace {

// Lines as Slurm 22.05 prints them (abridged in the middle).
constexpr char kScontrolLines[] =
    "JobId=1 JobName=wrap UserId=root(0) GroupId=root(0) JobState=COMPLETED Reason=None "
    "Dependency=(null) ExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED\n"
    "JobId=2 JobName=conveyor.d.t JobState=RUNNING Reason=None ExitCode=0:0\n"
    "JobId=3 JobName=x=JobState=FAKE JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0\n";
constexpr char kJobcompLine[] =
    "JobId=4 UserId=root(0) GroupId=root(0) Name=wrap JobState=TIMEOUT Partition=debug "
    "TimeLimit=1 StartTime=2026-11-25T16:29:38 EndTime=2026-11-25T16:30:38 NodeList=vm "
    "DerivedExitCode=0:0 ExitCode=0:15 \n";

TEST(JobStatesTest, ReadsScontrolAndJobcompLines) {
  auto jobs = ParseJobLines(kScontrolLines);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs["1"].state, "COMPLETED");
  EXPECT_EQ(jobs["2"].state, "RUNNING");
  EXPECT_EQ(jobs["3"].state, "FAILED");  // the first JobState= field, not the name's text
  EXPECT_EQ(jobs["3"].exit_code, "3:0");
  EXPECT_EQ(jobs["3"].reason, "NonZeroExitCode");
  EXPECT_EQ(jobs["1"].node, "");
  auto ended = ParseJobLines(kJobcompLine);
  EXPECT_EQ(ended["4"].state, "TIMEOUT");
  EXPECT_EQ(ended["4"].exit_code, "0:15");
  EXPECT_TRUE(ParseJobLines("No jobs in the system\n").empty());
  EXPECT_TRUE(IsFinalState("OUT_OF_MEMORY"));
  EXPECT_FALSE(IsFinalState("PENDING"));
  EXPECT_TRUE(IsRunningState("COMPLETING"));
}

TEST(SlurmOptionsTest, TasksInheritAndOverrideTheDagsOptions) {
  const std::string text = R"(dag_id: gpu
default_args:
  executor: slurm
  slurm: {partition: gpu, mem: 4G, extra_args: [--exclusive]}
tasks:
  - id: train
    operator: noop
    slurm: {mem: 16G, gres: "gpu:1", cpus: 8, time: "2:00:00"}
  - id: report
    operator: noop
    executor: local
)";
  auto file = dag::ParseDagText(text, "gpu.yaml", cli::BuiltinRegistry());
  ASSERT_TRUE(file.ok()) << file.errors.front().ToString();
  const dag::Task& train = file.dag->tasks[0];
  EXPECT_EQ(train.executor, ExecutorKind::kSlurm);
  EXPECT_EQ(slurm::SbatchFlags(train.slurm),
            (std::vector<std::string>{"--partition=gpu", "--cpus-per-task=8", "--mem=16G",
                                      "--gres=gpu:1", "--time=2:00:00", "--exclusive"}));
  EXPECT_EQ(file.dag->tasks[1].executor, ExecutorKind::kLocal);

  SlurmOptions config_defaults;
  ASSERT_FALSE(SetSlurmOption(config_defaults, "account", "ml-team"));
  ASSERT_FALSE(SetSlurmOption(config_defaults, "partition", "cpu"));
  config_defaults.MergeFrom(train.slurm);
  EXPECT_EQ(slurm::SbatchFlags(config_defaults).front(), "--partition=gpu");
  EXPECT_EQ(slurm::SbatchFlags(config_defaults)[5], "--account=ml-team");
}

TEST(SlurmOptionsTest, ConfigSectionIsReadAndErrorsAreLocated) {
  testing::TempDir dir;
  auto config = cli::LoadConfig(dir.Write("conveyor.yaml", R"(executor: slurm
slurm:
  partition: batch
  poll_interval: 50ms
  max_jobs: 64
  jobcomp_file: slurm/jobcomp.log
)"));
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->executor, ExecutorKind::kSlurm);
  EXPECT_EQ(config->slurm.defaults.partition, "batch");
  EXPECT_EQ(config->slurm.poll_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(config->slurm.max_jobs, 64);
  EXPECT_EQ(config->slurm.jobcomp_file, dir.path() + "/slurm/jobcomp.log");

  const std::string bad = dir.Write("bad.yaml", "slurm:\n  partiton: batch\n");
  auto error = cli::LoadConfig(bad);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.error().ToString(),
            bad + ":2:3: unknown key 'partiton' in slurm, did you mean 'partition'?");
  const std::string bad_executor = dir.Write("bad2.yaml", "executor: celery\n");
  EXPECT_EQ(cli::LoadConfig(bad_executor).error().ToString(),
            bad_executor + ":1:11: 'executor' must be local or slurm, got 'celery'");
}

TEST(RegistrySnapshotTest, ChangesOfATryApplyWithVersionsNumberedAnew) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/state.db";
  ASSERT_TRUE(store::OpenSqliteStore(db).ok());
  auto registry = data::OpenSqliteModelRegistry(db);
  ASSERT_TRUE(registry.ok()) << registry.error().ToString();
  exec::ModelVersion v;
  v.name = "churn";
  v.artifact_path = "/models/1.json";
  ASSERT_TRUE((*registry)->AddVersion(v).ok());
  ASSERT_TRUE((*registry)->SetAlias("churn", "production", 1, "test").ok());

  auto snapshot = data::TakeRegistrySnapshot(**registry);
  ASSERT_TRUE(snapshot.ok());
  data::SnapshotRegistry away(*snapshot);
  EXPECT_EQ(away.Resolve("churn@production")->artifact_path, "/models/1.json");
  EXPECT_EQ(away.Resolve("churn@staging").error().message, "model 'churn' has no alias 'staging'");
  v.artifact_path = "/models/2.json";
  auto added = away.AddVersion(v);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->version, 2);
  ASSERT_TRUE(away.SetAlias("churn", "production", 2, "task d/r/t").ok());
  EXPECT_EQ(away.Resolve("churn@production")->version, 2);

  // Meanwhile another try registered version 2: this try's version becomes 3.
  v.artifact_path = "/models/other.json";
  ASSERT_TRUE((*registry)->AddVersion(v).ok());
  auto renumbered = data::ApplyRegistryChanges(**registry, away.changes());
  ASSERT_TRUE(renumbered.ok()) << renumbered.error().ToString();
  EXPECT_EQ((*renumbered)["churn"][2], 3);
  auto production = (*registry)->Resolve("churn@production");
  ASSERT_TRUE(production.ok());
  EXPECT_EQ(production->version, 3);
  EXPECT_EQ(production->artifact_path, "/models/2.json");
}

TEST(TryFilesTest, LaunchFileRoundTrips) {
  exec::TaskLaunch launch;
  launch.operator_name = "shell";
  launch.info = {"d",        "r",           "t",    2, Instant(std::chrono::seconds(1767225600)),
                 "/l/a.log", "/l/a.output", "/dags"};
  launch.args = {{"cwd", "/tmp"}};
  launch.command = "echo hi";
  launch.env = {{"A", "1"}};
  launch.execution_timeout = std::chrono::seconds(90);
  launch.data.data_db = "/data.db";
  auto back = exec::LaunchFromJson(exec::LaunchToJson(launch, {{"models", {}}}));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->info.try_number, 2);
  EXPECT_EQ(back->info.logical_date, launch.info.logical_date);
  EXPECT_EQ(back->info.output_path, "/l/a.output");
  EXPECT_EQ(*back->command, "echo hi");
  EXPECT_EQ(back->env.at("A"), "1");
  EXPECT_EQ(*back->execution_timeout, std::chrono::seconds(90));
  EXPECT_EQ(back->data.data_db, "/data.db");
  EXPECT_EQ(exec::LaunchFromJson({{"operator", 1}})
                .error()
                .message.rfind("not a conveyor launch file: ", 0),
            0u);
  EXPECT_EQ(TrySibling("/l/a.log", ".result.json"), "/l/a.result.json");
}

// Stand-ins for Slurm's commands: sbatch answers with a job id, scontrol prints what the test
// wrote, scancel records what it was asked.
class FakeSlurm {
 public:
  FakeSlurm() {
    Tool("sbatch", "echo \"$@\" >> " + dir_.path() + "/sbatch.args\ncat " + dir_.path() +
                       "/sbatch.answer\nexit $(cat " + dir_.path() + "/sbatch.exit)");
    Tool("scontrol", "cat " + dir_.path() + "/scontrol.out");
    Tool("scancel", "echo \"$@\" >> " + dir_.path() + "/scancel.args");
    SbatchAnswers("4242\n", 0);
    Jobs("No jobs in the system\n");
  }
  void SbatchAnswers(const std::string& text, int exit_code) {
    dir_.Write("sbatch.answer", text);
    dir_.Write("sbatch.exit", std::to_string(exit_code));
  }
  void Jobs(const std::string& lines) {
    dir_.Write("scontrol.out.tmp", lines);
    std::rename((dir_.path() + "/scontrol.out.tmp").c_str(),
                (dir_.path() + "/scontrol.out").c_str());
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(dir_.path() + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  SlurmSettings Settings() const {
    SlurmSettings settings;
    settings.sbatch = dir_.path() + "/sbatch";
    settings.scontrol = dir_.path() + "/scontrol";
    settings.scancel = dir_.path() + "/scancel";
    settings.jobcomp_file = dir_.path() + "/jobcomp.log";
    settings.poll_interval = std::chrono::milliseconds(10);
    settings.conveyor_binary = "/opt/conveyor";
    ExpectValid(SetSlurmOption(settings.defaults, "partition", "batch"));
    return settings;
  }
  const testing::TempDir& dir() const { return dir_; }

 private:
  static void ExpectValid(const std::optional<std::string>& problem) {
    EXPECT_FALSE(problem.has_value());
  }
  void Tool(const std::string& name, const std::string& body) {
    const std::string path = dir_.Write(name, "#!/bin/sh\n" + body + "\n");
    chmod(path.c_str(), 0755);
  }
  testing::TempDir dir_;
};

class EventLog {
 public:
  void Add(exec::TaskEvent event) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
    changed_.notify_all();
  }
  // Waits for the n-th event (1-based) and returns it.
  exec::TaskEvent Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool arrived =
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n; });
    EXPECT_TRUE(arrived) << "event " << n << " never came";
    return arrived ? events_[n - 1] : exec::TaskEvent{};
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<exec::TaskEvent> events_;
};

exec::TaskLaunch LaunchIn(const std::string& folder, std::uint64_t id) {
  exec::TaskLaunch launch;
  launch.id = id;
  launch.operator_name = "shell";
  launch.info = {
      "dag", "run", "task", 1, Instant{}, folder + "/attempt=1.log", folder + "/attempt=1.output",
      folder};
  launch.command = "true";
  launch.executor = ExecutorKind::kSlurm;
  EXPECT_FALSE(SetSlurmOption(launch.slurm, "mem", "1G"));
  return launch;
}

TEST(SlurmExecutorTest, SubmitsFollowsAndReadsTheJobcompOfAPurgedJob) {
  FakeSlurm slurm;
  EventLog events;
  auto executor = MakeSlurmExecutor(slurm.Settings(), WallClock(),
                                    [&](exec::TaskEvent e) { events.Add(std::move(e)); });
  // As in Slurm, a job sbatch accepted is listed from then on (an unlisted job is a purged one).
  slurm.Jobs(
      "JobId=4242 JobName=conveyor.dag.task JobState=PENDING Reason=Priority ExitCode=0:0\n");
  executor->Launch(LaunchIn(slurm.dir().path(), 7));
  exec::TaskEvent submitted = events.Wait(1);
  EXPECT_EQ(submitted.kind, exec::TaskEvent::Kind::kSubmitted);
  EXPECT_EQ(submitted.id, 7u);
  EXPECT_EQ(submitted.external_id, "slurm:4242");
  const std::string folder = slurm.dir().path();
  EXPECT_EQ(slurm.Read("sbatch.args"),
            "--parsable --job-name=conveyor.dag.task --output=" + folder +
                "/attempt=1.log --error=" + folder + "/attempt=1.log --open-mode=append --chdir=" +
                folder + " --partition=batch --mem=1G " + folder + "/attempt=1.slurm.sh\n");
  EXPECT_NE(slurm.Read("attempt=1.slurm.sh")
                .find("exec '/opt/conveyor' tasks run-try '" + folder +
                      "/attempt=1.launch.json' '" + folder + "/attempt=1.result.json'\n"),
            std::string::npos);

  slurm.Jobs(
      "JobId=4242 JobName=conveyor.dag.task JobState=RUNNING Reason=None ExitCode=0:0 "
      "BatchHost=node7\n");
  exec::TaskEvent started = events.Wait(2);
  EXPECT_EQ(started.kind, exec::TaskEvent::Kind::kStarted);
  EXPECT_EQ(started.hostname, "node7");
  // Slurm forgets the job; its jobcomp log tells how it ended.
  slurm.dir().Write("jobcomp.log",
                    "JobId=4242 UserId=root(0) Name=x JobState=TIMEOUT ExitCode=0:15\n");
  slurm.Jobs("No jobs in the system\n");
  exec::TaskEvent finished = events.Wait(3);
  EXPECT_EQ(finished.kind, exec::TaskEvent::Kind::kFinished);
  EXPECT_EQ(finished.result.outcome, exec::OperatorResult::Outcome::kFailed);
  EXPECT_EQ(finished.result.message, "timed out: Slurm job 4242 reached its time limit");
  executor->Drain();
}

TEST(SlurmExecutorTest, TheResultFileDecidesAndSbatchFailuresAreReported) {
  FakeSlurm slurm;
  EventLog events;
  auto executor = MakeSlurmExecutor(slurm.Settings(), WallClock(),
                                    [&](exec::TaskEvent e) { events.Add(std::move(e)); });
  ASSERT_TRUE(
      exec::WriteFileAtomically(slurm.dir().path() + "/attempt=1.result.json",
                                exec::ResultToJson(exec::OperatorResult::Success({{"rows", "12"}}),
                                                   nlohmann::json::array())
                                    .dump())
          .ok());
  // Adopted after a restart: the job ended while conveyor was down.
  slurm.Jobs("JobId=4242 JobName=x JobState=COMPLETED Reason=None ExitCode=0:0\n");
  executor->Adopt(LaunchIn(slurm.dir().path(), 1), "slurm:4242", true);
  exec::TaskEvent finished = events.Wait(1);
  EXPECT_EQ(finished.kind, exec::TaskEvent::Kind::kFinished);
  EXPECT_EQ(finished.result.outcome, exec::OperatorResult::Outcome::kSuccess);
  EXPECT_EQ(finished.result.outputs, nlohmann::json({{"rows", "12"}}));

  slurm.SbatchAnswers("sbatch: error: invalid partition specified: nope\n", 1);
  executor->Launch(LaunchIn(slurm.dir().path() + "/other", 2));
  exec::TaskEvent failed = events.Wait(2);
  EXPECT_EQ(failed.kind, exec::TaskEvent::Kind::kFinished);
  EXPECT_EQ(failed.result.message,
            "sbatch failed: sbatch: error: invalid partition specified: nope");
  executor->Drain();
}

TEST(SlurmExecutorTest, CancelAllCancelsTheJobs) {
  FakeSlurm slurm;
  EventLog events;
  auto executor = MakeSlurmExecutor(slurm.Settings(), WallClock(),
                                    [&](exec::TaskEvent e) { events.Add(std::move(e)); });
  slurm.Jobs("JobId=4242 JobName=x JobState=PENDING Reason=Priority ExitCode=0:0\n");
  executor->Launch(LaunchIn(slurm.dir().path(), 3));
  EXPECT_EQ(events.Wait(1).kind, exec::TaskEvent::Kind::kSubmitted);
  executor->CancelAll();
  for (int i = 0; i < 500 && slurm.Read("scancel.args").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(slurm.Read("scancel.args"), "4242\n");
  slurm.Jobs("JobId=4242 JobName=x JobState=CANCELLED Reason=None ExitCode=0:15\n");
  exec::TaskEvent finished = events.Wait(3);  // started (it never ran), then finished
  EXPECT_EQ(finished.kind, exec::TaskEvent::Kind::kFinished);
  EXPECT_EQ(finished.result.message, "cancelled");
  executor->Drain();
}

}  // namespace
}  // namespace conveyor::slurm
