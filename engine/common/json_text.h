#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace conveyor {

// Serialises JSON that may hold user text: invalid UTF-8 becomes U+FFFD instead of throwing.
inline std::string DumpJson(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace conveyor
