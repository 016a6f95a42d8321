#pragma once

#include <string>

#include "engine/common/error.h"
#include "engine/graph/dag_bag.h"

namespace conveyor::graph {

// A plain-text summary of a DAG: its settings, then each task in topological order with its
// operator and upstream tasks.
std::string RenderText(const LoadedDag& loaded);

// The DAG in Graphviz's dot language, edges upstream -> downstream (as `airflow dags show`).
std::string RenderDot(const LoadedDag& loaded);

// The DAG laid out by Graphviz's dot engine (libgvc) as an SVG document.
Result<std::string> RenderSvg(const LoadedDag& loaded);

}  // namespace conveyor::graph
