#include "engine/cli/api_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/common/private_files.h"

namespace conveyor::cli {
namespace {

constexpr size_t kTokenBytes = 32;

Result<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(std::string("cannot read random bytes: ") + std::strerror(errno));
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return IoError("cannot read the token file " + path + ": " + std::strerror(errno));
  struct stat info {};
  std::string text(256, '\0');
  const bool stat_ok = fstat(fd, &info) == 0;
  const ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  if (!stat_ok || n < 0) return IoError("cannot read the token file " + path);
  if ((info.st_mode & 077) != 0) {
    return InvalidArgument("the token file " + path +
                           " is readable by other users: chmod 600 it, or remove it for a new one");
  }
  text.resize(static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty()) return InvalidArgument("the token file " + path + " is empty");
  return text;
}

}  // namespace

Result<ApiToken> LoadOrCreateApiToken(const Config& config) {
  if (!config.token.empty()) return ApiToken{config.token, "", false};
  if (const char* token = std::getenv("CONVEYOR_TOKEN"); token != nullptr && *token != 0) {
    return ApiToken{token, "", false};
  }
  const std::string& path = config.token_file;
  if (access(path.c_str(), F_OK) == 0) {
    auto text = ReadTokenFile(path);
    if (!text.ok()) return text.error();
    return ApiToken{*text, path, false};
  }
  auto token = RandomHex(kTokenBytes);
  if (!token.ok()) return token.error();
  MakePrivateParent(path);
  // O_EXCL: when two processes start at once, the second reads the first one's token.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    // Another process is creating it: its token is written a moment after the file appears.
    for (int attempt = 0;; ++attempt) {
      auto text = ReadTokenFile(path);
      if (text.ok()) return ApiToken{*text, path, false};
      if (attempt == 50) return text.error();
      usleep(20'000);
    }
  }
  if (fd < 0) return IoError("cannot create the token file " + path + ": " + std::strerror(errno));
  fchmod(fd, 0600);
  const std::string line = *token + "\n";
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  if (!written) return IoError("cannot write the token file " + path);
  return ApiToken{*token, path, true};
}

}  // namespace conveyor::cli
