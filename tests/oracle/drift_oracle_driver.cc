// Reads one JSON request per line: {"test": "ks|chisquare|z|wasserstein|jensenshannon|psi",
// "kind": "num|cat", "a": [...], "b": [...]} and prints {"value", "drifted", "statistic"} of
// conveyor's implementation, NaN and infinities dropped and the samples sorted first.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "operators/drift/drift_stats.h"
#include "operators/drift/drift_tests.h"

int main() {
  using namespace conveyor::operators::drift;
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto request = nlohmann::json::parse(line);
    auto sample = [](const nlohmann::json& values) {
      std::vector<double> out;
      for (const auto& v : values) {
        const double d = v.is_number() ? v.get<double>() : NAN;
        if (std::isfinite(d)) out.push_back(d);
      }
      std::sort(out.begin(), out.end());
      return out;
    };
    const auto a = sample(request.at("a"));
    const auto b = sample(request.at("b"));
    const std::string test = request.at("test");
    const FeatureKind kind =
        request.value("kind", "num") == "num" ? FeatureKind::kNumerical : FeatureKind::kCategorical;
    nlohmann::json out;
    auto result = RunTest(test, a, b, kind, DefaultThreshold(test));
    if (!result.ok()) {
      out["error"] = result.error().message;
    } else {
      out["value"] = result->value;
      out["drifted"] = result->drifted;
    }
    if (test == "ks") out["statistic"] = KsTwoSample(a, b).statistic;
    out["default_test"] = DefaultTest(a.size(), kind, CountDistinct(a, b));
    std::cout << out.dump() << "\n";
  }
  return 0;
}
