#include "engine/exec/machine_resources.h"

#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <string>

namespace conveyor::exec {
namespace {

std::int64_t CpusOfThisProcess() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? online : 1;
}

std::uint64_t MemoryOfThisMachine() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  std::uint64_t bytes = pages > 0 && page_size > 0 ? static_cast<std::uint64_t>(pages) *
                                                         static_cast<std::uint64_t>(page_size)
                                                   : 0;
  // cgroup v2: "max" or a byte count.
  std::ifstream limit("/sys/fs/cgroup/memory.max");
  std::string text;
  if (limit >> text && text != "max") {
    std::uint64_t cgroup = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cgroup);
    if (error == std::errc() && end == text.data() + text.size() && cgroup > 0 &&
        (bytes == 0 || cgroup < bytes)) {
      bytes = cgroup;
    }
  }
  return bytes;
}

}  // namespace

dag::MachineResources DetectMachineResources() {
  dag::MachineResources machine;
  machine.capacity.millicpus = CpusOfThisProcess() * 1000;
  machine.capacity.memory_bytes = MemoryOfThisMachine();
  return machine;
}

}  // namespace conveyor::exec
