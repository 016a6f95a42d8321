// libFuzzer target: any bytes as a template, rendered against a fixed context.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/dag/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::json kContext = {
      {"ds", "2026-01-01"}, {"params", {{"a", 1}, {"b", {{"c", "x'y"}}}}}, {"conf", nullptr}};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = conveyor::dag::Template::Parse(text);
  if (parsed.ok()) (void)parsed->Render(kContext);
  return 0;
}
