// SpawnProcess against what posix_spawnp with conveyor's attributes gives a task: the program
// found on PATH as execvp finds it, the output descriptor as stdout and stderr, /dev/null as
// stdin, a process group of its own, default signal dispositions and an empty signal mask.
#include "engine/exec/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace conveyor::exec {
namespace {

struct Finished {
  int exit_code = -1;
  std::string output;
};

// Reads `fd` until end of file, then closes it.
std::string ReadToEnd(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  close(fd);
  return out;
}

// Spawns with a fresh pipe as the output, reads it to its end and reaps the process.
Finished SpawnAndWait(const std::vector<std::string>& argv, const std::string& cwd = "",
                      std::vector<std::string> env = {"PATH=/usr/bin:/bin"}) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  auto pid = SpawnProcess(argv, env, fds[1], cwd);
  close(fds[1]);
  Finished finished;
  if (!pid.ok()) {
    close(fds[0]);
    ADD_FAILURE() << pid.error().message;
    return finished;
  }
  finished.output = ReadToEnd(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);
  if (WIFEXITED(status)) finished.exit_code = WEXITSTATUS(status);
  return finished;
}

// The error of a spawn that must fail (empty when it started a process, which is then reaped).
std::string SpawnError(const std::vector<std::string>& argv, const std::string& cwd = "") {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  auto pid = SpawnProcess(argv, {}, fds[1], cwd);
  close(fds[0]);
  close(fds[1]);
  if (pid.ok()) {
    waitpid(*pid, nullptr, 0);
    return "";
  }
  return pid.error().message;
}

// Sets PATH for the test's duration (the search uses this process's PATH, as posix_spawnp).
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) : saved_(std::getenv("PATH")) {
    setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() { setenv("PATH", saved_.c_str(), 1); }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;

 private:
  std::string saved_;
};

void WriteScript(const std::string& path, const std::string& text, mode_t mode) {
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(text.c_str(), file);
  std::fclose(file);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

TEST(SpawnTest, StdoutAndStderrGoToTheOutputAndStdinIsEmpty) {
  const Finished done = SpawnAndWait(
      {"/bin/sh", "-c", "echo out; echo err >&2; cat; echo \"[$X]\"; exit 3"}, "", {"X=from-env"});
  EXPECT_EQ(done.exit_code, 3);
  EXPECT_EQ(done.output, "out\nerr\n[from-env]\n");
}

TEST(SpawnTest, AProgramWithoutASlashIsFoundOnThisProcesssPath) {
  testing::TempDir dir;
  WriteScript(dir.path() + "/conveyor-spawn-probe", "#!/bin/sh\necho found \"$1\"\n", 0755);
  ScopedPath path("/nonexistent:" + dir.path() + ":/bin");
  EXPECT_EQ(SpawnAndWait({"conveyor-spawn-probe", "it"}).output, "found it\n");
}

TEST(SpawnTest, AFileThatCannotBeExecutedIsPassedOverAndReportedWhenNothingElseIsFound) {
  testing::TempDir first;
  testing::TempDir second;
  WriteScript(first.path() + "/conveyor-spawn-probe", "#!/bin/sh\necho first\n", 0644);
  WriteScript(second.path() + "/conveyor-spawn-probe", "#!/bin/sh\necho second\n", 0755);
  {
    ScopedPath path(first.path() + ":" + second.path());
    EXPECT_EQ(SpawnAndWait({"conveyor-spawn-probe"}).output, "second\n");
  }
  ScopedPath path(first.path());
  EXPECT_EQ(SpawnError({"conveyor-spawn-probe"}),
            "cannot start 'conveyor-spawn-probe': Permission denied");
}

TEST(SpawnTest, AMissingProgramIsAnErrorAndLeavesNoChild) {
  EXPECT_EQ(SpawnError({"/nonexistent/program", "x"}),
            "cannot start '/nonexistent/program': No such file or directory");
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SpawnTest, AMissingWorkingDirectoryIsAnError) {
  EXPECT_EQ(SpawnError({"/bin/true"}, "/nonexistent/folder"),
            "cannot start '/bin/true': No such file or directory");
}

TEST(SpawnTest, RunsInTheWorkingDirectoryGiven) {
  testing::TempDir dir;
  char real[PATH_MAX];
  ASSERT_NE(realpath(dir.path().c_str(), real), nullptr);
  EXPECT_EQ(SpawnAndWait({"/bin/pwd", "-P"}, dir.path()).output, std::string(real) + "\n");
}

TEST(SpawnTest, LeadsAProcessGroupOfItsOwn) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  auto pid = SpawnProcess({"/bin/sleep", "30"}, {}, fds[1], "");
  close(fds[1]);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(getpgid(*pid), *pid);
  EXPECT_NE(getpgid(*pid), getpgrp());
  kill(-*pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  close(fds[0]);
}

// /proc/self/status of the child, read by grep itself: its mask and ignored signals are the ones
// the task began with.
std::string SignalLines() {
  return SpawnAndWait({"/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}).output;
}

TEST(SpawnTest, TheTaskStartsWithNoSignalBlockedOrIgnored) {
  // What a parent may have: SIGPIPE ignored (a server), SIGTERM and SIGINT blocked (serve's
  // signal thread) and a handler for SIGINT (the try runner).
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old_pipe), 0);
  struct sigaction handler {};
  handler.sa_handler = [](int) {};
  struct sigaction old_int {};
  ASSERT_EQ(sigaction(SIGINT, &handler, &old_int), 0);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &blocked, &old_mask), 0);

  const std::string lines = SignalLines();

  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  // Whatever conveyor's own parent ignored (nohup's SIGHUP) may stay ignored, as with
  // posix_spawn; the three a task must not inherit may not.
  const std::string blk = "SigBlk:\t";
  const std::string ign = "\nSigIgn:\t";
  ASSERT_EQ(lines.rfind(blk, 0), 0u) << lines;
  const size_t at = lines.find(ign);
  ASSERT_NE(at, std::string::npos) << lines;
  EXPECT_EQ(lines.substr(blk.size(), at - blk.size()), "0000000000000000");
  const unsigned long long ignored = std::stoull(lines.substr(at + ign.size()), nullptr, 16);
  for (const int sig : {SIGINT, SIGTERM, SIGPIPE}) {
    EXPECT_EQ(ignored & (1ULL << (sig - 1)), 0u) << "signal " << sig << " ignored: " << lines;
  }
  // This thread's mask is as it was.
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  EXPECT_EQ(sigismember(&now, SIGTERM), sigismember(&old_mask, SIGTERM));
}

TEST(SpawnTest, AnOutputDescriptorThatIsAlreadyStdoutIsKept) {
  // As when conveyor itself was started with stdout closed and the pipe took descriptor 1.
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::fflush(stdout);
  const int saved = dup(1);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(dup3(fds[1], 1, O_CLOEXEC), 1);
  close(fds[1]);
  auto pid = SpawnProcess({"/bin/sh", "-c", "echo out; echo err >&2"}, {}, 1, "");
  dup2(saved, 1);
  close(saved);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(ReadToEnd(fds[0]), "out\nerr\n");
  EXPECT_EQ(waitpid(*pid, nullptr, 0), *pid);
}

}  // namespace
}  // namespace conveyor::exec
