#pragma once

#include <string>
#include <string_view>

namespace conveyor {

// Pieces of the Prometheus text exposition format (version 0.0.4).

// A label value, its backslashes, double quotes and newlines escaped.
std::string PrometheusLabelValue(std::string_view value);

// A sample value or bucket bound: the shortest text that reads back as the same double, and
// +Inf, -Inf or NaN for the others.
std::string PrometheusNumber(double value);

// Appends the `# HELP` and `# TYPE` lines of metric family `name` (`help` escaped).
void AppendPrometheusHeader(std::string& out, std::string_view name, std::string_view type,
                            std::string_view help);

}  // namespace conveyor
