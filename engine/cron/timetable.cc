#include "engine/cron/timetable.h"

namespace conveyor::cron {

std::optional<DataInterval> Timetable::IntervalStartingAtOrAfter(Instant at) const {
  if (schedule_.kind() == Schedule::Kind::kOnce) {
    if (!start_date_ || *start_date_ < at) return std::nullopt;
    return DataInterval{*start_date_, *start_date_};
  }
  if (start_date_ && at < *start_date_) at = *start_date_;
  const auto start = schedule_.Next(at - std::chrono::seconds(1));
  if (!start || AfterEnd(*start)) return std::nullopt;
  const auto end = schedule_.Next(*start);
  if (!end) return std::nullopt;
  return DataInterval{*start, *end};
}

std::vector<DataInterval> Timetable::Upcoming(Instant now, int count) const {
  std::vector<DataInterval> out;
  if (count <= 0 || schedule_.kind() == Schedule::Kind::kNone) return out;
  if (schedule_.kind() == Schedule::Kind::kOnce) {
    if (start_date_) out.push_back({*start_date_, *start_date_});
    return out;
  }
  // The first interval not yet ended: it ends at the next fire time after now.
  const auto first_end = schedule_.Next(now);
  if (!first_end) return out;
  const auto first_start = schedule_.Previous(*first_end);
  auto interval = IntervalStartingAtOrAfter(first_start ? *first_start : *first_end);
  while (interval && static_cast<int>(out.size()) < count) {
    out.push_back(*interval);
    interval = IntervalStartingAtOrAfter(interval->end);
  }
  return out;
}

std::vector<DataInterval> Timetable::IntervalsStartingIn(Instant from, Instant to) const {
  std::vector<DataInterval> out;
  if (schedule_.kind() == Schedule::Kind::kOnce) {
    if (start_date_ && *start_date_ >= from && *start_date_ < to) {
      out.push_back({*start_date_, *start_date_});
    }
    return out;
  }
  auto interval = IntervalStartingAtOrAfter(from);
  while (interval && interval->start < to) {
    out.push_back(*interval);
    interval = IntervalStartingAtOrAfter(interval->end);
  }
  return out;
}

}  // namespace conveyor::cron
