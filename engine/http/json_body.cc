#include "engine/http/json_body.h"

#include <string>

namespace conveyor::http {

int JsonNestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Result<nlohmann::json> ParseJsonBody(std::string_view body) {
  if (body.empty()) return nlohmann::json::object();
  if (JsonNestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return InvalidArgument("the request body nests deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  }
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) return InvalidArgument("the request body is not valid JSON");
  if (!json.is_object()) return InvalidArgument("the request body must be a JSON object");
  return json;
}

}  // namespace conveyor::http
