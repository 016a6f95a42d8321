#include "engine/cron/cron_expr.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace conveyor::cron {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  std::array<const char*, 12> names;  // names[i] is the value min + i (months) or i (weekdays)
};

constexpr FieldSpec kMinute{"minute", 0, 59, {}};
constexpr FieldSpec kHour{"hour", 0, 23, {}};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, {}};
constexpr FieldSpec kMonth{
    "month",
    1,
    12,
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}};
constexpr FieldSpec kDayOfWeek{
    "day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}};

struct Preset {
  std::string_view name;
  std::string_view expression;
};
constexpr Preset kPresets[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                               {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                               {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                               {"@annually", "0 0 1 1 *"}};

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::vector<std::string_view> SplitWhitespace(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) parts.push_back(text.substr(start, i - start));
  }
  return parts;
}

class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string_view expression)
      : spec_(spec), expression_(expression) {}

  // Sets the bit of every value the field selects (indices are the values themselves).
  template <size_t N>
  std::optional<Error> Parse(std::string_view field, std::bitset<N>& bits) const {
    for (std::string_view item : Split(field, ',')) {
      if (auto error = ParseItem(item, bits)) return error;
    }
    return std::nullopt;
  }

 private:
  Error Fail(const std::string& why) const {
    return InvalidArgument("invalid cron expression '" + std::string(expression_) + "': " + why);
  }

  std::optional<int> Value(std::string_view token) const {
    if (token.empty()) return std::nullopt;
    if (std::all_of(token.begin(), token.end(), [](char c) { return std::isdigit(c); })) {
      if (token.size() > 4) return std::nullopt;
      return std::stoi(std::string(token));
    }
    std::string lower(token);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const int base = spec_.min == 1 ? 1 : 0;
    for (size_t i = 0; i < spec_.names.size(); ++i) {
      if (spec_.names[i] != nullptr && lower == spec_.names[i]) return base + static_cast<int>(i);
    }
    return std::nullopt;
  }

  template <size_t N>
  std::optional<Error> ParseItem(std::string_view item, std::bitset<N>& bits) const {
    const std::string quoted = "'" + std::string(item) + "'";
    if (item.empty()) return Fail(std::string("empty value in the ") + spec_.name + " field");
    std::string_view range = item;
    int step = 1;
    bool has_step = false;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      auto parsed = Value(item.substr(slash + 1));
      if (!parsed ||
          item.substr(slash + 1).find_first_not_of("0123456789") != std::string_view::npos) {
        return Fail(std::string("bad step in ") + spec_.name + " field " + quoted);
      }
      if (*parsed == 0) return Fail(std::string("step 0 in ") + spec_.name + " field " + quoted);
      step = *parsed;
      has_step = true;
      range = item.substr(0, slash);
    }
    int low = spec_.min;
    int high = spec_.max;
    if (range != "*") {
      const size_t dash = range.find('-', 1);
      auto first = Value(range.substr(0, dash));
      if (!first) {
        return Fail(std::string("bad value ") + quoted + " in the " + spec_.name +
                    " field (expected " + std::to_string(spec_.min) + "-" +
                    std::to_string(spec_.max) + (spec_.names[0] ? " or a name" : "") + ")");
      }
      low = *first;
      high = dash == std::string_view::npos ? (has_step ? spec_.max : low) : -1;
      if (dash != std::string_view::npos) {
        auto last = Value(range.substr(dash + 1));
        if (!last)
          return Fail(std::string("bad range ") + quoted + " in the " + spec_.name + " field");
        high = *last;
        // croniter reads "fri-sun" as 5-7.
        if (&spec_ == &kDayOfWeek && high == 0 && low > 0) high = 7;
      }
      for (int v : {low, high}) {
        if (v < spec_.min || v > spec_.max) {
          return Fail(std::string(spec_.name) + " value " + std::to_string(v) +
                      " is out of range " + std::to_string(spec_.min) + "-" +
                      std::to_string(spec_.max));
        }
      }
      if (low > high) {
        return Fail(std::string("range ") + quoted + " in the " + spec_.name +
                    " field goes backwards");
      }
    }
    for (int v = low; v <= high; v += step) bits.set(static_cast<size_t>(v % static_cast<int>(N)));
    return std::nullopt;
  }

  const FieldSpec& spec_;
  std::string_view expression_;
};

int DaysInMonth(int month) {
  constexpr int kDays[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[month];
}

}  // namespace

Result<CronExpr> CronExpr::Parse(std::string_view text) {
  CronExpr expr;
  expr.text_ = std::string(text);
  std::string_view body = text;
  for (const Preset& preset : kPresets) {
    if (text == preset.name) body = preset.expression;
  }
  const std::vector<std::string_view> fields = SplitWhitespace(body);
  if (!body.empty() && body.front() == '@' && fields.size() == 1) {
    return InvalidArgument("unknown schedule preset '" + std::string(text) +
                           "' (expected @hourly, @daily, @weekly, @monthly, @yearly or @once)");
  }
  if (fields.size() != 5) {
    return InvalidArgument(
        "invalid cron expression '" + std::string(text) + "': expected 5 fields " +
        "(minute hour day-of-month month day-of-week), got " + std::to_string(fields.size()));
  }
  std::bitset<8> dow;
  std::optional<Error> error;
  if (!error) error = FieldParser(kMinute, text).Parse(fields[0], expr.minutes_);
  if (!error) error = FieldParser(kHour, text).Parse(fields[1], expr.hours_);
  if (!error) error = FieldParser(kDayOfMonth, text).Parse(fields[2], expr.days_of_month_);
  if (!error) error = FieldParser(kMonth, text).Parse(fields[3], expr.months_);
  if (!error) error = FieldParser(kDayOfWeek, text).Parse(fields[4], dow);
  if (error) return *error;
  for (size_t d = 0; d < 7; ++d) expr.days_of_week_[d] = dow[d] || (d == 0 && dow[7]);
  expr.dom_restricted_ = expr.days_of_month_.count() != 31;
  expr.dow_restricted_ = !expr.days_of_week_.all();
  if (expr.NeverFires()) {
    return InvalidArgument("invalid cron expression '" + std::string(text) +
                           "': the day-of-month never occurs in the selected months, so it never "
                           "fires");
  }
  return expr;
}

bool CronExpr::NeverFires() const {
  if (!dom_restricted_ || dow_restricted_) return false;
  for (int month = 1; month <= 12; ++month) {
    if (!months_[static_cast<size_t>(month)]) continue;
    for (int day = 1; day <= DaysInMonth(month); ++day) {
      if (days_of_month_[static_cast<size_t>(day)]) return false;
    }
  }
  return true;
}

bool CronExpr::MatchesDay(std::chrono::local_days day) const {
  const std::chrono::year_month_day ymd{day};
  if (!months_[static_cast<unsigned>(ymd.month())]) return false;
  const bool dom = days_of_month_[static_cast<unsigned>(ymd.day())];
  const bool dow = days_of_week_[std::chrono::weekday(day).c_encoding()];
  if (dom_restricted_ && dow_restricted_) return dom || dow;
  return dom && dow;
}

bool CronExpr::Matches(std::chrono::local_seconds minute) const {
  const auto day = std::chrono::floor<std::chrono::days>(minute);
  const auto since_midnight = std::chrono::duration_cast<std::chrono::minutes>(minute - day);
  const int m = static_cast<int>(since_midnight.count());
  return MatchesDay(day) && hours_[static_cast<size_t>(m / 60)] &&
         minutes_[static_cast<size_t>(m % 60)];
}

std::optional<int> CronExpr::FirstTimeOfDay(int from_minute_of_day) const {
  for (int hour = from_minute_of_day / 60; hour < 24; ++hour) {
    if (!hours_[static_cast<size_t>(hour)]) continue;
    const int first_minute = hour == from_minute_of_day / 60 ? from_minute_of_day % 60 : 0;
    for (int minute = first_minute; minute < 60; ++minute) {
      if (minutes_[static_cast<size_t>(minute)]) return hour * 60 + minute;
    }
  }
  return std::nullopt;
}

std::optional<std::chrono::local_seconds> CronExpr::NextNaive(
    std::chrono::local_seconds after) const {
  using namespace std::chrono;
  const local_seconds start = floor<minutes>(after) + minutes(1);
  local_days day = floor<days>(start);
  int from = static_cast<int>(duration_cast<minutes>(start - day).count());
  constexpr int kSearchDays = 366 * 30;
  for (int i = 0; i < kSearchDays; ++i, ++day, from = 0) {
    if (year_month_day{day}.year() > year(9999)) return std::nullopt;
    if (!MatchesDay(day)) continue;
    if (auto time = FirstTimeOfDay(from)) return local_seconds(day) + minutes(*time);
  }
  return std::nullopt;
}

}  // namespace conveyor::cron
