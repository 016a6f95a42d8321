#include "engine/slurm/slurm_executor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/common/private_files.h"
#include "engine/common/secret_masker.h"
#include "engine/data/registry_snapshot.h"
#include "engine/exec/command_output.h"
#include "engine/exec/task_environment.h"
#include "engine/exec/try_files.h"
#include "engine/slurm/job_states.h"
#include "engine/slurm/sbatch_flags.h"

namespace conveyor::slurm {
namespace {

using exec::OperatorResult;
using exec::TaskEvent;
using exec::TaskLaunch;
using SteadyClock = std::chrono::steady_clock;

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string SelfBinary() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "conveyor" : path.string();
}

// A try out on Slurm; owned by the executor's thread.
struct Job {
  TaskLaunch launch;
  std::string job_id{};  // empty until sbatch has answered
  bool started = false;
  SteadyClock::time_point started_at{};
  bool timed_out = false;  // conveyor cancelled it at its execution_timeout
  bool cancelled = false;  // conveyor cancelled it on shutdown
};

class SlurmExecutor : public exec::Executor {
 public:
  SlurmExecutor(SlurmSettings settings, const Clock& clock, std::function<void(TaskEvent)> notify)
      : settings_(std::move(settings)), clock_(clock), notify_(std::move(notify)) {
    if (settings_.conveyor_binary.empty()) settings_.conveyor_binary = SelfBinary();
    thread_ = std::thread([this] { Loop(); });
  }

  ~SlurmExecutor() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void Launch(TaskLaunch launch) override { Enqueue(Job{std::move(launch)}); }

  void Adopt(TaskLaunch launch, const std::string& external_id, bool started) override {
    Job job{std::move(launch)};
    job.job_id = external_id.substr(external_id.find(':') + 1);
    job.started = started;
    job.started_at = SteadyClock::now();  // the deadline restarts: the time spent before is unknown
    Enqueue(std::move(job));
  }

  void CancelAll() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancel_all_ = true;
      stop_starting_ = true;
    }
    wake_.notify_all();
  }

  void StopStarting() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_starting_ = true;
    }
    wake_.notify_all();
  }

  void Drain() override {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return in_flight_ == 0; });
  }

 private:
  void Enqueue(Job job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++in_flight_;
      incoming_.push_back(std::move(job));
    }
    wake_.notify_all();
  }

  void Loop() {
    while (true) {
      std::deque<Job> incoming;
      bool stop_starting = false;
      bool cancel_all = false;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        const auto ready = [this] { return quit_ || !incoming_.empty() || cancel_all_; };
        if (jobs_.empty()) {
          wake_.wait(lock, ready);
        } else {
          wake_.wait_for(lock, settings_.poll_interval, ready);
        }
        if (quit_) return;
        incoming.swap(incoming_);
        stop_starting = stop_starting_;
        cancel_all = std::exchange(cancel_all_, false);
      }
      for (Job& job : incoming) {
        if (!job.job_id.empty()) {
          jobs_.push_back(std::move(job));
        } else if (stop_starting) {
          TaskEvent skipped{TaskEvent::Kind::kFinished, job.launch.id, std::nullopt,
                            OperatorResult::Failure("conveyor stopped before the try began")};
          skipped.not_started = true;
          Done(std::move(skipped));
        } else {
          Submit(std::move(job));
        }
      }
      if (cancel_all) CancelJobs();
      if (!jobs_.empty()) Follow();
    }
  }

  // Reports an event, stamped now.
  void Notify(TaskEvent event) {
    event.at = clock_.PreciseNow();
    notify_(std::move(event));
  }

  void Done(TaskEvent event) {
    Notify(std::move(event));
    std::lock_guard<std::mutex> lock(mutex_);
    if (--in_flight_ == 0) idle_.notify_all();
  }

  void Fail(const TaskLaunch& launch, std::string message) {
    Done(TaskEvent{TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                   OperatorResult::Failure(std::move(message))});
  }

  void Submit(Job job) {
    const TaskLaunch& launch = job.launch;
    const std::string log = launch.info.log_path;
    const std::string launch_file = TrySibling(log, ".launch.json");
    const std::string result_file = TrySibling(log, ".result.json");
    const std::string script = TrySibling(log, ".slurm.sh");
    std::filesystem::remove(result_file);

    nlohmann::json snapshot = nlohmann::json::object();
    if (launch.data.open_registry) {
      auto registry = launch.data.open_registry();
      if (!registry.ok()) return Fail(launch, "model registry: " + registry.error().message);
      auto taken = data::TakeRegistrySnapshot(**registry);
      if (!taken.ok()) return Fail(launch, "model registry: " + taken.error().message);
      snapshot = std::move(*taken);
    }
    // The job's whole environment travels in the launch file (0600), never on sbatch's command
    // line: the allowlisted part of conveyor's (but SLURM_*: the job has its own), under the
    // task's own env.
    TaskLaunch shipped = launch;
    for (const std::string& entry : exec::TaskBaseEnvironment()) {
      if (entry.rfind("SLURM_", 0) == 0) continue;  // the job has its own
      const size_t eq = entry.find('=');
      shipped.env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
    nlohmann::json launch_json = exec::LaunchToJson(shipped, snapshot);
    // The job masks the secrets in what it writes, as conveyor does.
    if (HasSecrets()) launch_json["mask"] = MaskedForms();
    if (Status s = exec::WriteFileAtomically(launch_file, launch_json.dump()); !s.ok()) {
      return Fail(launch, s.error().message);
    }
    std::ostringstream body;
    body << "#!/bin/sh\n"
         << "# conveyor: " << launch.info.dag_id << " / " << launch.info.run_id << " / "
         << launch.info.task_id << ", try " << launch.info.try_number << "\n"
         << "exec " << ShellQuote(settings_.conveyor_binary) << " tasks run-try "
         << ShellQuote(launch_file) << " " << ShellQuote(result_file) << "\n";
    if (Status s = exec::WriteFileAtomically(script, body.str()); !s.ok()) {
      return Fail(launch, s.error().message);
    }
    chmod(script.c_str(), 0700);

    SlurmOptions options = settings_.defaults;
    options.MergeFrom(launch.slurm);
    if (!options.time && launch.execution_timeout) {
      // Slurm's limit backs up conveyor's own cancellation, a minute later.
      const auto seconds = std::chrono::ceil<std::chrono::seconds>(*launch.execution_timeout);
      options.time = std::to_string((seconds.count() + 59) / 60 + 1);
    }
    std::vector<std::string> argv = {
        settings_.sbatch,
        "--parsable",
        "--job-name=conveyor." + launch.info.dag_id + "." + launch.info.task_id,
        "--output=" + log,
        "--error=" + log,
        "--open-mode=append",
        "--chdir=" + (launch.info.work_dir.empty() ? std::string("/") : launch.info.work_dir)};
    for (auto& flag : SbatchFlags(options)) argv.push_back(std::move(flag));
    argv.push_back(script);
    // Slurm appends to the log; created here first, it is private.
    if (Status s = TouchPrivate(log); !s.ok()) return Fail(launch, s.error().message);
    // sbatch exports its own environment to the job: it gets only what a task may inherit, so
    // that conveyor's token and secrets' sources never reach a job. (--export=NONE would do the
    // same, but slurmd then builds the job's environment itself, 150 ms more per job here.)
    auto submitted = exec::RunCommandOutput(argv, &exec::TaskBaseEnvironment());
    if (!submitted.ok()) return Fail(launch, "sbatch: " + submitted.error().message);
    if (submitted->exit_code != 0) {
      return Fail(launch, "sbatch failed: " +
                              Trimmed(submitted->err.empty() ? submitted->out : submitted->err));
    }
    // --parsable prints "jobid" or "jobid;cluster".
    std::string id = Trimmed(submitted->out);
    id = id.substr(0, id.find(';'));
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      return Fail(launch, "sbatch printed no job id: '" + Trimmed(submitted->out) + "'");
    }
    job.job_id = id;
    TaskEvent event{TaskEvent::Kind::kSubmitted, launch.id, std::nullopt, {}};
    event.external_id = "slurm:" + id;
    Notify(std::move(event));
    jobs_.push_back(std::move(job));
  }

  void CancelJobs() {
    std::vector<std::string> argv = {settings_.scancel};
    for (Job& job : jobs_) {
      job.cancelled = true;
      argv.push_back(job.job_id);
    }
    if (argv.size() > 1) (void)exec::RunCommandOutput(argv);
  }

  // One scontrol call reads every job; the ones that ended are reported.
  void Follow() {
    auto listed = exec::RunCommandOutput({settings_.scontrol, "show", "job", "-o"});
    // The controller may be restarting: the jobs are followed again at the next poll.
    if (!listed.ok() || listed->exit_code != 0) return;
    const auto states = ParseJobLines(listed->out);
    std::optional<std::map<std::string, JobInfo>> purged;  // read once, when needed
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job& job = *it;
      auto found = states.find(job.job_id);
      std::optional<JobInfo> info;
      if (found != states.end()) {
        info = found->second;
      } else {
        if (!purged) purged = ReadJobcomp();
        if (auto ended = purged->find(job.job_id); ended != purged->end()) info = ended->second;
      }
      if (info && !IsFinalState(info->state)) {
        if (IsRunningState(info->state)) MarkStarted(job, info->node);
        CheckDeadline(job);
        ++it;
        continue;
      }
      End(job, info);
      it = jobs_.erase(it);
    }
  }

  std::map<std::string, JobInfo> ReadJobcomp() const {
    if (settings_.jobcomp_file.empty()) return {};
    std::ifstream in(settings_.jobcomp_file);
    std::stringstream text;
    text << in.rdbuf();
    return ParseJobLines(text.str());
  }

  void MarkStarted(Job& job, const std::string& node) {
    if (job.started) return;
    job.started = true;
    job.started_at = SteadyClock::now();
    TaskEvent event{TaskEvent::Kind::kStarted, job.launch.id, std::nullopt, {}};
    event.hostname = node;
    Notify(std::move(event));
  }

  void CheckDeadline(Job& job) {
    if (!job.started || job.timed_out || !job.launch.execution_timeout) return;
    if (SteadyClock::now() - job.started_at < *job.launch.execution_timeout) return;
    job.timed_out = true;
    (void)exec::RunCommandOutput({settings_.scancel, job.job_id});
  }

  void End(Job& job, const std::optional<JobInfo>& info) {
    MarkStarted(job, info ? info->node : std::string());
    const std::string name = "Slurm job " + job.job_id;
    const std::string result_file = TrySibling(job.launch.info.log_path, ".result.json");
    std::optional<OperatorResult> result;
    if (auto json = exec::ReadJsonFile(result_file); json.ok()) {
      auto parsed = exec::ResultFromJson(*json);
      result = parsed.ok() ? *parsed
                           : OperatorResult::Failure(result_file + ": " + parsed.error().message);
      if (result->outcome == OperatorResult::Outcome::kSuccess) {
        if (Status s =
                ApplyRegistryChanges(job.launch, (*json)["registry_changes"], result->outputs);
            !s.ok()) {
          result = OperatorResult::Failure("registering the try's model: " + s.error().message);
        }
      }
    }
    if (job.timed_out && (!result || result->outcome == OperatorResult::Outcome::kFailed)) {
      result =
          OperatorResult::Failure("timed out: execution_timeout reached, " + name + " cancelled");
    } else if (job.cancelled && (!result || result->outcome != OperatorResult::Outcome::kSuccess)) {
      result = OperatorResult::Failure("cancelled");
    } else if (!result) {
      result = OperatorResult::Failure(NoResultMessage(name, info));
    }
    Done(TaskEvent{TaskEvent::Kind::kFinished, job.launch.id, std::nullopt, std::move(*result)});
  }

  static std::string NoResultMessage(const std::string& name, const std::optional<JobInfo>& info) {
    if (!info) return name + " is gone from Slurm (purged) and left no result file";
    const std::string& state = info->state;
    if (state == "TIMEOUT") return "timed out: " + name + " reached its time limit";
    if (state == "CANCELLED") return name + " was cancelled outside conveyor";
    if (state == "OUT_OF_MEMORY") return name + " ran out of memory";
    if (state == "COMPLETED") {
      return name + " completed without a result file (is the log folder shared with the nodes?)";
    }
    if (state == "FAILED") {
      return name + " failed with exit code " + info->exit_code + " before writing its result";
    }
    return name + " ended " + state +
           (info->reason.empty() || info->reason == "None" ? std::string()
                                                           : " (" + info->reason + ")");
  }

  // Applies what a try did to the model registry, renumbering the versions it reports.
  static Status ApplyRegistryChanges(const TaskLaunch& launch, const nlohmann::json& changes,
                                     nlohmann::json& outputs) {
    if (!changes.is_array() || changes.empty()) return Status::Ok();
    if (!launch.data.open_registry) return InvalidArgument("no model registry is configured");
    auto registry = launch.data.open_registry();
    if (!registry.ok()) return registry.error();
    auto renumbered = data::ApplyRegistryChanges(**registry, changes);
    if (!renumbered.ok()) return renumbered.error();
    if (outputs.contains("model_name") && outputs.contains("model_version") &&
        outputs["model_name"].is_string() && outputs["model_version"].is_number_integer()) {
      const auto& by_model = (*renumbered)[outputs["model_name"].get<std::string>()];
      if (auto it = by_model.find(outputs["model_version"].get<int>()); it != by_model.end()) {
        outputs["model_version"] = it->second;
      }
    }
    return Status::Ok();
  }

  SlurmSettings settings_;
  const Clock& clock_;
  std::function<void(TaskEvent)> notify_;
  std::vector<Job> jobs_;  // the thread's own

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> incoming_;    // GUARDED_BY(mutex_)
  int in_flight_ = 0;           // GUARDED_BY(mutex_)
  bool stop_starting_ = false;  // GUARDED_BY(mutex_)
  bool cancel_all_ = false;     // GUARDED_BY(mutex_)
  bool quit_ = false;           // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace

std::string TrySibling(const std::string& log_path, const std::string& suffix) {
  const std::string stem = log_path.size() > 4 && log_path.ends_with(".log")
                               ? log_path.substr(0, log_path.size() - 4)
                               : log_path;
  return stem + suffix;
}

std::unique_ptr<exec::Executor> MakeSlurmExecutor(SlurmSettings settings, const Clock& clock,
                                                  std::function<void(exec::TaskEvent)> notify) {
  return std::make_unique<SlurmExecutor>(std::move(settings), clock, std::move(notify));
}

}  // namespace conveyor::slurm
