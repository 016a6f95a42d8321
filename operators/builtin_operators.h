#pragma once

#include "engine/exec/operator_registry.h"

namespace conveyor::operators {

// Adds conveyor's built-in operators (shell, noop, sleep, ingest, train, batch_infer,
// drift_check) to `registry`. Called explicitly at start-up: static-initialiser registration
// would be dropped by the linker.
void RegisterBuiltinOperators(exec::OperatorRegistry& registry);

}  // namespace conveyor::operators
