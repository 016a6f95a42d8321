#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/http/api.h"
#include "engine/serve/metrics.h"
#include "engine/serving/model_server.h"

namespace conveyor::http {

// Counts one prediction request in /metrics when it is answered: by model, version, protocol and
// status, with its latency and scores. A request no version answered is counted under its
// model's name only when that model has been loaded, else under model "": a client cannot grow
// /metrics with names of its own.
class PredictionCount {
 public:
  PredictionCount(serve::Metrics& metrics, const serving::ModelServer& models, std::string protocol,
                  const std::string& reference)
      : metrics_(metrics),
        models_(models),
        protocol_(std::move(protocol)),
        model_(reference.substr(0, reference.find_first_of("@/"))),
        started_(std::chrono::steady_clock::now()) {}

  void Answered(int version) { version_ = version; }
  // Returns `response`, counted with the scores it carries (none for a failure).
  ApiResponse Done(ApiResponse response, const std::vector<float>& scores = {}) {
    metrics_.ObservePrediction(
        version_ > 0 || models_.HasLoaded(model_) ? model_ : std::string(), version_, protocol_,
        response.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(), scores);
    return response;
  }

 private:
  serve::Metrics& metrics_;
  const serving::ModelServer& models_;
  std::string protocol_;
  std::string model_;
  int version_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace conveyor::http
