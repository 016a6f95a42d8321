#include "engine/exec/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace conveyor::exec {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Waits until the process exits or `until` passes (checking cancellation every 50 ms). Returns
// true when it exited.
bool WaitFor(int pidfd, std::optional<std::chrono::steady_clock::time_point> until,
             const std::atomic<bool>* cancelled) {
  while (true) {
    int timeout_ms = -1;
    if (until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *until - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    if (cancelled != nullptr && (timeout_ms < 0 || timeout_ms > 50)) timeout_ms = 50;
    pollfd fd{pidfd, POLLIN, 0};
    const int ready = poll(&fd, 1, timeout_ms);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return true;
    if (cancelled != nullptr && cancelled->load()) return false;
    if (until && std::chrono::steady_clock::now() >= *until) return false;
  }
}

class PosixProcessRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessSpec& spec,
                            const std::function<void(int pid)>& on_start) override {
    if (spec.argv.empty()) return InvalidArgument("empty command");
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    int log_fd = open(spec.log_path.c_str(), flags, 0644);
    if (log_fd < 0 && errno == ENOENT) {  // the first write into this try's folder
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(spec.log_path).parent_path(), ec);
      log_fd = open(spec.log_path.c_str(), flags, 0644);
    }
    if (log_fd < 0) return IoError("cannot open log '" + spec.log_path + "': " + strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);  // its own process group, so a kill reaches it all
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);
    std::vector<char*> argv;
    for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& var : spec.env) envp.push_back(const_cast<char*>(var.c_str()));
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(log_fd);
    if (rc != 0) {
      return Error{ErrorCode::kIo, "cannot start '" + spec.argv[0] + "': " + strerror(rc), {}};
    }
    on_start(pid);
    return Wait(pid, spec);
  }

 private:
  static Result<ProcessResult> Wait(pid_t pid, const ProcessSpec& spec) {
    ProcessResult result;
    result.pid = pid;
    const int pidfd = PidfdOpen(pid);
    bool exited = pidfd < 0 || WaitFor(pidfd, spec.deadline, spec.cancelled);
    if (!exited) {
      result.cancelled = spec.cancelled != nullptr && spec.cancelled->load();
      result.timed_out = !result.cancelled;
      kill(-pid, SIGTERM);
      if (!WaitFor(pidfd, std::chrono::steady_clock::now() + spec.kill_grace, nullptr)) {
        kill(-pid, SIGKILL);
      }
    }
    if (pidfd >= 0) close(pidfd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!exited) kill(-pid, SIGKILL);  // stragglers left in the group
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    return result;
  }
};

}  // namespace

ProcessRunner& SystemProcessRunner() {
  static PosixProcessRunner runner;
  return runner;
}

bool NeedsShell(const std::string& command) {
  return command.find_first_of("|&;<>()$`\\\"'*?[]#~=%{}\n!") != std::string::npos;
}

std::vector<std::string> CommandArgv(const std::string& command) {
  if (NeedsShell(command)) return {"/bin/sh", "-c", command};
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < command.size()) {
    while (i < command.size() && (command[i] == ' ' || command[i] == '\t')) ++i;
    const size_t start = i;
    while (i < command.size() && command[i] != ' ' && command[i] != '\t') ++i;
    if (i > start) argv.push_back(command.substr(start, i - start));
  }
  return argv;
}

}  // namespace conveyor::exec
