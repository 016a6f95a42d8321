// libFuzzer target: a cron expression and a time zone; parsing and evaluation must not crash or
// loop forever.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/cron/schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace conveyor;
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const cron::TimeZone kZones[] = {*cron::TimeZone::Find("UTC"),
                                          *cron::TimeZone::Find("America/New_York"),
                                          *cron::TimeZone::Find("Australia/Lord_Howe")};
  const cron::TimeZone& zone = kZones[size % 3];
  auto schedule = cron::Schedule::Parse(text, zone);
  if (!schedule.ok()) return 0;
  Instant cursor = zone.Resolve(*ParseDateTime("2026-03-08T00:00"));
  for (int i = 0; i < 5; ++i) {
    auto next = schedule->Next(cursor);
    if (!next) break;
    if (*next <= cursor) __builtin_trap();  // fire times must move forward
    cursor = *next;
  }
  (void)schedule->Previous(cursor);
  return 0;
}
