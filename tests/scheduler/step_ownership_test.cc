#include "engine/scheduler/step_ownership.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace conveyor::scheduler {
namespace {

using namespace std::chrono_literals;

exec::TaskEvent End(std::uint64_t id, bool may_step) {
  exec::TaskEvent event;
  event.kind = exec::TaskEvent::Kind::kFinished;
  event.id = id;
  event.notifier_may_step = may_step;
  return event;
}

std::chrono::system_clock::time_point Far() { return std::chrono::system_clock::now() + 60s; }

TEST(StepOwnershipTest, AReportLendsTheStepOnlyToAWorkerThatMayStepWhileTheOwnerIsParked) {
  StepOwnership ownership;
  EXPECT_FALSE(ownership.Report(End(1, true)));  // the owner is not parked
  EXPECT_EQ(ownership.TakeReports().size(), 1u);
  std::atomic<bool> lent{false};
  std::thread worker([&] {
    // Reports until one is lent the step: the owner has parked.
    for (std::uint64_t id = 2; !lent; ++id) {
      if (ownership.Report(End(id, true))) {
        lent = true;
        ownership.EndLentStep(Status::Ok(), /*idle_or_done=*/true, false, std::nullopt);
      } else {
        ownership.TakeReports();
        std::this_thread::sleep_for(1ms);
      }
    }
  });
  // Park returns only once the lent step has ended, woken by it (idle_or_done).
  std::optional<Status> parked;
  while (!lent) {
    parked = ownership.Park(WallClock().PreciseNow() + 60s, Far(), 1);
  }
  worker.join();
  ASSERT_TRUE(parked && parked->ok());
  EXPECT_FALSE(ownership.Report(End(99, false)));  // a report that may not step never does
}

TEST(StepOwnershipTest, AWakeBeforeParkingIsTakenWithoutWaiting) {
  StepOwnership ownership;
  EXPECT_FALSE(ownership.TakeWake().has_value());
  ownership.Wake();
  auto woken = ownership.TakeWake();
  ASSERT_TRUE(woken.has_value());
  EXPECT_TRUE(woken->ok());
  EXPECT_FALSE(ownership.TakeWake().has_value());
}

TEST(StepOwnershipTest, ParkGathersReportsAndALentStepsErrorSticks) {
  StepOwnership ownership;
  std::thread reporter([&] {
    for (std::uint64_t id = 1; id <= 3; ++id) ownership.Report(End(id, false));
  });
  // Gathering three reports: woken once all three are queued, not at the deadline.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(ownership.Park(WallClock().PreciseNow() + 60s, Far(), 3).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  reporter.join();
  EXPECT_EQ(ownership.TakeReports().size(), 3u);
  ownership.EndLentStep(IoError("disk full"), false, false, std::nullopt);
  const Status parked =
      ownership.Park(WallClock().PreciseNow(), std::chrono::system_clock::now(), 1);
  EXPECT_EQ(parked.error().message, "disk full");
  EXPECT_FALSE(ownership.Report(End(4, true)));  // no step is lent after one failed
}

}  // namespace
}  // namespace conveyor::scheduler
