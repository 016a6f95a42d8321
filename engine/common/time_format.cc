#include "engine/common/time_format.h"

#include <cctype>

namespace conveyor {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // Reads exactly `width` digits.
  std::optional<int> Digits(int width) {
    int value = 0;
    for (int i = 0; i < width; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) return std::nullopt;
      value = value * 10 + (text_[pos_++] - '0');
    }
    return value;
  }
  void SkipDigits() {
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

Error BadDateTime(std::string_view text) {
  return InvalidArgument("invalid date '" + std::string(text) +
                         "': expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or "
                         "+HH:MM");
}

}  // namespace

std::string FormatUtc(Instant instant) {
  const auto days = std::chrono::floor<std::chrono::days>(instant);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{instant - days};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buffer;
}

std::string FormatUtcMillis(std::chrono::sys_time<std::chrono::microseconds> instant) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(instant);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(instant - seconds).count();
  std::string text = FormatUtc(seconds);
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, ".%03lldZ", static_cast<long long>(millis));
  text.pop_back();
  return text + fraction;
}

Result<ParsedDateTime> ParseDateTime(std::string_view text) {
  Scanner in(text);
  auto year = in.Digits(4);
  if (!year || !in.Consume('-')) return BadDateTime(text);
  auto month = in.Digits(2);
  if (!month || !in.Consume('-')) return BadDateTime(text);
  auto day = in.Digits(2);
  if (!day) return BadDateTime(text);
  const std::chrono::year_month_day ymd{std::chrono::year(*year),
                                        std::chrono::month(static_cast<unsigned>(*month)),
                                        std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok()) return BadDateTime(text);
  ParsedDateTime out;
  out.local = std::chrono::local_seconds(std::chrono::local_days(ymd).time_since_epoch());
  if (in.AtEnd()) {
    out.date_only = true;
    return out;
  }
  if (!in.Consume('T') && !in.Consume(' ')) return BadDateTime(text);
  auto hour = in.Digits(2);
  if (!hour || *hour > 23 || !in.Consume(':')) return BadDateTime(text);
  auto minute = in.Digits(2);
  if (!minute || *minute > 59) return BadDateTime(text);
  int second = 0;
  if (in.Consume(':')) {
    auto s = in.Digits(2);
    if (!s || *s > 59) return BadDateTime(text);
    second = *s;
    if (in.Consume('.')) in.SkipDigits();
  }
  out.local +=
      std::chrono::hours(*hour) + std::chrono::minutes(*minute) + std::chrono::seconds(second);
  if (in.Consume('Z') || in.Consume('z')) {
    out.utc_offset = std::chrono::seconds(0);
  } else if (in.Peek() == '+' || in.Peek() == '-') {
    const int sign = in.Peek() == '-' ? -1 : 1;
    in.Consume(in.Peek());
    auto oh = in.Digits(2);
    in.Consume(':');
    auto om = in.Digits(2);
    if (!oh || !om || *oh > 23 || *om > 59) return BadDateTime(text);
    out.utc_offset = std::chrono::seconds(sign * (*oh * 3600 + *om * 60));
  }
  if (!in.AtEnd()) return BadDateTime(text);
  return out;
}

}  // namespace conveyor
