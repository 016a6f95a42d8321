#include "engine/exec/operator.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "engine/common/private_files.h"
#include "engine/common/secret_masker.h"

namespace conveyor::exec {

void EnsureParentFolder(const std::string& path) { MakePrivateParent(path); }

int OpenForAppend(const std::string& path) { return OpenPrivate(path, O_WRONLY | O_APPEND); }

bool WriteFully(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void OperatorContext::Log(const std::string& line) const {
  const int fd = OpenForAppend(info.log_path);
  if (fd < 0) return;
  const std::string masked = MaskSecrets(line) + "\n";
  WriteFully(fd, masked.data(), masked.size());
  close(fd);
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
