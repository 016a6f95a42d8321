#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/dag/dag.h"

namespace conveyor::dag {

// A validated DAG in a compact binary form, so that a process can reuse another's parse of an
// unchanged file (Airflow's serialized DAGs) instead of reading the YAML again. The form belongs
// to one build of conveyor: whoever stores it keys it by the binary too.
std::string EncodeDag(const Dag& dag);
// The DAG EncodeDag was given, or nullopt when `bytes` are not a whole encoding (a truncated or
// damaged record, which the caller treats as absent).
std::optional<Dag> DecodeDag(std::string_view bytes);

}  // namespace conveyor::dag
