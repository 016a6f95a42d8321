#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/cli/commands.h"

int main(int argc, char** argv) {
  using namespace conveyor::cli;
  CLI::App app{"conveyor: a workflow scheduler for ML pipelines", "conveyor"};
  app.set_version_flag("--version", "conveyor 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions options;
  app.add_option("--config", options.config_path, "config file (missing: defaults)")
      ->capture_default_str();
  app.add_option("--dags", options.dags_folder, "DAG folder (default: the config's dags_folder)");
  app.add_option("--db", options.db, "state database (default: the config's db)");
  int exit_code = kExitOk;
  AddDagsCommands(app, options, exit_code);
  AddCronCommands(app, options, exit_code);
  AddRunCommands(app, *app.get_subcommand("dags"), options, exit_code);
  AddTaskCommands(app, options, exit_code);
  AddScheduleCommands(*app.get_subcommand("dags"), options, exit_code);
  AddModelCommands(app, options, exit_code);
  AddServeCommand(app, options, exit_code);
  AddServeModelCommand(app, options, exit_code);
  AddTokenCommand(app, options, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  return exit_code;
}
