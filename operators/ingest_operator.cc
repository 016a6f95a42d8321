#include "operators/ingest_operator.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "engine/common/suggest.h"
#include "engine/common/time_format.h"
#include "operators/batch_pipeline.h"
#include "operators/csv_reader.h"
#include "operators/ml_arg.h"

namespace conveyor::operators {
namespace {

using exec::Cell;
using exec::ColumnType;

bool LooksNumeric(std::string_view v) {
  return !v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-' ||
                        v[0] == '+' || v[0] == '.');
}

std::optional<std::int64_t> ParseInteger(std::string_view v) {
  if (!LooksNumeric(v)) return std::nullopt;
  if (v[0] == '+') v.remove_prefix(1);
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return out;
}

std::optional<double> ParseReal(std::string_view v) {
  if (!LooksNumeric(v)) return std::nullopt;
  if (v[0] == '+') v.remove_prefix(1);
  double out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return out;
}

bool IsTimestamp(std::string_view v) {
  return v.size() >= 10 && std::isdigit(static_cast<unsigned char>(v[0])) && v[4] == '-' &&
         ParseDateTime(v).ok();
}

std::optional<ColumnType> TypeNamed(const std::string& name) {
  if (name == "integer" || name == "int") return ColumnType::kInteger;
  if (name == "real" || name == "float" || name == "double") return ColumnType::kReal;
  if (name == "text" || name == "string") return ColumnType::kText;
  if (name == "timestamp" || name == "datetime" || name == "date") return ColumnType::kTimestamp;
  return std::nullopt;
}

// The shape of a plain decimal number: [+-]digits[.digits][e[+-]digits], at most 18 integer
// digits and a 2-digit exponent, so that from_chars surely accepts it. Anything else (inf, nan,
// long numbers) is left to the full parsers.
enum class Shape { kInteger, kReal, kOther };
Shape NumberShape(std::string_view v) {
  size_t i = 0;
  const size_t n = v.size();
  if (i < n && (v[i] == '+' || v[i] == '-')) ++i;
  const size_t int_start = i;
  while (i < n && v[i] >= '0' && v[i] <= '9') ++i;
  const size_t int_digits = i - int_start;
  if (i == n) return int_digits > 0 && int_digits <= 18 ? Shape::kInteger : Shape::kOther;
  size_t frac_digits = 0;
  if (v[i] == '.') {
    ++i;
    const size_t frac_start = i;
    while (i < n && v[i] >= '0' && v[i] <= '9') ++i;
    frac_digits = i - frac_start;
  }
  if (int_digits + frac_digits == 0 || int_digits > 18) return Shape::kOther;
  if (i < n && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < n && (v[i] == '+' || v[i] == '-')) ++i;
    const size_t exp_start = i;
    while (i < n && v[i] >= '0' && v[i] <= '9') ++i;
    if (i - exp_start == 0 || i - exp_start > 2) return Shape::kOther;
  }
  return i == n ? Shape::kReal : Shape::kOther;
}

// What a column's values allow so far, for inference.
struct Inference {
  bool any = false;
  bool integer = true;
  bool real = true;
  bool timestamp = true;
  void See(std::string_view v) {
    any = true;
    if (real) {
      const Shape shape = NumberShape(v);
      if (shape == Shape::kInteger) {
        timestamp = false;
        return;
      }
      if (shape == Shape::kReal) {
        integer = timestamp = false;
        return;
      }
    }
    if (integer) integer = ParseInteger(v).has_value();
    if (real) real = integer || ParseReal(v).has_value();
    if (timestamp) timestamp = IsTimestamp(v);
  }
  ColumnType Type() const {
    if (!any) return ColumnType::kText;
    if (integer) return ColumnType::kInteger;
    if (real) return ColumnType::kReal;
    if (timestamp) return ColumnType::kTimestamp;
    return ColumnType::kText;
  }
};

class Ingest {
 public:
  Ingest(exec::OperatorContext& context) : context_(context), args_(context.args) {}

  Result<nlohmann::json> Run() {
    std::filesystem::path source = args_.at("source").get<std::string>();
    if (source.is_relative()) source = std::filesystem::path(context_.info.work_dir) / source;
    const std::string table = args_.at("table").get<std::string>();
    const std::string delimiter = args_.value("delimiter", std::string(","));
    if (delimiter.size() != 1) {
      return InvalidArgument("delimiter must be one character, got '" + delimiter + "'");
    }
    const bool replace = args_.value("mode", std::string("replace")) == "replace";
    auto reader = CsvReader::Open(source.lexically_normal().string(), delimiter[0]);
    if (!reader.ok()) return reader.error();
    CsvReader& csv = *reader;
    if (Status s = ReadHeader(csv); !s.ok()) return s.error();
    const auto started = std::chrono::steady_clock::now();
    auto types = ColumnTypes(csv);
    const auto typed = std::chrono::steady_clock::now();
    if (!types.ok()) return types.error();
    auto data = context_.OpenData();
    if (!data.ok()) return data.error();
    std::vector<exec::Column> columns;
    for (size_t i = 0; i < header_.size(); ++i) columns.push_back({header_[i], (*types)[i]});
    auto writer = (*data)->WriteTable(table, columns, replace);
    if (!writer.ok()) return writer.error();
    auto rows = WriteRows(csv, *types, **writer);
    const auto written = std::chrono::steady_clock::now();
    if (!rows.ok()) return rows.error();
    const std::int64_t min_rows = args_.value("min_rows", std::int64_t{0});
    if (*rows < min_rows) {
      return InvalidArgument(csv.path() + ": " + std::to_string(*rows) +
                             " rows, fewer than min_rows " + std::to_string(min_rows));
    }
    if (Status s = (*writer)->Commit(); !s.ok()) return s.error();
    const auto committed = std::chrono::steady_clock::now();
    const auto seconds = [](auto from, auto to) {
      char text[32];
      std::snprintf(text, sizeof text, "%.2f s", std::chrono::duration<double>(to - from).count());
      return std::string(text);
    };
    context_.Log("types read in " + seconds(started, typed) + ", rows parsed and written in " +
                 seconds(typed, written) + ", committed in " + seconds(written, committed));
    std::string described;
    for (const auto& c : columns) {
      described += (described.empty() ? "" : ", ") + c.name + " " +
                   std::string(exec::ColumnTypeName(c.type));
    }
    context_.Log("ingested " + std::to_string(*rows) + " rows from " + csv.path() + " into " +
                 table + " (" + described + ")");
    return nlohmann::json{{"rows", *rows}, {"table", table}};
  }

 private:
  Status ReadHeader(CsvReader& csv) {
    CsvReader::Record record;
    auto got = csv.Next(record);
    if (!got.ok()) return got.error();
    if (!*got) return InvalidArgument(csv.path() + ": the file is empty (a header row is needed)");
    for (size_t i = 0; i < record.fields.size(); ++i) {
      std::string name(record.fields[i]);
      if (name.empty()) {
        return InvalidArgument("empty column name in the header",
                               Location{csv.path(), record.line, record.columns[i]});
      }
      if (index_.count(name) != 0) {
        return InvalidArgument("column '" + name + "' appears twice in the header",
                               Location{csv.path(), record.line, record.columns[i]});
      }
      index_[name] = header_.size();
      header_.push_back(name);
    }
    for (const char* key : {"required_columns", "not_null", "unique_key"}) {
      for (const std::string& name : StringList(args_, key)) {
        if (index_.count(name) == 0) {
          return InvalidArgument(std::string(key) + " names column '" + name +
                                     "', which the header lacks" + DidYouMean(name, header_),
                                 Location{csv.path(), 1, 1});
        }
      }
    }
    for (const std::string& name : StringList(args_, "not_null")) not_null_.push_back(index_[name]);
    for (const std::string& name : StringList(args_, "unique_key")) unique_.push_back(index_[name]);
    return Status::Ok();
  }

  // Declared types, and for the rest the narrowest type every value fits (a first pass).
  Result<std::vector<ColumnType>> ColumnTypes(CsvReader& csv) {
    std::vector<std::optional<ColumnType>> declared(header_.size());
    if (args_.contains("columns")) {
      for (const auto& item : args_.at("columns").items()) {
        auto it = index_.find(item.key());
        if (it == index_.end()) {
          return InvalidArgument("columns declares '" + item.key() + "', which the header lacks" +
                                     DidYouMean(item.key(), header_),
                                 Location{csv.path(), 1, 1});
        }
        const std::string name = item.value().is_string() ? item.value().get<std::string>() : "";
        auto type = TypeNamed(name);
        if (!type) {
          return InvalidArgument("column '" + item.key() + "': unknown type '" + name +
                                 "' (integer, real, text or timestamp)");
        }
        declared[it->second] = *type;
      }
    }
    std::vector<Inference> inferred(header_.size());
    CsvReader::Record record;
    while (true) {
      auto got = csv.Next(record);
      if (!got.ok()) return got.error();
      if (!*got) break;
      if (record.fields.size() != header_.size()) {
        return InvalidArgument("this row has " + std::to_string(record.fields.size()) +
                                   " fields, the header has " + std::to_string(header_.size()),
                               Location{csv.path(), record.line, 1});
      }
      for (size_t i = 0; i < header_.size(); ++i) {
        if (!declared[i] && !record.fields[i].empty()) inferred[i].See(record.fields[i]);
      }
    }
    std::vector<ColumnType> types;
    for (size_t i = 0; i < header_.size(); ++i) {
      types.push_back(declared[i] ? *declared[i] : inferred[i].Type());
    }
    return types;
  }

  // A batch of parsed rows on its way to the table.
  struct RowBatch {
    std::vector<std::vector<Cell>> rows;
    size_t count = 0;
  };

  // Parses the rows (second pass) on this thread while another writes them to the table.
  Result<std::int64_t> WriteRows(CsvReader& csv, const std::vector<ColumnType>& types,
                                 exec::TableWriter& writer) {
    csv.Rewind();
    CsvReader::Record record;
    (void)csv.Next(record);                          // the header
    std::unordered_map<std::string, int> seen_keys;  // unique key -> line
    std::int64_t rows = 0;
    constexpr size_t kBatchRows = 2048;
    const std::function<Result<bool>(RowBatch&)> parse = [&](RowBatch& batch) -> Result<bool> {
      if (context_.cancelled.load()) return InvalidArgument("cancelled");
      batch.rows.resize(kBatchRows, std::vector<Cell>(header_.size()));
      batch.count = 0;
      while (batch.count < kBatchRows) {
        auto got = csv.Next(record);
        if (!got.ok()) return got.error();
        if (!*got) return false;
        if (Status s = ParseRow(csv, record, types, seen_keys, batch.rows[batch.count]); !s.ok()) {
          return s.error();
        }
        ++batch.count;
        ++rows;
      }
      return true;
    };
    const std::function<Status(RowBatch&)> write = [&](RowBatch& batch) -> Status {
      for (size_t i = 0; i < batch.count; ++i) {
        if (Status s = writer.Append(batch.rows[i]); !s.ok()) return s;
      }
      return Status::Ok();
    };
    if (Status s = RunPipeline(parse, write); !s.ok()) return s.error();
    return rows;
  }

  Status ParseRow(const CsvReader& csv, const CsvReader::Record& record,
                  const std::vector<ColumnType>& types,
                  std::unordered_map<std::string, int>& seen_keys, std::vector<Cell>& row) {
    if (record.fields.size() != header_.size()) {
      return InvalidArgument("this row has " + std::to_string(record.fields.size()) +
                                 " fields, the header has " + std::to_string(header_.size()),
                             Location{csv.path(), record.line, 1});
    }
    for (size_t i = 0; i < header_.size(); ++i) {
      const std::string_view v = record.fields[i];
      if (v.empty()) {
        row[i] = std::monostate{};
        continue;
      }
      const auto bad = [&](const char* type) {
        return InvalidArgument(
            "column '" + header_[i] + "' is " + type + ", got '" + std::string(v) + "'",
            Location{csv.path(), record.line, record.columns[i]});
      };
      switch (types[i]) {
        case ColumnType::kInteger:
          if (auto n = ParseInteger(v)) {
            row[i] = *n;
          } else {
            return bad("integer");
          }
          break;
        case ColumnType::kReal:
          if (auto d = ParseReal(v)) {
            row[i] = *d;
          } else {
            return bad("real");
          }
          break;
        case ColumnType::kTimestamp:
          if (!IsTimestamp(v)) return bad("timestamp");
          row[i] = std::string(v);
          break;
        case ColumnType::kText:
          row[i] = std::string(v);
          break;
      }
    }
    for (size_t c : not_null_) {
      if (record.fields[c].empty()) {
        return InvalidArgument("column '" + header_[c] + "' is empty (it is in not_null)",
                               Location{csv.path(), record.line, record.columns[c]});
      }
    }
    if (!unique_.empty()) {
      std::string key;
      for (size_t c : unique_) {
        key += record.fields[c];
        key += '\x1f';
      }
      auto [it, fresh] = seen_keys.emplace(std::move(key), record.line);
      if (!fresh) {
        return InvalidArgument(
            "duplicate unique_key, first seen on line " + std::to_string(it->second),
            Location{csv.path(), record.line, record.columns[unique_[0]]});
      }
    }
    return Status::Ok();
  }

  exec::OperatorContext& context_;
  const nlohmann::json& args_;
  std::vector<std::string> header_;
  std::map<std::string, size_t> index_;
  std::vector<size_t> not_null_;
  std::vector<size_t> unique_;
};

}  // namespace

exec::OperatorResult IngestOperator::Execute(exec::OperatorContext& context) {
  return ResultOf(context, "ingest", Ingest(context).Run());
}

}  // namespace conveyor::operators
