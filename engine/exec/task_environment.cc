#include "engine/exec/task_environment.h"

#include <fnmatch.h>

#include <cstring>
#include <mutex>
#include <set>
#include <string_view>

extern char** environ;

namespace conveyor::exec {
namespace {

std::vector<std::string>& Passthrough() {
  static std::vector<std::string> patterns = DefaultPassthrough();
  return patterns;
}

bool Passes(const std::string& name) {
  for (const std::string& pattern : Passthrough()) {
    if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& DefaultPassthrough() {
  static const std::vector<std::string> kNames = {"PATH", "HOME", "LANG",   "LC_*",
                                                  "TZ",   "USER", "TMPDIR", "SLURM_*"};
  return kNames;
}

void SetEnvironmentPassthrough(const std::vector<std::string>& extra) {
  std::vector<std::string>& patterns = Passthrough();
  patterns = DefaultPassthrough();
  patterns.insert(patterns.end(), extra.begin(), extra.end());
}

const std::vector<std::string>& TaskBaseEnvironment() {
  static const std::vector<std::string> entries = [] {
    std::vector<std::string> out;
    std::set<std::string, std::less<>> names;  // the first of a name, as getenv sees it
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const char* eq = std::strchr(*entry, '=');
      if (eq == nullptr) continue;
      std::string name(*entry, eq - *entry);
      if (name.rfind("CONVEYOR_", 0) == 0 || !Passes(name)) continue;
      if (names.insert(name).second) out.emplace_back(*entry);
    }
    return out;
  }();
  return entries;
}

}  // namespace conveyor::exec
