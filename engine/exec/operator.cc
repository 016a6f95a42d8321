#include "engine/exec/operator.h"

#include <fstream>

namespace conveyor::exec {

void OperatorContext::Log(const std::string& line) const {
  std::ofstream(info.log_path, std::ios::app) << line << "\n";
}

OperatorResult OperatorResult::Success(nlohmann::json outputs) {
  return {Outcome::kSuccess, "", std::move(outputs)};
}

OperatorResult OperatorResult::Failure(std::string message) {
  return {Outcome::kFailed, std::move(message), nlohmann::json::object()};
}

OperatorResult OperatorResult::Skipped(std::string message) {
  return {Outcome::kSkipped, std::move(message), nlohmann::json::object()};
}

}  // namespace conveyor::exec
