#include <algorithm>
#include <cmath>
#include <set>

#include "engine/common/suggest.h"
#include "engine/dag/yaml_reader.h"

namespace conveyor::dag {
namespace {

bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

std::optional<long long> ReadInteger(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  size_t start = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (start == text.size()) return std::nullopt;
  for (size_t i = start; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  return std::stoll(text);
}

std::optional<double> ReadFloat(const std::string& text) {
  if (text.empty() || text.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace

Location YamlReader::At(const YAML::Node& node) const {
  if (!node.IsDefined()) return Location{file_, 0, 0};  // Mark() throws on a missing node
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return Location{file_, 0, 0};
  return Location{file_, mark.line + 1, mark.column + 1};
}

YamlReader::YamlReader(std::string file, std::string_view source)
    : file_(std::move(file)), source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source_.size(); ++i) {
    if (source_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

Location YamlReader::AtOffset(const YAML::Node& scalar, int column_offset) const {
  Location location = At(scalar);
  if (location.line <= 0) return location;
  const std::string& text = scalar.Scalar();
  const size_t offset = std::min(static_cast<size_t>(column_offset), text.size());
  const size_t line_in_scalar = std::count(text.begin(), text.begin() + offset, '\n');
  const size_t mark_line = static_cast<size_t>(location.line - 1);
  // yaml-cpp's marks may not index the bytes (a file in UTF-16): check before reading there.
  const size_t indicator = mark_line < line_starts_.size()
                               ? line_starts_[mark_line] + static_cast<size_t>(location.column - 1)
                               : source_.size();
  const bool block =
      indicator < source_.size() && (source_[indicator] == '|' || source_[indicator] == '>');
  if (!block || source_.empty()) {
    location.column += column_offset + (IsQuoted(scalar) ? 1 : 0);
    return location;
  }
  // A block scalar's text starts on the line after its indicator, at the block's indentation.
  const size_t line = mark_line + 1 + line_in_scalar;
  size_t column_in_line = offset;
  if (offset > 0) {
    const size_t newline = text.rfind('\n', offset - 1);
    if (newline != std::string::npos) column_in_line = offset - newline - 1;
  }
  size_t indent = 0;
  for (size_t l = mark_line + 1; l < line_starts_.size(); ++l) {
    const std::string_view source_line = source_.substr(line_starts_[l]);
    const size_t first = source_line.find_first_not_of(' ');
    if (first != std::string_view::npos && source_line[first] != '\n') {
      indent = first;
      break;
    }
  }
  location.line = static_cast<int>(line + 1);
  location.column = static_cast<int>(indent + column_in_line + 1);
  return location;
}

bool YamlReader::CheckExpansion(const YAML::Node& root, size_t max_nodes) {
  size_t visited = 0;
  // Iterative, so that neither a deep file nor a cycle can exhaust the stack.
  std::vector<std::pair<YAML::Node, int>> pending = {{root, 1}};
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (++visited > max_nodes) {
      Fail(node, "YAML aliases expand to more than " + std::to_string(max_nodes) +
                     " values (an alias bomb?)");
      return false;
    }
    if (depth > kMaxDepth) {
      Fail(node, "YAML nests deeper than " + std::to_string(kMaxDepth) +
                     " levels (an alias inside its own anchor?)");
      return false;
    }
    if (node.IsSequence()) {
      for (const auto& item : node) pending.emplace_back(item, depth + 1);
    } else if (node.IsMap()) {
      for (const auto& entry : node) {
        pending.emplace_back(entry.first, depth + 1);
        pending.emplace_back(entry.second, depth + 1);
      }
    }
  }
  return true;
}

void YamlReader::Fail(const YAML::Node& node, std::string message) {
  Fail(At(node), std::move(message));
}

void YamlReader::Fail(Location location, std::string message) {
  diagnostics_.push_back(InvalidArgument(std::move(message), std::move(location)));
}

void YamlReader::CheckKeys(const YAML::Node& map, const std::vector<std::string>& allowed,
                           const std::string& where) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      Fail(entry.first, "duplicate key '" + key + "' in " + where);
    } else if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Fail(entry.first, "unknown key '" + key + "' in " + where + DidYouMean(key, allowed));
    }
  }
}

std::string YamlReader::Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "null";
  }
}

std::optional<std::string> YamlReader::String(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    Fail(node, "'" + key + "' must be a string, got " + Describe(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int> YamlReader::Int(const YAML::Node& node, const std::string& key, int min_value) {
  const auto value = node.IsScalar() && !IsQuoted(node) ? ReadInteger(node.Scalar()) : std::nullopt;
  if (!value || *value < min_value || *value > 1'000'000'000) {
    const std::string kind = min_value == 0   ? "a non-negative integer"
                             : min_value == 1 ? "a positive integer"
                                              : "an integer";
    Fail(node, "'" + key + "' must be " + kind + ", got " + Describe(node));
    return std::nullopt;
  }
  return static_cast<int>(*value);
}

std::optional<bool> YamlReader::Bool(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar() && !IsQuoted(node)) {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  Fail(node, "'" + key + "' must be true or false, got " + Describe(node));
  return std::nullopt;
}

std::optional<Duration> YamlReader::DurationValue(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    Fail(node, "'" + key + "' must be a duration such as 30s, got " + Describe(node));
    return std::nullopt;
  }
  auto parsed = ParseDuration(node.Scalar());
  if (!parsed.ok()) {
    Fail(node, "'" + key + "': " + parsed.error().message);
    return std::nullopt;
  }
  return *parsed;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const YAML::Node& node,
                                                               const std::string& key) {
  std::vector<std::string> out;
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        Fail(item, "'" + key + "' must be a list of strings, got " + Describe(item) + " in it");
        return std::nullopt;
      }
      out.push_back(item.Scalar());
    }
    return out;
  }
  Fail(node, "'" + key + "' must be a list of strings, got " + Describe(node));
  return std::nullopt;
}

std::optional<std::vector<std::pair<std::string, YAML::Node>>> YamlReader::Map(
    const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) {
    Fail(node, "'" + key + "' must be a mapping, got " + Describe(node));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, YAML::Node>> out;
  for (const auto& entry : node) out.emplace_back(entry.first.Scalar(), entry.second);
  return out;
}

nlohmann::json YamlReader::ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (IsQuoted(node)) return text;
      if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      if (auto integer = ReadInteger(text)) return *integer;
      if (auto real = ReadFloat(text)) return *real;
      return text;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& entry : node) out[entry.first.Scalar()] = ToJson(entry.second);
      return out;
    }
    default:
      return nullptr;
  }
}

}  // namespace conveyor::dag
