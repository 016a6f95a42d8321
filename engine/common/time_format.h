#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.h"

namespace conveyor {

using Instant = std::chrono::sys_seconds;

// "2026-01-01T03:00:00Z".
std::string FormatUtc(Instant instant);
// "2026-01-01T03:00:00.250Z".
std::string FormatUtcMillis(std::chrono::sys_time<std::chrono::microseconds> instant);

// A date or datetime as written by a user, before any time zone is applied.
struct ParsedDateTime {
  // The wall-clock reading, counted as if it were UTC (a "naive" time).
  std::chrono::local_seconds local;
  // Set when the text carried "Z" or "+HH:MM".
  std::optional<std::chrono::seconds> utc_offset;
  bool date_only = false;
};

// Reads "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fff]]" with an optional "Z" or "±HH[:]MM".
Result<ParsedDateTime> ParseDateTime(std::string_view text);

}  // namespace conveyor
