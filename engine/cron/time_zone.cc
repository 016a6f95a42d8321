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
  if (name == "UTC") return Utc();
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

// UTC is computed here: date's first lookup of any zone reads the whole tz database (a stat of
// every file under /usr/share/zoneinfo, milliseconds at start-up), and most DAGs use UTC.
TimeZone TimeZone::Utc() { return TimeZone(nullptr, "UTC"); }

std::chrono::local_seconds TimeZone::ToLocal(Instant instant) const {
  if (zone_ == nullptr) return std::chrono::local_seconds(instant.time_since_epoch());
  const auto info = zone_->get_info(instant);
  return std::chrono::local_seconds((instant + info.offset).time_since_epoch());
}

Instant TimeZone::FromLocal(std::chrono::local_seconds local) const {
  if (zone_ == nullptr) return Instant(local.time_since_epoch());
  return zone_->to_sys(ToDate(local), date::choose::earliest);
}

TimeZone::Span TimeZone::SpanAt(Instant instant) const {
  if (zone_ == nullptr) {  // one span, as date gives for UTC: from its first year to its last
    return Span{date::sys_days(date::year::min() / date::January / 1),
                date::sys_days(date::year::max() / date::December / 31), std::chrono::seconds(0)};
  }
  const auto info = zone_->get_info(instant);
  return Span{std::chrono::time_point_cast<std::chrono::seconds>(info.begin),
              std::chrono::time_point_cast<std::chrono::seconds>(info.end), info.offset};
}

Instant TimeZone::Resolve(const ParsedDateTime& parsed) const {
  if (parsed.utc_offset) return Instant(parsed.local.time_since_epoch() - *parsed.utc_offset);
  return FromLocal(parsed.local);
}

}  // namespace conveyor::cron
