#include "engine/http/guarded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/http/api.h"

namespace conveyor::http {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kIdleThreadExit = std::chrono::seconds(30);
constexpr size_t kSendChunk = 64 * 1024;

// Waits for `events` on `fd` until `deadline`, in slices so that `stopping` is seen; false on
// timeout, stop or error.
bool WaitFor(int fd, short events, SteadyClock::time_point deadline,
             const std::function<bool()>& stopping) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0 || stopping()) return false;
    pollfd p{fd, events, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  const int got = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length)
                       : getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (got != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

// A connection's socket, read through a buffer (httplib reads a request's head a byte at a
// time) with every read bounded by the request's deadline.
class DeadlineSocketStream : public httplib::Stream {
 public:
  DeadlineSocketStream(int fd, std::chrono::milliseconds write_timeout,
                       std::function<bool()> stopping)
      : fd_(fd), write_timeout_(write_timeout), stopping_(std::move(stopping)) {}

  void set_deadline(SteadyClock::time_point deadline) { deadline_ = deadline; }
  // Bytes of a pipelined next request already read.
  bool has_buffered() const { return begin_ < end_; }

  bool is_readable() const override {
    return begin_ < end_ || WaitFor(fd_, POLLIN, deadline_, [] { return false; });
  }
  bool is_writable() const override {
    return WaitFor(fd_, POLLOUT, SteadyClock::now() + write_timeout_, stopping_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      // What was written goes out before waiting for the client (a "100 Continue").
      if (!out_.empty() && !Flush()) return -1;
      if (size >= sizeof(buffer_)) return Receive(ptr, size);
      const ssize_t got = Receive(buffer_, sizeof(buffer_));
      if (got <= 0) return got;
      begin_ = 0;
      end_ = static_cast<size_t>(got);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  // A response's head and body are gathered and sent together (one packet for a small
  // response, not two): Flush sends them when the response is written, or once 64 KiB wait.
  // A write that would fill the buffer goes out directly, after what waits: the buffer never
  // holds more than 64 KiB.
  ssize_t write(const char* ptr, size_t size) override {
    if (out_.size() + size < kSendChunk) {
      out_.append(ptr, size);
    } else if (!Flush() || !SendAll(ptr, size)) {
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

  bool Flush() {
    if (!SendAll(out_.data(), out_.size())) return false;
    out_.clear();
    return true;
  }

  // A connection's addresses do not change: read once, not for every request.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (remote_port_ < 0) AddressOf(fd_, true, remote_ip_, remote_port_);
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (local_port_ < 0) AddressOf(fd_, false, local_ip_, local_port_);
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  bool SendAll(const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
      // At once when the socket has room (the common case: no poll), else once it has.
      const ssize_t sent = send(fd_, data + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) {
        done += static_cast<size_t>(sent);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!is_writable()) return false;
      } else if (errno != EINTR) {
        return false;
      }
    }
    return true;
  }

  // Reads what has arrived at once (the common case: no poll), else waits until the deadline.
  ssize_t Receive(char* ptr, size_t size) {
    while (true) {
      const ssize_t got = recv(fd_, ptr, size, MSG_DONTWAIT);
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return got;
      if (!WaitFor(fd_, POLLIN, deadline_, [] { return false; })) return -1;
    }
  }

  int fd_;
  std::chrono::milliseconds write_timeout_;
  std::function<bool()> stopping_;
  SteadyClock::time_point deadline_;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string out_;
  mutable std::string remote_ip_;
  mutable int remote_port_ = -1;
  mutable std::string local_ip_;
  mutable int local_port_ = -1;
};

// A request held in memory and the response written back to memory.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view input) : input_(input) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, input_.size() - read_);
    std::memcpy(ptr, input_.data() + read_, n);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    output_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& output() const { return output_; }

 private:
  std::string_view input_;
  size_t read_ = 0;
  std::string output_;
};

void RefuseConnection(int fd, int limit) {
  const ApiResponse problem =
      Problem(503, "too many connections (limit " + std::to_string(limit) + ")");
  const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + problem.content_type +
      "\r\nContent-Length: " + std::to_string(problem.body.size()) +
      "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + problem.body;
  // Best effort: the client may already be gone.
  if (send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) return;
}

}  // namespace

ConnectionThreads::ConnectionThreads(size_t keep, size_t max_threads)
    : keep_(std::max<size_t>(1, keep)), max_threads_(std::max(keep_, max_threads)) {}

ConnectionThreads::~ConnectionThreads() { shutdown(); }

void ConnectionThreads::enqueue(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  tasks_.push_back(std::move(fn));
  // Each waiting connection needs a thread of its own: a woken idle thread takes one task.
  if (tasks_.size() > idle_ && running_ < max_threads_) {
    ++running_;
    std::thread([this] { Work(); }).detach();
  } else {
    ready_.notify_one();
  }
}

void ConnectionThreads::shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  ready_.notify_all();
  ready_.wait(lock, [this] { return running_ == 0; });
}

void ConnectionThreads::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (tasks_.empty()) {
      if (stopping_) break;
      ++idle_;
      const bool woken =
          ready_.wait_for(lock, kIdleThreadExit, [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (!woken && running_ > keep_) break;
      continue;
    }
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  // The last touch of this object: shutdown() may return and destroy it once this unlocks.
  --running_;
  ready_.notify_all();
}

GuardedServer::GuardedServer(Limits limits) : limits_(limits) {}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  const int open = ++connections_;
  bool ok = false;
  if (open > limits_.max_connections) {
    RefuseConnection(sock, limits_.max_connections);
  } else {
    const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
    DeadlineSocketStream stream(sock, limits_.write_timeout, stopping);
    for (size_t count = limits_.keep_alive_max_count; count > 0; --count) {
      // Idle keep-alive connections are closed after the header timeout too.
      if (!stream.has_buffered() &&
          !WaitFor(sock, POLLIN, SteadyClock::now() + limits_.header_timeout, stopping)) {
        break;
      }
      stream.set_deadline(SteadyClock::now() + limits_.header_timeout);
      bool closed = false;
      ok = process_request(stream, count == 1, closed, nullptr);
      if (!stream.Flush()) ok = false;
      if (!ok || closed) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  --connections_;
  return ok;
}

void GuardedServer::WidenBacklog() {
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
}

std::string GuardedServer::HandleRaw(std::string_view request) {
  MemoryStream stream(request);
  bool closed = false;
  process_request(stream, true, closed, nullptr);
  return stream.output();
}

}  // namespace conveyor::http
