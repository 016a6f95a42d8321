#include "engine/graph/graph_render.h"

#include <graphviz/gvc.h>

#include <sstream>

#include "engine/common/duration.h"

namespace conveyor::graph {
namespace {

std::string DotQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace

std::string RenderText(const LoadedDag& loaded) {
  const dag::Dag& dag = loaded.dag;
  const auto& schedule = dag.timetable.schedule();
  std::ostringstream out;
  out << "dag_id: " << dag.dag_id << "\n";
  if (!dag.description.empty()) out << "description: " << dag.description << "\n";
  out << "file: " << dag.file << "\n";
  out << "schedule: " << (schedule.text().empty() ? "None" : schedule.text()) << " ("
      << dag.timezone << ")\n";
  if (dag.timetable.start_date())
    out << "start_date: " << FormatUtc(*dag.timetable.start_date()) << "\n";
  if (dag.timetable.end_date()) out << "end_date: " << FormatUtc(*dag.timetable.end_date()) << "\n";
  out << "catchup: " << (dag.catchup ? "true" : "false")
      << ", max_active_runs: " << dag.max_active_runs
      << ", max_active_tasks: " << dag.max_active_tasks << "\n";
  if (!dag.tags.empty()) out << "tags: " << Join(dag.tags, ", ") << "\n";
  out << "tasks (" << dag.tasks.size() << ", upstream first):\n";
  for (int index : loaded.graph.TopologicalOrder()) {
    const dag::Task& task = dag.tasks[index];
    out << "  " << task.id << " [" << task.operator_name << "]";
    std::vector<std::string> upstream;
    for (int u : loaded.graph.Upstream(index)) upstream.push_back(dag.tasks[u].id);
    if (!upstream.empty()) out << " <- " << Join(upstream, ", ");
    if (task.trigger_rule != dag::TriggerRule::kAllSuccess) {
      out << " (trigger_rule " << dag::TriggerRuleName(task.trigger_rule) << ")";
    }
    if (task.retry.retries > 0) {
      out << " (retries " << task.retry.retries << " every "
          << FormatDuration(task.retry.retry_delay) << ")";
    }
    out << "\n";
  }
  return out.str();
}

std::string RenderDot(const LoadedDag& loaded) {
  const dag::Dag& dag = loaded.dag;
  std::ostringstream out;
  out << "digraph " << DotQuote(dag.dag_id) << " {\n";
  out << "  graph [label=" << DotQuote(dag.dag_id) << ", labelloc=t, rankdir=LR];\n";
  out << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f0f0f0\", "
         "fontname=\"Helvetica\"];\n";
  for (int index : loaded.graph.TopologicalOrder()) {
    out << "  " << DotQuote(dag.tasks[index].id) << ";\n";
  }
  for (int index : loaded.graph.TopologicalOrder()) {
    for (int next : loaded.graph.Downstream(index)) {
      out << "  " << DotQuote(dag.tasks[index].id) << " -> " << DotQuote(dag.tasks[next].id)
          << ";\n";
    }
  }
  out << "}\n";
  return out.str();
}

Result<std::string> RenderSvg(const LoadedDag& loaded) {
  const std::string dot = RenderDot(loaded);
  GVC_t* context = gvContext();
  if (context == nullptr) return Error{ErrorCode::kInternal, "graphviz: no context", {}};
  Agraph_t* graph = agmemread(dot.c_str());
  if (graph == nullptr) {
    gvFreeContext(context);
    return Error{ErrorCode::kInternal, "graphviz could not read the generated dot", {}};
  }
  std::string svg;
  Status status;
  if (gvLayout(context, graph, "dot") != 0) {
    status = Error{ErrorCode::kInternal, "graphviz: the dot layout engine is not available", {}};
  } else {
    char* data = nullptr;
    unsigned int length = 0;
    if (gvRenderData(context, graph, "svg", &data, &length) != 0 || data == nullptr) {
      status = Error{ErrorCode::kInternal, "graphviz: the svg renderer is not available", {}};
    } else {
      svg.assign(data, length);
      gvFreeRenderData(data);
    }
    gvFreeLayout(context, graph);
  }
  agclose(graph);
  gvFreeContext(context);
  if (!status.ok()) return status.error();
  return svg;
}

}  // namespace conveyor::graph
