#pragma once

#include <map>
#include <string_view>

namespace conveyor::http {

// The files of web/ built into the binary: path under web/ -> content.
const std::map<std::string_view, std::string_view>& WebAssets();

}  // namespace conveyor::http
