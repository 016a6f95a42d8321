#include "engine/common/secret_masker.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace conveyor {
namespace {

constexpr size_t kShortest = 4;
constexpr std::string_view kMask = "***";

std::vector<std::string>& Forms() {
  static std::vector<std::string> forms;
  return forms;
}

std::atomic<bool> registered{false};

// As conveyor's JSON answers write the value (nlohmann's escapes), without the quotes.
std::string JsonEscaped(std::string_view value) {
  const std::string quoted = nlohmann::json(std::string(value))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

std::string PercentEncoded(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// The offset and length of the earliest form found in `text` from `from` (longest first at the
// same offset), or npos.
std::pair<size_t, size_t> FindForm(std::string_view text, size_t from) {
  size_t best = std::string_view::npos;
  size_t length = 0;
  for (const std::string& form : Forms()) {
    const size_t at = text.find(form, from);
    if (at < best) {
      best = at;
      length = form.size();
    }
  }
  return {best, length};
}

}  // namespace

void RegisterSecrets(const std::vector<std::string>& values) {
  std::vector<std::string>& forms = Forms();
  for (const std::string& value : values) {
    if (value.size() < kShortest) continue;
    for (std::string form : {value, JsonEscaped(value), PercentEncoded(value)}) {
      if (std::find(forms.begin(), forms.end(), form) == forms.end()) forms.push_back(form);
    }
  }
  std::sort(forms.begin(), forms.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  registered = !forms.empty();
}

const std::vector<std::string>& MaskedForms() { return Forms(); }

bool HasSecrets() { return registered.load(std::memory_order_relaxed); }

std::string MaskSecrets(std::string_view text) {
  if (!HasSecrets()) return std::string(text);
  std::string out;
  size_t from = 0;
  while (true) {
    const auto [at, length] = FindForm(text, from);
    if (at == std::string_view::npos) break;
    out.append(text.substr(from, at - from));
    out += kMask;
    from = at + length;
  }
  out.append(text.substr(from));
  return out;
}

std::string StreamMasker::Feed(std::string_view chunk) {
  if (!HasSecrets()) return std::string(chunk);
  pending_.append(chunk);
  // Everything but a tail that could be the start of a form split by the chunk's end.
  const size_t keep = Forms().front().size() - 1;
  std::string out;
  size_t from = 0;
  while (true) {
    const auto [at, length] = FindForm(pending_, from);
    if (at == std::string::npos) break;
    out.append(pending_, from, at - from);
    out += kMask;
    from = at + length;
  }
  const size_t safe_end = pending_.size() > keep ? std::max(from, pending_.size() - keep) : from;
  out.append(pending_, from, safe_end - from);
  pending_.erase(0, safe_end);
  return out;
}

std::string StreamMasker::Finish() {
  std::string out = MaskSecrets(pending_);
  pending_.clear();
  return out;
}

}  // namespace conveyor
