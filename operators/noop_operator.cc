#include "operators/noop_operator.h"

#include <thread>

#include "engine/common/duration.h"

namespace conveyor::operators {

exec::OperatorResult NoopOperator::Execute(exec::OperatorContext& /*context*/) {
  return exec::OperatorResult::Success();
}

exec::OperatorResult SleepOperator::Execute(exec::OperatorContext& context) {
  const nlohmann::json& arg = context.args.at("duration");
  auto duration = arg.is_number_unsigned()
                      ? Result<Duration>(Duration(std::chrono::seconds(arg.get<std::uint64_t>())))
                      : ParseDuration(arg.is_string() ? arg.get<std::string>() : arg.dump());
  if (!duration.ok()) return exec::OperatorResult::Failure(duration.error().message);
  const auto until = std::chrono::steady_clock::now() + *duration;
  context.Log("sleeping for " + FormatDuration(*duration));
  while (std::chrono::steady_clock::now() < until) {
    if (context.cancelled.load()) return exec::OperatorResult::Failure("cancelled");
    if (context.deadline && std::chrono::steady_clock::now() >= *context.deadline) {
      return exec::OperatorResult::Failure("timed out");
    }
    const auto step = std::min<std::chrono::steady_clock::duration>(
        until - std::chrono::steady_clock::now(), std::chrono::milliseconds(20));
    std::this_thread::sleep_for(step);
  }
  return exec::OperatorResult::Success();
}

}  // namespace conveyor::operators
