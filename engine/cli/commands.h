#pragma once

#include <CLI/CLI.hpp>

#include "engine/cli/command_context.h"

namespace conveyor::cli {

// Each command group adds its subcommands to `app`; a command stores its exit code in
// `exit_code` when it runs. `options` is filled by the parser before any command runs.
void AddDagsCommands(CLI::App& app, const GlobalOptions& options, int& exit_code);
void AddCronCommands(CLI::App& app, const GlobalOptions& options, int& exit_code);
// `dags trigger` joins the `dags` group; `runs` is its own.
void AddRunCommands(CLI::App& app, CLI::App& dags, const GlobalOptions& options, int& exit_code);
void AddTaskCommands(CLI::App& app, const GlobalOptions& options, int& exit_code);
// `tasks run-try`: one try from a launch file, as a Slurm job runs it.
void AddRunTryCommand(CLI::App& tasks, int& exit_code);
// `dags pause|unpause|backfill`.
void AddScheduleCommands(CLI::App& dags, const GlobalOptions& options, int& exit_code);
// `models list|show|alias`: the model registry.
void AddModelCommands(CLI::App& app, const GlobalOptions& options, int& exit_code);
void AddServeCommand(CLI::App& app, const GlobalOptions& options, int& exit_code);
void AddServeModelCommand(CLI::App& app, const GlobalOptions& options, int& exit_code);
// `token`: prints the API token for curl and the web UI.
void AddTokenCommand(CLI::App& app, const GlobalOptions& options, int& exit_code);

// Adds "-o table|json" to a listing command.
void AddOutputOption(CLI::App& command, std::string& format);

}  // namespace conveyor::cli
