#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/common/error.h"

namespace conveyor::http {

// How deep a request body's arrays and objects may nest: deeper JSON is refused before it is
// parsed, so that no recursion (parsing, copying, rendering, serialising) sees it.
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, counted without parsing (brackets inside
// strings do not count); stops counting once `limit` is passed.
int JsonNestingDepth(std::string_view text, int limit);

// A request body as a JSON object: empty means {}; malformed, too deep or not an object is an
// kInvalidArgument error with the message the API answers.
Result<nlohmann::json> ParseJsonBody(std::string_view body);

}  // namespace conveyor::http
