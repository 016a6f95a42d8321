#include "engine/exec/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#if defined(__SANITIZE_THREAD__)
#define CONVEYOR_SPAWN_WITH_POSIX_SPAWN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONVEYOR_SPAWN_WITH_POSIX_SPAWN 1
#endif
#endif
#if CONVEYOR_SPAWN_WITH_POSIX_SPAWN
#include <spawn.h>
#endif

namespace conveyor::exec {
namespace {

#if !CONVEYOR_SPAWN_WITH_POSIX_SPAWN
constexpr size_t kChildStackBytes = 64 * 1024;

// What the child needs, prepared by the parent: the child shares the parent's memory until it
// execs, and allocates nothing.
struct ChildPlan {
  std::vector<std::string> paths;  // where to look for the program, in order
  std::vector<const char*> path_pointers;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int output_fd = -1;
  const char* cwd = nullptr;  // null: stay
  int error = 0;              // the child's errno when it could not exec
};

// The layout rt_sigaction takes on Linux (glibc's struct sigaction is another).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};

// The child runs on a stack of the parent's memory, with the parent's thread-local storage: only
// system calls here, made through syscall(2), which no sanitizer intercepts (an interceptor would
// update the sanitizer's state in the parent's memory). The errno it sets is the parent thread's,
// which waits meanwhile.
#if defined(__clang__)
#define CONVEYOR_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))
#else
#define CONVEYOR_CHILD_CODE __attribute__((no_sanitize_address, no_sanitize_undefined))
#endif

// Tells the parent why, and ends the child.
[[noreturn]] CONVEYOR_CHILD_CODE void ExitWithError(ChildPlan* plan, int error) {
  plan->error = error;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

CONVEYOR_CHILD_CODE int ChildMain(void* arg) {
  auto* plan = static_cast<ChildPlan*>(arg);
  const KernelSigaction defaults{SIG_DFL, 0, nullptr, 0};
  for (const int sig : {SIGINT, SIGTERM, SIGPIPE}) {
    syscall(SYS_rt_sigaction, sig, &defaults, nullptr, sizeof(std::uint64_t));
  }
  if (syscall(SYS_setpgid, 0, 0) != 0) ExitWithError(plan, errno);
  // stdout and stderr first: the output descriptor may itself be 0, 1 or 2 when conveyor was
  // started with those closed. A descriptor already in place only loses its close-on-exec flag.
  for (const int target : {1, 2}) {
    const long done = plan->output_fd == target ? syscall(SYS_fcntl, target, F_SETFD, 0)
                                                : syscall(SYS_dup3, plan->output_fd, target, 0);
    if (done < 0) ExitWithError(plan, errno);
  }
  const long null_fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
  if (null_fd < 0 || (null_fd != 0 && syscall(SYS_dup3, null_fd, 0, 0) < 0)) {
    ExitWithError(plan, errno);
  }
  if (null_fd > 2) syscall(SYS_close, null_fd);
  if (plan->cwd != nullptr && syscall(SYS_chdir, plan->cwd) != 0) ExitWithError(plan, errno);
  const std::uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  // As execvp: a file that cannot be executed is passed over for the next one on PATH, and its
  // EACCES reported if no other is found; any other failure ends the search.
  int error = ENOENT;
  bool denied = false;
  for (const char* path : plan->path_pointers) {
    syscall(SYS_execve, path, plan->argv, plan->envp);
    error = errno;
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
               error != ETIMEDOUT) {
      break;
    }
  }
  ExitWithError(plan, denied && (error == ENOENT || error == ENOTDIR) ? EACCES : error);
}

// posix_spawnp's search: the program itself when its name has a slash, else each directory of
// PATH in turn (an empty entry is the working directory), "/bin:/usr/bin" without PATH.
std::vector<std::string> CandidatePaths(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/bin:/usr/bin";
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

#endif

std::string StartError(const std::string& program, int error) {
  return "cannot start '" + program + "': " + std::strerror(error);
}

}  // namespace

std::vector<char*> ExecPointers(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const auto& string : strings) pointers.push_back(const_cast<char*>(string.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

#if CONVEYOR_SPAWN_WITH_POSIX_SPAWN
// ThreadSanitizer takes clone for fork and resets its own state in the child, which under
// CLONE_VM is the parent's: its builds start processes with posix_spawnp, whose clone it does not
// see, and the same attributes.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int output_fd,
                           const std::string& cwd) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("empty command");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, sig);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);
  std::vector<char*> arg_pointers = ExecPointers(argv);
  std::vector<char*> env_pointers = ExecPointers(env);
  pid_t pid = 0;
  const int error = posix_spawnp(&pid, arg_pointers[0], &actions, &attr, arg_pointers.data(),
                                 env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (error != 0) return IoError(StartError(argv[0], error));
  return pid;
}
#else
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int output_fd,
                           const std::string& cwd) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("empty command");
  std::vector<char*> arg_pointers = ExecPointers(argv);
  std::vector<char*> env_pointers = ExecPointers(env);
  ChildPlan plan;
  plan.paths = CandidatePaths(argv[0]);
  for (const auto& path : plan.paths) plan.path_pointers.push_back(path.c_str());
  plan.argv = arg_pointers.data();
  plan.envp = env_pointers.data();
  plan.output_fd = output_fd;
  plan.cwd = cwd.empty() ? nullptr : cwd.c_str();

  // With CLONE_VFORK this thread waits until the child has exec'd or exited, so one stack per
  // thread serves every spawn it makes.
  thread_local std::unique_ptr<char[]> stack;
  if (!stack) stack = std::make_unique_for_overwrite<char[]>(kChildStackBytes);
  // No signal handler may run in the child while it shares this process's memory: every signal
  // is blocked across the clone, and the child unblocks them just before exec.
  sigset_t all;
  sigset_t before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid =
      clone(ChildMain, stack.get() + kChildStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  const int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (pid < 0) return IoError(StartError(argv[0], clone_error));
  if (plan.error != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return IoError(StartError(argv[0], plan.error));
  }
  return pid;
}
#endif

}  // namespace conveyor::exec
