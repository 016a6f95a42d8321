#pragma once

#include "engine/common/error.h"
#include "engine/store/sqlite_db.h"

namespace conveyor::store {

// Brings the database to the newest schema version (PRAGMA user_version), one migration per
// version, each in its own transaction.
Status Migrate(SqliteDb& db);

}  // namespace conveyor::store
