// drift_check's computation on raw columns: reads BASELINE and PRIMARY (float64, column after
// column, FEATURES columns of ROWS values each), compares every feature (default test and PSI)
// on every core, and prints the seconds taken and each feature's results as JSON.
//
// Usage: bench_drift BASELINE PRIMARY FEATURES BASELINE_ROWS PRIMARY_ROWS
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "operators/drift/drift_report.h"

namespace {

std::vector<std::vector<double>> ReadColumns(const char* path, size_t features, size_t rows) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::vector<double>> columns(features, std::vector<double>(rows));
  for (auto& column : columns) {
    in.read(reinterpret_cast<char*>(column.data()), static_cast<std::streamsize>(rows * 8));
  }
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(2);
  }
  return columns;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace conveyor::operators::drift;
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: bench_drift BASELINE PRIMARY FEATURES BASELINE_ROWS PRIMARY_ROWS\n");
    return 2;
  }
  const size_t features = std::stoul(argv[3]);
  auto baseline = ReadColumns(argv[1], features, std::stoul(argv[4]));
  auto primary = ReadColumns(argv[2], features, std::stoul(argv[5]));
  DriftInput input;
  for (size_t f = 0; f < features; ++f) {
    input.features.push_back({"f" + std::to_string(f), FeatureKind::kNumerical,
                              std::move(baseline[f]), std::move(primary[f])});
  }
  DriftOptions options;
  options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto start = std::chrono::steady_clock::now();
  auto reports = ComputeDrift(std::move(input), options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!reports.ok()) {
    std::fprintf(stderr, "%s\n", reports.error().ToString().c_str());
    return 1;
  }
  nlohmann::json out = {{"seconds", seconds}, {"threads", options.threads}};
  for (const auto& f : reports->front().features) {
    out["features"].push_back({{"feature", f.feature},
                               {"test", f.test.test},
                               {"value", f.test.value},
                               {"psi", f.psi.value}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}
