#include "engine/dag/task_loader.h"

#include <algorithm>

#include "engine/common/suggest.h"
#include "engine/dag/dag_loader.h"
#include "engine/dag/shell_placement.h"
#include "engine/dag/template.h"

namespace conveyor::dag {
namespace {

const std::vector<std::string>& TaskOnlyKeys() {
  static const std::vector<std::string> kKeys = {"id",
                                                 "operator",
                                                 "description",
                                                 "depends_on",
                                                 "trigger_rule",
                                                 "args",
                                                 "command",
                                                 "env",
                                                 "branch",
                                                 "short_circuit",
                                                 "ignore_downstream_trigger_rules",
                                                 "latest_only",
                                                 "group"};
  return kKeys;
}

std::vector<std::string> AllTaskKeys() {
  std::vector<std::string> keys = TaskOnlyKeys();
  keys.insert(keys.end(), SharedTaskKeys().begin(), SharedTaskKeys().end());
  return keys;
}

// Checks the templates inside one scalar, and records {{ outputs.T.K }} references. Secrets may
// appear only where `secrets_allowed` (a task's env: values), so they never reach a command line,
// an argument or an output.
void CheckTemplates(YamlReader& reader, const YAML::Node& scalar, Task& task,
                    bool secrets_allowed = false) {
  const std::string& text = scalar.Scalar();
  if (Template::IsPlain(text)) return;
  task.has_templates = true;
  auto parsed = Template::Parse(text);
  if (!parsed.ok()) {
    reader.Fail(reader.AtOffset(scalar, parsed.error().location->column - 1),
                parsed.error().message);
    return;
  }
  for (const Template::Expression& expression : parsed->Expressions()) {
    const Location location = reader.AtOffset(scalar, static_cast<int>(expression.offset));
    const std::string& root = expression.path.front();
    const auto& roots = TemplateRootNames();
    if (root == "secrets") {
      if (!secrets_allowed) {
        reader.Fail(location, "'" + expression.DottedPath() +
                                  "': secrets may be used only in a task's env: values");
      } else if (expression.path.size() != 2) {
        reader.Fail(location, "template name '" + expression.DottedPath() +
                                  "' must have the form secrets.NAME");
      }
    } else if (std::find(roots.begin(), roots.end(), root) == roots.end()) {
      reader.Fail(location, "unknown template name '" + expression.DottedPath() + "'" +
                                DidYouMean(root, roots));
    } else if (root == "outputs") {
      if (expression.path.size() < 3) {
        reader.Fail(location, "template name '" + expression.DottedPath() +
                                  "' must have the form outputs.TASK.KEY");
      } else {
        // A task of a group: outputs.GROUP.TASK.KEY.
        std::string task_id = expression.path[1];
        for (size_t i = 2; i + 1 < expression.path.size(); ++i) task_id += "." + expression.path[i];
        task.output_references.push_back({task_id, expression.path.back(), location});
      }
    }
  }
}

void CheckTemplatesIn(YamlReader& reader, const YAML::Node& node, Task& task) {
  if (node.IsScalar()) {
    CheckTemplates(reader, node, task);
  } else if (node.IsSequence()) {
    for (const auto& item : node) CheckTemplatesIn(reader, item, task);
  } else if (node.IsMap()) {
    for (const auto& entry : node) CheckTemplatesIn(reader, entry.second, task);
  }
}

// A string command's templates reach the shell as environment variables (shell_placement.h):
// each must stand where the shell's lexer can place it.
void CheckShellPlacement(YamlReader& reader, const YAML::Node& scalar) {
  const std::string& text = scalar.Scalar();
  if (Template::IsPlain(text)) return;
  auto parsed = Template::Parse(text);
  if (!parsed.ok()) return;  // CheckTemplates reports it
  std::vector<TemplateSpan> spans;
  for (const Template::Expression& expression : parsed->Expressions()) {
    spans.push_back({expression.offset, expression.offset + expression.length});
  }
  auto placed = PlaceTemplates(text, spans);
  if (!placed.ok()) {
    reader.Fail(reader.AtOffset(scalar, placed.error().location->column - 1),
                placed.error().message);
  }
}

void ReadCommand(YamlReader& reader, const YAML::Node& node, Task& task) {
  const bool good_list =
      node.IsSequence() && node.size() > 0 &&
      std::all_of(node.begin(), node.end(), [](const YAML::Node& item) { return item.IsScalar(); });
  if (!(node.IsScalar() && !node.Scalar().empty()) && !good_list) {
    reader.Fail(node, "'command' must be a non-empty string or a list of strings, got " +
                          YamlReader::Describe(node));
    return;
  }
  if (node.IsScalar()) {
    task.command = node.Scalar();
    CheckShellPlacement(reader, node);
  } else {
    nlohmann::json argv = nlohmann::json::array();
    for (const auto& item : node) argv.push_back(item.Scalar());
    task.command = std::move(argv);
  }
  CheckTemplatesIn(reader, node, task);
}

void ReadEnv(YamlReader& reader, const YAML::Node& node, Task& task) {
  auto entries = reader.Map(node, "env");
  if (!entries) return;
  for (const auto& [name, value] : *entries) {
    if (!IsValidId(name) || name.find_first_of(".-") != std::string::npos) {
      reader.Fail(node, "bad environment variable name '" + name + "'");
    } else if (auto text = reader.String(value, "env." + name)) {
      task.env[name] = *text;
      CheckTemplates(reader, value, task, true);
    }
  }
}

// Where to point at an operator's complaint: the offending arg's key, the command, or the task.
// (YAML::Node assignment writes through to the document, so locations are chosen, not nodes.)
Location ProblemLocation(const YamlReader& reader, const YAML::Node& node,
                         const YAML::Node& args_node, const ArgProblem& problem) {
  if (problem.arg == "command" && node["command"]) return reader.At(node["command"]);
  if (!problem.arg.empty() && args_node.IsDefined() && args_node.IsMap()) {
    for (const auto& entry : args_node) {
      if (entry.first.Scalar() == problem.arg) return reader.At(entry.first);
    }
  }
  if (args_node.IsDefined()) return reader.At(args_node);
  return reader.At(node["id"] ? node["id"] : node);
}

void CheckOperator(YamlReader& reader, const YAML::Node& node, const YAML::Node& args_node,
                   Task& task, const OperatorCatalog& catalog) {
  if (!catalog.HasOperator(task.operator_name)) {
    const auto names = catalog.OperatorNames();
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
    const std::string hint = DidYouMean(task.operator_name, names);
    reader.Fail(node["operator"] ? node["operator"] : node,
                "unknown operator '" + task.operator_name + "'" +
                    (hint.empty() ? " (expected one of: " + list + ")" : hint));
    return;
  }
  for (const ArgProblem& problem :
       catalog.CheckArgs(task.operator_name, task.args, task.command.has_value())) {
    reader.Fail(ProblemLocation(reader, node, args_node, problem), problem.message);
  }
}

// `slurm: {partition, cpus, mem, gres, time, account, qos, extra_args}` over `options`.
void ReadSlurmOptions(YamlReader& reader, const YAML::Node& node, SlurmOptions& options) {
  if (!node.IsMap()) {
    reader.Fail(node, "'slurm' must be a mapping such as {partition: gpu, gres: \"gpu:1\"}, got " +
                          YamlReader::Describe(node));
    return;
  }
  reader.CheckKeys(node, SlurmOptionKeys(), "slurm");
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (std::find(SlurmOptionKeys().begin(), SlurmOptionKeys().end(), key) ==
        SlurmOptionKeys().end()) {
      continue;  // reported by CheckKeys
    }
    std::optional<std::string> problem;
    if (key == "extra_args") {
      auto args = reader.StringList(entry.second, "slurm 'extra_args'");
      if (!args) continue;
      problem = SetSlurmExtraArgs(options, *args);
    } else {
      if (!entry.second.IsScalar()) {
        reader.Fail(entry.second, "slurm '" + key + "' must be a single value, got " +
                                      YamlReader::Describe(entry.second));
        continue;
      }
      problem = SetSlurmOption(options, key, entry.second.Scalar());
    }
    if (problem) reader.Fail(entry.second, *problem);
  }
}

// `resources: {cpus, memory, gpus}`: what each try holds while it runs.
Resources ReadResources(YamlReader& reader, const YAML::Node& node) {
  Resources out;
  if (!node.IsMap()) {
    reader.Fail(node,
                "'resources' must be a mapping such as {cpus: 2, memory: 4GiB, gpus: 1}, got " +
                    YamlReader::Describe(node));
    return out;
  }
  reader.CheckKeys(node, {"cpus", "memory", "gpus"}, "resources");
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "gpus") {
      if (auto v = reader.Int(value, "resources.gpus", 0)) out.gpus = *v;
      continue;
    }
    if (key != "cpus" && key != "memory") continue;  // reported by CheckKeys
    if (!value.IsScalar()) {
      reader.Fail(value, "'resources." + key + "' must be a single value, got " +
                             YamlReader::Describe(value));
      continue;
    }
    if (key == "cpus") {
      auto cpus = ParseCpus(value.Scalar());
      if (cpus.ok()) {
        out.millicpus = *cpus;
      } else {
        reader.Fail(value, cpus.error().message);
      }
    } else {
      auto memory = ParseMemory(value.Scalar());
      if (memory.ok()) {
        out.memory_bytes = *memory;
      } else {
        reader.Fail(value, memory.error().message);
      }
    }
  }
  return out;
}

// `cache: true`, or `cache: {version, ttl, key_extra}` (which turns it on).
CachePolicy ReadCache(YamlReader& reader, const YAML::Node& node) {
  CachePolicy out;
  if (node.IsScalar()) {
    if (auto v = reader.Bool(node, "cache")) out.enabled = *v;
    return out;
  }
  if (!node.IsMap()) {
    reader.Fail(
        node, "'cache' must be true, false or a mapping such as {version: \"2\", ttl: 30d}, got " +
                  YamlReader::Describe(node));
    return out;
  }
  out.enabled = true;
  reader.CheckKeys(node, {"version", "ttl", "key_extra"}, "cache");
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "version") {
      if (auto v = reader.String(value, "cache.version")) out.version = *v;
    } else if (key == "ttl") {
      if (auto v = reader.DurationValue(value, "cache.ttl")) out.ttl = *v;
    } else if (key == "key_extra") {
      auto extras =
          value.IsScalar()
              ? std::optional<std::vector<std::string>>(std::vector<std::string>{value.Scalar()})
              : reader.StringList(value, "cache.key_extra");
      if (!extras) continue;
      for (const std::string& extra : *extras) {
        if (Template::IsPlain(extra)) continue;
        auto parsed = Template::Parse(extra);
        if (!parsed.ok()) reader.Fail(value, "cache.key_extra: " + parsed.error().message);
      }
      out.key_extra = *extras;
    }
  }
  return out;
}

// One exit code or a list of them, each 1-255 (Airflow's skip_on_exit_code).
void ReadSkipExitCodes(YamlReader& reader, const YAML::Node& node, std::vector<int>& codes) {
  std::vector<int> read;
  const auto read_one = [&](const YAML::Node& item) {
    auto code = reader.Int(item, "skip_on_exit_code", 0);
    if (!code) return;
    if (*code < 1 || *code > 255) {
      reader.Fail(item, "skip_on_exit_code must be an exit code from 1 to 255, got " +
                            std::to_string(*code));
      return;
    }
    read.push_back(static_cast<int>(*code));
  };
  if (node.IsSequence()) {
    for (const auto& item : node) read_one(item);
  } else if (node.IsNull()) {
    codes.clear();  // `skip_on_exit_code: null`: no exit code skips (Airflow's None)
    return;
  } else {
    read_one(node);
  }
  codes = std::move(read);
}

// The control-flow keys of one task, checked against its operator.
void CheckControlFlow(YamlReader& reader, const YAML::Node& node, Task& task) {
  ControlFlow& flow = task.flow;
  if (task.operator_name == "branch") flow.branch = true;
  if (task.operator_name == "short_circuit") flow.short_circuit = true;
  if (flow.wait_for_downstream) flow.depends_on_past = true;  // as in Airflow
  const YAML::Node at = node["id"] ? node["id"] : node;
  if (flow.branch && flow.short_circuit) {
    reader.Fail(node["short_circuit"] ? node["short_circuit"] : at,
                "task '" + task.id + "' cannot be both a branch and a short-circuit");
  }
  const bool shell = task.operator_name == "shell";
  if (node["branch"] && flow.branch && !shell && task.operator_name != "branch") {
    reader.Fail(node["branch"], "'branch: true' needs a shell task (a command); operator '" +
                                    task.operator_name + "' cannot choose a branch");
  }
  if (node["short_circuit"] && flow.short_circuit && !shell &&
      task.operator_name != "short_circuit") {
    reader.Fail(node["short_circuit"],
                "'short_circuit: true' needs a shell task (a command); operator '" +
                    task.operator_name + "' has no exit code");
  }
  if (node["ignore_downstream_trigger_rules"] && !flow.short_circuit) {
    reader.Fail(node["ignore_downstream_trigger_rules"],
                "'ignore_downstream_trigger_rules' applies only to a short-circuit task");
  }
}

}  // namespace

const std::vector<std::string>& SharedTaskKeys() {
  static const std::vector<std::string> kKeys = {"retries",
                                                 "retry_delay",
                                                 "retry_exponential_backoff",
                                                 "max_retry_delay",
                                                 "execution_timeout",
                                                 "pool",
                                                 "priority_weight",
                                                 "on_success",
                                                 "on_failure",
                                                 "on_retry",
                                                 "executor",
                                                 "slurm",
                                                 "resources",
                                                 "cache",
                                                 "depends_on_past",
                                                 "wait_for_downstream",
                                                 "skip_on_exit_code"};
  return kKeys;
}

std::vector<Callback> ReadCallbacks(YamlReader& reader, const YAML::Node& node,
                                    const std::string& key) {
  std::vector<Callback> out;
  if (!node.IsSequence()) {
    reader.Fail(node, "'" + key + "' must be a list such as [{webhook: \"http://...\"}], got " +
                          YamlReader::Describe(node));
    return out;
  }
  for (const auto& item : node) {
    if (!item.IsMap()) {
      reader.Fail(item, "each '" + key + "' entry must be a mapping such as {webhook: URL}");
      continue;
    }
    reader.CheckKeys(item, {"webhook"}, key);
    if (!item["webhook"]) {
      reader.Fail(item, "'" + key + "' entry is missing 'webhook'");
      continue;
    }
    auto url = reader.String(item["webhook"], "webhook");
    if (!url) continue;
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
      reader.Fail(item["webhook"],
                  "'webhook' must be an http:// or https:// URL, got '" + *url + "'");
      continue;
    }
    out.push_back({*url});
  }
  return out;
}

bool ReadCallbackKey(YamlReader& reader, const std::string& key, const YAML::Node& value,
                     Callbacks& callbacks) {
  std::vector<Callback>* list = key == "on_success"   ? &callbacks.on_success
                                : key == "on_failure" ? &callbacks.on_failure
                                : key == "on_retry"   ? &callbacks.on_retry
                                                      : nullptr;
  if (list == nullptr) return false;
  *list = ReadCallbacks(reader, value, key);
  return true;
}

bool ReadSharedTaskKey(YamlReader& reader, const std::string& key, const YAML::Node& value,
                       TaskDefaults& defaults) {
  RetryPolicy& retry = defaults.retry;
  if (key == "retries") {
    if (auto v = reader.Int(value, key, 0)) retry.retries = *v;
  } else if (key == "retry_delay") {
    if (auto v = reader.DurationValue(value, key)) retry.retry_delay = *v;
  } else if (key == "retry_exponential_backoff") {
    if (auto v = reader.Bool(value, key)) retry.retry_exponential_backoff = *v;
  } else if (key == "max_retry_delay") {
    if (auto v = reader.DurationValue(value, key)) retry.max_retry_delay = *v;
  } else if (key == "execution_timeout") {
    if (auto v = reader.DurationValue(value, key)) retry.execution_timeout = *v;
  } else if (key == "pool") {
    if (auto v = reader.String(value, key)) defaults.pool = *v;
  } else if (key == "priority_weight") {
    if (auto v = reader.Int(value, key, -1'000'000)) defaults.priority_weight = *v;
  } else if (key == "executor") {
    auto text = reader.String(value, key);
    if (!text) return true;
    if (auto kind = ParseExecutorKind(*text)) {
      defaults.executor = *kind;
    } else {
      reader.Fail(value, "unknown executor '" + *text + "' (expected local or slurm)");
    }
  } else if (key == "slurm") {
    ReadSlurmOptions(reader, value, defaults.slurm);
  } else if (key == "resources") {
    defaults.resources = ReadResources(reader, value);
  } else if (key == "cache") {
    defaults.cache = ReadCache(reader, value);
  } else if (key == "depends_on_past") {
    if (auto v = reader.Bool(value, key)) defaults.flow.depends_on_past = *v;
  } else if (key == "wait_for_downstream") {
    if (auto v = reader.Bool(value, key)) defaults.flow.wait_for_downstream = *v;
  } else if (key == "skip_on_exit_code") {
    ReadSkipExitCodes(reader, value, defaults.flow.skip_on_exit_code);
  } else {
    return ReadCallbackKey(reader, key, value, defaults.callbacks);
  }
  return true;
}

std::optional<Task> ReadTask(YamlReader& reader, const YAML::Node& node,
                             const TaskDefaults& defaults, const OperatorCatalog& catalog) {
  if (!node.IsMap()) {
    reader.Fail(node, "each task must be a mapping with an 'id' and an 'operator', got " +
                          YamlReader::Describe(node));
    return std::nullopt;
  }
  Task task;
  task.location = reader.At(node);
  const YAML::Node id = node["id"];
  if (!id) {
    reader.Fail(node, "task is missing 'id'");
    return std::nullopt;
  }
  auto id_text = reader.String(id, "id");
  if (!id_text) return std::nullopt;
  if (!IsValidId(*id_text)) {
    reader.Fail(id, "invalid task id '" + *id_text +
                        "' (use letters, digits, '_', '.' and '-', not first '.')");
    return std::nullopt;
  }
  task.id = *id_text;
  task.location = reader.At(id);
  reader.CheckKeys(node, AllTaskKeys(), "task '" + task.id + "'");

  TaskDefaults own = defaults;
  const YAML::Node args_node = node["args"];
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (ReadSharedTaskKey(reader, key, value, own)) continue;
    if (key == "operator") {
      if (auto v = reader.String(value, key)) task.operator_name = *v;
    } else if (key == "description") {
      if (auto v = reader.String(value, key)) task.description = *v;
    } else if (key == "depends_on") {
      if (value.IsScalar()) {
        task.depends_on = {value.Scalar()};
      } else if (auto v = reader.StringList(value, key)) {
        task.depends_on = *v;
      }
    } else if (key == "trigger_rule") {
      auto text = reader.String(value, key);
      if (!text) continue;
      if (auto rule = ParseTriggerRule(*text)) {
        task.trigger_rule = *rule;
      } else {
        reader.Fail(value,
                    "unknown trigger_rule '" + *text + "'" + DidYouMean(*text, TriggerRuleNames()));
      }
    } else if (key == "args") {
      if (value.IsMap()) {
        task.args = YamlReader::ToJson(value);
        CheckTemplatesIn(reader, value, task);
      } else if (!value.IsNull()) {
        reader.Fail(value, "'args' must be a mapping, got " + YamlReader::Describe(value));
      }
    } else if (key == "command") {
      ReadCommand(reader, value, task);
    } else if (key == "env") {
      ReadEnv(reader, value, task);
    } else if (key == "branch") {
      if (auto v = reader.Bool(value, key)) task.flow.branch = *v;
    } else if (key == "short_circuit") {
      if (auto v = reader.Bool(value, key)) task.flow.short_circuit = *v;
    } else if (key == "ignore_downstream_trigger_rules") {
      if (auto v = reader.Bool(value, key)) task.flow.ignore_downstream_trigger_rules = *v;
    } else if (key == "latest_only") {
      if (auto v = reader.Bool(value, key)) task.flow.latest_only = *v;
    }
  }
  task.retry = own.retry;
  task.pool = own.pool;
  task.priority_weight = own.priority_weight;
  task.executor = own.executor;
  task.slurm = own.slurm;
  task.resources = own.resources;
  task.cache = own.cache;
  for (const std::string& extra : task.cache.key_extra) {
    if (!Template::IsPlain(extra)) task.has_templates = true;
  }
  task.callbacks = own.callbacks;
  // Task-level keys were read into task.flow; the shared ones come from `own`.
  task.flow.depends_on_past = own.flow.depends_on_past;
  task.flow.wait_for_downstream = own.flow.wait_for_downstream;
  task.flow.skip_on_exit_code = own.flow.skip_on_exit_code;
  if (task.operator_name.empty() && !node["operator"]) {
    if (task.command) {
      task.operator_name = "shell";  // dagu's convenience: a command alone means shell
    } else {
      reader.Fail(id, "task '" + task.id + "' is missing 'operator'");
      return task;
    }
  }
  if (!task.operator_name.empty()) CheckOperator(reader, node, args_node, task, catalog);
  CheckControlFlow(reader, node, task);
  return task;
}

}  // namespace conveyor::dag
