#include "engine/dag/dag_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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
      "on_success", "on_failure",      "on_retry",         "tasks",    "groups",     "deadline"};
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
    const YAML::Node groups = root["groups"];
    if (groups) ReadGroups(groups, dag);
    if (!tasks && group_tasks_.empty()) {
      reader_.Fail(root, "DAG has no 'tasks'");
    } else {
      ReadTasks(tasks, groups, dag);
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
    } else if (key == "deadline") {
      ReadDeadline(value, dag);
    } else {
      ReadCallbackKey(reader_, key, value, dag.callbacks);
    }
  }

  // `deadline: {after: 2h, reference: logical_date|queued|start, on_miss: [{webhook: URL}]}`.
  void ReadDeadline(const YAML::Node& node, Dag& dag) {
    if (!node.IsMap()) {
      reader_.Fail(node,
                   "'deadline' must be a mapping such as {after: 2h, on_miss: [{webhook: "
                   "URL}]}, got " +
                       YamlReader::Describe(node));
      return;
    }
    reader_.CheckKeys(node, {"after", "reference", "on_miss"}, "deadline");
    Deadline deadline;
    if (!node["after"]) {
      reader_.Fail(node, "'deadline' is missing 'after'");
      return;
    }
    if (auto after = reader_.DurationValue(node["after"], "after")) deadline.after = *after;
    if (const YAML::Node reference = node["reference"]) {
      auto text = reader_.String(reference, "reference");
      if (text == "logical_date") {
        deadline.reference = Deadline::Reference::kLogicalDate;
      } else if (text == "queued") {
        deadline.reference = Deadline::Reference::kQueued;
      } else if (text == "start") {
        deadline.reference = Deadline::Reference::kStart;
      } else if (text) {
        reader_.Fail(reference, "unknown deadline reference '" + *text +
                                    "' (expected logical_date, queued or start)");
      }
    }
    if (!node["on_miss"]) {
      reader_.Fail(node, "'deadline' is missing 'on_miss'");
      return;
    }
    deadline.on_miss = ReadCallbacks(reader_, node["on_miss"], "on_miss");
    dag.deadline = std::move(deadline);
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

  // `groups: [{id, description, default_args, depends_on, tasks}]`.
  void ReadGroups(const YAML::Node& node, Dag& dag) {
    if (!node.IsSequence()) {
      reader_.Fail(node, "'groups' must be a list such as [{id: features, tasks: [...]}], got " +
                             YamlReader::Describe(node));
      return;
    }
    for (const auto& item : node) {
      if (!item.IsMap()) {
        reader_.Fail(
            item, "each group must be a mapping with an 'id', got " + YamlReader::Describe(item));
        continue;
      }
      reader_.CheckKeys(item, {"id", "description", "default_args", "depends_on", "tasks"},
                        "group");
      if (!item["id"]) {
        reader_.Fail(item, "group is missing 'id'");
        continue;
      }
      auto id = reader_.String(item["id"], "id");
      if (!id) continue;
      if (!IsValidId(*id) || id->find('.') != std::string::npos) {
        reader_.Fail(item["id"], "invalid group id '" + *id +
                                     "' (use letters, digits, '_' and '-': its tasks are "
                                     "GROUP.TASK)");
        continue;
      }
      if (group_defaults_.count(*id) != 0) {
        reader_.Fail(item["id"], "duplicate group id '" + *id + "'");
        continue;
      }
      TaskGroup group;
      group.id = *id;
      group.location = reader_.At(item["id"]);
      if (item["description"]) {
        if (auto v = reader_.String(item["description"], "description")) group.description = *v;
      }
      if (const YAML::Node deps = item["depends_on"]) {
        if (deps.IsScalar()) {
          group.depends_on = {deps.Scalar()};
        } else if (auto v = reader_.StringList(deps, "depends_on")) {
          group.depends_on = *v;
        }
      }
      TaskDefaults defaults = defaults_;
      if (const YAML::Node args = item["default_args"]) {
        if (!args.IsMap()) {
          reader_.Fail(args, "'default_args' must be a mapping, got " + YamlReader::Describe(args));
        } else {
          reader_.CheckKeys(args, SharedTaskKeys(), "default_args");
          for (const auto& entry : args) {
            ReadSharedTaskKey(reader_, entry.first.Scalar(), entry.second, defaults);
          }
        }
      }
      group_defaults_.emplace(group.id, std::move(defaults));
      if (const YAML::Node tasks = item["tasks"]) {
        if (!tasks.IsSequence()) {
          reader_.Fail(tasks, "a group's 'tasks' must be a list of tasks, got " +
                                  YamlReader::Describe(tasks));
        } else {
          group_tasks_.emplace_back(group.id, tasks);
        }
      }
      dag.groups.push_back(std::move(group));
    }
  }

  // The group a top-level task names with `group:`, or "" (a failure when it names none).
  std::string GroupOf(const YAML::Node& item) {
    if (!item.IsMap() || !item["group"]) return "";
    auto name = reader_.String(item["group"], "group");
    if (!name) return "";
    if (group_defaults_.count(*name) == 0) {
      std::vector<std::string> known;
      for (const auto& [id, defaults] : group_defaults_) known.push_back(id);
      reader_.Fail(item["group"], "unknown group '" + *name + "'" +
                                      (known.empty() ? std::string(" (the DAG has no 'groups')")
                                                     : DidYouMean(*name, known)));
      return "";
    }
    return *name;
  }

  void ReadTasks(const YAML::Node& node, const YAML::Node& groups, Dag& dag) {
    std::vector<std::pair<YAML::Node, std::string>> items;  // (task, its group)
    const auto add_group_tasks = [&] {
      for (const auto& [group, tasks] : group_tasks_) {
        for (const auto& item : tasks) {
          if (item.IsMap() && item["group"]) {
            reader_.Fail(item["group"], "a task listed in group '" + group +
                                            "' takes its group from there; remove 'group'");
          }
          items.emplace_back(item, group);
        }
      }
    };
    // File order: the groups' tasks where the groups are written.
    const bool groups_first = groups && (!node || groups.Mark().line < node.Mark().line);
    if (groups_first) add_group_tasks();
    if (node) {
      if (!node.IsSequence() || (node.size() == 0 && group_tasks_.empty())) {
        reader_.Fail(node, "'tasks' must be a non-empty list of tasks, got " +
                               (node.IsSequence() ? std::string("an empty list")
                                                  : YamlReader::Describe(node)));
        return;
      }
      for (const auto& item : node) items.emplace_back(item, GroupOf(item));
    }
    if (!groups_first) add_group_tasks();
    std::map<std::string, Location> seen;
    std::vector<YAML::Node> task_nodes;
    for (const auto& [item, group] : items) {
      auto task =
          ReadTask(reader_, item, group.empty() ? defaults_ : group_defaults_.at(group), catalog_);
      if (!task) continue;
      if (!group.empty()) {
        task->id = group + "." + task->id;
        task->group = group;
      }
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
    ResolveSiblings(dag);
    CheckDependencies(dag, task_nodes);
    ExpandGroups(dag);
  }

  // In a group, depends_on may name a task of the same group by its own name.
  void ResolveSiblings(Dag& dag) {
    for (Task& task : dag.tasks) {
      if (task.group.empty()) continue;
      for (std::string& dep : task.depends_on) {
        if (dag.TaskIndex(task.group + "." + dep) >= 0) dep = task.group + "." + dep;
      }
    }
    for (const TaskGroup& group : dag.groups) {
      if (dag.TaskIndex(group.id) >= 0) {
        reader_.Fail(group.location, "group id '" + group.id + "' is also a task id");
      }
      if (std::none_of(dag.tasks.begin(), dag.tasks.end(),
                       [&](const Task& task) { return task.group == group.id; })) {
        reader_.Fail(group.location, "group '" + group.id + "' has no tasks");
      }
    }
  }

  bool IsGroup(const Dag& dag, const std::string& id) const {
    return std::any_of(dag.groups.begin(), dag.groups.end(),
                       [&](const TaskGroup& g) { return g.id == id; });
  }

  void CheckDependencies(const Dag& dag, const std::vector<YAML::Node>& task_nodes) {
    std::vector<std::string> ids;
    for (const Task& task : dag.tasks) ids.push_back(task.id);
    for (const TaskGroup& group : dag.groups) ids.push_back(group.id);
    for (size_t i = 0; i < dag.tasks.size(); ++i) {
      const Task& task = dag.tasks[i];
      const YAML::Node deps = task_nodes[i]["depends_on"];
      for (size_t d = 0; d < task.depends_on.size(); ++d) {
        const std::string& dep = task.depends_on[d];
        const bool group = dag.TaskIndex(dep) < 0 && IsGroup(dag, dep);
        if (dag.TaskIndex(dep) >= 0 || (group && dep != task.group)) continue;
        // With a duplicated depends_on key the node read last is not the one found here.
        const Location where = deps.IsSequence() && d < deps.size() ? reader_.At(deps[d])
                               : deps.IsScalar()                    ? reader_.At(deps)
                                                                    : task.location;
        if (group) {
          reader_.Fail(where,
                       "task '" + task.id + "' is in group '" + dep + "' and cannot depend on it");
          continue;
        }
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
    for (const TaskGroup& group : dag.groups) {
      for (const std::string& dep : group.depends_on) {
        if (dep == group.id) {
          reader_.Fail(group.location, "group '" + group.id + "' depends on itself");
        } else if (dag.TaskIndex(dep) < 0 && !IsGroup(dag, dep)) {
          reader_.Fail(group.location, "group '" + group.id + "' depends on unknown task '" + dep +
                                           "'" + DidYouMean(dep, ids));
        } else if (dag.TaskIndex(dep) >= 0 && dag.tasks[dag.TaskIndex(dep)].group == group.id) {
          reader_.Fail(group.location,
                       "group '" + group.id + "' depends on its own task '" + dep + "'");
        }
      }
    }
  }

  // A dependency on a group becomes one on its last tasks; a group's depends_on go to its first
  // tasks (Airflow's TaskGroup edges).
  void ExpandGroups(Dag& dag) {
    if (dag.groups.empty() || reader_.failed()) return;
    std::map<std::string, std::vector<std::string>> first;
    std::map<std::string, std::vector<std::string>> last;
    for (const TaskGroup& group : dag.groups) {
      std::set<std::string> upstream_in_group;
      for (const Task& task : dag.tasks) {
        if (task.group != group.id) continue;
        bool has_upstream_in_group = false;
        for (const std::string& dep : task.depends_on) {
          if (dag.TaskIndex(dep) >= 0 && dag.tasks[dag.TaskIndex(dep)].group == group.id) {
            upstream_in_group.insert(dep);
            has_upstream_in_group = true;
          }
        }
        if (!has_upstream_in_group) first[group.id].push_back(task.id);
      }
      for (const Task& task : dag.tasks) {
        if (task.group == group.id && upstream_in_group.count(task.id) == 0) {
          last[group.id].push_back(task.id);
        }
      }
    }
    const auto expand = [&](const std::vector<std::string>& deps) {
      std::vector<std::string> out;
      for (const std::string& dep : deps) {
        const auto& adds = dag.TaskIndex(dep) < 0 && last.count(dep) != 0
                               ? last[dep]
                               : std::vector<std::string>{dep};
        for (const std::string& add : adds) {
          if (std::find(out.begin(), out.end(), add) == out.end()) out.push_back(add);
        }
      }
      return out;
    };
    for (const TaskGroup& group : dag.groups) {
      const std::vector<std::string> deps = expand(group.depends_on);
      for (const std::string& id : first[group.id]) {
        Task& task = dag.tasks[dag.TaskIndex(id)];
        task.depends_on.insert(task.depends_on.end(), deps.begin(), deps.end());
      }
    }
    for (Task& task : dag.tasks) task.depends_on = expand(task.depends_on);
  }

  YamlReader& reader_;
  const OperatorCatalog& catalog_;
  TaskDefaults defaults_;
  std::map<std::string, TaskDefaults> group_defaults_;           // by group id
  std::vector<std::pair<std::string, YAML::Node>> group_tasks_;  // a group's own tasks
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
