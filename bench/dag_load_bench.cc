// Generates N DAG files of T tasks each (a layered DAG with fan-in, templates and retries) and
// measures how long the DagBag takes to load and validate them, and the process's peak RSS.
//
// Usage: bench_dag_load [N=1000] [T=20]
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "engine/cli/command_context.h"
#include "engine/graph/dag_bag.h"

namespace {

std::string MakeDag(int index, int tasks) {
  std::string out = "dag_id: generated_" + std::to_string(index) + "\nschedule: \"*/" +
                    std::to_string(5 + index % 50) +
                    " * * * *\"\ntimezone: Europe/Berlin\nstart_date: 2026-01-01\n"
                    "tags: [bench]\nparams: {n: " +
                    std::to_string(index) +
                    "}\ndefault_args: {retries: 2, retry_delay: 30s}\ntasks:\n";
  for (int t = 0; t < tasks; ++t) {
    out += "  - id: t" + std::to_string(t) + "\n    operator: shell\n";
    if (t >= 4) {
      out += "    depends_on: [t" + std::to_string(t - 4) + ", t" + std::to_string(t - 3) + "]\n";
    }
    out += "    command: echo \"{{ ds }} {{ params.n }} " + std::to_string(t) + "\"\n";
  }
  return out;
}

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const int files = argc > 1 ? std::stoi(argv[1]) : 1000;
  const int tasks = argc > 2 ? std::stoi(argv[2]) : 20;
  const fs::path dir = fs::temp_directory_path() / ("conveyor_bench_" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (int i = 0; i < files; ++i) {
    std::ofstream(dir / ("dag_" + std::to_string(i) + ".yaml")) << MakeDag(i, tasks);
  }
  const long rss_before = PeakRssKb();
  const auto start = std::chrono::steady_clock::now();
  const auto bag =
      conveyor::graph::DagBag::LoadFolder(dir.string(), conveyor::cli::BuiltinRegistry());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::remove_all(dir);
  if (static_cast<int>(bag.dags().size()) != files || !bag.broken().empty()) {
    std::cerr << "expected " << files << " clean DAGs, got " << bag.dags().size() << " and "
              << bag.broken().size() << " broken\n";
    return 1;
  }
  std::cout << "dag_load: " << files << " files x " << tasks << " tasks loaded in " << seconds
            << " s (" << seconds * 1e6 / files << " us/file), peak RSS " << PeakRssKb() / 1024
            << " MiB (" << rss_before / 1024 << " MiB before loading); targets < 1 s, < 100 MiB\n";
  return 0;
}
