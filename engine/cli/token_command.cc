#include <iostream>

#include "engine/cli/api_token.h"
#include "engine/cli/commands.h"

namespace conveyor::cli {
namespace {

int RunToken(const GlobalOptions& options) {
  auto config = ResolveConfig(options);
  if (!config.ok()) return ReportError(config.error());
  auto token = LoadOrCreateApiToken(*config);
  if (!token.ok()) return ReportError(token.error());
  std::cout << token->value << "\n";
  return kExitOk;
}

}  // namespace

void AddTokenCommand(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  CLI::App* token = app.add_subcommand(
      "token", "Print the API token (generated into token_file on first use when none is set)");
  token->callback([&] { exit_code = RunToken(options); });
}

}  // namespace conveyor::cli
