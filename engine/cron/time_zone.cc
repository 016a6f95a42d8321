#include "engine/cron/time_zone.h"

#include <date/tz.h>

#include <algorithm>
#include <stdexcept>

#include "engine/common/suggest.h"

namespace conveyor::cron {
namespace {

date::local_seconds ToDate(std::chrono::local_seconds local) {
  return date::local_seconds(local.time_since_epoch());
}

std::vector<std::string> AllZoneNames() {
  std::vector<std::string> names;
  const auto& db = date::get_tzdb();
  for (const auto& zone : db.zones) names.push_back(zone.name());
  return names;
}

}  // namespace

Result<TimeZone> TimeZone::Find(std::string_view name) {
  // date throws std::runtime_error for an unknown name; the exception stops here.
  try {
    const date::time_zone* zone = date::locate_zone(name);
    return TimeZone(zone, std::string(name));
  } catch (const std::runtime_error&) {
    return InvalidArgument("unknown time zone '" + std::string(name) + "'" +
                           DidYouMean(name, AllZoneNames()) +
                           " (expected an IANA name such as Europe/Moscow or UTC)");
  }
}

TimeZone TimeZone::Utc() { return *Find("UTC"); }

std::chrono::local_seconds TimeZone::ToLocal(Instant instant) const {
  const auto info = zone_->get_info(instant);
  return std::chrono::local_seconds((instant + info.offset).time_since_epoch());
}

Instant TimeZone::FromLocal(std::chrono::local_seconds local) const {
  return zone_->to_sys(ToDate(local), date::choose::earliest);
}

TimeZone::Span TimeZone::SpanAt(Instant instant) const {
  const auto info = zone_->get_info(instant);
  return Span{std::chrono::time_point_cast<std::chrono::seconds>(info.begin),
              std::chrono::time_point_cast<std::chrono::seconds>(info.end), info.offset};
}

Instant TimeZone::Resolve(const ParsedDateTime& parsed) const {
  if (parsed.utc_offset) return Instant(parsed.local.time_since_epoch() - *parsed.utc_offset);
  return FromLocal(parsed.local);
}

}  // namespace conveyor::cron
