#include "engine/common/duration.h"

#include <cctype>
#include <limits>

namespace conveyor {
namespace {

struct Unit {
  std::string_view suffix;
  std::chrono::milliseconds size;
};

// Longest suffixes first so that "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", std::chrono::milliseconds(1)},
                           {"s", std::chrono::seconds(1)},
                           {"m", std::chrono::minutes(1)},
                           {"h", std::chrono::hours(1)},
                           {"d", std::chrono::hours(24)}};

Error BadDuration(std::string_view text) {
  return InvalidArgument("invalid duration '" + std::string(text) +
                         "': expected a number and a unit ms, s, m, h or d (e.g. 500ms, 30s, "
                         "10m, 2h, 1d)");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return BadDuration(text);
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits && text.size() <= 12) {
    return Duration(std::chrono::seconds(std::stoll(std::string(text))));
  }
  Duration total{0};
  size_t pos = 0;
  while (pos < text.size()) {
    size_t digits_end = pos;
    while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end]))) {
      ++digits_end;
    }
    if (digits_end == pos || digits_end - pos > 12) return BadDuration(text);
    const long long amount = std::stoll(std::string(text.substr(pos, digits_end - pos)));
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (text.substr(digits_end, candidate.suffix.size()) == candidate.suffix) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) return BadDuration(text);
    const long long limit = std::numeric_limits<long long>::max() / 2 / unit->size.count();
    if (amount > limit) return BadDuration(text);
    total += unit->size * amount;
    pos = digits_end + unit->suffix.size();
  }
  return total;
}

std::string FormatDuration(Duration duration) {
  if (duration.count() == 0) return "0s";
  std::string out;
  long long ms = duration.count();
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    const long long size = it->size.count();
    if (ms >= size) {
      out += std::to_string(ms / size) + std::string(it->suffix);
      ms %= size;
    }
  }
  return out;
}

}  // namespace conveyor
