#include "engine/exec/operator.h"

#include <filesystem>
#include <fstream>

namespace conveyor::exec {

void EnsureParentFolder(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
}

void OperatorContext::Log(const std::string& line) const {
  EnsureParentFolder(info.log_path);
  std::ofstream(info.log_path, std::ios::app) << line << "\n";
}

Result<std::unique_ptr<DataStore>> OperatorContext::OpenData() const {
  if (!data.open_data) return InvalidArgument("no data database is configured");
  return data.open_data(LockWait{&cancelled, deadline});
}

OperatorResult ProcessOperator::Execute(OperatorContext& context) {
  auto process = Start(context);
  if (!process.ok()) return OperatorResult::Failure(process.error().message);
  return Finish(context, (*process)->Wait(context.process_started));
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

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kReal:
      return "real";
    case ColumnType::kTimestamp:
      return "timestamp";
    case ColumnType::kText:
      break;
  }
  return "text";
}

}  // namespace conveyor::exec
