#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/dag/operator_catalog.h"

namespace conveyor::dag {

// The outcome of reading one DAG file: a DAG, or every problem found in it.
struct DagFile {
  std::string path;
  std::optional<Dag> dag;
  Diagnostics errors;

  bool ok() const { return errors.empty(); }
};

// Reads and validates a DAG file: keys, types, schedule, time zone, dates, durations, tasks,
// dependencies, operators and their args (through `catalog`), templates. Dependency cycles are
// checked by the graph (engine/graph), which sees the whole DAG. Never throws.
DagFile LoadDagFile(const std::string& path, const OperatorCatalog& catalog);
// The largest DAG file conveyor reads.
inline constexpr size_t kMaxDagFileBytes = 10 << 20;

// A DAG file's bytes (at most one byte over kMaxDagFileBytes), or nullopt when it cannot be read.
std::optional<std::string> ReadDagFileText(const std::string& path);

// The same from text; `path` names the file in diagnostics and gives the default dag_id.
DagFile ParseDagText(std::string_view text, const std::string& path,
                     const OperatorCatalog& catalog);

// True for names made of [A-Za-z0-9_.-], as dag ids and task ids must be.
bool IsValidId(std::string_view id);

}  // namespace conveyor::dag
