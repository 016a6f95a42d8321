#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace conveyor {

// A 1-based position in a user's input file. line == 0 means "the whole file".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:column", "file:line" or "file", as much as is known.
  std::string ToString() const;

  bool operator==(const Location&) const = default;
};

enum class ErrorCode {
  kInvalidArgument,  // bad user input: YAML, cron, flags, JSON bodies
  kNotFound,
  kAlreadyExists,
  kIo,
  kInternal,
};

// An error value: what went wrong, where (when it comes from user input), and its kind.
struct Error {
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;
  std::optional<Location> location;

  // "file:line:column: message" when located, otherwise the message alone.
  std::string ToString() const;
  // Returns a copy whose message is "prefix: message".
  Error Prefixed(const std::string& prefix) const;
};

Error InvalidArgument(std::string message, std::optional<Location> location = std::nullopt);
Error NotFound(std::string message);
Error IoError(std::string message);

// Either a T or an Error. Construct from either; test with ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : value_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<Error>(value_); }

 private:
  std::variant<T, Error> value_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }
  std::string ToString() const { return ok() ? "OK" : error_->ToString(); }

 private:
  std::optional<Error> error_;
};

// All the problems found in one input, in the order they were found.
using Diagnostics = std::vector<Error>;

}  // namespace conveyor
