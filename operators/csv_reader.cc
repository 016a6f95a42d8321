#include "operators/csv_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace conveyor::operators {

Result<CsvReader> CsvReader::Open(const std::string& path, char delimiter) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read '" + path + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return IoError("cannot read '" + path + "': not a regular file");
  }
  const auto size = static_cast<size_t>(info.st_size);
  std::shared_ptr<const void> mapping;
  std::string_view text;
  if (size > 0) {
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      ::close(fd);
      return IoError("cannot map '" + path + "': " + std::strerror(errno));
    }
    ::madvise(data, size, MADV_SEQUENTIAL);
    ::madvise(data, size, MADV_WILLNEED);
    mapping = std::shared_ptr<const void>(
        data, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
    text = std::string_view(static_cast<const char*>(data), size);
  }
  ::close(fd);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return CsvReader(path, std::move(mapping), text, delimiter);
}

void CsvReader::Rewind() {
  pos_ = 0;
  line_ = 1;
  line_start_ = 0;
}

Result<bool> CsvReader::Next(Record& record) {
  record.fields.clear();
  record.columns.clear();
  unquoted_.clear();
  const size_t n = text_.size();
  // Skip blank lines between records.
  while (pos_ < n && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') {
      ++line_;
      line_start_ = pos_ + 1;
    }
    ++pos_;
  }
  if (pos_ >= n) return false;
  record.line = line_;
  unquoted_.reserve(8);
  std::vector<std::pair<size_t, size_t>> quoted_fields;  // (field index, unquoted_ index)
  while (true) {
    const int column = static_cast<int>(pos_ - line_start_) + 1;
    if (pos_ < n && text_[pos_] == '"') {
      const int quote_line = line_;
      const size_t start = ++pos_;
      bool doubled = false;
      while (true) {
        if (pos_ >= n) {
          return InvalidArgument("unterminated quoted field", Location{path_, quote_line, column});
        }
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < n && text_[pos_ + 1] == '"') {
            doubled = true;
            pos_ += 2;
            continue;
          }
          break;
        }
        if (c == '\n') {
          ++line_;
          line_start_ = pos_ + 1;
        }
        ++pos_;
      }
      std::string_view field(text_.data() + start, pos_ - start);
      ++pos_;  // the closing quote
      if (doubled) {
        std::string plain;
        for (size_t i = 0; i < field.size(); ++i) {
          plain += field[i];
          if (field[i] == '"') ++i;
        }
        quoted_fields.emplace_back(record.fields.size(), unquoted_.size());
        unquoted_.push_back(std::move(plain));
      }
      record.fields.push_back(field);
      record.columns.push_back(column);
      if (pos_ < n && text_[pos_] != delimiter_ && text_[pos_] != '\n' && text_[pos_] != '\r') {
        return InvalidArgument("unexpected text after a closing quote",
                               Location{path_, line_, static_cast<int>(pos_ - line_start_) + 1});
      }
    } else {
      // The hot loop: a local pointer (members may alias the vectors written here).
      const char* const begin = text_.data() + pos_;
      const char* const end = text_.data() + n;
      const char* p = begin;
      const char delimiter = delimiter_;
      while (p != end && *p != delimiter && *p != '\n' && *p != '\r') ++p;
      pos_ += static_cast<size_t>(p - begin);
      record.fields.emplace_back(begin, static_cast<size_t>(p - begin));
      record.columns.push_back(column);
    }
    if (pos_ < n && text_[pos_] == delimiter_) {
      ++pos_;
      continue;
    }
    // End of the record.
    if (pos_ < n && text_[pos_] == '\r') ++pos_;
    if (pos_ < n && text_[pos_] == '\n') {
      ++pos_;
      ++line_;
      line_start_ = pos_;
    }
    break;
  }
  // Fields with doubled quotes point at their rewritten copies (unquoted_ no longer grows).
  for (const auto& [field, copy] : quoted_fields) record.fields[field] = unquoted_[copy];
  return true;
}

}  // namespace conveyor::operators
