#include "engine/scheduler/task_render.h"

#include "engine/dag/template.h"

namespace conveyor::scheduler {
namespace {

std::string DateOnly(Instant t) { return FormatUtc(t).substr(0, 10); }

// Airflow's `ts`: 2026-01-01T00:00:00+00:00.
std::string AirflowTs(Instant t) {
  std::string text = FormatUtc(t);
  text.pop_back();
  return text + "+00:00";
}

Result<std::string> RenderString(const std::string& text, const nlohmann::json& context,
                                 const std::string& field) {
  if (dag::Template::IsPlain(text)) return text;
  auto parsed = dag::Template::Parse(text);
  if (!parsed.ok()) return parsed.error().Prefixed("cannot render " + field);
  auto rendered = parsed->Render(context);
  if (!rendered.ok())
    return InvalidArgument("cannot render " + field + ": " + rendered.error().message);
  return rendered;
}

Result<nlohmann::json> RenderJson(const nlohmann::json& value, const nlohmann::json& context,
                                  const std::string& field) {
  if (value.is_string()) {
    auto text = RenderString(value.get<std::string>(), context, field);
    if (!text.ok()) return text.error();
    return nlohmann::json(*text);
  }
  if (value.is_array() || value.is_object()) {
    nlohmann::json out = value;
    for (auto& item : out.items()) {
      auto rendered = RenderJson(item.value(), context, field + "." + item.key());
      if (!rendered.ok()) return rendered.error();
      item.value() = *rendered;
    }
    return out;
  }
  return value;
}

}  // namespace

nlohmann::json TemplateContext(const dag::Dag& dag, const store::DagRunRecord& run,
                               const std::string& task_id, int try_number,
                               const nlohmann::json& outputs) {
  const Instant logical = run.logical_date.value_or(Instant{});
  nlohmann::json params = dag.params;
  if (run.conf.is_object()) {
    for (const auto& item : run.conf.items()) params[item.key()] = item.value();
  }
  const std::string ds = DateOnly(logical);
  std::string ds_nodash = ds;
  std::erase(ds_nodash, '-');
  return {{"ds", ds},
          {"ds_nodash", ds_nodash},
          {"ts", AirflowTs(logical)},
          {"logical_date", AirflowTs(logical)},
          {"data_interval_start", AirflowTs(run.data_interval_start.value_or(logical))},
          {"data_interval_end", AirflowTs(run.data_interval_end.value_or(logical))},
          {"run_id", run.run_id},
          {"dag_id", dag.dag_id},
          {"task_id", task_id},
          {"try_number", try_number},
          {"params", params},
          {"conf", run.conf},
          {"outputs", outputs}};
}

Result<RenderedTask> RenderTask(const dag::Task& task, const nlohmann::json& context) {
  RenderedTask out;
  auto args = RenderJson(task.args, context, "args");
  if (!args.ok()) return args.error();
  out.args = *args;
  if (task.command) {
    auto command = RenderJson(*task.command, context, "command");
    if (!command.ok()) return command.error();
    out.command = *command;
  }
  for (const auto& [name, value] : task.env) {
    auto rendered = RenderString(value, context, "env." + name);
    if (!rendered.ok()) return rendered.error();
    out.env[name] = *rendered;
  }
  return out;
}

}  // namespace conveyor::scheduler
