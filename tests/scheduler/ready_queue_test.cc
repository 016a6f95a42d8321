#include "engine/scheduler/ready_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace conveyor::scheduler {
namespace {

using Gate = ReadyQueue::Gate;
using Key = ReadyQueue::Key;

Key K(int priority, int position, size_t run) { return {-priority, position, run, position}; }

TEST(ReadyQueueTest, PicksInKeyOrderAcrossGroupsAndPassesOverClosedOnes) {
  ReadyQueue queue;
  const Gate a{0, "default", ExecutorKind::kLocal, {}};
  const Gate single{0, "single", ExecutorKind::kLocal, {}};
  const Gate other_run{1, "default", ExecutorKind::kLocal, {}};
  queue.Insert(a, K(1, 0, 0));
  queue.Insert(a, K(5, 1, 0));
  queue.Insert(single, K(3, 2, 0));
  queue.Insert(single, K(9, 3, 0));
  queue.Insert(other_run, K(4, 0, 1));
  queue.Insert(other_run, K(4, 0, 1));  // already there
  EXPECT_EQ(queue.size(), 5u);

  // The pool "single" has one slot: its best task goes, then the group is closed.
  int single_taken = 0;
  std::vector<Key> taken;
  queue.Pick([] { return true; },
             [&](const Gate& gate) { return gate.pool != "single" || single_taken == 0; }, nullptr,
             [&](const Gate& gate, const Key& key) {
               if (gate.pool == "single") ++single_taken;
               taken.push_back(key);
             });
  EXPECT_EQ(taken, (std::vector<Key>{K(9, 3, 0), K(5, 1, 0), K(4, 0, 1), K(1, 0, 0)}));
  EXPECT_EQ(queue.size(), 1u);  // the pool's second task waits

  taken.clear();
  queue.Pick([] { return true; }, [](const Gate&) { return true; }, nullptr,
             [&](const Gate&, const Key& key) { taken.push_back(key); });
  EXPECT_EQ(taken, (std::vector<Key>{K(3, 2, 0)}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(ReadyQueueTest, AClosedGroupCostsOneCheckWhateverItHolds) {
  ReadyQueue queue;
  const Gate full{0, "full", ExecutorKind::kLocal, {}};
  for (int i = 0; i < 10000; ++i) queue.Insert(full, K(0, i, 0));
  const Gate open_gate{1, "default", ExecutorKind::kLocal, {}};
  queue.Insert(open_gate, K(0, 0, 1));
  int checks = 0;
  int taken = 0;
  queue.Pick([] { return true; },
             [&](const Gate& gate) {
               ++checks;
               return gate.pool != "full";
             },
             nullptr, [&](const Gate&, const Key&) { ++taken; });
  EXPECT_EQ(taken, 1);
  EXPECT_EQ(checks, 3);  // each group once when the pick begins, the open one again before its task
  EXPECT_EQ(queue.size(), 10000u);
}

TEST(ReadyQueueTest, PicksOnlyFromTheRunsAskedForAndStopsWhenThereIsNoRoom) {
  ReadyQueue queue;
  for (size_t run = 0; run < 4; ++run) {
    for (int task = 0; task < 3; ++task) {
      queue.Insert({run, "default", ExecutorKind::kLocal, {}}, K(0, task, run));
    }
  }
  const std::set<size_t> only = {1, 3};
  std::vector<Key> taken;
  queue.Pick([&] { return taken.size() < 4; }, [](const Gate&) { return true; }, &only,
             [&](const Gate&, const Key& key) { taken.push_back(key); });
  EXPECT_EQ(taken, (std::vector<Key>{K(0, 0, 1), K(0, 0, 3), K(0, 1, 1), K(0, 1, 3)}));
  queue.Erase({0, "default", ExecutorKind::kLocal, {}}, K(0, 1, 0));
  queue.Erase({0, "default", ExecutorKind::kLocal, {}}, K(0, 1, 0));  // gone already: nothing
  EXPECT_EQ(queue.size(), 7u);
}

}  // namespace
}  // namespace conveyor::scheduler
