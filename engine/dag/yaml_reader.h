#pragma once

// Internal to the DAG file adapter: reads typed values out of yaml-cpp nodes and records
// located diagnostics. Only engine/dag's .cc files include this (and so yaml-cpp).

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/duration.h"
#include "engine/common/error.h"

namespace conveyor::dag {

class YamlReader {
 public:
  explicit YamlReader(std::string file, std::string_view source = {});

  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diagnostics_; }
  bool failed() const { return !diagnostics_.empty(); }

  Location At(const YAML::Node& node) const;
  // The location of the `column_offset`-th character of a scalar, for errors inside a string.
  Location AtOffset(const YAML::Node& scalar, int column_offset) const;
  void Fail(const YAML::Node& node, std::string message);

  // The deepest YAML nesting a DAG file may have (after aliases).
  static constexpr int kMaxDepth = 64;
  // False (with a located error) when `root`, its aliases expanded, has more than `max_nodes`
  // nodes or nests deeper than kMaxDepth: an alias bomb, or an alias of its own ancestor.
  bool CheckExpansion(const YAML::Node& root, size_t max_nodes);
  void Fail(Location location, std::string message);

  // Reports every key of `map` that is not in `allowed` (with "did you mean") and duplicates.
  // `where` completes "unknown key 'x' in ...": "DAG", "task 'train'", "default_args".
  void CheckKeys(const YAML::Node& map, const std::vector<std::string>& allowed,
                 const std::string& where);

  // Typed readers: on a type mismatch they record "'key' must be ..., got ..." and return
  // nullopt. `key` names the value in messages.
  std::optional<std::string> String(const YAML::Node& node, const std::string& key);
  std::optional<int> Int(const YAML::Node& node, const std::string& key, int min_value);
  std::optional<bool> Bool(const YAML::Node& node, const std::string& key);
  std::optional<Duration> DurationValue(const YAML::Node& node, const std::string& key);
  std::optional<std::vector<std::string>> StringList(const YAML::Node& node,
                                                     const std::string& key);
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> Map(const YAML::Node& node,
                                                                     const std::string& key);

  // YAML to JSON: plain scalars become null, booleans, integers or floats when they read as such;
  // quoted scalars stay strings.
  static nlohmann::json ToJson(const YAML::Node& node);
  // A short rendering of a node for "got ..." in messages.
  static std::string Describe(const YAML::Node& node);

 private:
  std::string file_;
  std::string_view source_;          // the file's text, for locations inside block scalars
  std::vector<size_t> line_starts_;  // offsets in source_ of each line
  Diagnostics diagnostics_;
};

}  // namespace conveyor::dag
