#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "engine/common/error.h"

namespace conveyor {

using Duration = std::chrono::milliseconds;

// Parses "500ms", "30s", "10m", "2h", "1d", compounds such as "1h30m", or a bare integer meaning
// seconds (as Airflow's retry_delay accepts).
Result<Duration> ParseDuration(std::string_view text);

// The shortest compound form ParseDuration reads back: "1h30m", "500ms", "0s".
std::string FormatDuration(Duration duration);

}  // namespace conveyor
