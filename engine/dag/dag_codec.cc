#include "engine/dag/dag_codec.h"

#include <cstdint>

namespace conveyor::dag {
namespace {

// Bumped whenever the layout below changes. The static_asserts catch a field added to the model
// without being added here: such a field would silently come back with its default.
constexpr std::uint64_t kFormat = 6;
static_assert(sizeof(Dag) == 656, "dag::Dag changed: encode the new field and bump kFormat");
static_assert(sizeof(Task) == 904, "dag::Task changed: encode the new field and bump kFormat");
static_assert(sizeof(SlurmOptions) == 272, "SlurmOptions changed: encode it and bump kFormat");
static_assert(sizeof(RetryPolicy) == 56, "RetryPolicy changed: encode it and bump kFormat");
static_assert(sizeof(ControlFlow) == 32, "ControlFlow changed: encode it and bump kFormat");
static_assert(sizeof(TaskGroup) == 128, "TaskGroup changed: encode it and bump kFormat");
static_assert(sizeof(Deadline) == 40, "Deadline changed: encode it and bump kFormat");

class Writer {
 public:
  void Uint(std::uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void Int(std::int64_t value) {
    Uint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void Bool(bool value) { Uint(value ? 1 : 0); }
  void Str(std::string_view text) {
    Uint(text.size());
    out_.append(text);
  }
  void Json(const nlohmann::json& value) {
    std::string packed;
    nlohmann::json::to_msgpack(value, packed);
    Str(packed);
  }
  void OptStr(const std::optional<std::string>& text) {
    Bool(text.has_value());
    if (text) Str(*text);
  }
  void OptInt(const std::optional<std::int64_t>& value) {
    Bool(value.has_value());
    if (value) Int(*value);
  }
  void Strings(const std::vector<std::string>& list) {
    Uint(list.size());
    for (const std::string& text : list) Str(text);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what Writer wrote. Running past the end, or a value out of its range, makes ok() false
// and every later read return a default.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == in_.size(); }

  std::uint64_t Uint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    return Fail();
  }
  std::int64_t Int() {
    const std::uint64_t raw = Uint();
    return static_cast<std::int64_t>(raw >> 1) ^ -static_cast<std::int64_t>(raw & 1);
  }
  int Int32() {
    const std::int64_t value = Int();
    if (value < INT32_MIN || value > INT32_MAX) return static_cast<int>(Fail());
    return static_cast<int>(value);
  }
  bool Bool() {
    const std::uint64_t value = Uint();
    if (value > 1) Fail();
    return value == 1;
  }
  // A count of items that each take at least one byte, so a damaged count cannot ask for more
  // memory than the record holds.
  size_t Count() {
    const std::uint64_t count = Uint();
    if (count > in_.size() - pos_) return Fail();
    return static_cast<size_t>(count);
  }
  std::string Str() {
    const size_t size = Count();
    std::string text(in_.substr(pos_, size));
    pos_ += size;
    return text;
  }
  nlohmann::json Json() {
    const std::string packed = Str();
    if (!ok_) return nullptr;
    auto value = nlohmann::json::from_msgpack(packed, /*strict=*/true, /*allow_exceptions=*/false);
    if (value.is_discarded()) Fail();
    return value;
  }
  std::optional<std::string> OptStr() {
    if (!Bool()) return std::nullopt;
    return Str();
  }
  std::optional<std::int64_t> OptInt() {
    if (!Bool()) return std::nullopt;
    return Int();
  }
  std::vector<std::string> Strings() {
    std::vector<std::string> list(Count());
    for (std::string& text : list) text = Str();
    return list;
  }
  template <typename Enum>
  Enum EnumUpTo(Enum last) {
    const std::uint64_t value = Uint();
    if (value > static_cast<std::uint64_t>(last)) return static_cast<Enum>(Fail());
    return static_cast<Enum>(value);
  }

 private:
  std::uint64_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::optional<std::int64_t> OptMillis(const std::optional<Duration>& duration) {
  if (!duration) return std::nullopt;
  return duration->count();
}

std::optional<Duration> FromMillis(const std::optional<std::int64_t>& millis) {
  if (!millis) return std::nullopt;
  return Duration(*millis);
}

std::optional<std::int64_t> OptSeconds(const std::optional<Instant>& instant) {
  if (!instant) return std::nullopt;
  return instant->time_since_epoch().count();
}

std::optional<Instant> FromSeconds(const std::optional<std::int64_t>& seconds) {
  if (!seconds) return std::nullopt;
  return Instant(std::chrono::seconds(*seconds));
}

void WriteLocation(Writer& out, const Location& location) {
  out.Str(location.file);
  out.Int(location.line);
  out.Int(location.column);
}

Location ReadLocation(Reader& in) {
  Location location;
  location.file = in.Str();
  location.line = in.Int32();
  location.column = in.Int32();
  return location;
}

void WriteRetry(Writer& out, const RetryPolicy& retry) {
  out.Int(retry.retries);
  out.Int(retry.retry_delay.count());
  out.Bool(retry.retry_exponential_backoff);
  out.OptInt(OptMillis(retry.max_retry_delay));
  out.OptInt(OptMillis(retry.execution_timeout));
}

RetryPolicy ReadRetry(Reader& in) {
  RetryPolicy retry;
  retry.retries = in.Int32();
  retry.retry_delay = Duration(in.Int());
  retry.retry_exponential_backoff = in.Bool();
  retry.max_retry_delay = FromMillis(in.OptInt());
  retry.execution_timeout = FromMillis(in.OptInt());
  return retry;
}

void WriteCallbacks(Writer& out, const Callbacks& callbacks) {
  for (const auto* list : {&callbacks.on_success, &callbacks.on_failure, &callbacks.on_retry}) {
    out.Uint(list->size());
    for (const Callback& callback : *list) out.Str(callback.webhook);
  }
}

Callbacks ReadCallbacks(Reader& in) {
  Callbacks callbacks;
  for (auto* list : {&callbacks.on_success, &callbacks.on_failure, &callbacks.on_retry}) {
    list->resize(in.Count());
    for (Callback& callback : *list) callback.webhook = in.Str();
  }
  return callbacks;
}

void WriteSlurm(Writer& out, const SlurmOptions& slurm) {
  out.OptStr(slurm.partition);
  out.OptInt(slurm.cpus);
  out.OptStr(slurm.mem);
  out.OptStr(slurm.gres);
  out.OptStr(slurm.time);
  out.OptStr(slurm.account);
  out.OptStr(slurm.qos);
  out.Strings(slurm.extra_args);
}

SlurmOptions ReadSlurm(Reader& in) {
  SlurmOptions slurm;
  slurm.partition = in.OptStr();
  if (in.Bool()) slurm.cpus = in.Int32();
  slurm.mem = in.OptStr();
  slurm.gres = in.OptStr();
  slurm.time = in.OptStr();
  slurm.account = in.OptStr();
  slurm.qos = in.OptStr();
  slurm.extra_args = in.Strings();
  return slurm;
}

void WriteResources(Writer& out, const std::optional<Resources>& resources) {
  out.Bool(resources.has_value());
  if (!resources) return;
  out.Int(resources->millicpus);
  out.Uint(resources->memory_bytes);
  out.Int(resources->gpus);
}

std::optional<Resources> ReadResources(Reader& in) {
  if (!in.Bool()) return std::nullopt;
  Resources resources;
  resources.millicpus = in.Int();
  resources.memory_bytes = in.Uint();
  resources.gpus = in.Int32();
  return resources;
}

void WriteCache(Writer& out, const CachePolicy& cache) {
  out.Bool(cache.enabled);
  out.Str(cache.version);
  out.OptInt(OptMillis(cache.ttl));
  out.Strings(cache.key_extra);
}

CachePolicy ReadCache(Reader& in) {
  CachePolicy cache;
  cache.enabled = in.Bool();
  cache.version = in.Str();
  cache.ttl = FromMillis(in.OptInt());
  cache.key_extra = in.Strings();
  return cache;
}

void WriteFlow(Writer& out, const ControlFlow& flow) {
  out.Uint(flow.skip_on_exit_code.size());
  for (int code : flow.skip_on_exit_code) out.Int(code);
  out.Bool(flow.branch);
  out.Bool(flow.short_circuit);
  out.Bool(flow.ignore_downstream_trigger_rules);
  out.Bool(flow.depends_on_past);
  out.Bool(flow.wait_for_downstream);
  out.Bool(flow.latest_only);
}

ControlFlow ReadFlow(Reader& in) {
  ControlFlow flow;
  flow.skip_on_exit_code.clear();
  for (size_t i = in.Count(); i > 0 && in.ok(); --i) flow.skip_on_exit_code.push_back(in.Int32());
  flow.branch = in.Bool();
  flow.short_circuit = in.Bool();
  flow.ignore_downstream_trigger_rules = in.Bool();
  flow.depends_on_past = in.Bool();
  flow.wait_for_downstream = in.Bool();
  flow.latest_only = in.Bool();
  return flow;
}

void WriteTask(Writer& out, const Task& task) {
  out.Str(task.id);
  out.Str(task.group);
  out.Str(task.operator_name);
  out.Str(task.description);
  out.Strings(task.depends_on);
  out.Uint(static_cast<std::uint64_t>(task.trigger_rule));
  out.Json(task.args);
  out.Bool(task.command.has_value());
  if (task.command) out.Json(*task.command);
  out.Uint(task.env.size());
  for (const auto& [name, value] : task.env) {
    out.Str(name);
    out.Str(value);
  }
  out.Str(task.pool);
  out.Int(task.priority_weight);
  out.Uint(static_cast<std::uint64_t>(task.executor));
  WriteSlurm(out, task.slurm);
  WriteResources(out, task.resources);
  WriteCache(out, task.cache);
  WriteRetry(out, task.retry);
  WriteCallbacks(out, task.callbacks);
  WriteFlow(out, task.flow);
  out.Uint(task.output_references.size());
  for (const OutputReference& ref : task.output_references) {
    out.Str(ref.task_id);
    out.Str(ref.key);
    WriteLocation(out, ref.location);
  }
  out.Bool(task.has_templates);
  WriteLocation(out, task.location);
}

Task ReadTask(Reader& in) {
  Task task;
  task.id = in.Str();
  task.group = in.Str();
  task.operator_name = in.Str();
  task.description = in.Str();
  task.depends_on = in.Strings();
  task.trigger_rule = in.EnumUpTo(TriggerRule::kAllDoneMinOneSuccess);
  task.args = in.Json();
  if (in.Bool()) task.command = in.Json();
  for (size_t i = in.Count(); i > 0 && in.ok(); --i) {
    std::string name = in.Str();
    task.env[std::move(name)] = in.Str();
  }
  task.pool = in.Str();
  task.priority_weight = in.Int32();
  task.executor = in.EnumUpTo(ExecutorKind::kSlurm);
  task.slurm = ReadSlurm(in);
  task.resources = ReadResources(in);
  task.cache = ReadCache(in);
  task.retry = ReadRetry(in);
  task.callbacks = ReadCallbacks(in);
  task.flow = ReadFlow(in);
  task.output_references.resize(in.Count());
  for (OutputReference& ref : task.output_references) {
    ref.task_id = in.Str();
    ref.key = in.Str();
    ref.location = ReadLocation(in);
  }
  task.has_templates = in.Bool();
  task.location = ReadLocation(in);
  return task;
}

void WriteTimetable(Writer& out, const cron::Timetable& timetable) {
  const cron::Schedule& schedule = timetable.schedule();
  out.Uint(static_cast<std::uint64_t>(schedule.kind()));
  out.Str(schedule.text());
  out.Str(schedule.zone().name());
  out.OptInt(OptSeconds(timetable.start_date()));
  out.OptInt(OptSeconds(timetable.end_date()));
}

// The schedule is parsed again from its text: it holds a time zone from the zone database and
// the cron expression's expanded fields, both quick to rebuild.
std::optional<cron::Timetable> ReadTimetable(Reader& in) {
  const auto kind = in.EnumUpTo(cron::Schedule::Kind::kCron);
  const std::string text = in.Str();
  const std::string zone_name = in.Str();
  const auto start = FromSeconds(in.OptInt());
  const auto end = FromSeconds(in.OptInt());
  if (!in.ok()) return std::nullopt;
  auto zone = cron::TimeZone::Find(zone_name);
  if (!zone.ok()) return std::nullopt;
  if (kind == cron::Schedule::Kind::kNone) {
    return cron::Timetable(cron::Schedule::None(*zone), start, end);
  }
  auto schedule = cron::Schedule::Parse(text, *zone);
  if (!schedule.ok() || schedule->kind() != kind) return std::nullopt;
  return cron::Timetable(std::move(schedule).value(), start, end);
}

}  // namespace

std::string EncodeDag(const Dag& dag) {
  Writer out;
  out.Uint(kFormat);
  out.Str(dag.dag_id);
  out.Str(dag.description);
  out.Str(dag.file);
  out.Str(dag.timezone);
  WriteTimetable(out, dag.timetable);
  out.Bool(dag.catchup);
  out.Int(dag.max_active_runs);
  out.Int(dag.max_active_tasks);
  out.Strings(dag.tags);
  out.Json(dag.params);
  WriteRetry(out, dag.default_retry);
  WriteCallbacks(out, dag.callbacks);
  out.Uint(dag.tasks.size());
  for (const Task& task : dag.tasks) WriteTask(out, task);
  out.Bool(dag.deadline.has_value());
  if (dag.deadline) {
    out.Int(dag.deadline->after.count());
    out.Uint(static_cast<std::uint64_t>(dag.deadline->reference));
    out.Uint(dag.deadline->on_miss.size());
    for (const Callback& callback : dag.deadline->on_miss) out.Str(callback.webhook);
  }
  out.Uint(dag.groups.size());
  for (const TaskGroup& group : dag.groups) {
    out.Str(group.id);
    out.Str(group.description);
    out.Strings(group.depends_on);
    WriteLocation(out, group.location);
  }
  return out.Take();
}

std::optional<Dag> DecodeDag(std::string_view bytes) {
  Reader in(bytes);
  if (in.Uint() != kFormat) return std::nullopt;
  Dag dag;
  dag.dag_id = in.Str();
  dag.description = in.Str();
  dag.file = in.Str();
  dag.timezone = in.Str();
  auto timetable = ReadTimetable(in);
  if (!timetable) return std::nullopt;
  dag.timetable = std::move(*timetable);
  dag.catchup = in.Bool();
  dag.max_active_runs = in.Int32();
  dag.max_active_tasks = in.Int32();
  dag.tags = in.Strings();
  dag.params = in.Json();
  dag.default_retry = ReadRetry(in);
  dag.callbacks = ReadCallbacks(in);
  dag.tasks.resize(in.Count());
  for (Task& task : dag.tasks) task = ReadTask(in);
  if (in.Bool()) {
    Deadline deadline;
    deadline.after = Duration(in.Int());
    deadline.reference = in.EnumUpTo(Deadline::Reference::kStart);
    deadline.on_miss.resize(in.Count());
    for (Callback& callback : deadline.on_miss) callback.webhook = in.Str();
    dag.deadline = std::move(deadline);
  }
  dag.groups.resize(in.Count());
  for (TaskGroup& group : dag.groups) {
    group.id = in.Str();
    group.description = in.Str();
    group.depends_on = in.Strings();
    group.location = ReadLocation(in);
  }
  if (!in.done()) return std::nullopt;
  dag.IndexTasks();
  return dag;
}

}  // namespace conveyor::dag
