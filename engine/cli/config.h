#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/duration.h"
#include "engine/common/error.h"
#include "engine/dag/slurm_options.h"
#include "engine/slurm/slurm_executor.h"

namespace conveyor::cli {

// Settings of conveyor, from config/conveyor.yaml and command-line flags. Relative paths in the
// file are resolved against the file's folder; relative flags against the working directory.
struct Config {
  std::string dags_folder = "dags";
  std::string db = "conveyor.db";
  std::string data_db;        // default: data.db beside db
  std::string artifacts_dir;  // default: artifacts/ beside db
  std::string log_dir;        // default: logs/ beside db
  std::string host = "127.0.0.1";
  int port = 8080;
  int workers = 4;
  int http_threads = 8;
  std::string token;
  std::string token_file;  // default: the state database's path + ".token"
  std::string public_url;  // another name the server answers to (behind a proxy)
  // auth.reads: whether reads need the token; unset: only when bound beyond loopback.
  std::optional<bool> reads_need_token;
  // The `http:` section.
  size_t http_max_body = 1 << 20;
  Duration http_header_timeout = std::chrono::seconds(5);
  int http_max_connections = 512;
  bool http_access_log = true;  // a line in serve's log per request
  // Names and globs of conveyor's environment variables a task inherits beyond the defaults.
  std::vector<std::string> env_passthrough;
  // `secrets:` name -> where its value comes from ({env: VAR} or {file: PATH}).
  struct SecretSource {
    bool from_file = false;
    std::string where;
  };
  std::map<std::string, SecretSource> secrets;
  bool dags_are_paused_at_creation = true;
  // SQLite's synchronous mode for the state database: NORMAL (WAL commits are durable across a
  // crash of conveyor, not of the machine) or FULL (fsync on every commit).
  bool db_synchronous_full = false;
  std::map<std::string, int> pools = {{"default", 128}};
  // How long `serve` lets running tries finish when it is told to stop.
  Duration shutdown_grace = std::chrono::seconds(30);
  // Where tasks run that do not say (`executor:` in a DAG): local or slurm.
  ExecutorKind executor = ExecutorKind::kLocal;
  slurm::SlurmSettings slurm;  // the `slurm:` section
  // The `serving:` section: which registered models `serve` answers predictions with.
  bool serving_enabled = true;
  std::vector<std::string> serving_models;  // NAME@ALIAS; empty: every alias and version
  size_t serving_max_rows = 10'000;
  // serving.log: reference (NAME@ALIAS) -> the data table its predictions go to, and the share
  // of rows logged.
  struct ServingLog {
    std::string table;
    double sample = 1.0;
  };
  std::map<std::string, ServingLog> serving_log;
  // The `resources:` section: what this machine offers tasks. Unset parts are detected
  // (exec::DetectMachineResources); GPUs by the ids CUDA_VISIBLE_DEVICES names.
  std::optional<std::int64_t> resources_millicpus;
  std::optional<std::uint64_t> resources_memory_bytes;
  std::optional<std::vector<std::string>> resources_gpu_ids;
};

// Reads a config file. A missing file gives the defaults; a malformed one is an error located at
// file:line:column (unknown keys get a "did you mean").
Result<Config> LoadConfig(const std::string& path);

// Makes every path absolute and fills those left empty from `db`'s folder.
void ApplyPathDefaults(Config& config);

// Reads each secret's value (from the server's environment or a file, a trailing newline
// dropped); a missing one is an error naming the secret.
Result<std::map<std::string, std::string>> ResolveSecrets(const Config& config);

}  // namespace conveyor::cli
