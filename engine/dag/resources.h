#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::dag {

// What one try of a task holds while it runs (`resources:` in a DAG file), or what a machine
// offers (`resources:` in the config). CPUs are counted in thousandths so that `cpus: 0.5` is
// exact and ordering is total.
struct Resources {
  std::int64_t millicpus = 0;
  std::uint64_t memory_bytes = 0;
  int gpus = 0;

  bool empty() const { return millicpus == 0 && memory_bytes == 0 && gpus == 0; }
  // Each amount at most `capacity`'s.
  bool FitsIn(const Resources& capacity) const {
    return millicpus <= capacity.millicpus && memory_bytes <= capacity.memory_bytes &&
           gpus <= capacity.gpus;
  }
  auto operator<=>(const Resources&) const = default;
};

// What a machine offers the tries of the local executor: amounts, and the GPUs by the ids that
// CUDA_VISIBLE_DEVICES names (capacity.gpus is their count).
struct MachineResources {
  Resources capacity;
  std::vector<std::string> gpu_ids;
};

// Reads "4GiB", "512MiB", "2G" (as Slurm and Kubernetes: G is GiB here, GB is 10^9), "1.5GiB",
// or a bare count of bytes. Units: B, K/KiB/KB, M/MiB/MB, G/GiB/GB, T/TiB/TB.
Result<std::uint64_t> ParseMemory(std::string_view text);
// Bytes as the largest binary unit that divides them ("4GiB", "1536MiB", "100B"), or else to a
// tenth of the largest unit they reach ("23.4GiB").
std::string FormatMemory(std::uint64_t bytes);
// Reads "2", "0.5", "1.25" (at most three decimals) as thousandths of a CPU.
Result<std::int64_t> ParseCpus(std::string_view text);
// Thousandths of a CPU as the shortest decimal: "2", "0.5".
std::string FormatCpus(std::int64_t millicpus);

// "2 CPUs, 4GiB, 1 GPU": the non-zero amounts, for messages.
std::string Describe(const Resources& resources);

}  // namespace conveyor::dag
