#include "engine/dag/slurm_options.h"

#include <regex>

namespace conveyor {

std::optional<ExecutorKind> ParseExecutorKind(const std::string& text) {
  if (text == "local") return ExecutorKind::kLocal;
  if (text == "slurm") return ExecutorKind::kSlurm;
  return std::nullopt;
}

const char* ExecutorName(ExecutorKind kind) {
  switch (kind) {
    case ExecutorKind::kLocal:
      return "local";
    case ExecutorKind::kSlurm:
      return "slurm";
    case ExecutorKind::kDefault:
      break;
  }
  return "default";
}

SlurmOptions WithResources(SlurmOptions options, const dag::Resources& resources) {
  if (!options.cpus && resources.millicpus > 0) {
    options.cpus = static_cast<int>((resources.millicpus + 999) / 1000);
  }
  constexpr std::uint64_t kMiB = 1024 * 1024;
  if (!options.mem && resources.memory_bytes > 0) {
    options.mem = std::to_string((resources.memory_bytes + kMiB - 1) / kMiB) + "M";
  }
  if (!options.gres && resources.gpus > 0) options.gres = "gpu:" + std::to_string(resources.gpus);
  return options;
}

void SlurmOptions::MergeFrom(const SlurmOptions& over) {
  if (over.partition) partition = over.partition;
  if (over.cpus) cpus = over.cpus;
  if (over.mem) mem = over.mem;
  if (over.gres) gres = over.gres;
  if (over.time) time = over.time;
  if (over.account) account = over.account;
  if (over.qos) qos = over.qos;
  extra_args.insert(extra_args.end(), over.extra_args.begin(), over.extra_args.end());
}

const std::vector<std::string>& SlurmOptionKeys() {
  static const std::vector<std::string> kKeys = {"partition", "cpus",    "mem", "gres",
                                                 "time",      "account", "qos", "extra_args"};
  return kKeys;
}

std::optional<std::string> SetSlurmOption(SlurmOptions& options, const std::string& key,
                                          const std::string& text) {
  // Names Slurm accepts for partitions, accounts and QOS: no blanks, commas are lists.
  static const std::regex kName(R"([A-Za-z0-9_.,:+-]+)");
  static const std::regex kMem(R"([0-9]+[KMGT]?)");
  static const std::regex kGres(R"([A-Za-z0-9_.:,/-]+)");
  // minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED
  static const std::regex kTime(
      R"(UNLIMITED|[0-9]+|[0-9]+:[0-9]{1,2}|[0-9]+:[0-9]{1,2}:[0-9]{1,2}|[0-9]+-[0-9]+(:[0-9]{1,2}){0,2})");
  const auto named = [&](std::optional<std::string>& field, const std::regex& pattern,
                         const std::string& expected) -> std::optional<std::string> {
    if (!std::regex_match(text, pattern)) {
      return "slurm '" + key + "' must be " + expected + ", got '" + text + "'";
    }
    field = text;
    return std::nullopt;
  };
  if (key == "partition") return named(options.partition, kName, "a partition name");
  if (key == "account") return named(options.account, kName, "an account name");
  if (key == "qos") return named(options.qos, kName, "a QOS name");
  if (key == "mem") return named(options.mem, kMem, "a size such as 512M or 4G");
  if (key == "gres") return named(options.gres, kGres, "a resource such as gpu:1");
  if (key == "time") {
    return named(options.time, kTime, "a Slurm time limit such as 30, 1:00:00 or 2-00:00:00");
  }
  if (key == "cpus") {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != text.npos ||
        std::stoi(text) < 1) {
      return "slurm 'cpus' must be a positive integer, got '" + text + "'";
    }
    options.cpus = std::stoi(text);
    return std::nullopt;
  }
  return "unknown slurm option '" + key + "'";
}

std::optional<std::string> SetSlurmExtraArgs(SlurmOptions& options,
                                             const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    if (arg.rfind("-", 0) != 0) {
      return "slurm 'extra_args' must be sbatch options starting with '-', got '" + arg + "'";
    }
  }
  options.extra_args.insert(options.extra_args.end(), args.begin(), args.end());
  return std::nullopt;
}

}  // namespace conveyor
