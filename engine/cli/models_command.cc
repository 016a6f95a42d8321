#include <unistd.h>

#include <charconv>
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/output.h"
#include "engine/common/json_text.h"
#include "engine/data/model_json.h"
#include "engine/data/sqlite_model_registry.h"
#include "engine/store/state_store.h"

namespace conveyor::cli {
namespace {

// The registry of the configured state database (created and migrated if new).
Result<std::unique_ptr<exec::ModelRegistry>> OpenRegistry(const GlobalOptions& options) {
  auto config = ResolveConfig(options);
  if (!config.ok()) return config.error();
  return data::OpenSqliteModelRegistry(config->db);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string Metric(const nlohmann::json& metrics, const char* name) {
  if (!metrics.contains(name) || !metrics.at(name).is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", metrics.at(name).get<double>());
  return text;
}

int RunList(const GlobalOptions& options, const std::string& format) {
  auto registry = OpenRegistry(options);
  if (!registry.ok()) return ReportError(registry.error());
  auto names = (*registry)->ModelNames();
  if (!names.ok()) return ReportError(names.error());
  nlohmann::json models = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  for (const std::string& name : *names) {
    auto versions = (*registry)->Versions(name);
    if (!versions.ok()) return ReportError(versions.error());
    models.push_back(data::ModelSummaryToJson(name, *versions));
    std::string aliases;
    for (const auto& item : models.back().at("aliases").items()) {
      aliases += (aliases.empty() ? "" : ",") + item.key() + "=v" + item.value().dump();
    }
    rows.push_back({name, std::to_string(versions->front().version),
                    std::to_string(versions->size()), aliases.empty() ? "-" : aliases,
                    versions->front().created_at});
  }
  if (format == "json") {
    std::cout << DumpJson(nlohmann::json{{"models", models}, {"total_entries", models.size()}})
              << "\n";
  } else {
    std::cout << FormatTable({"MODEL", "LATEST", "VERSIONS", "ALIASES", "UPDATED"}, rows);
  }
  return kExitOk;
}

int RunShow(const GlobalOptions& options, const std::string& name, const std::string& format) {
  auto registry = OpenRegistry(options);
  if (!registry.ok()) return ReportError(registry.error());
  auto versions = (*registry)->Versions(name);
  if (!versions.ok()) return ReportError(versions.error());
  if (format == "json") {
    std::cout << DumpJson(data::ModelToJson(name, *versions)) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const exec::ModelVersion& v : *versions) {
    rows.push_back({std::to_string(v.version), v.aliases.empty() ? "-" : Join(v.aliases),
                    Metric(v.metrics, v.metrics.contains("auc") ? "auc" : "rmse"), v.run_id,
                    v.created_at, v.artifact_path});
  }
  const bool binary = versions->front().metrics.contains("auc");
  std::cout << FormatTable(
      {"VERSION", "ALIASES", binary ? "AUC" : "RMSE", "RUN", "CREATED", "ARTIFACT"}, rows);
  return kExitOk;
}

int RunAlias(const GlobalOptions& options, const std::string& name, const std::string& version,
             const std::string& alias) {
  int number = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (ec != std::errc() || end != version.data() + version.size() || number < 1) {
    return ReportError(
        InvalidArgument("VERSION must be a version number such as 3, got '" + version + "'"));
  }
  auto registry = OpenRegistry(options);
  if (!registry.ok()) return ReportError(registry.error());
  if (Status s = (*registry)->SetAlias(name, alias, number, "cli pid " + std::to_string(getpid()));
      !s.ok()) {
    return ReportError(s.error());
  }
  std::cout << name << "@" << alias << " -> version " << number << "\n";
  return kExitOk;
}

}  // namespace

void AddModelCommands(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  CLI::App* models = app.add_subcommand("models", "The model registry: list, show, alias");
  models->require_subcommand(1);

  auto list_format = std::make_shared<std::string>("table");
  CLI::App* list = models->add_subcommand("list", "List registered models");
  AddOutputOption(*list, *list_format);
  list->callback([&, list_format] { exit_code = RunList(options, *list_format); });

  auto show_name = std::make_shared<std::string>();
  auto show_format = std::make_shared<std::string>("table");
  CLI::App* show = models->add_subcommand("show", "Show a model's versions, aliases and metrics");
  show->add_option("name", *show_name, "model name")->required();
  AddOutputOption(*show, *show_format);
  show->callback(
      [&, show_name, show_format] { exit_code = RunShow(options, *show_name, *show_format); });

  auto alias_args = std::make_shared<std::vector<std::string>>(3);
  CLI::App* alias =
      models->add_subcommand("alias", "Point an alias (e.g. production) at a version");
  alias->add_option("name", (*alias_args)[0], "model name")->required();
  alias->add_option("version", (*alias_args)[1], "version number")->required();
  alias->add_option("alias", (*alias_args)[2], "alias name")->required();
  alias->callback([&, alias_args] {
    exit_code = RunAlias(options, (*alias_args)[0], (*alias_args)[1], (*alias_args)[2]);
  });
}

}  // namespace conveyor::cli
