#include <filesystem>
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/dag_catalog.h"
#include "engine/cli/output.h"
#include "engine/common/json_text.h"
#include "engine/common/suggest.h"
#include "engine/graph/graph_render.h"
#include "engine/store/state_store.h"

namespace conveyor::cli {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

void PrintJson(const nlohmann::json& value) { std::cout << DumpJson(value, 2) << "\n"; }

// Paused flags from the state database, when there is one; a DAG it does not know yet will
// start as dags_are_paused_at_creation says.
std::map<std::string, bool> PausedFlags(const Config& config) {
  std::map<std::string, bool> paused;
  std::error_code ec;
  if (!std::filesystem::exists(config.db, ec)) return paused;
  auto store = store::OpenSqliteStore(config.db);
  if (!store.ok()) return paused;
  auto dags = (*store)->ListDags();
  if (!dags.ok()) return paused;
  for (const auto& dag : *dags) paused[dag.dag_id] = dag.is_paused;
  return paused;
}

int RunList(const GlobalOptions& options, const std::string& format) {
  auto config = ResolveConfig(options);
  if (!config.ok()) return ReportError(config.error());
  const auto bag = graph::DagBag::LoadFolder(config->dags_folder, DagCatalog(*config));
  const auto paused = PausedFlags(*config);
  auto is_paused = [&](const std::string& dag_id) {
    auto it = paused.find(dag_id);
    return it == paused.end() ? config->dags_are_paused_at_creation : it->second;
  };
  const Instant now = WallClock().Now();
  if (format == "json") {
    nlohmann::json dags = nlohmann::json::array();
    for (const auto& loaded : bag.dags()) {
      dags.push_back(DagToJson(loaded, now));
      dags.back()["is_paused"] = is_paused(loaded.dag.dag_id);
    }
    for (const auto& broken : bag.broken()) {
      dags.push_back(BrokenDagToJson(broken));
      dags.back()["is_paused"] = is_paused(broken.dag_id);
    }
    PrintJson({{"dags", dags}, {"total_entries", dags.size()}});
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& loaded : bag.dags()) {
    const auto json = DagToJson(loaded, now);
    const auto& schedule = loaded.dag.timetable.schedule().text();
    rows.push_back({loaded.dag.dag_id, is_paused(loaded.dag.dag_id) ? "yes" : "no",
                    schedule.empty() ? "None" : schedule, loaded.dag.timezone,
                    json["next_dagrun"].is_null() ? "-" : json["next_dagrun"].get<std::string>(),
                    Join(loaded.dag.tags), loaded.dag.file});
  }
  std::cout << FormatTable(
      {"dag_id", "paused", "schedule", "timezone", "next_dagrun", "tags", "file"}, rows);
  for (const auto& broken : bag.broken()) {
    std::cout << "broken: " << broken.errors.front().ToString() << "\n";
  }
  return kExitOk;
}

int RunValidate(const GlobalOptions& options, const std::vector<std::string>& files,
                const std::string& format) {
  graph::DagBag bag;
  if (files.empty()) {
    auto config = ResolveConfig(options);
    if (!config.ok()) return ReportError(config.error());
    bag = graph::DagBag::LoadFolder(config->dags_folder, DagCatalog(*config));
  } else {
    // Files named on the command line are checked against the config's machine when there is
    // a config to read, else against this machine as detected.
    auto config = ResolveConfig(options);
    bag = graph::DagBag::LoadFiles(files, DagCatalog(config.ok() ? *config : Config{}));
  }
  const size_t total = bag.dags().size() + bag.broken().size();
  if (format == "json") {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& loaded : bag.dags()) {
      entries.push_back({{"path", loaded.dag.file},
                         {"dag_id", loaded.dag.dag_id},
                         {"valid", true},
                         {"errors", nlohmann::json::array()}});
    }
    for (const auto& broken : bag.broken()) {
      nlohmann::json errors = nlohmann::json::array();
      for (const Error& error : broken.errors) errors.push_back(ErrorToJson(error));
      entries.push_back(
          {{"path", broken.path}, {"dag_id", broken.dag_id}, {"valid", false}, {"errors", errors}});
    }
    PrintJson({{"files", entries}, {"total_entries", total}});
  } else {
    for (const auto& broken : bag.broken()) {
      for (const Error& error : broken.errors) std::cout << error.ToString() << "\n";
    }
    std::cout << total << " file" << (total == 1 ? "" : "s") << ", " << bag.broken().size()
              << " invalid\n";
  }
  return bag.broken().empty() ? kExitOk : kExitBadInput;
}

// Finds a DAG by id in the configured folder, or reports why it cannot be used.
Result<graph::DagBag> LoadForDag(const GlobalOptions& options, const std::string& dag_id) {
  auto config = ResolveConfig(options);
  if (!config.ok()) return config.error();
  auto bag = graph::DagBag::LoadFolder(config->dags_folder, DagCatalog(*config));
  if (bag.Find(dag_id)) return bag;
  std::vector<std::string> ids;
  for (const auto& loaded : bag.dags()) ids.push_back(loaded.dag.dag_id);
  for (const auto& broken : bag.broken()) {
    if (broken.dag_id == dag_id) {
      return InvalidArgument("DAG '" + dag_id + "' is broken: " + broken.errors.front().ToString());
    }
  }
  return NotFound("unknown DAG '" + dag_id + "'" + DidYouMean(dag_id, ids));
}

int RunShow(const GlobalOptions& options, const std::string& dag_id, const std::string& format) {
  auto bag = LoadForDag(options, dag_id);
  if (!bag.ok()) return ReportError(bag.error());
  const graph::LoadedDag& loaded = *bag->Find(dag_id);
  if (format == "dot") {
    std::cout << graph::RenderDot(loaded);
  } else if (format == "svg") {
    auto svg = graph::RenderSvg(loaded);
    if (!svg.ok()) return ReportError(svg.error());
    std::cout << *svg;
  } else {
    std::cout << graph::RenderText(loaded);
  }
  return kExitOk;
}

struct NextOptions {
  std::string dag_id;
  int count = 1;
  std::string from;
  std::string format = "table";
};

int RunNext(const GlobalOptions& options, const NextOptions& next) {
  auto bag = LoadForDag(options, next.dag_id);
  if (!bag.ok()) return ReportError(bag.error());
  const dag::Dag& dag = bag->Find(next.dag_id)->dag;
  Instant from = WallClock().Now();
  if (!next.from.empty()) {
    auto parsed = ParseDateTime(next.from);
    if (!parsed.ok()) return ReportError(parsed.error().Prefixed("--from"));
    from = dag.timetable.schedule().zone().Resolve(*parsed);
  }
  nlohmann::json runs = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& interval : dag.timetable.Upcoming(from, next.count)) {
    const std::string start = FormatUtc(interval.start);
    const std::string end = FormatUtc(interval.end);
    runs.push_back({{"logical_date", start},
                    {"data_interval_start", start},
                    {"data_interval_end", end},
                    {"run_after", end}});
    rows.push_back({start, start, end});
  }
  if (next.format == "json") {
    PrintJson({{"dag_id", dag.dag_id}, {"next_dagruns", runs}, {"total_entries", runs.size()}});
  } else {
    std::cout << FormatTable({"logical_date", "data_interval_start", "data_interval_end"}, rows);
  }
  return kExitOk;
}

}  // namespace

void AddOutputOption(CLI::App& command, std::string& format) {
  command.add_option("-o,--output", format, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

void AddDagsCommands(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  CLI::App* dags = app.add_subcommand("dags", "DAG files: list, validate, show, next runs");
  dags->require_subcommand(1);

  auto list_format = std::make_shared<std::string>("table");
  CLI::App* list =
      dags->add_subcommand("list", "List the DAGs of the dags folder, broken ones too");
  AddOutputOption(*list, *list_format);
  list->callback([&, list_format] { exit_code = RunList(options, *list_format); });

  auto files = std::make_shared<std::vector<std::string>>();
  auto validate_format = std::make_shared<std::string>("table");
  CLI::App* validate = dags->add_subcommand(
      "validate", "Check DAG files (default: the dags folder); exit 2 if any is invalid");
  validate->add_option("files", *files, "DAG files");
  AddOutputOption(*validate, *validate_format);
  validate->callback(
      [&, files, validate_format] { exit_code = RunValidate(options, *files, *validate_format); });

  auto show_id = std::make_shared<std::string>();
  auto show_format = std::make_shared<std::string>("text");
  CLI::App* show = dags->add_subcommand("show", "Show a DAG's tasks and dependencies");
  show->add_option("dag_id", *show_id, "DAG id")->required();
  show->add_option("--format", *show_format, "text, dot or svg (Graphviz)")
      ->check(CLI::IsMember({"text", "dot", "svg"}))
      ->capture_default_str();
  show->callback(
      [&, show_id, show_format] { exit_code = RunShow(options, *show_id, *show_format); });

  auto next = std::make_shared<NextOptions>();
  CLI::App* next_cmd = dags->add_subcommand("next", "Show the next runs the schedule will create");
  next_cmd->add_option("dag_id", next->dag_id, "DAG id")->required();
  next_cmd->add_option("-n", next->count, "how many runs")->check(CLI::Range(1, 10000));
  next_cmd->add_option("--from", next->from, "instant to start from (default now)");
  AddOutputOption(*next_cmd, next->format);
  next_cmd->callback([&, next] { exit_code = RunNext(options, *next); });
}

}  // namespace conveyor::cli
