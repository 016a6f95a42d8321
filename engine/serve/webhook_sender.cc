#include "engine/serve/webhook_sender.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "engine/common/json_text.h"

namespace conveyor::serve {

WebhookSender::WebhookSender() : WebhookSender(Options{}) {}

WebhookSender::WebhookSender(Options options) : options_(options) {
  thread_ = std::thread([this] { Loop(); });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WebhookSender::Post(std::string url, nlohmann::json payload) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::move(url), std::move(payload)});
  }
  wake_.notify_one();
}

int WebhookSender::delivered() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return delivered_;
}

int WebhookSender::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

void WebhookSender::Loop() {
  while (true) {
    Delivery delivery;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      delivery = std::move(queue_.front());
      queue_.pop_front();
    }
    const bool ok = Deliver(delivery);
    std::lock_guard<std::mutex> lock(mutex_);
    ++(ok ? delivered_ : failed_);
  }
}

bool WebhookSender::Deliver(const Delivery& delivery) {
  static const std::regex kUrl(R"(^(https?://[^/?#]+)([/?][^#]*)?$)");
  std::smatch match;
  if (!std::regex_match(delivery.url, match, kUrl)) {
    spdlog::error("webhook {}: not an http(s) URL", delivery.url);
    return false;
  }
  const std::string path = match[2].matched ? match[2].str() : "/";
  const std::string body = DumpJson(delivery.payload);
  httplib::Client client(match[1].str());
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.timeout);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  client.set_write_timeout(seconds.count(), micros.count());
  auto backoff = options_.backoff;
  std::string last_error;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    auto response = client.Post(path, body, "application/json");
    if (response && response->status >= 200 && response->status < 300) return true;
    last_error = response ? "HTTP " + std::to_string(response->status)
                          : httplib::to_string(response.error());
    if (attempt < options_.attempts) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }
  spdlog::warn("webhook {} failed after {} attempts: {}", delivery.url, options_.attempts,
               last_error);
  return false;
}

}  // namespace conveyor::serve
