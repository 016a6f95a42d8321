#include "engine/serving/fifo_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace conveyor::serving {
namespace {

TEST(FifoGateTest, AdmitsAtMostItsSlotsAndWaitersInTheOrderTheyCame) {
  FifoGate gate(2);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::mutex order_mutex;
  std::vector<int> order;
  auto first = std::make_unique<FifoGate::Pass>(gate);
  auto second = std::make_unique<FifoGate::Pass>(gate);  // both slots held
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      FifoGate::Pass pass(gate);
      const int now = ++inside;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      {
        std::lock_guard<std::mutex> lock(order_mutex);
        order.push_back(i);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --inside;
    });
    // Each waits before the next comes, so the order of arrival is 0..5.
    while (gate.waiting() < static_cast<size_t>(i) + 1) std::this_thread::yield();
  }
  EXPECT_TRUE(order.empty());  // nobody passed while both slots were held
  // One slot comes free: the waiters pass through it one at a time, first come first.
  first.reset();
  for (auto& thread : threads) thread.join();
  second.reset();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(most.load(), 1);
}

}  // namespace
}  // namespace conveyor::serving
