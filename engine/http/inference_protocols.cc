#include "engine/http/inference_protocols.h"

#include <atomic>
#include <cmath>

#include "engine/http/json_body.h"
#include "engine/http/prediction_metrics.h"
#include "engine/serving/prediction_input.h"

namespace conveyor::http {
namespace {

ApiResponse JsonResponse(const nlohmann::json& body, int version) {
  ApiResponse response;
  response.body = body.dump();
  response.headers.emplace_back("X-Model-Version", std::to_string(version));
  return response;
}

nlohmann::json Scores(const std::vector<float>& scores) {
  nlohmann::json out = nlohmann::json::array();
  for (const float score : scores) {
    out.push_back(std::isfinite(score) ? nlohmann::json(score) : nlohmann::json(nullptr));
  }
  return out;
}

std::string Reference(const std::string& model, const std::string& version) {
  return version.empty() ? model : model + "/" + version;
}

// The model, or the protocol's error for why not.
template <typename ErrorOf>
Result<std::shared_ptr<const serving::LoadedModel>> Find(serving::ModelServer& models,
                                                         const std::string& reference,
                                                         ApiResponse& error, ErrorOf error_of) {
  auto model = models.Get(reference);
  if (!model.ok()) {
    error = error_of(model.error().code == ErrorCode::kNotFound ? 404 : 500, model.error().message);
  }
  return model;
}

std::string NextRequestId() {
  static std::atomic<unsigned long long> next{1};
  return "conveyor-" + std::to_string(next++);
}

}  // namespace

ApiResponse V2Error(int status, const std::string& message) {
  ApiResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump();
  return response;
}

ApiResponse InferV2(serving::ModelServer& models, serve::Metrics& metrics, const std::string& model,
                    const std::string& version, const std::string& body) {
  PredictionCount count(metrics, models, "v2", model);
  ApiResponse error;
  auto loaded = Find(models, Reference(model, version), error, V2Error);
  if (!loaded.ok()) return count.Done(error);
  count.Answered((*loaded)->version);
  auto parsed = ParseJsonBody(body);
  if (!parsed.ok()) return count.Done(V2Error(400, parsed.error().message));
  const nlohmann::json& json = *parsed;
  auto rows =
      serving::RowsFromInferenceRequest(json, (*loaded)->features, models.settings().max_rows);
  if (!rows.ok()) return count.Done(V2Error(400, rows.error().message));
  auto scores = models.Predict(Reference(model, version), *loaded, *rows);
  if (!scores.ok()) return count.Done(V2Error(500, scores.error().message));
  const std::string id = json.contains("id") && json["id"].is_string()
                             ? json["id"].get<std::string>()
                             : NextRequestId();
  const nlohmann::json output = {{"name", "predict"},
                                 {"shape", nlohmann::json::array({rows->rows})},
                                 {"datatype", "FP32"},
                                 {"data", Scores(*scores)}};
  return count.Done(JsonResponse({{"model_name", (*loaded)->name},
                                  {"model_version", std::to_string((*loaded)->version)},
                                  {"id", id},
                                  {"outputs", nlohmann::json::array({output})}},
                                 (*loaded)->version),
                    *scores);
}

ApiResponse ModelMetadataV2(serving::ModelServer& models, const std::string& model,
                            const std::string& version) {
  ApiResponse error;
  auto loaded = Find(models, Reference(model, version), error, V2Error);
  if (!loaded.ok()) return error;
  nlohmann::json inputs = nlohmann::json::array();
  for (const std::string& feature : (*loaded)->features) {
    inputs.push_back(
        {{"name", feature}, {"datatype", "FP32"}, {"shape", nlohmann::json::array({-1})}});
  }
  const nlohmann::json output = {
      {"name", "predict"}, {"datatype", "FP32"}, {"shape", nlohmann::json::array({-1})}};
  return JsonResponse({{"name", (*loaded)->name},
                       {"versions", nlohmann::json::array({std::to_string((*loaded)->version)})},
                       {"platform", "xgboost"},
                       {"inputs", inputs},
                       {"outputs", nlohmann::json::array({output})}},
                      (*loaded)->version);
}

ApiResponse ModelReadyV2(serving::ModelServer& models, const std::string& model,
                         const std::string& version) {
  ApiResponse error;
  auto loaded = Find(models, Reference(model, version), error, V2Error);
  if (!loaded.ok()) return error;
  return JsonResponse({{"name", (*loaded)->name}, {"ready", true}}, (*loaded)->version);
}

ApiResponse SeldonError(int status, const std::string& message) {
  ApiResponse response;
  response.status = status;
  response.body = nlohmann::json{
      {"status",
       {{"code", status},
        {"info", message},
        {"reason", status >= 500 ? "MICROSERVICE_INTERNAL_ERROR" : "MICROSERVICE_BAD_DATA"},
        {"status",
         "FAILURE"}}}}.dump();
  return response;
}

ApiResponse SeldonPredict(serving::ModelServer& models, serve::Metrics& metrics,
                          const std::string& reference, const std::string& body) {
  PredictionCount count(metrics, models, "seldon", reference);
  ApiResponse error;
  auto loaded = Find(models, reference, error, SeldonError);
  if (!loaded.ok()) return count.Done(error);
  count.Answered((*loaded)->version);
  auto parsed = ParseJsonBody(body);
  if (!parsed.ok()) return count.Done(SeldonError(400, parsed.error().message));
  const nlohmann::json& json = *parsed;
  auto rows = serving::RowsFromSeldon(json, (*loaded)->features, models.settings().max_rows);
  if (!rows.ok()) return count.Done(SeldonError(400, rows.error().message));
  auto scores = models.Predict(reference, *loaded, *rows);
  if (!scores.ok()) return count.Done(SeldonError(500, scores.error().message));
  return count.Done(
      JsonResponse(
          {{"data", {{"names", nlohmann::json::array({"predict"})}, {"ndarray", Scores(*scores)}}},
           {"meta",
            {{"requestPath", {{(*loaded)->name, std::to_string((*loaded)->version)}}},
             {"tags", {{"model_version", (*loaded)->version}}}}}},
          (*loaded)->version),
      *scores);
}

}  // namespace conveyor::http
