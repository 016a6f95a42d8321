#include "engine/http/mlflow_scoring.h"

#include <cctype>
#include <cmath>
#include <string_view>

#include "engine/http/json_body.h"
#include "engine/serving/prediction_input.h"

namespace conveyor::http {
namespace {

enum class Body { kJson, kCsv, kOther };

// `text` lowercased, without blanks: media types and their parameters are case-insensitive and
// blanks around `;` and `=` carry nothing.
std::string Squeezed(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != ' ' && c != '\t')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// application/json with at most charset=utf-8, or text/csv (the same).
Body KindOf(const std::string& content_type) {
  const std::string value = Squeezed(content_type);
  for (const std::string_view type : {"application/json", "text/csv"}) {
    if (value == type || value == std::string(type) + ";charset=utf-8") {
      return type == "text/csv" ? Body::kCsv : Body::kJson;
    }
  }
  return Body::kOther;
}

}  // namespace

ApiResponse MlflowError(int status, std::string_view code, const std::string& message) {
  ApiResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error_code", code}, {"message", message}}.dump();
  return response;
}

std::string DetailOf(const ApiResponse& problem) {
  const auto json = nlohmann::json::parse(problem.body, nullptr, false);
  return json.is_object() && json.contains("detail") && json["detail"].is_string()
             ? json["detail"].get<std::string>()
             : problem.body;
}

ApiResponse AsMlflowError(const ApiResponse& problem) {
  const std::string detail = DetailOf(problem);
  const std::string_view code = problem.status == 401   ? "UNAUTHENTICATED"
                                : problem.status == 403 ? "PERMISSION_DENIED"
                                : problem.status == 404 ? "RESOURCE_DOES_NOT_EXIST"
                                : problem.status >= 500 ? "INTERNAL_ERROR"
                                                        : "BAD_REQUEST";
  return MlflowError(problem.status, code, detail);
}

ApiResponse MlflowInvocations(serving::ModelServer& models, serve::Metrics& metrics,
                              const std::string& reference, const std::string& content_type,
                              const std::string& body) {
  PredictionCount count(metrics, models, "mlflow", reference);
  const Body kind = KindOf(content_type);
  if (kind == Body::kOther) {
    return count.Done(MlflowError(415, "BAD_REQUEST",
                                  "Content-Type must be application/json (charset=utf-8 at most) "
                                  "or text/csv, got '" +
                                      content_type + "'"));
  }
  auto model = models.Get(reference);
  if (!model.ok()) {
    return count.Done(model.error().code == ErrorCode::kNotFound
                          ? MlflowError(404, "RESOURCE_DOES_NOT_EXIST", model.error().message)
                          : MlflowError(500, "INTERNAL_ERROR", model.error().message));
  }
  count.Answered((*model)->version);
  const size_t max_rows = models.settings().max_rows;
  Result<serving::Rows> rows = InvalidArgument("");
  if (kind == Body::kJson) {
    auto json = ParseJsonBody(body);
    if (!json.ok()) return count.Done(MlflowError(400, "BAD_REQUEST", json.error().message));
    rows = serving::RowsFromMlflowJson(*json, (*model)->features, max_rows);
  } else {
    rows = serving::RowsFromCsv(body, (*model)->features, max_rows);
  }
  if (!rows.ok()) return count.Done(MlflowError(400, "BAD_REQUEST", rows.error().message));
  auto scores = models.Predict(reference, *model, *rows);
  if (!scores.ok()) return count.Done(MlflowError(500, "INTERNAL_ERROR", scores.error().message));
  nlohmann::json predictions = nlohmann::json::array();
  for (const float score : *scores) {
    predictions.push_back(std::isfinite(score) ? nlohmann::json(score) : nlohmann::json(nullptr));
  }
  ApiResponse response;
  response.body = nlohmann::json{{"predictions", std::move(predictions)}}.dump();
  response.headers.emplace_back("X-Model-Version", std::to_string((*model)->version));
  return count.Done(std::move(response), *scores);
}

}  // namespace conveyor::http
