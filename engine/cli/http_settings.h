#pragma once

#include <string>

#include "engine/cli/config.h"
#include "engine/http/http_server.h"

namespace conveyor::cli {

// The HTTP server's settings from the config: address, threads, limits, and who may call it
// with `token`.
http::ServerSettings HttpSettingsOf(const Config& config, const std::string& token);

}  // namespace conveyor::cli
