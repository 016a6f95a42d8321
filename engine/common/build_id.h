#pragma once

#include <string>

namespace conveyor {

// The running program's GNU build id (the linker's hash of the binary), as hex; empty when the
// binary carries none. Anything one build stores for itself only is keyed by it.
const std::string& BuildId();

}  // namespace conveyor
