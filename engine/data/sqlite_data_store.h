#pragma once

#include <memory>
#include <string>

#include "engine/common/error.h"
#include "engine/exec/data_store.h"

namespace conveyor::store {

// The data database as a SQLite file (created when missing), in WAL mode. Waits for other
// writers as `wait` says.
Result<std::unique_ptr<exec::DataStore>> OpenSqliteDataStore(const std::string& path,
                                                             const exec::LockWait& wait);

}  // namespace conveyor::store
