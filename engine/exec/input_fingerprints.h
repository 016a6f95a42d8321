#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/common/error.h"
#include "engine/exec/model_registry.h"
#include "engine/exec/operator_registry.h"

namespace conveyor::exec {

// What a try reads, by content, as its operator's arguments name it (ArgSpec::input): a file's
// SHA-256 (kept per path, size, inode and modification time, so an unchanged file is hashed
// once per process), a table's fingerprint from the data store, every table's for a query, a
// model reference's resolved version. A JSON object, arg name -> fingerprint. An error (a table
// conveyor did not write, no registry) means the try cannot be cached: it runs.
Result<nlohmann::json> FingerprintInputs(const OperatorSpec& spec, const nlohmann::json& args,
                                         const std::string& work_dir, const DataAccess& data);

// The SHA-256 of a file's content, or "missing" when it cannot be read.
std::string FileFingerprint(const std::string& path);

}  // namespace conveyor::exec
