#include "engine/common/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace conveyor {
namespace {

// Help text escapes backslash and newline; a label value a double quote too.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || (quote && c == '"')) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string PrometheusLabelValue(std::string_view value) { return Escape(value, true); }

std::string PrometheusNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

void AppendPrometheusHeader(std::string& out, std::string_view name, std::string_view type,
                            std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(Escape(help, false));
  out.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace conveyor
