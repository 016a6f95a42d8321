#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"
#include "engine/store/records.h"

namespace conveyor::store {

// The DAGs the database knows (paused or not, how their file last parsed) and the cache of parsed
// DAG files.
class DagRegistry {
 public:
  virtual ~DagRegistry() = default;

  // The DAG table. RecordDagParse creates a row (paused as `paused_if_new` says) or updates the
  // file and error of an existing one, leaving its paused flag alone.
  virtual Status RecordDagParse(const std::string& dag_id, const std::string& fileloc,
                                const std::string& import_error, bool paused_if_new,
                                TimePoint now) = 0;
  virtual Status SetPaused(const std::string& dag_id, bool paused) = 0;
  virtual Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) = 0;
  virtual Result<std::vector<DagRecord>> ListDags() = 0;

  // Parsed DAG files (graph::ParsedDagCache): the encoded DAG that `build` of conveyor stored for
  // `path` when it parsed exactly `source`, and storing one (replacing what the path had).
  virtual Result<std::optional<std::string>> FindParsedDag(const std::string& path,
                                                           const std::string& build,
                                                           std::string_view source) = 0;
  virtual Status SaveParsedDag(const std::string& path, const std::string& build,
                               std::string_view source, std::string_view encoded) = 0;
};

}  // namespace conveyor::store
