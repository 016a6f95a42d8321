#include "engine/dag/dag_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/common/suggest.h"
#include "engine/common/time_format.h"
#include "engine/dag/task_loader.h"
#include "engine/dag/yaml_reader.h"

namespace conveyor::dag {
namespace {

const std::vector<std::string>& DagKeys() {
  static const std::vector<std::string> kKeys = {
      "dag_id",     "description",     "schedule",         "timezone", "start_date", "end_date",
      "catchup",    "max_active_runs", "max_active_tasks", "tags",     "params",     "default_args",
      "on_success", "on_failure",      "on_retry",         "tasks"};
  return kKeys;
}

// Reads the DAG-level keys that need a time zone once the zone is known.
struct PendingTimes {
  YAML::Node schedule;
  YAML::Node start_date;
  YAML::Node end_date;
};

class DagReader {
 public:
  DagReader(YamlReader& reader, const OperatorCatalog& catalog)
      : reader_(reader), catalog_(catalog) {}

  void Read(const YAML::Node& root, Dag& dag) {
    reader_.CheckKeys(root, DagKeys(), "DAG");
    if (const YAML::Node defaults = root["default_args"]) ReadDefaultArgs(defaults);
    PendingTimes times;
    YAML::Node tasks;
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      ReadKey(key, entry.second, dag, times, tasks);
    }
    ReadTimes(times, dag);
    dag.default_retry = defaults_.retry;
    if (!tasks) {
      reader_.Fail(root, "DAG has no 'tasks'");
    } else {
      ReadTasks(tasks, dag);
    }
  }

 private:
  void ReadDefaultArgs(const YAML::Node& node) {
    if (!node.IsMap()) {
      reader_.Fail(node, "'default_args' must be a mapping, got " + YamlReader::Describe(node));
      return;
    }
    reader_.CheckKeys(node, SharedTaskKeys(), "default_args");
    for (const auto& entry : node) {
      ReadSharedTaskKey(reader_, entry.first.Scalar(), entry.second, defaults_);
    }
  }

  void ReadKey(const std::string& key, const YAML::Node& value, Dag& dag, PendingTimes& times,
               YAML::Node& tasks) {
    if (key == "dag_id") {
      auto id = reader_.String(value, key);
      if (id && !IsValidId(*id)) {
        reader_.Fail(value, "invalid dag_id '" + *id +
                                "' (use letters, digits, '_', '.' and '-', not first '.')");
      } else if (id) {
        dag.dag_id = *id;
      }
    } else if (key == "description") {
      if (auto v = reader_.String(value, key)) dag.description = *v;
    } else if (key == "schedule") {
      times.schedule = value;
    } else if (key == "timezone") {
      if (auto v = reader_.String(value, key)) {
        auto zone = cron::TimeZone::Find(*v);
        if (zone.ok()) {
          dag.timezone = *v;
          zone_ = *zone;
        } else {
          reader_.Fail(value, zone.error().message);
        }
      }
    } else if (key == "start_date") {
      times.start_date = value;
    } else if (key == "end_date") {
      times.end_date = value;
    } else if (key == "catchup") {
      if (auto v = reader_.Bool(value, key)) dag.catchup = *v;
    } else if (key == "max_active_runs") {
      if (auto v = reader_.Int(value, key, 1)) dag.max_active_runs = *v;
    } else if (key == "max_active_tasks") {
      if (auto v = reader_.Int(value, key, 1)) dag.max_active_tasks = *v;
    } else if (key == "tags") {
      if (auto v = reader_.StringList(value, key)) dag.tags = *v;
    } else if (key == "params") {
      if (value.IsMap()) {
        dag.params = YamlReader::ToJson(value);
      } else if (!value.IsNull()) {
        reader_.Fail(value, "'params' must be a mapping, got " + YamlReader::Describe(value));
      }
    } else if (key == "tasks") {
      tasks = value;
    } else {
      ReadCallbackKey(reader_, key, value, dag.callbacks);
    }
  }

  std::optional<Instant> ReadDate(const YAML::Node& node, const std::string& key) {
    if (!node || node.IsNull()) return std::nullopt;
    auto text = reader_.String(node, key);
    if (!text) return std::nullopt;
    auto parsed = ParseDateTime(*text);
    if (!parsed.ok()) {
      reader_.Fail(node, "'" + key + "': " + parsed.error().message);
      return std::nullopt;
    }
    return zone_.Resolve(*parsed);
  }

  void ReadTimes(const PendingTimes& times, Dag& dag) {
    cron::Schedule schedule = cron::Schedule::None(zone_);
    if (times.schedule && !times.schedule.IsNull()) {
      if (auto text = reader_.String(times.schedule, "schedule")) {
        auto parsed = cron::Schedule::Parse(*text, zone_);
        if (parsed.ok()) {
          schedule = *parsed;
        } else {
          reader_.Fail(times.schedule, parsed.error().message);
        }
      }
    }
    const auto start = ReadDate(times.start_date, "start_date");
    const auto end = ReadDate(times.end_date, "end_date");
    if (start && end && *end < *start) {
      reader_.Fail(times.end_date, "'end_date' is before 'start_date'");
    }
    if (schedule.kind() == cron::Schedule::Kind::kOnce && !start && !reader_.failed()) {
      reader_.Fail(times.schedule, "schedule '@once' needs a 'start_date'");
    }
    dag.timetable = cron::Timetable(schedule, start, end);
  }

  void ReadTasks(const YAML::Node& node, Dag& dag) {
    if (!node.IsSequence() || node.size() == 0) {
      reader_.Fail(node, "'tasks' must be a non-empty list of tasks, got " +
                             (node.IsSequence() ? std::string("an empty list")
                                                : YamlReader::Describe(node)));
      return;
    }
    std::map<std::string, Location> seen;
    std::vector<YAML::Node> task_nodes;
    for (const auto& item : node) {
      auto task = ReadTask(reader_, item, defaults_, catalog_);
      if (!task) continue;
      auto [it, inserted] = seen.emplace(task->id, task->location);
      if (!inserted) {
        reader_.Fail(task->location, "duplicate task id '" + task->id + "' (first defined at " +
                                         std::to_string(it->second.line) + ":" +
                                         std::to_string(it->second.column) + ")");
        continue;
      }
      dag.tasks.push_back(std::move(*task));
      task_nodes.push_back(item);
    }
    dag.IndexTasks();
    CheckDependencies(dag, task_nodes);
  }

  void CheckDependencies(const Dag& dag, const std::vector<YAML::Node>& task_nodes) {
    std::vector<std::string> ids;
    for (const Task& task : dag.tasks) ids.push_back(task.id);
    for (size_t i = 0; i < dag.tasks.size(); ++i) {
      const Task& task = dag.tasks[i];
      const YAML::Node deps = task_nodes[i]["depends_on"];
      for (size_t d = 0; d < task.depends_on.size(); ++d) {
        const std::string& dep = task.depends_on[d];
        if (dag.TaskIndex(dep) >= 0) continue;
        // With a duplicated depends_on key the node read last is not the one found here.
        const Location where = deps.IsSequence() && d < deps.size() ? reader_.At(deps[d])
                               : deps.IsScalar()                    ? reader_.At(deps)
                                                                    : task.location;
        reader_.Fail(where, "task '" + task.id + "' depends on unknown task '" + dep + "'" +
                                DidYouMean(dep, ids));
      }
      for (const OutputReference& ref : task.output_references) {
        if (dag.TaskIndex(ref.task_id) < 0) {
          reader_.Fail(ref.location, "template refers to the outputs of unknown task '" +
                                         ref.task_id + "'" + DidYouMean(ref.task_id, ids));
        }
      }
    }
  }

  YamlReader& reader_;
  const OperatorCatalog& catalog_;
  TaskDefaults defaults_;
  cron::TimeZone zone_ = cron::TimeZone::Utc();
};

}  // namespace

bool IsValidId(std::string_view id) {
  // Ids name folders of logs and artifacts: ".", ".." and hidden names are not ids.
  if (id.empty() || id.size() > 250 || id.front() == '.') return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

void Dag::IndexTasks() {
  task_index_.clear();
  for (size_t i = 0; i < tasks.size(); ++i) task_index_.emplace(tasks[i].id, static_cast<int>(i));
}

int Dag::TaskIndex(std::string_view task_id) const {
  if (task_index_.size() == tasks.size()) {
    auto it = task_index_.find(task_id);
    return it == task_index_.end() ? -1 : it->second;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].id == task_id) return static_cast<int>(i);
  }
  return -1;
}

DagFile ParseDagText(std::string_view text, const std::string& path,
                     const OperatorCatalog& catalog) {
  DagFile result;
  result.path = path;
  YamlReader reader(path, text);
  if (text.size() > kMaxDagFileBytes) {
    reader.Fail(Location{path, 1, 1},
                "the DAG file is larger than " + std::to_string(kMaxDagFileBytes >> 20) + " MiB");
    result.errors = std::move(reader.diagnostics());
    return result;
  }
  YAML::Node root;
  // yaml-cpp reports syntax errors by exception; they stop at this adapter.
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    reader.Fail(Location{path, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    result.errors = std::move(reader.diagnostics());
    return result;
  }
  // Aliases share nodes: a few lines can expand to billions of values, or to themselves.
  if (!reader.CheckExpansion(root, std::min<size_t>(10'000'000, 100 * text.size() + 100'000))) {
    result.errors = std::move(reader.diagnostics());
    return result;
  }
  if (!root.IsMap()) {
    reader.Fail(root.IsNull() ? Location{path, 1, 1} : reader.At(root),
                "a DAG file must be a mapping with 'tasks', got " + YamlReader::Describe(root));
    result.errors = std::move(reader.diagnostics());
    return result;
  }
  Dag dag;
  dag.file = path;
  dag.dag_id = std::filesystem::path(path).stem().string();
  DagReader(reader, catalog).Read(root, dag);
  if (!root["dag_id"] && !IsValidId(dag.dag_id)) {
    reader.Fail(Location{path, 1, 1}, "the file name '" + dag.dag_id +
                                          "' is not a valid dag_id: set 'dag_id' explicitly");
  }
  result.errors = std::move(reader.diagnostics());
  // Report in file order, whatever order the keys were read in.
  std::stable_sort(result.errors.begin(), result.errors.end(), [](const Error& a, const Error& b) {
    const Location none;
    const Location& la = a.location ? *a.location : none;
    const Location& lb = b.location ? *b.location : none;
    return la.line != lb.line ? la.line < lb.line : la.column < lb.column;
  });
  if (result.errors.empty()) result.dag = std::move(dag);
  return result;
}

std::optional<std::string> ReadDagFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  // One byte over the limit is enough for ParseDagText to refuse the file.
  std::string text(kMaxDagFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

DagFile LoadDagFile(const std::string& path, const OperatorCatalog& catalog) {
  const auto text = ReadDagFileText(path);
  if (!text) {
    DagFile result;
    result.path = path;
    result.errors.push_back(Error{ErrorCode::kIo, "cannot read file", Location{path, 0, 0}});
    return result;
  }
  return ParseDagText(*text, path, catalog);
}

}  // namespace conveyor::dag
