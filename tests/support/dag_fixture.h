#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/graph/dag_bag.h"
#include "engine/scheduler/run_loop.h"
#include "engine/store/state_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::testing {

// Writes `yaml` ("$DIR" replaced by the folder) to dags/fixture.yaml in `dir` and loads it with the
// built-in operators; throws on a load error.
graph::LoadedDag LoadFixtureDag(TempDir& dir, const std::string& yaml);

// A DAG written to a temp folder and loaded, a fresh state database beside it, and helpers to
// run it through the real run loop (real processes, real SQLite).
class DagFixture {
 public:
  // `yaml` may use "$DIR" for the fixture's folder.
  explicit DagFixture(const std::string& yaml);
  // Replaces the DAG with `yaml` (the same file, folder and database), as an edit of its file.
  void Reload(const std::string& yaml);

  const graph::LoadedDag& dag() const { return *loaded_; }
  store::StateStore& store() { return *store_; }
  const std::string& dir() const { return dir_.path(); }

  // Triggers a run with `conf` and runs it to the end in this process.
  store::DagRunRecord RunToEnd(const nlohmann::json& conf = nlohmann::json::object(),
                               scheduler::RunLoopOptions options = {});
  // Runs an existing run to the end.
  store::DagRunRecord Resume(const store::DagRunRecord& run,
                             scheduler::RunLoopOptions options = {});

  // task_id -> state name ("none" for no state), for a run.
  std::map<std::string, std::string> States(const store::DagRunRecord& run);
  store::TaskInstanceRecord Ti(const store::DagRunRecord& run, const std::string& task_id);
  std::string ReadFile(const std::string& relative) const;

  std::vector<scheduler::Transition> transitions;

 private:
  TempDir dir_;
  std::optional<graph::LoadedDag> loaded_;
  std::unique_ptr<store::StateStore> store_;
  int runs_created_ = 0;
};

}  // namespace conveyor::testing
