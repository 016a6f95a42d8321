#pragma once

#include <string>

#include "engine/http/api.h"
#include "engine/serve/metrics.h"
#include "engine/serving/model_server.h"

namespace conveyor::http {

// The Open Inference Protocol (KServe v2, MLServer, Triton) over the served models. `model` is
// NAME, NAME@ALIAS, or NAME with `version`. Errors are {"error": "..."}.
ApiResponse InferV2(serving::ModelServer& models, serve::Metrics& metrics, const std::string& model,
                    const std::string& version, const std::string& body);
// GET /v2/models/{model}[/versions/{version}]: its name, versions, platform, inputs (one per
// feature) and output.
ApiResponse ModelMetadataV2(serving::ModelServer& models, const std::string& model,
                            const std::string& version);
// GET /v2/models/{model}[/versions/{version}]/ready.
ApiResponse ModelReadyV2(serving::ModelServer& models, const std::string& model,
                         const std::string& version);
ApiResponse V2Error(int status, const std::string& message);

// Seldon Core v1: POST /models/{name}@{alias}/api/v1.0/predictions, {"data": {"names",
// "ndarray"}} in and out. Errors are Seldon's {"status": {"code", "info", "reason", "status":
// "FAILURE"}}.
ApiResponse SeldonPredict(serving::ModelServer& models, serve::Metrics& metrics,
                          const std::string& reference, const std::string& body);
ApiResponse SeldonError(int status, const std::string& message);

}  // namespace conveyor::http
