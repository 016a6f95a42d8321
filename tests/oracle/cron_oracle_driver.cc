// Reads "EXPR<TAB>ZONE<TAB>FROM<TAB>N" lines on stdin and prints, for each, the next N fire times
// after FROM (ISO-8601 UTC, space-separated), or "error: MESSAGE". Used by cron_vs_croniter.py.
#include <iostream>
#include <sstream>
#include <string>

#include "engine/cron/schedule.h"

namespace {

std::string Answer(const std::string& expression, const std::string& zone_name,
                   const std::string& from, int count) {
  using namespace conveyor;
  auto zone = cron::TimeZone::Find(zone_name);
  if (!zone.ok()) return "error: " + zone.error().message;
  auto schedule = cron::Schedule::Parse(expression, *zone);
  if (!schedule.ok()) return "error: " + schedule.error().message;
  auto parsed = ParseDateTime(from);
  if (!parsed.ok()) return "error: " + parsed.error().message;
  Instant cursor = zone->Resolve(*parsed);
  std::string out;
  for (int i = 0; i < count; ++i) {
    auto next = schedule->Next(cursor);
    if (!next) return out + "error: no next fire time";
    out += (i ? " " : "") + FormatUtc(*next);
    cursor = *next;
  }
  return out;
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream fields(line);
    std::string expression, zone, from, count;
    std::getline(fields, expression, '\t');
    std::getline(fields, zone, '\t');
    std::getline(fields, from, '\t');
    std::getline(fields, count, '\t');
    std::cout << Answer(expression, zone, from, std::stoi(count)) << "\n";
  }
  return 0;
}
