#include "engine/data/data_access.h"

#include <filesystem>

#include "engine/data/sqlite_data_store.h"
#include "engine/data/sqlite_model_registry.h"

namespace conveyor::data {

exec::DataAccess MakeDataAccess(const std::string& data_db, const std::string& state_db,
                                const std::string& artifacts_dir) {
  exec::DataAccess access;
  if (!data_db.empty()) {
    access.open_data = [data_db](const exec::LockWait& wait) {
      return store::OpenSqliteDataStore(data_db, wait);
    };
    access.data_db = std::filesystem::absolute(data_db).lexically_normal();
  }
  if (!state_db.empty()) {
    access.open_registry = [state_db] { return OpenSqliteModelRegistry(state_db); };
  }
  access.artifacts_dir =
      artifacts_dir.empty() ? "" : std::filesystem::absolute(artifacts_dir).lexically_normal();
  return access;
}

}  // namespace conveyor::data
