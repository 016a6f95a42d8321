#include "engine/common/error.h"

namespace conveyor {

std::string Location::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

std::string Error::ToString() const {
  if (!location) return message;
  return location->ToString() + ": " + message;
}

Error Error::Prefixed(const std::string& prefix) const {
  Error copy = *this;
  copy.message = prefix + ": " + message;
  return copy;
}

Error InvalidArgument(std::string message, std::optional<Location> location) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(location)};
}

Error NotFound(std::string message) {
  return Error{ErrorCode::kNotFound, std::move(message), std::nullopt};
}

Error IoError(std::string message) {
  return Error{ErrorCode::kIo, std::move(message), std::nullopt};
}

}  // namespace conveyor
