#include "engine/cli/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "engine/common/duration.h"
#include "engine/common/suggest.h"

namespace conveyor::cli {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& ConfigKeys() {
  static const std::vector<std::string> kKeys = {
      "dags_folder",    "db",    "data_db",        "artifacts_dir", "log_dir",
      "host",           "port",  "workers",        "token",         "dags_are_paused_at_creation",
      "db_synchronous", "pools", "shutdown_grace", "http_threads",  "executor",
      "slurm"};
  return kKeys;
}

// The `slurm:` section: the sbatch options of every Slurm task, and how jobs are followed.
const std::vector<std::string>& SlurmConfigKeys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys = SlurmOptionKeys();
    for (const char* key : {"poll_interval", "conveyor_binary", "jobcomp_file", "max_jobs"}) {
      keys.push_back(key);
    }
    return keys;
  }();
  return kKeys;
}

class ConfigReader {
 public:
  ConfigReader(std::string path, fs::path base) : path_(std::move(path)), base_(std::move(base)) {}

  Status Read(const YAML::Node& root, Config& config) {
    if (root.IsNull()) return Status::Ok();
    if (!root.IsMap()) return Fail(root, "a config file must be a mapping");
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (std::find(ConfigKeys().begin(), ConfigKeys().end(), key) == ConfigKeys().end()) {
        return Fail(entry.first,
                    "unknown config key '" + key + "'" + DidYouMean(key, ConfigKeys()));
      }
      Status status = ReadKey(key, value, config);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }

 private:
  Status ReadKey(const std::string& key, const YAML::Node& value, Config& config) {
    if (key == "pools") return ReadPools(value, config);
    if (key == "slurm") return ReadSlurm(value, config.slurm);
    if (!value.IsScalar()) return Fail(value, "'" + key + "' must be a single value");
    const std::string text = value.Scalar();
    if (key == "dags_folder") config.dags_folder = Path(text);
    if (key == "db") config.db = Path(text);
    if (key == "data_db") config.data_db = Path(text);
    if (key == "artifacts_dir") config.artifacts_dir = Path(text);
    if (key == "log_dir") config.log_dir = Path(text);
    if (key == "host") config.host = text;
    if (key == "token") config.token = text;
    if (key == "port" || key == "workers" || key == "http_threads") {
      int number = 0;
      if (!ReadInt(text, number) || number < (key == "port" ? 0 : 1) || number > 65535) {
        return Fail(value, "'" + key + "' must be a positive integer, got '" + text + "'");
      }
      (key == "port"      ? config.port
       : key == "workers" ? config.workers
                          : config.http_threads) = number;
    }
    if (key == "db_synchronous") {
      if (text != "normal" && text != "full") {
        return Fail(value, "'db_synchronous' must be normal or full, got '" + text + "'");
      }
      config.db_synchronous_full = text == "full";
    }
    if (key == "shutdown_grace") {
      auto grace = ParseDuration(text);
      if (!grace.ok()) return Fail(value, "'shutdown_grace': " + grace.error().message);
      config.shutdown_grace = *grace;
    }
    if (key == "executor") {
      auto kind = ParseExecutorKind(text);
      if (!kind) return Fail(value, "'executor' must be local or slurm, got '" + text + "'");
      config.executor = *kind;
    }
    if (key == "dags_are_paused_at_creation") {
      if (text != "true" && text != "false") {
        return Fail(value, "'" + key + "' must be true or false, got '" + text + "'");
      }
      config.dags_are_paused_at_creation = text == "true";
    }
    return Status::Ok();
  }

  Status ReadPools(const YAML::Node& value, Config& config) {
    if (!value.IsMap()) return Fail(value, "'pools' must be a mapping of pool name to slots");
    for (const auto& pool : value) {
      int slots = 0;
      if (!pool.second.IsScalar() || !ReadInt(pool.second.Scalar(), slots) || slots < 1) {
        return Fail(pool.second, "pool '" + pool.first.Scalar() +
                                     "' must have a positive number "
                                     "of slots");
      }
      config.pools[pool.first.Scalar()] = slots;
    }
    return Status::Ok();
  }

  Status ReadSlurm(const YAML::Node& value, slurm::SlurmSettings& settings) {
    if (!value.IsMap()) return Fail(value, "'slurm' must be a mapping of sbatch options");
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& node = entry.second;
      const auto& keys = SlurmConfigKeys();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Fail(entry.first, "unknown key '" + key + "' in slurm" + DidYouMean(key, keys));
      }
      if (key == "extra_args") {
        if (!node.IsSequence()) return Fail(node, "slurm 'extra_args' must be a list of strings");
        std::vector<std::string> args;
        for (const auto& arg : node) args.push_back(arg.Scalar());
        if (auto problem = SetSlurmExtraArgs(settings.defaults, args)) return Fail(node, *problem);
        continue;
      }
      if (!node.IsScalar()) return Fail(node, "slurm '" + key + "' must be a single value");
      const std::string text = node.Scalar();
      if (key == "poll_interval") {
        auto interval = ParseDuration(text);
        if (!interval.ok()) return Fail(node, "slurm 'poll_interval': " + interval.error().message);
        settings.poll_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*interval);
        if (settings.poll_interval.count() < 10) {
          return Fail(node, "slurm 'poll_interval' must be at least 10ms, got '" + text + "'");
        }
      } else if (key == "conveyor_binary") {
        settings.conveyor_binary = Path(text);
      } else if (key == "jobcomp_file") {
        settings.jobcomp_file = Path(text);
      } else if (key == "max_jobs") {
        if (!ReadInt(text, settings.max_jobs) || settings.max_jobs < 1) {
          return Fail(node, "slurm 'max_jobs' must be a positive integer, got '" + text + "'");
        }
      } else if (auto problem = SetSlurmOption(settings.defaults, key, text)) {
        return Fail(node, *problem);
      }
    }
    return Status::Ok();
  }

  static bool ReadInt(const std::string& text, int& out) {
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    out = std::stoi(text);
    return true;
  }

  std::string Path(const std::string& text) const {
    const fs::path path(text);
    return path.is_absolute() ? text : (base_ / path).lexically_normal().string();
  }

  Error Fail(const YAML::Node& node, std::string message) const {
    const YAML::Mark mark = node.Mark();
    return InvalidArgument(std::move(message), Location{path_, mark.line + 1, mark.column + 1});
  }

  std::string path_;
  fs::path base_;
};

}  // namespace

Result<Config> LoadConfig(const std::string& path) {
  Config config;
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return config;
  YAML::Node root;
  // yaml-cpp reports errors by exception; they stop here.
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(e.msg, Location{path, e.mark.line + 1, e.mark.column + 1});
  }
  const fs::path base = fs::path(path).parent_path();
  Status status = ConfigReader(path, base.empty() ? fs::path(".") : base).Read(root, config);
  if (!status.ok()) return status.error();
  return config;
}

void ApplyPathDefaults(Config& config) {
  // Tasks run in their DAG's folder, so every path they are given must be absolute.
  for (std::string* path :
       {&config.dags_folder, &config.db, &config.data_db, &config.artifacts_dir, &config.log_dir}) {
    if (!path->empty()) *path = fs::absolute(*path).lexically_normal().string();
  }
  const fs::path beside = fs::path(config.db).parent_path();
  if (config.data_db.empty()) config.data_db = (beside / "data.db").string();
  if (config.artifacts_dir.empty()) config.artifacts_dir = (beside / "artifacts").string();
  if (config.log_dir.empty()) config.log_dir = (beside / "logs").string();
}

}  // namespace conveyor::cli
