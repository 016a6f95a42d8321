#include "engine/cron/schedule.h"

namespace conveyor::cron {

Schedule Schedule::None(TimeZone zone) { return Schedule(Kind::kNone, "", std::move(zone), {}); }

Result<Schedule> Schedule::Parse(std::string_view text, TimeZone zone) {
  if (text == "@once") return Schedule(Kind::kOnce, std::string(text), std::move(zone), {});
  auto expr = CronExpr::Parse(text);
  if (!expr.ok()) return expr.error();
  return Schedule(Kind::kCron, std::string(text), std::move(zone), std::move(expr).value());
}

std::optional<Instant> Schedule::Next(Instant after) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  return expr_->EveryHour() ? NextByElapsedTime(after) : NextByWallClock(after);
}

std::optional<Instant> Schedule::NextByElapsedTime(Instant after) const {
  // Walk the spans of constant offset: within one, wall time and elapsed time move together.
  Instant cursor = after;
  TimeZone::Span span = zone_.SpanAt(after);
  for (int spans = 0; spans < 1000; ++spans) {
    const auto local = std::chrono::local_seconds((cursor + span.offset).time_since_epoch());
    const auto candidate = expr_->NextNaive(local);
    if (!candidate) return std::nullopt;
    const Instant instant(candidate->time_since_epoch() - span.offset);
    if (instant < span.end) return instant;
    cursor = span.end - std::chrono::seconds(1);
    span = zone_.SpanAt(span.end);
  }
  return std::nullopt;
}

std::optional<Instant> Schedule::NextByWallClock(Instant after) const {
  auto local = zone_.ToLocal(after);
  // A few steps at most: readings that resolve to or before `after` happen only around a fold.
  for (int steps = 0; steps < 100000; ++steps) {
    const auto candidate = expr_->NextNaive(local);
    if (!candidate) return std::nullopt;
    const Instant instant = zone_.FromLocal(*candidate);
    if (instant > after) return instant;
    local = *candidate;
  }
  return std::nullopt;
}

std::optional<Instant> Schedule::Previous(Instant before) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  using std::chrono::hours;
  // Search windows that grow until one holds a fire time; the last fire time in it wins.
  constexpr hours kWindows[] = {hours(2),        hours(50),           hours(24 * 32),
                                hours(24 * 400), hours(24 * 366 * 9), hours(24 * 366 * 31)};
  for (hours window : kWindows) {
    std::optional<Instant> last;
    std::optional<Instant> next = Next(before - window - std::chrono::seconds(1));
    while (next && *next < before) {
      last = next;
      next = Next(*next);
    }
    if (last) return last;
  }
  return std::nullopt;
}

}  // namespace conveyor::cron
