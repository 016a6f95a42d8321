#include "engine/scheduler/cache_key.h"

#include "engine/common/json_text.h"
#include "engine/common/sha256.h"
#include "engine/dag/template.h"

namespace conveyor::scheduler {

Result<std::string> CacheKey(const dag::Task& task, const exec::TaskLaunch& launch,
                             const nlohmann::json& outputs_read, const nlohmann::json& inputs,
                             const nlohmann::json& context) {
  Sha256 hash;
  hash.UpdateField("conveyor cache key 1");
  hash.UpdateField(launch.info.dag_id);
  hash.UpdateField(task.id);
  hash.UpdateField(task.operator_name);
  hash.UpdateField(launch.command ? DumpJson(*launch.command) : "");
  hash.UpdateField(DumpJson(launch.args));
  for (const auto& [name, value] : launch.env) {
    // A secret's value is not part of what the try computes from; its rotation keeps the cache.
    auto raw = task.env.find(name);
    if (raw != task.env.end() && raw->second.find("secrets.") != std::string::npos) continue;
    hash.UpdateField(name);
    hash.UpdateField(value);
  }
  hash.UpdateField(DumpJson(outputs_read));
  hash.UpdateField(DumpJson(inputs));
  hash.UpdateField(task.cache.version);
  for (const std::string& extra : task.cache.key_extra) {
    auto parsed = dag::Template::Parse(extra);
    if (!parsed.ok()) return parsed.error();
    auto rendered = parsed->Render(context);
    if (!rendered.ok()) {
      return InvalidArgument("cannot render cache.key_extra '" + extra +
                             "': " + rendered.error().message);
    }
    hash.UpdateField(*rendered);
  }
  return hash.HexDigest();
}

}  // namespace conveyor::scheduler
