// libFuzzer target: any bytes as a DAG file. The loader must return diagnostics, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/cli/command_context.h"
#include "engine/dag/dag_loader.h"
#include "engine/graph/task_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = conveyor::dag::ParseDagText(text, "fuzz.yaml", conveyor::cli::BuiltinRegistry());
  if (file.ok()) {
    auto graph = conveyor::graph::TaskGraph::Build(*file.dag);
    if (graph.ok()) (void)graph->AllDownstream(0);
  }
  return 0;
}
