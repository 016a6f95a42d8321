#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "engine/cli/api_token.h"
#include "engine/cli/commands.h"
#include "engine/cli/http_settings.h"
#include "engine/cli/run_context.h"
#include "engine/graph/dag_folder.h"
#include "engine/http/http_server.h"
#include "engine/serve/file_watcher.h"
#include "engine/serve/scheduler_service.h"
#include "engine/serving/model_server.h"
#include "engine/serving/prediction_log.h"

namespace conveyor::cli {
namespace {

// Scored rows the prediction log holds in memory before it drops them (about 200 bytes each
// for the credit model's 20 features).
constexpr size_t kPredictionLogRows = 200'000;

struct ServeOptions {
  std::string host;
  int port = 0;
  int workers = 0;
};

int RunServe(const GlobalOptions& options, const ServeOptions& flags) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  RunContext& ctx = **context;
  Config& config = ctx.config;
  if (!flags.host.empty()) config.host = flags.host;
  if (flags.port > 0) config.port = flags.port;
  if (flags.workers > 0) config.workers = flags.workers;
  // Always a token: configured, or generated once and kept in token_file.
  auto token = LoadOrCreateApiToken(config);
  if (!token.ok()) return ReportError(token.error());
  std::error_code ec;
  if (!std::filesystem::is_directory(config.dags_folder, ec)) {
    return ReportError(InvalidArgument("DAG folder '" + config.dags_folder + "' does not exist"));
  }
  // Signals are taken by one thread with sigwait; every other thread (workers included) starts
  // with them blocked. Spawned tasks get a clean mask back.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The log goes through stdout's buffer (a line at a time on a terminal), flushed every second
  // and at once for warnings and errors: a round of 200 runs logs 400 lines, and a write each
  // costs the scheduler more than the rest of a run's work. The flusher thread starts here,
  // after the signals are blocked.
  auto logger = std::make_shared<spdlog::logger>(
      "conveyor", std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cout, false));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));

  graph::DagFolder dags(config.dags_folder, ctx.Catalog(), ctx.ParseCache());
  serve::SharedDags shared_dags;
  serve::Metrics metrics;
  serve::WebhookSender webhooks;
  SystemClock clock;
  serve::SchedulerOptions scheduler_options;
  scheduler_options.loop = ctx.LoopOptions();
  scheduler_options.loop.who = "serve pid " + std::to_string(getpid());
  scheduler_options.dags_are_paused_at_creation = config.dags_are_paused_at_creation;
  scheduler_options.shutdown_grace = config.shutdown_grace;
  scheduler_options.base_url = "http://" + config.host + ":" + std::to_string(config.port);
  scheduler_options.shared_dags = &shared_dags;
  scheduler_options.metrics = &metrics;
  // Room for a round of a few hundred DAGs (about 15 ms for 200 here), and a short hold on other
  // writers: the transaction stays open until the interval ends.
  scheduler_options.prepare_runs_ahead = std::chrono::milliseconds(50);
  serve::SchedulerService service(*ctx.store, BuiltinRegistry(), exec::SystemProcessRunner(), dags,
                                  clock, scheduler_options, nullptr, &webhooks);
  if (Status s = service.Start(); !s.ok()) return ReportError(s.error());
  // The first round publishes the DAGs before the API answers anything.
  if (auto first = service.Tick(); !first.ok()) return ReportError(first.error());

  http::ApiSettings api_settings;
  api_settings.db = config.db;
  api_settings.data_db = config.data_db;
  api_settings.dags_are_paused_at_creation = config.dags_are_paused_at_creation;
  api_settings.who = "api pid " + std::to_string(getpid());
  const std::string wal = config.db + "-wal";
  http::Api api(api_settings, shared_dags, metrics,
                [&service, wal] { service.FilesChanged({wal}); });
  const http::ServerSettings server_settings = HttpSettingsOf(config, token->value);
  serving::ServingSettings serving_settings;
  serving_settings.models = config.serving_models;
  serving_settings.max_rows = config.serving_max_rows;
  serving::ModelServer models(scheduler_options.loop.data.open_registry, serving_settings);
  std::map<std::string, serving::PredictionLogTarget> log_targets;
  for (const auto& [reference, log] : config.serving_log) {
    log_targets[reference] = {log.table, log.sample};
  }
  std::optional<serving::PredictionLog> prediction_log;
  if (!log_targets.empty()) {
    prediction_log.emplace(scheduler_options.loop.data.open_data, std::move(log_targets),
                           kPredictionLogRows,
                           [&metrics](const std::string& model, int version, std::int64_t written,
                                      std::int64_t dropped) {
                             metrics.CountPredictionLog(model, version, written, dropped);
                           });
    models.set_log(&*prediction_log);
  }
  http::HttpServer server(server_settings, api, metrics,
                          config.serving_enabled ? &models : nullptr);
  auto port = server.Start();
  if (!port.ok()) return ReportError(port.error());

  auto watcher = serve::FileWatcher::Start(
      {config.dags_folder}, {config.db + "-wal"},
      [&service](std::vector<std::string> paths) { service.FilesChanged(std::move(paths)); });
  if (!watcher.ok()) return ReportError(watcher.error());

  std::thread([&service, signals] {
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading the DAG folder");
        service.RequestReload();
        continue;
      }
      spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      service.RequestStop();
      return;
    }
  }).detach();

  if (token->created) {
    spdlog::info("generated an API token in {} (`conveyor token` prints it)", token->file);
  } else if (!token->file.empty()) {
    spdlog::info("API token in {} (`conveyor token` prints it)", token->file);
  }
  spdlog::info("conveyor serve: pid {}, DAGs from {}, database {}, {} workers, http://{}:{}/",
               getpid(), config.dags_folder, config.db, config.workers, config.host, *port);
  spdlog::default_logger()->flush();
  Status status = service.Run();
  server.Stop();
  watcher->reset();
  if (!status.ok()) {
    spdlog::default_logger()->flush();
    return ReportError(status.error());
  }
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  auto flags = std::make_shared<ServeOptions>();
  CLI::App* serve =
      app.add_subcommand("serve", "Run the scheduler: cron runs, queued runs, hot reload");
  serve->add_option("--host", flags->host, "address to bind (default: the config's host)");
  serve->add_option("--port", flags->port, "port (default: the config's port)");
  serve->add_option("--workers", flags->workers, "tasks running at once (default: config)");
  serve->callback([&, flags] { exit_code = RunServe(options, *flags); });
}

}  // namespace conveyor::cli
