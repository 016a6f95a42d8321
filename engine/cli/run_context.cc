#include "engine/cli/run_context.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "engine/common/build_id.h"
#include "engine/common/private_files.h"
#include "engine/common/secret_masker.h"
#include "engine/common/suggest.h"
#include "engine/data/data_access.h"
#include "engine/exec/task_environment.h"

namespace conveyor::cli {
namespace {

// The state database as the cache of parsed DAG files, for this build of conveyor.
class StoreParseCache : public graph::ParsedDagCache {
 public:
  explicit StoreParseCache(store::StateStore& store) : store_(store) {}

  std::optional<std::string> Find(const std::string& path, std::string_view source) override {
    auto found = store_.FindParsedDag(path, BuildId(), source);
    // An unreadable record is one more parse, not a failed command.
    return found.ok() ? std::move(found).value() : std::nullopt;
  }
  Status Save(const std::string& path, std::string_view source,
              const std::string& encoded) override {
    return store_.SaveParsedDag(path, BuildId(), source, encoded);
  }

 private:
  store::StateStore& store_;
};

}  // namespace

graph::ParsedDagCache* RunContext::ParseCache() {
  // Without a build id a binary cannot tell its own records from another build's.
  if (!parse_cache_ && store && !BuildId().empty()) {
    parse_cache_ = std::make_unique<StoreParseCache>(*store);
  }
  return parse_cache_.get();
}

const DagCatalog& RunContext::Catalog() {
  if (!catalog_) catalog_ = std::make_unique<DagCatalog>(config);
  return *catalog_;
}

Result<const graph::LoadedDag*> RunContext::Dag(const std::string& dag_id) {
  for (const char* extension : {".yaml", ".yml"}) {
    const auto path = std::filesystem::path(config.dags_folder) / (dag_id + extension);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    single_file_ = graph::DagBag::LoadFiles({path.string()}, Catalog(), ParseCache());
    if (const auto* loaded = single_file_->Find(dag_id)) return loaded;
  }
  if (!folder_) {
    folder_ = graph::DagBag::LoadFolder(config.dags_folder, Catalog(), ParseCache());
  }
  const graph::DagBag& bag = *folder_;
  if (const auto* loaded = bag.Find(dag_id)) return loaded;
  for (const auto& broken : bag.broken()) {
    if (broken.dag_id == dag_id) {
      return InvalidArgument("DAG '" + dag_id + "' is broken: " + broken.errors.front().ToString());
    }
  }
  std::vector<std::string> ids;
  for (const auto& loaded : bag.dags()) ids.push_back(loaded.dag.dag_id);
  return NotFound("unknown DAG '" + dag_id + "'" + DidYouMean(dag_id, ids));
}

Result<store::DagRunRecord> RunContext::Run(const std::string& dag_id,
                                            const std::string& run_id) const {
  return store::RequireRun(*store, dag_id, run_id);
}

scheduler::RunLoopOptions RunContext::LoopOptions() const {
  scheduler::RunLoopOptions options;
  options.workers = config.workers;
  options.pools = config.pools;
  options.log_dir = config.log_dir;
  options.start_before_commit = !config.db_synchronous_full;
  options.data = data::MakeDataAccess(config.data_db, config.db, config.artifacts_dir);
  options.who = "cli pid " + std::to_string(getpid());
  options.default_executor = config.executor;
  options.slurm = config.slurm;
  options.secrets = secrets;
  options.machine = MachineResourcesOf(config);
  return options;
}

Result<std::unique_ptr<RunContext>> OpenRunContext(const GlobalOptions& options) {
  auto config = ResolveConfig(options);
  if (!config.ok()) return config.error();
  auto context = std::make_unique<RunContext>();
  context->config = *config;
  // Before any task can start: what tasks inherit of this process's environment, and the
  // secrets' values, masked wherever conveyor writes text.
  exec::SetEnvironmentPassthrough(config->env_passthrough);
  auto secrets = ResolveSecrets(*config);
  if (!secrets.ok()) return secrets.error();
  context->secrets = *secrets;
  std::vector<std::string> values;
  for (const auto& [name, value] : *secrets) values.push_back(value);
  RegisterSecrets(values);
  MakePrivateParent(config->db);
  // With the default 2 MiB, a round of cron runs for 200 DAGs read its index pages back from
  // the file every time (about 600 leaves: more than the cache holds).
  auto store = store::OpenSqliteStore(
      config->db, {.synchronous_full = config->db_synchronous_full, .cache_mib = 64});
  if (!store.ok()) return store.error();
  context->store = std::move(store).value();
  return context;
}

void PrintTransition(const scheduler::Transition& t) {
  // Many transitions share a millisecond: format its time once.
  static store::TimePoint formatted_at;
  static std::string formatted;
  const auto now = std::chrono::floor<std::chrono::milliseconds>(WallClock().PreciseNow());
  if (formatted.empty() || now != formatted_at) {
    formatted_at = now;
    formatted = FormatUtcMillis(now);
  }
  // One write per line: std::cout, synced with stdio, takes its lock for every piece.
  std::string line;
  line.reserve(formatted.size() + t.task_id.size() + t.message.size() + 48);
  line.append(formatted).append("  ").append(t.task_id).append("  ");
  if (t.from == t.to) {
    line.append(state::Name(t.to));  // the same state, a new note: "none: waiting for ..."
  } else {
    line.append(state::Name(t.from)).append(" -> ").append(state::Name(t.to));
  }
  if (t.try_number > 0) line.append(" (try ").append(std::to_string(t.try_number)).append(")");
  if (!t.message.empty()) line.append(": ").append(t.message);
  line += '\n';
  std::cout.write(line.data(), static_cast<std::streamsize>(line.size()));
  // Line by line on a terminal (progress); buffered into a pipe or file.
  static const bool terminal = isatty(STDOUT_FILENO) != 0;
  if (terminal) std::cout.flush();
}

}  // namespace conveyor::cli
