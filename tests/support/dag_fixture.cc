#include "tests/support/dag_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/cli/command_context.h"
#include "engine/scheduler/run_driver.h"
#include "engine/scheduler/run_factory.h"

namespace conveyor::testing {

graph::LoadedDag LoadFixtureDag(TempDir& dir, const std::string& yaml) {
  std::string text = yaml;
  for (size_t pos = text.find("$DIR"); pos != std::string::npos; pos = text.find("$DIR", pos)) {
    text.replace(pos, 4, dir.path());
  }
  const std::string path = dir.Write("dags/fixture.yaml", text);
  Diagnostics errors;
  auto loaded = graph::LoadAndBuild(path, cli::BuiltinRegistry(), &errors);
  if (!loaded.ok()) throw std::runtime_error(loaded.error().ToString());
  return std::move(loaded).value();
}

DagFixture::DagFixture(const std::string& yaml) {
  loaded_.emplace(LoadFixtureDag(dir_, yaml));
  auto store = store::OpenSqliteStore(dir_.path() + "/state.db");
  if (!store.ok()) throw std::runtime_error(store.error().ToString());
  store_ = std::move(store).value();
}

void DagFixture::Reload(const std::string& yaml) { loaded_.emplace(LoadFixtureDag(dir_, yaml)); }

store::DagRunRecord DagFixture::RunToEnd(const nlohmann::json& conf,
                                         scheduler::RunLoopOptions options) {
  scheduler::RunRequest request;
  request.conf = conf;
  request.logical_date = Instant(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
  request.run_id = "run_" + std::to_string(++runs_created_);
  auto run = scheduler::CreateRun(*store_, *loaded_, request, *request.logical_date);
  if (!run.ok()) throw std::runtime_error(run.error().ToString());
  return Resume(*run, std::move(options));
}

store::DagRunRecord DagFixture::Resume(const store::DagRunRecord& run,
                                       scheduler::RunLoopOptions options) {
  if (options.log_dir == "logs") options.log_dir = dir_.path() + "/logs";
  auto state =
      scheduler::DriveRun(*store_, cli::BuiltinRegistry(), *loaded_, run.id, options,
                          [this](const scheduler::Transition& t) { transitions.push_back(t); });
  if (!state.ok()) throw std::runtime_error(state.error().ToString());
  return *store_->GetRun(run.id);
}

std::map<std::string, std::string> DagFixture::States(const store::DagRunRecord& run) {
  std::map<std::string, std::string> out;
  const auto tis = store_->ListTaskInstances(run.id);
  for (const auto& ti : tis.value()) {
    out[ti.task_id] = std::string(state::Name(ti.state));
  }
  return out;
}

store::TaskInstanceRecord DagFixture::Ti(const store::DagRunRecord& run,
                                         const std::string& task_id) {
  const auto tis = store_->ListTaskInstances(run.id);
  for (const auto& ti : tis.value()) {
    if (ti.task_id == task_id) return ti;
  }
  throw std::runtime_error("no task instance " + task_id);
}

std::string DagFixture::ReadFile(const std::string& relative) const {
  std::ifstream in(dir_.path() + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace conveyor::testing
