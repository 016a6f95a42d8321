#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::operators {

// A CSV file mapped into memory (read-only, no copy) and split into records as RFC 4180 says:
// fields separated by `delimiter`, records by LF or CRLF, fields in double quotes may hold
// delimiters, newlines and doubled quotes. Empty fields are empty (the caller decides they are
// NULL).
class CsvReader {
 public:
  static Result<CsvReader> Open(const std::string& path, char delimiter);

  // One record: its fields (unquoted), where it starts, and where each field starts.
  struct Record {
    std::vector<std::string_view> fields;
    std::vector<int> columns;  // 1-based character column of each field in its line
    int line = 0;              // 1-based line where the record starts
  };
  // The next record into `record`; false at the end. An unterminated quote is an error located
  // at its opening quote.
  Result<bool> Next(Record& record);
  // Back to the first record (the header).
  void Rewind();
  const std::string& path() const { return path_; }

 private:
  CsvReader(std::string path, std::shared_ptr<const void> mapping, std::string_view text,
            char delimiter)
      : path_(std::move(path)), mapping_(std::move(mapping)), text_(text), delimiter_(delimiter) {}

  std::string path_;
  std::shared_ptr<const void> mapping_;  // unmaps the file when the last copy goes
  std::string_view text_;
  char delimiter_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  std::vector<std::string> unquoted_;  // fields that held doubled quotes, rewritten
};

}  // namespace conveyor::operators
