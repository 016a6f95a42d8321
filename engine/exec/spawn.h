#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::exec {

// Starts `argv` with the environment `env` ("NAME=value" each) and returns its pid once it has
// exec'd. argv[0] is looked up in this process's PATH when it has no slash, as posix_spawnp and
// execvp do. The process reads /dev/null, writes stdout and stderr to `output_fd`, starts in `cwd`
// (unless empty), leads a process group of its own, and has SIGINT, SIGTERM and SIGPIPE at their
// defaults and no signal blocked.
//
// It does what posix_spawnp does with those attributes, at a fraction of the cost on the path from
// one task's end to the next one's start: glibc's child queries and resets every one of the 64
// signals before exec, about 120 system calls, where this child resets the three a task must not
// inherit. The others need no reset: the child keeps every signal blocked until just before exec,
// and exec itself sets every caught signal back to its default.
// `strings` as exec takes argv and envp: a pointer to each, then a null. The pointers are valid
// while `strings` is neither changed nor destroyed.
std::vector<char*> ExecPointers(const std::vector<std::string>& strings);

Result<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int output_fd,
                           const std::string& cwd);

}  // namespace conveyor::exec
