#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace conveyor::serve {

// Posts JSON to webhooks from its own thread, so a slow or dead endpoint never holds up the
// scheduler. Each delivery has a timeout and a few attempts; a delivery that still fails is
// logged and dropped.
class WebhookSender {
 public:
  struct Options {
    std::chrono::milliseconds timeout{5000};
    int attempts = 3;
    std::chrono::milliseconds backoff{500};  // doubled after each failed attempt
  };
  WebhookSender();
  explicit WebhookSender(Options options);
  // Delivers what is queued (each delivery is bounded by its attempts and timeouts).
  ~WebhookSender();

  void Post(std::string url, nlohmann::json payload);

  int delivered() const;
  int failed() const;

 private:
  struct Delivery {
    std::string url;
    nlohmann::json payload;
  };
  void Loop();
  bool Deliver(const Delivery& delivery);

  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Delivery> queue_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;       // GUARDED_BY(mutex_)
  int delivered_ = 0;           // GUARDED_BY(mutex_)
  int failed_ = 0;              // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace conveyor::serve
