#include "engine/cli/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/common/duration.h"
#include "engine/common/suggest.h"
#include "engine/dag/resources.h"

namespace conveyor::cli {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& ConfigKeys() {
  static const std::vector<std::string> kKeys = {"dags_folder",
                                                 "db",
                                                 "data_db",
                                                 "artifacts_dir",
                                                 "log_dir",
                                                 "host",
                                                 "port",
                                                 "workers",
                                                 "token",
                                                 "dags_are_paused_at_creation",
                                                 "db_synchronous",
                                                 "pools",
                                                 "shutdown_grace",
                                                 "http_threads",
                                                 "executor",
                                                 "slurm",
                                                 "token_file",
                                                 "public_url",
                                                 "auth",
                                                 "http",
                                                 "env_passthrough",
                                                 "secrets",
                                                 "serving",
                                                 "resources"};
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
    if (key == "auth") return ReadAuth(value, config);
    if (key == "http") return ReadHttp(value, config);
    if (key == "serving") return ReadServing(value, config);
    if (key == "resources") return ReadResources(value, config);
    if (key == "env_passthrough") return ReadPassthrough(value, config);
    if (key == "secrets") return ReadSecrets(value, config);
    if (!value.IsScalar()) return Fail(value, "'" + key + "' must be a single value");
    const std::string text = value.Scalar();
    if (key == "dags_folder") config.dags_folder = Path(text);
    if (key == "db") config.db = Path(text);
    if (key == "data_db") config.data_db = Path(text);
    if (key == "artifacts_dir") config.artifacts_dir = Path(text);
    if (key == "log_dir") config.log_dir = Path(text);
    if (key == "host") config.host = text;
    if (key == "token") config.token = text;
    if (key == "token_file") config.token_file = Path(text);
    if (key == "public_url") config.public_url = text;
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

  Status ReadAuth(const YAML::Node& value, Config& config) {
    if (!value.IsMap()) return Fail(value, "'auth' must be a mapping such as {reads: token}");
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      if (key != "reads") {
        return Fail(entry.first, "unknown key '" + key + "' in auth" + DidYouMean(key, {"reads"}));
      }
      const std::string text = entry.second.IsScalar() ? entry.second.Scalar() : "";
      if (text != "token" && text != "open") {
        return Fail(entry.second, "'auth.reads' must be token or open, got '" + text + "'");
      }
      config.reads_need_token = text == "token";
    }
    return Status::Ok();
  }

  Status ReadHttp(const YAML::Node& value, Config& config) {
    const std::vector<std::string> keys = {"max_body", "header_timeout", "max_connections",
                                           "access_log"};
    if (!value.IsMap()) return Fail(value, "'http' must be a mapping");
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Fail(entry.first, "unknown key '" + key + "' in http" + DidYouMean(key, keys));
      }
      const std::string text = entry.second.IsScalar() ? entry.second.Scalar() : "";
      if (key == "max_body") {
        auto bytes = ParseByteSize(text);
        if (!bytes) {
          return Fail(entry.second,
                      "'http.max_body' must be a size such as 1MiB, got '" + text + "'");
        }
        config.http_max_body = *bytes;
      } else if (key == "header_timeout") {
        auto timeout = ParseDuration(text);
        if (!timeout.ok()) {
          return Fail(entry.second, "'http.header_timeout': " + timeout.error().message);
        }
        config.http_header_timeout = *timeout;
      } else if (key == "access_log") {
        if (text != "true" && text != "false") {
          return Fail(entry.second, "'http.access_log' must be true or false, got '" + text + "'");
        }
        config.http_access_log = text == "true";
      } else {
        int number = 0;
        if (!ReadInt(text, number) || number < 1) {
          return Fail(entry.second,
                      "'http.max_connections' must be a positive integer, got '" + text + "'");
        }
        config.http_max_connections = number;
      }
    }
    return Status::Ok();
  }

  // `serving: {enabled: bool, models: [NAME@ALIAS], max_rows: N, log: {NAME@ALIAS: {table: T,
  // sample: S}}}`.
  // `resources: {cpus, memory, gpus}`: what this machine offers tasks; gpus is a count (ids 0 to
  // N-1) or a list of device ids.
  Status ReadResources(const YAML::Node& value, Config& config) {
    const std::vector<std::string> keys = {"cpus", "memory", "gpus"};
    if (!value.IsMap()) {
      return Fail(value, "'resources' must be a mapping such as {cpus: 8, memory: 32GiB, gpus: 2}");
    }
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Fail(entry.first, "unknown key '" + key + "' in resources" + DidYouMean(key, keys));
      }
      const YAML::Node& item = entry.second;
      if (key == "gpus" && item.IsSequence()) {
        std::vector<std::string> ids;
        for (const auto& id : item) {
          if (!id.IsScalar() || id.Scalar().empty() ||
              id.Scalar().find_first_of(", \t\n") != std::string::npos ||
              std::find(ids.begin(), ids.end(), id.Scalar()) != ids.end()) {
            return Fail(id,
                        "each of 'resources.gpus' must be a distinct device id such as 0 or "
                        "GPU-8f2c..., without commas or spaces");
          }
          ids.push_back(id.Scalar());
        }
        config.resources_gpu_ids = std::move(ids);
        continue;
      }
      if (!item.IsScalar()) return Fail(item, "'resources." + key + "' must be a single value");
      const std::string text = item.Scalar();
      if (key == "gpus") {
        int count = 0;
        if (!ReadInt(text, count) || count > 1024) {
          return Fail(
              item, "'resources.gpus' must be a count or a list of device ids, got '" + text + "'");
        }
        std::vector<std::string> ids;
        for (int i = 0; i < count; ++i) ids.push_back(std::to_string(i));
        config.resources_gpu_ids = std::move(ids);
      } else if (key == "cpus") {
        auto cpus = dag::ParseCpus(text);
        if (!cpus.ok()) return Fail(item, "'resources.cpus': " + cpus.error().message);
        config.resources_millicpus = *cpus;
      } else {
        auto memory = dag::ParseMemory(text);
        if (!memory.ok()) return Fail(item, "'resources.memory': " + memory.error().message);
        config.resources_memory_bytes = *memory;
      }
    }
    return Status::Ok();
  }

  Status ReadServing(const YAML::Node& value, Config& config) {
    const std::vector<std::string> keys = {"enabled", "models", "max_rows", "log"};
    if (!value.IsMap()) return Fail(value, "'serving' must be a mapping");
    for (const auto& entry : value) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Fail(entry.first, "unknown key '" + key + "' in serving" + DidYouMean(key, keys));
      }
      const YAML::Node& item = entry.second;
      const std::string text = item.IsScalar() ? item.Scalar() : "";
      if (key == "enabled") {
        if (text != "true" && text != "false") {
          return Fail(item, "'serving.enabled' must be true or false, got '" + text + "'");
        }
        config.serving_enabled = text == "true";
      } else if (key == "max_rows") {
        int number = 0;
        if (!ReadInt(text, number) || number < 1) {
          return Fail(item, "'serving.max_rows' must be a positive integer, got '" + text + "'");
        }
        config.serving_max_rows = static_cast<size_t>(number);
      } else if (key == "log") {
        if (Status s = ReadServingLog(item, config); !s.ok()) return s;
      } else {
        if (!item.IsSequence()) return Fail(item, "'serving.models' must be a list of NAME@ALIAS");
        for (const auto& model : item) {
          const std::string reference = model.IsScalar() ? model.Scalar() : "";
          const size_t at = reference.find('@');
          if (at == std::string::npos || at == 0 || at + 1 == reference.size()) {
            return Fail(model, "'serving.models' entries are NAME@ALIAS, got '" + reference + "'");
          }
          config.serving_models.push_back(reference);
        }
      }
    }
    return Status::Ok();
  }

  Status ReadServingLog(const YAML::Node& value, Config& config) {
    if (!value.IsMap()) {
      return Fail(value, "'serving.log' must map NAME@ALIAS to {table: T, sample: S}");
    }
    for (const auto& entry : value) {
      const std::string reference = entry.first.Scalar();
      const size_t at = reference.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == reference.size()) {
        return Fail(entry.first, "'serving.log' keys are NAME@ALIAS, got '" + reference + "'");
      }
      const YAML::Node& target = entry.second;
      if (!target.IsMap()) {
        return Fail(target, "'serving.log." + reference + "' must be {table: T, sample: S}");
      }
      Config::ServingLog log;
      for (const auto& field : target) {
        const std::string name = field.first.Scalar();
        const std::string text = field.second.IsScalar() ? field.second.Scalar() : "";
        if (name == "table") {
          if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0])) ||
              text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789_") != std::string::npos) {
            return Fail(field.second,
                        "'serving.log." + reference +
                            ".table' must be a table name (letters, digits, _), got '" + text +
                            "'");
          }
          log.table = text;
        } else if (name == "sample") {
          char* end = nullptr;
          const double share = std::strtod(text.c_str(), &end);
          if (text.empty() || end != text.c_str() + text.size() || !(share >= 0.0) || share > 1.0) {
            return Fail(field.second, "'serving.log." + reference +
                                          ".sample' must be a number from 0 to 1, got '" + text +
                                          "'");
          }
          log.sample = share;
        } else {
          return Fail(field.first, "unknown key '" + name + "' in serving.log." + reference +
                                       DidYouMean(name, {"table", "sample"}));
        }
      }
      if (log.table.empty()) {
        return Fail(target, "'serving.log." + reference + "' needs a table");
      }
      config.serving_log[reference] = log;
    }
    return Status::Ok();
  }

  Status ReadPassthrough(const YAML::Node& value, Config& config) {
    if (!value.IsSequence()) return Fail(value, "'env_passthrough' must be a list of names");
    for (const auto& item : value) {
      const std::string name = item.IsScalar() ? item.Scalar() : "";
      if (name.empty() ||
          name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789_*?") != std::string::npos) {
        return Fail(item, "'env_passthrough' entries are variable names or globs such as AWS_*");
      }
      if (name.rfind("CONVEYOR_", 0) == 0) {
        return Fail(item, "conveyor's own CONVEYOR_* variables never pass to a task");
      }
      config.env_passthrough.push_back(name);
    }
    return Status::Ok();
  }

  Status ReadSecrets(const YAML::Node& value, Config& config) {
    if (!value.IsMap()) {
      return Fail(value, "'secrets' must map each name to {env: VARIABLE} or {file: PATH}");
    }
    for (const auto& entry : value) {
      const std::string name = entry.first.Scalar();
      const YAML::Node& source = entry.second;
      if (!source.IsMap() || source.size() != 1 || !(source["env"] || source["file"]) ||
          !(source["env"] ? source["env"] : source["file"]).IsScalar()) {
        return Fail(source, "secret '" + name + "' must be {env: VARIABLE} or {file: PATH}");
      }
      Config::SecretSource secret;
      secret.from_file = static_cast<bool>(source["file"]);
      secret.where = secret.from_file ? Path(source["file"].Scalar()) : source["env"].Scalar();
      config.secrets[name] = secret;
    }
    return Status::Ok();
  }

  // "1048576", "512KiB", "1MiB", "2GiB" (also KB, MB, GB as powers of 1024).
  static std::optional<size_t> ParseByteSize(const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
      ++digits;
    }
    if (digits == 0 || digits > 12) return std::nullopt;
    const size_t number = std::stoull(text.substr(0, digits));
    std::string unit = text.substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    const std::map<std::string, size_t> units = {
        {"", 1},          {"B", 1},        {"KiB", 1 << 10}, {"KB", 1 << 10},
        {"MiB", 1 << 20}, {"MB", 1 << 20}, {"GiB", 1 << 30}, {"GB", 1 << 30}};
    auto it = units.find(unit);
    if (it == units.end() || number == 0) return std::nullopt;
    return number * it->second;
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
  if (config.token_file.empty()) config.token_file = config.db + ".token";
  config.token_file = fs::absolute(config.token_file).lexically_normal().string();
}

Result<std::map<std::string, std::string>> ResolveSecrets(const Config& config) {
  std::map<std::string, std::string> values;
  for (const auto& [name, source] : config.secrets) {
    std::string value;
    if (source.from_file) {
      std::ifstream in(source.where, std::ios::binary);
      if (!in) return InvalidArgument("secret '" + name + "': cannot read " + source.where);
      std::ostringstream text;
      text << in.rdbuf();
      value = text.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    } else {
      const char* found = std::getenv(source.where.c_str());
      if (found == nullptr) {
        return InvalidArgument("secret '" + name + "': the environment variable " + source.where +
                               " is not set");
      }
      value = found;
    }
    values[name] = value;
  }
  return values;
}

}  // namespace conveyor::cli
