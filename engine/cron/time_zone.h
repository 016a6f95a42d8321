#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "engine/common/error.h"
#include "engine/common/time_format.h"

namespace date {
class time_zone;
}

namespace conveyor::cron {

// An IANA time zone from the system tzdata. Cheap to copy; the zone data lives for the process.
class TimeZone {
 public:
  // Finds a zone by IANA name ("Europe/Moscow", "UTC"); unknown names get a "did you mean".
  static Result<TimeZone> Find(std::string_view name);
  static TimeZone Utc();

  const std::string& name() const { return name_; }

  // The wall-clock reading of an instant.
  std::chrono::local_seconds ToLocal(Instant instant) const;

  // The instant of a wall-clock reading: the earliest one when the reading occurs twice, the
  // first instant after the gap when it does not occur at all (date's choose::earliest).
  Instant FromLocal(std::chrono::local_seconds local) const;

  // The span of constant UTC offset that contains an instant.
  struct Span {
    Instant begin;
    Instant end;
    std::chrono::seconds offset;
  };
  Span SpanAt(Instant instant) const;

  // Resolves a user-written date or datetime: with an explicit offset it is exact, otherwise it is
  // read in this zone.
  Instant Resolve(const ParsedDateTime& parsed) const;

 private:
  TimeZone(const date::time_zone* zone, std::string name) : zone_(zone), name_(std::move(name)) {}

  const date::time_zone* zone_;  // null for UTC
  std::string name_;
};

}  // namespace conveyor::cron
