#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cron/schedule.h"

namespace conveyor::cli {
namespace {

struct CronNextOptions {
  std::string expression;
  std::string timezone = "UTC";
  std::string from;
  int count = 1;
};

int RunCronNext(const CronNextOptions& options) {
  auto zone = cron::TimeZone::Find(options.timezone);
  if (!zone.ok()) return ReportError(zone.error());
  auto schedule = cron::Schedule::Parse(options.expression, *zone);
  if (!schedule.ok()) return ReportError(schedule.error());
  if (schedule->kind() != cron::Schedule::Kind::kCron) {
    return ReportError(InvalidArgument("'" + options.expression + "' has no fire times to list"));
  }
  Instant cursor = WallClock().Now();
  if (!options.from.empty()) {
    auto parsed = ParseDateTime(options.from);
    if (!parsed.ok()) return ReportError(parsed.error().Prefixed("--from"));
    cursor = zone->Resolve(*parsed);
  }
  for (int i = 0; i < options.count; ++i) {
    const auto next = schedule->Next(cursor);
    if (!next) break;
    std::cout << FormatUtc(*next) << "\n";
    cursor = *next;
  }
  return kExitOk;
}

}  // namespace

void AddCronCommands(CLI::App& app, const GlobalOptions& /*options*/, int& exit_code) {
  CLI::App* cron = app.add_subcommand("cron", "Cron expressions");
  cron->require_subcommand(1);
  auto options = std::make_shared<CronNextOptions>();
  CLI::App* next = cron->add_subcommand(
      "next", "Print the fire times strictly after --from, one a line, in UTC");
  next->add_option("expression", options->expression, "5-field cron expression or preset")
      ->required();
  next->add_option("--tz", options->timezone, "IANA time zone the expression is evaluated in")
      ->capture_default_str();
  next->add_option("--from", options->from,
                   "start instant, ISO-8601 (without an offset: in --tz); default now");
  next->add_option("-n", options->count, "how many fire times")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  next->callback([options, &exit_code] { exit_code = RunCronNext(*options); });
}

}  // namespace conveyor::cli
