#include "engine/slurm/sbatch_flags.h"

namespace conveyor::slurm {

std::vector<std::string> SbatchFlags(const SlurmOptions& options) {
  std::vector<std::string> flags;
  if (options.partition) flags.push_back("--partition=" + *options.partition);
  if (options.cpus) flags.push_back("--cpus-per-task=" + std::to_string(*options.cpus));
  if (options.mem) flags.push_back("--mem=" + *options.mem);
  if (options.gres) flags.push_back("--gres=" + *options.gres);
  if (options.time) flags.push_back("--time=" + *options.time);
  if (options.account) flags.push_back("--account=" + *options.account);
  if (options.qos) flags.push_back("--qos=" + *options.qos);
  flags.insert(flags.end(), options.extra_args.begin(), options.extra_args.end());
  return flags;
}

}  // namespace conveyor::slurm
