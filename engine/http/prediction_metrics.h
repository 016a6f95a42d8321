#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/http/api.h"
#include "engine/serve/metrics.h"

namespace conveyor::http {

// Counts one prediction request in /metrics when it is answered: by model (the reference's name
// until a version answers), version, protocol and status, with its latency and scores.
class PredictionCount {
 public:
  PredictionCount(serve::Metrics& metrics, std::string protocol, const std::string& reference)
      : metrics_(metrics),
        protocol_(std::move(protocol)),
        model_(reference.substr(0, reference.find_first_of("@/"))),
        started_(std::chrono::steady_clock::now()) {}

  void Answered(int version) { version_ = version; }
  // Returns `response`, counted with the scores it carries (none for a failure).
  ApiResponse Done(ApiResponse response, const std::vector<float>& scores = {}) {
    metrics_.ObservePrediction(
        model_, version_, protocol_, response.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(), scores);
    return response;
  }

 private:
  serve::Metrics& metrics_;
  std::string protocol_;
  std::string model_;
  int version_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace conveyor::http
