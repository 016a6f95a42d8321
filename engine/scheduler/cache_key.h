#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/exec/executor.h"

namespace conveyor::scheduler {

// The key of a cached task's try (`cache:`): the SHA-256 of the DAG and task ids, the operator,
// its rendered command and args (every template value rendered into them), its rendered env
// without the variables that hold secrets, the upstream outputs it reads, the fingerprints of the
// inputs its args name (`inputs`, exec/input_fingerprints.h), cache.version and the rendered
// cache.key_extra. `launch` is rendered and has no executor-given variables yet. Fails when a
// key_extra template cannot be rendered with `context`.
Result<std::string> CacheKey(const dag::Task& task, const exec::TaskLaunch& launch,
                             const nlohmann::json& outputs_read, const nlohmann::json& inputs,
                             const nlohmann::json& context);

}  // namespace conveyor::scheduler
