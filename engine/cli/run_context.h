#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/cli/command_context.h"
#include "engine/cli/dag_catalog.h"
#include "engine/graph/dag_bag.h"
#include "engine/scheduler/run_loop.h"
#include "engine/store/state_store.h"

namespace conveyor::cli {

// What commands that touch runs need: the config, the DAGs, the state database.
struct RunContext {
  Config config;
  std::unique_ptr<store::StateStore> store;
  std::map<std::string, std::string> secrets;  // config `secrets:`, resolved

  // The loaded DAG, or an error naming a broken file or suggesting a close id. Reads only
  // DAGS/<dag_id>.yaml (or .yml) when that file defines the DAG, else the whole folder.
  Result<const graph::LoadedDag*> Dag(const std::string& dag_id);
  // A run of a DAG by id, or a kNotFound error.
  Result<store::DagRunRecord> Run(const std::string& dag_id, const std::string& run_id) const;
  scheduler::RunLoopOptions LoopOptions() const;
  // The state database's parsed DAG files (dag_bag.h), for this build; null when the binary has
  // no build id to tell its records from another build's.
  graph::ParsedDagCache* ParseCache();
  // What DAG files load against (the operators, this machine's resources).
  const DagCatalog& Catalog();

 private:
  std::unique_ptr<graph::ParsedDagCache> parse_cache_;
  std::unique_ptr<DagCatalog> catalog_;
  std::optional<graph::DagBag> single_file_;
  std::optional<graph::DagBag> folder_;
};

Result<std::unique_ptr<RunContext>> OpenRunContext(const GlobalOptions& options);

// Prints a transition as a line: "2026-11-25T07:50:00.123Z  extract  queued -> running (try 1)".
void PrintTransition(const scheduler::Transition& transition);

}  // namespace conveyor::cli
