#pragma once

// cpp-httplib's server with conveyor's connection handling. Included only by the HTTP server's
// own .cc files: httplib.h is a heavy header.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace conveyor::http {

// httplib's task queue, one thread per connection: a task (a connection) never waits for a busy
// thread while fewer than `max_threads` run. Threads idle for a while exit, down to `keep`.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  ConnectionThreads(size_t keep, size_t max_threads);
  ~ConnectionThreads() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  void Work();

  const size_t keep_;
  const size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;         // GUARDED_BY(mutex_)
  size_t idle_ = 0;                          // GUARDED_BY(mutex_)
  size_t running_ = 0;                       // GUARDED_BY(mutex_)
  bool stopping_ = false;                    // GUARDED_BY(mutex_)
};

// httplib::Server whose connections are read through conveyor's own stream: a request's head and
// body must arrive within `header_timeout` (a client that sends a byte now and then cannot keep a
// connection forever), and beyond `max_connections` a new connection gets a 503 at once.
class GuardedServer : public httplib::Server {
 public:
  struct Limits {
    int max_connections = 512;
    std::chrono::milliseconds header_timeout{5000};
    std::chrono::milliseconds write_timeout{10000};
    size_t keep_alive_max_count = 1000;
  };
  explicit GuardedServer(Limits limits);

  // One request as raw bytes in, the raw response out (no socket).
  std::string HandleRaw(std::string_view request);
  // After binding: a listen backlog that holds a burst of connections (httplib listens with 5,
  // and a connection beyond it waits for a SYN retransmission, a second or more).
  void WidenBacklog();

 private:
  bool process_and_close_socket(socket_t sock) override;

  const Limits limits_;
  std::atomic<int> connections_{0};
};

}  // namespace conveyor::http
