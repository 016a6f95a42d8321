#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::operators {

// Runs `produce` on the calling thread and `consume` on a second one, two batches in flight, so
// that parsing (or scoring) and writing overlap. `produce` fills a batch and returns whether more
// follow; every filled batch (the last may be empty) is consumed in order. The first error of
// either side stops both and is returned.
template <typename Batch>
Status RunPipeline(const std::function<Result<bool>(Batch&)>& produce,
                   const std::function<Status(Batch&)>& consume) {
  std::mutex mutex;
  std::condition_variable changed;
  Batch first, second;
  std::vector<Batch*> empty = {&first, &second};  // GUARDED_BY(mutex)
  std::deque<Batch*> filled;                      // GUARDED_BY(mutex)
  bool finished = false;                          // GUARDED_BY(mutex)
  Status consumer_status = Status::Ok();          // GUARDED_BY(mutex)

  std::thread consumer([&] {
    while (true) {
      Batch* batch = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return !filled.empty() || finished; });
        if (filled.empty()) return;
        batch = filled.front();
        filled.pop_front();
      }
      Status status = consume(*batch);
      {
        std::lock_guard<std::mutex> lock(mutex);
        empty.push_back(batch);
        if (!status.ok()) consumer_status = status;
      }
      changed.notify_all();
      if (!status.ok()) return;
    }
  });

  Status producer_status = Status::Ok();
  while (true) {
    Batch* batch = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return !empty.empty() || !consumer_status.ok(); });
      if (!consumer_status.ok()) break;
      batch = empty.back();
      empty.pop_back();
    }
    auto more = produce(*batch);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (more.ok()) {
        filled.push_back(batch);
      } else {
        empty.push_back(batch);
        producer_status = more.error();
      }
    }
    changed.notify_all();
    if (!more.ok() || !*more) break;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    if (!producer_status.ok()) filled.clear();
  }
  changed.notify_all();
  consumer.join();
  if (!producer_status.ok()) return producer_status;
  return consumer_status;
}

}  // namespace conveyor::operators
