#include "engine/scheduler/task_render.h"

#include "engine/dag/shell_placement.h"
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

// `overhead`: the bytes the entry holds besides the value ("NAME=" and the NUL).
Status CheckEntrySize(const dag::Template::Expression& expression, size_t value_bytes,
                      size_t overhead) {
  if (value_bytes + overhead <= kMaxEnvEntryBytes) return Status::Ok();
  return InvalidArgument("the value of {{ " + expression.DottedPath() + " }} is " +
                         std::to_string(value_bytes) +
                         " bytes, more than a process's argument or environment entry can hold (" +
                         std::to_string(kMaxEnvEntryBytes) + " bytes): pass it in a file");
}

// A string command with templates: an argv when its literal text has no shell syntax, else a
// script whose templates are quoted references to CONVEYOR_TEMPLATE_<n>, added to `env`.
Result<nlohmann::json> RenderCommand(const std::string& text, const nlohmann::json& context,
                                     std::map<std::string, std::string>& env) {
  auto parsed = dag::Template::Parse(text);
  if (!parsed.ok()) return parsed.error().Prefixed("cannot render command");
  const std::vector<dag::Template::Expression> expressions = parsed->Expressions();
  std::string literal = text;
  std::vector<dag::TemplateSpan> spans;
  for (auto it = expressions.rbegin(); it != expressions.rend(); ++it) {
    literal.replace(it->offset, it->length, "x");
  }
  for (const auto& expression : expressions) {
    spans.push_back({expression.offset, expression.offset + expression.length});
  }
  if (!dag::HasShellSyntax(literal)) {
    // Words split at the literal text's blanks only; a value is always part of one word.
    nlohmann::json argv = nlohmann::json::array();
    std::optional<std::string> word;
    const Status visited = parsed->Visit(
        context,
        [&](std::string_view piece) {
          for (char c : piece) {
            if (c == ' ' || c == '\t') {
              if (word) argv.push_back(std::move(*word));
              word.reset();
            } else {
              word = word.value_or("") + c;
            }
          }
        },
        [&](size_t index, std::string value) -> Status {
          if (Status s = CheckEntrySize(expressions[index], value.size(), 1); !s.ok()) return s;
          word = word.value_or("") + value;
          return Status::Ok();
        });
    if (!visited.ok()) return InvalidArgument("cannot render command: " + visited.error().message);
    if (word) argv.push_back(std::move(*word));
    return argv;
  }
  auto contexts = dag::PlaceTemplates(text, spans);
  if (!contexts.ok()) return InvalidArgument("cannot render command: " + contexts.error().message);
  auto script =
      parsed->Render(context, [&](size_t index, std::string value) -> Result<std::string> {
        const std::string name = "CONVEYOR_TEMPLATE_" + std::to_string(index + 1);
        if (Status s = CheckEntrySize(expressions[index], value.size(), name.size() + 2); !s.ok()) {
          return s.error();
        }
        env[name] = std::move(value);
        return dag::ShellReference(name, (*contexts)[index]);
      });
  if (!script.ok()) return InvalidArgument("cannot render command: " + script.error().message);
  return nlohmann::json(*script);
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

Result<RenderedTask> RenderTask(const dag::Task& task, const nlohmann::json& context,
                                const std::map<std::string, std::string>& secrets) {
  RenderedTask out;
  auto args = RenderJson(task.args, context, "args");
  if (!args.ok()) return args.error();
  out.args = *args;
  for (const auto& [name, value] : task.env) {
    if (value.find("secrets.") == std::string::npos) {
      auto rendered = RenderString(value, context, "env." + name);
      if (!rendered.ok()) return rendered.error();
      out.env[name] = *rendered;
      continue;
    }
    nlohmann::json with_secrets = context;
    with_secrets["secrets"] = secrets;
    auto rendered = RenderString(value, with_secrets, "env." + name);
    if (!rendered.ok()) return rendered.error();
    out.env[name] = *rendered;
  }
  if (task.command && task.command->is_string() &&
      !dag::Template::IsPlain(task.command->get<std::string>())) {
    auto command = RenderCommand(task.command->get<std::string>(), context, out.env);
    if (!command.ok()) return command.error();
    out.command = *command;
  } else if (task.command) {
    auto command = RenderJson(*task.command, context, "command");
    if (!command.ok()) return command.error();
    out.command = *command;
  }
  return out;
}

}  // namespace conveyor::scheduler
