#include "engine/data/sqlite_model_registry.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "engine/common/json_text.h"
#include "engine/common/time_format.h"
#include "engine/store/records.h"
#include "engine/store/schema.h"
#include "engine/store/sqlite_db.h"

namespace conveyor::data {
namespace {

using exec::ModelVersion;
using store::SqliteDb;
using store::Statement;
using store::Transaction;

std::int64_t NowMicros() { return WallClock().PreciseNow().time_since_epoch().count(); }

std::string FormatMicros(std::int64_t micros) {
  return FormatUtcMillis(store::TimePoint(std::chrono::microseconds(micros)));
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

class SqliteModelRegistry : public exec::ModelRegistry {
 public:
  explicit SqliteModelRegistry(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<ModelVersion> AddVersion(const ModelVersion& version) override {
    if (Status s = CheckModelName(version.name); !s.ok()) return s.error();
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    const std::int64_t now = NowMicros();
    Statement model(*db_,
                    "INSERT OR IGNORE INTO registered_models (name, created_at) VALUES (?, ?)");
    model.Bind(1, version.name).Bind(2, now);
    if (Status s = model.Run(); !s.ok()) return s.error();
    Statement last(*db_, "SELECT coalesce(max(version), 0) FROM model_versions WHERE name = ?");
    last.Bind(1, version.name);
    auto latest = last.ScalarInt();
    if (!latest.ok()) return latest.error();
    ModelVersion added = version;
    added.version = static_cast<int>(*latest) + 1;
    added.created_at = FormatMicros(now);
    added.aliases.clear();
    nlohmann::json features = version.features;
    Statement insert(*db_,
                     "INSERT INTO model_versions (name, version, artifact_path, dag_id, run_id, "
                     "task_id, metrics, features, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, added.name)
        .Bind(2, std::int64_t{added.version})
        .Bind(3, added.artifact_path)
        .Bind(4, added.dag_id)
        .Bind(5, added.run_id)
        .Bind(6, added.task_id)
        .Bind(7, DumpJson(added.metrics))
        .Bind(8, DumpJson(features))
        .Bind(9, now);
    if (Status s = insert.Run(); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    return added;
  }

  Status SetAlias(const std::string& name, const std::string& alias, int version,
                  const std::string& who) override {
    if (Status s = CheckAliasName(alias); !s.ok()) return s;
    Transaction txn(*db_);
    if (Status s = txn.Begin(); !s.ok()) return s;
    auto versions = ReadVersions(name);
    if (!versions.ok()) return versions.error();
    const bool known = std::any_of(versions->begin(), versions->end(),
                                   [&](const ModelVersion& v) { return v.version == version; });
    if (!known) {
      return NotFound("model '" + name + "' has no version " + std::to_string(version) +
                      VersionsHint(*versions));
    }
    std::optional<int> previous;
    for (const ModelVersion& v : *versions) {
      if (std::find(v.aliases.begin(), v.aliases.end(), alias) != v.aliases.end()) {
        previous = v.version;
      }
    }
    Statement put(*db_,
                  "INSERT OR REPLACE INTO model_aliases (name, alias, version) VALUES (?, ?, ?)");
    put.Bind(1, name).Bind(2, alias).Bind(3, std::int64_t{version});
    if (Status s = put.Run(); !s.ok()) return s;
    std::string note = name + "@" + alias + " -> version " + std::to_string(version);
    if (previous) note += " (was version " + std::to_string(*previous) + ")";
    Statement event(*db_,
                    "INSERT INTO events (at, run, task_id, try_number, from_state, to_state, who, "
                    "note) VALUES (?, 0, NULL, NULL, NULL, 'model_alias', ?, ?)");
    event.Bind(1, NowMicros()).Bind(2, who).Bind(3, note);
    if (Status s = event.Run(); !s.ok()) return s;
    return txn.Commit();
  }

  Result<ModelVersion> Resolve(const std::string& reference) override {
    const auto at = reference.find('@');
    const auto slash = reference.find('/');
    const std::string name = reference.substr(0, std::min(at, slash));
    auto versions = ReadVersions(name);
    if (!versions.ok()) return versions.error();
    if (at != std::string::npos) {
      const std::string alias = reference.substr(at + 1);
      for (const ModelVersion& v : *versions) {
        if (std::find(v.aliases.begin(), v.aliases.end(), alias) != v.aliases.end()) return v;
      }
      std::string known;
      for (const ModelVersion& v : *versions) {
        for (const std::string& a : v.aliases) known += (known.empty() ? "" : ", ") + a;
      }
      return NotFound("model '" + name + "' has no alias '" + alias + "'" +
                      (known.empty() ? " (it has no aliases)" : " (its aliases: " + known + ")"));
    }
    if (slash != std::string::npos) {
      const std::string text = reference.substr(slash + 1);
      int number = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (ec != std::errc() || end != text.data() + text.size() || number < 1) {
        return InvalidArgument("bad model reference '" + reference +
                               "': the version after '/' must be a number such as 3");
      }
      for (const ModelVersion& v : *versions) {
        if (v.version == number) return v;
      }
      return NotFound("model '" + name + "' has no version " + text + VersionsHint(*versions));
    }
    return versions->front();
  }

  Result<std::vector<ModelVersion>> Versions(const std::string& name) override {
    return ReadVersions(name);
  }

  Result<std::vector<std::string>> ModelNames() override {
    Statement list(*db_, "SELECT name FROM registered_models ORDER BY name");
    std::vector<std::string> names;
    const Status read = list.ForEachRow([&] { names.push_back(list.Text(0)); });
    if (!read.ok()) return read.error();
    return names;
  }

 private:
  static std::string VersionsHint(const std::vector<ModelVersion>& versions) {
    return " (latest is version " + std::to_string(versions.front().version) + ")";
  }

  Result<std::vector<ModelVersion>> ReadVersions(const std::string& name) {
    Statement select(*db_,
                     "SELECT version, artifact_path, dag_id, run_id, task_id, metrics, features, "
                     "created_at FROM model_versions WHERE name = ? ORDER BY version DESC");
    select.Bind(1, name);
    std::vector<ModelVersion> versions;
    const Status read = select.ForEachRow([&] {
      ModelVersion v;
      v.name = name;
      v.version = static_cast<int>(select.Int(0));
      v.artifact_path = select.Text(1);
      v.dag_id = select.Text(2);
      v.run_id = select.Text(3);
      v.task_id = select.Text(4);
      v.metrics = nlohmann::json::parse(select.Text(5), nullptr, false);
      const auto features = nlohmann::json::parse(select.Text(6), nullptr, false);
      if (features.is_array()) {
        for (const auto& f : features) v.features.push_back(f.get<std::string>());
      }
      v.created_at = FormatMicros(select.Int(7));
      versions.push_back(std::move(v));
    });
    if (!read.ok()) return read.error();
    if (versions.empty()) {
      auto names = ModelNames();
      std::string known;
      if (names.ok()) {
        for (const std::string& n : *names) known += (known.empty() ? "" : ", ") + n;
      }
      return NotFound("no registered model '" + name + "'" +
                      (known.empty() ? " (the registry is empty)" : " (models: " + known + ")"));
    }
    Statement aliases(*db_,
                      "SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias");
    aliases.Bind(1, name);
    const Status read_aliases = aliases.ForEachRow([&] {
      for (ModelVersion& v : versions) {
        if (v.version == aliases.Int(1)) v.aliases.push_back(aliases.Text(0));
      }
    });
    if (!read_aliases.ok()) return read_aliases.error();
    return versions;
  }

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

Status CheckModelName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.size() > 250 ||
      !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return InvalidArgument("bad model name '" + name +
                           "': use letters, digits, '_', '.' and '-', not first '.'");
  }
  return Status::Ok();
}

Status CheckAliasName(const std::string& alias) {
  if (alias.empty() || alias.front() == '.' || alias.size() > 250 ||
      !std::all_of(alias.begin(), alias.end(), IsNameChar)) {
    return InvalidArgument("bad alias '" + alias +
                           "': use letters, digits, '_', '.' and '-', not first '.'");
  }
  if (alias == "latest" || std::all_of(alias.begin(), alias.end(), ::isdigit)) {
    return InvalidArgument("bad alias '" + alias +
                           "': 'latest' and numbers are reserved for versions");
  }
  return Status::Ok();
}

Result<std::unique_ptr<exec::ModelRegistry>> OpenSqliteModelRegistry(const std::string& state_db) {
  auto db = SqliteDb::Open(state_db);
  if (!db.ok()) return db.error();
  if (Status s = (*db)->Exec("PRAGMA foreign_keys = ON"); !s.ok()) return s.error();
  if (Status s = store::Migrate(**db); !s.ok()) return s.error();
  return std::unique_ptr<exec::ModelRegistry>(new SqliteModelRegistry(std::move(db).value()));
}

}  // namespace conveyor::data
