#include "engine/exec/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/common/secret_masker.h"
#include "engine/dag/shell_placement.h"
#include "engine/exec/operator.h"
#include "engine/exec/spawn.h"

namespace conveyor::exec {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// The try's log, created at the first byte of output: most tasks print nothing, and creating a
// file and its folders costs more than starting a small process on some file systems.
class LazyLog {
 public:
  explicit LazyLog(const std::string& path) : path_(path) {}
  ~LazyLog() {
    if (fd_ >= 0) close(fd_);
  }
  LazyLog(const LazyLog&) = delete;
  LazyLog& operator=(const LazyLog&) = delete;

  // Writes the output with every secret masked (a secret split across two reads too).
  void Write(const char* data, size_t size) {
    if (!HasSecrets()) {
      WriteRaw(data, size);
      return;
    }
    const std::string masked = masker_.Feed(std::string_view(data, size));
    if (!masked.empty()) WriteRaw(masked.data(), masked.size());
  }
  // Writes what the masker held back; at the end of the output.
  void Finish() {
    const std::string rest = masker_.Finish();
    if (!rest.empty()) WriteRaw(rest.data(), rest.size());
  }
  // Why output was lost, if it was.
  const std::string& error() const { return error_; }

 private:
  void WriteRaw(const char* data, size_t size) {
    if (fd_ < 0 && error_.empty()) Open();
    if (fd_ < 0 || WriteFully(fd_, data, size)) return;
    error_ = "cannot write log '" + path_ + "': " + strerror(errno);
    close(fd_);
    fd_ = -1;
  }

  void Open() {
    fd_ = OpenForAppend(path_);
    if (fd_ < 0) error_ = "cannot open log '" + path_ + "': " + strerror(errno);
  }

  std::string path_;
  int fd_ = -1;
  std::string error_;
  StreamMasker masker_;
};

// Copies what is in the pipe now into the log; returns false at end of file.
bool DrainPipe(int pipe_fd, LazyLog& log) {
  char buffer[65536];
  while (true) {
    const ssize_t n = read(pipe_fd, buffer, sizeof buffer);
    if (n > 0) {
      log.Write(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0;  // EAGAIN: open and empty; 0: closed by every writer
  }
}

// Closes `fd` unless it is -1 already, and sets it to -1.
void CloseFd(int& fd) {
  if (fd < 0) return;
  close(fd);
  fd = -1;
}

// DrainPipe, then closes the pipe and sets `pipe_fd` to -1 if every writer has closed it.
void DrainOrClose(int& pipe_fd, LazyLog& log) {
  if (pipe_fd >= 0 && !DrainPipe(pipe_fd, log)) CloseFd(pipe_fd);
}

// Copies the process's output into its log until it exits or `until` passes (checking
// cancellation every 50 ms). Returns true when it exited. `pipe_fd` is non-blocking; it is
// closed and set to -1 once every writer has closed it. `write_fd`, this process's own copy of the
// pipe's write end, is closed (and set to -1) once the process has exited: held until then, it
// spares the wake-up at the pipe's end of file that would come just before the one at the exit.
bool PumpUntilExit(int pidfd, int& pipe_fd, int& write_fd, LazyLog& log,
                   std::optional<std::chrono::steady_clock::time_point> until,
                   const std::atomic<bool>* cancelled) {
  constexpr std::chrono::nanoseconds kCancelCheck = std::chrono::milliseconds(50);
  while (true) {
    // ppoll's timeout is exact: poll's whole milliseconds would round the last one down to
    // zero and spin for it.
    std::optional<std::chrono::nanoseconds> wait;
    if (until) {
      wait = std::max(std::chrono::nanoseconds(0), *until - std::chrono::steady_clock::now());
    }
    if (cancelled != nullptr && (!wait || *wait > kCancelCheck)) wait = kCancelCheck;
    timespec timeout{};
    if (wait) {
      timeout.tv_sec = static_cast<time_t>(wait->count() / 1'000'000'000);
      timeout.tv_nsec = static_cast<long>(wait->count() % 1'000'000'000);
    }
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {pipe_fd, POLLIN, 0}};
    const int ready = ppoll(fds, pipe_fd >= 0 ? 2 : 1, wait ? &timeout : nullptr, nullptr);
    if (ready < 0 && errno != EINTR) return true;
    if (ready > 0 && pipe_fd >= 0 && fds[1].revents != 0) DrainOrClose(pipe_fd, log);
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      // Exited: what it wrote is in the pipe. A process it left behind may hold the pipe open;
      // its later output is not waited for.
      CloseFd(write_fd);
      DrainOrClose(pipe_fd, log);
      return true;
    }
    if (cancelled != nullptr && cancelled->load()) return false;
    if (until && std::chrono::steady_clock::now() >= *until) return false;
  }
}

class PosixStartedProcess : public StartedProcess {
 public:
  PosixStartedProcess(pid_t pid, int pipe_fd, int write_fd,
                      std::chrono::system_clock::time_point spawned_at, const ProcessSpec& spec)
      : pid_(pid),
        pipe_fd_(pipe_fd),
        write_fd_(write_fd),
        spawned_at_(spawned_at),
        log_(spec.log_path),
        deadline_(spec.deadline),
        cancelled_(spec.cancelled),
        kill_grace_(spec.kill_grace) {}
  ~PosixStartedProcess() override {
    if (waited_) return;
    kill(-pid_, SIGKILL);
    CloseFd(pipe_fd_);
    CloseFd(write_fd_);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  PosixStartedProcess(const PosixStartedProcess&) = delete;
  PosixStartedProcess& operator=(const PosixStartedProcess&) = delete;

  Result<ProcessResult> Wait(const ProcessStarted& on_start) override {
    waited_ = true;
    ProcessResult result;
    result.pid = pid_;
    on_start(pid_, spawned_at_);
    const int pidfd = PidfdOpen(pid_);
    bool exited = true;
    if (pidfd < 0) {  // no pidfd (Linux < 5.3): read until every writer is gone, then reap
      CloseFd(write_fd_);
      fcntl(pipe_fd_, F_SETFL, 0);
      DrainPipe(pipe_fd_, log_);
    } else {
      exited = PumpUntilExit(pidfd, pipe_fd_, write_fd_, log_, deadline_, cancelled_);
    }
    if (!exited) {
      result.cancelled = cancelled_ != nullptr && cancelled_->load();
      result.timed_out = !result.cancelled;
      kill(-pid_, SIGTERM);
      if (!PumpUntilExit(pidfd, pipe_fd_, write_fd_, log_,
                         std::chrono::steady_clock::now() + kill_grace_, nullptr)) {
        kill(-pid_, SIGKILL);
      }
    }
    if (pidfd >= 0) close(pidfd);
    CloseFd(write_fd_);
    CloseFd(pipe_fd_);
    log_.Finish();
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    // Stragglers left in the group. A cancelled try leaves none, even when its command ended
    // first (as when Slurm signals the shell itself and the shell's children outlive it).
    if (!exited || (cancelled_ != nullptr && cancelled_->load())) kill(-pid_, SIGKILL);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    if (!log_.error().empty()) return IoError(log_.error());
    return result;
  }

 private:
  const pid_t pid_;
  int pipe_fd_;   // non-blocking; -1 once closed
  int write_fd_;  // the pipe's write end, held until the process exits; -1 once closed
  const std::chrono::system_clock::time_point spawned_at_;
  LazyLog log_;
  const std::optional<std::chrono::steady_clock::time_point> deadline_;
  const std::atomic<bool>* const cancelled_;
  const std::chrono::milliseconds kill_grace_;
  bool waited_ = false;
};

class PosixProcessRunner : public ProcessRunner {
 public:
  Result<std::unique_ptr<StartedProcess>> Start(const ProcessSpec& spec) override {
    if (spec.argv.empty()) return InvalidArgument("empty command");
    // stdout and stderr share one pipe, read by the waiting thread into the log.
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return IoError(std::string("cannot make a pipe for the task's output: ") + strerror(errno));
    }
    // The try starts here. The spawn returns once the child has exec'd, and with vfork the
    // parent often runs again only after a short command has ended: read then, the start would
    // fall after the process's end.
    const auto spawned_at = std::chrono::system_clock::now();
    auto pid = SpawnProcess(spec.argv, spec.env, pipe_fds[1], spec.cwd);
    if (!pid.ok()) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
      return pid.error();
    }
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    return std::unique_ptr<StartedProcess>(
        std::make_unique<PosixStartedProcess>(*pid, pipe_fds[0], pipe_fds[1], spawned_at, spec));
  }
};

}  // namespace

Result<ProcessResult> ProcessRunner::Run(const ProcessSpec& spec, const ProcessStarted& on_start) {
  auto process = Start(spec);
  if (!process.ok()) return process.error();
  return (*process)->Wait(on_start);
}

ProcessRunner& SystemProcessRunner() {
  static PosixProcessRunner runner;
  return runner;
}

std::vector<std::string> CommandArgv(const std::string& command) {
  if (dag::HasShellSyntax(command)) return {"/bin/sh", "-c", command};
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
