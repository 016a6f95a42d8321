#pragma once

#include <string>
#include <string_view>

#include "engine/http/api.h"
#include "engine/http/prediction_metrics.h"
#include "engine/serving/model_server.h"

namespace conveyor::http {

// MLflow's error body, {"error_code": CODE, "message": ...}, with `status`.
ApiResponse MlflowError(int status, std::string_view code, const std::string& message);
// The `detail` of a problem+json answer (the request guard's), or its body.
std::string DetailOf(const ApiResponse& problem);
// A problem+json answer of the request guard (401, 403, ...) as MLflow's error body.
ApiResponse AsMlflowError(const ApiResponse& problem);

// MLflow's scoring protocol (`POST .../invocations`) for `reference` (NAME@ALIAS or
// NAME/VERSION): a JSON body (Content-Type application/json, only a charset=utf-8 parameter
// allowed) in any of MLflow's four forms, or text/csv with a header row; answers
// {"predictions": [...]} with the version that answered in X-Model-Version.
// Each request is counted in `metrics`.
ApiResponse MlflowInvocations(serving::ModelServer& models, serve::Metrics& metrics,
                              const std::string& reference, const std::string& content_type,
                              const std::string& body);

}  // namespace conveyor::http
