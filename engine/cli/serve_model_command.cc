#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "engine/cli/api_token.h"
#include "engine/cli/commands.h"
#include "engine/cli/http_settings.h"
#include "engine/cli/run_context.h"
#include "engine/http/http_server.h"

namespace conveyor::cli {
namespace {

struct ServeModelOptions {
  std::string reference;
  std::string host;
  int port = 5000;  // MLflow's scoring server's
};

// One registered model behind MLflow's scoring server's paths, until SIGINT or SIGTERM.
int RunServeModel(const GlobalOptions& options, const ServeModelOptions& flags) {
  if (flags.reference.find('@') == std::string::npos) {
    return ReportError(
        InvalidArgument("serve-model takes NAME@ALIAS, got '" + flags.reference + "'"));
  }
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  Config& config = (*context)->config;
  if (!flags.host.empty()) config.host = flags.host;
  config.port = flags.port;
  auto token = LoadOrCreateApiToken(config);
  if (!token.ok()) return ReportError(token.error());
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serving::ServingSettings settings;
  settings.max_rows = config.serving_max_rows;
  serving::ModelServer models((*context)->LoopOptions().data.open_registry, settings);
  auto model = models.Get(flags.reference);
  if (!model.ok()) return ReportError(model.error());
  serve::Metrics metrics;
  http::HttpServer server(HttpSettingsOf(config, token->value), metrics, models, flags.reference);
  auto port = server.Start();
  if (!port.ok()) return ReportError(port.error());
  std::cout << "conveyor serve-model: " << flags.reference << " (version " << (*model)->version
            << ") at http://" << config.host << ":" << *port << "/invocations" << std::endl;
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  server.Stop();
  return kExitOk;
}

}  // namespace

void AddServeModelCommand(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  auto flags = std::make_shared<ServeModelOptions>();
  CLI::App* command = app.add_subcommand(
      "serve-model", "Serve one model at MLflow's scoring server's paths (/invocations)");
  command->add_option("model", flags->reference, "NAME@ALIAS")->required();
  command->add_option("--host", flags->host, "address to bind (default: the config's host)");
  command->add_option("--port", flags->port, "port (default 5000, as MLflow's)");
  command->callback([&, flags] { exit_code = RunServeModel(options, *flags); });
}

}  // namespace conveyor::cli
