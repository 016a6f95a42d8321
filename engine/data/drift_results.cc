#include "engine/data/drift_results.h"

#include <map>
#include <sstream>

#include "engine/store/sqlite_db.h"

namespace conveyor::data {
namespace {

using store::SqliteDb;
using store::Statement;

nlohmann::json Value(const Statement& s, int column) {
  if (s.IsNull(column)) return nullptr;
  return s.Real(column);
}

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

class SqliteDriftResults : public DriftResults {
 public:
  explicit SqliteDriftResults(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<nlohmann::json> Latest() override {
    nlohmann::json out = nlohmann::json::array();
    if (!HasTable()) return out;
    Statement select(*db_,
                     "WITH last_run AS (SELECT dag_id, task_id, run_id FROM drift_results "
                     "WHERE rowid IN (SELECT max(rowid) FROM drift_results GROUP BY dag_id, "
                     "task_id)), last_window AS (SELECT r.dag_id, r.task_id, r.run_id, "
                     "max(r.window_start) AS window_start FROM drift_results r JOIN last_run l "
                     "USING (dag_id, task_id, run_id) GROUP BY r.dag_id, r.task_id, r.run_id) "
                     "SELECT r.dag_id, r.task_id, r.feature, r.test, r.value, r.threshold, "
                     "r.drifted FROM drift_results r JOIN last_window w USING (dag_id, task_id, "
                     "run_id) WHERE r.window_start IS w.window_start ORDER BY r.dag_id, "
                     "r.task_id, r.feature, r.test");
    const Status read = select.ForEachRow([&] {
      out.push_back({{"dag", select.Text(0)},
                     {"task", select.Text(1)},
                     {"feature", select.Text(2)},
                     {"test", select.Text(3)},
                     {"value", Value(select, 4)},
                     {"threshold", Value(select, 5)},
                     {"drifted", select.Int(6) != 0}});
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<nlohmann::json> Tasks() override {
    nlohmann::json out = nlohmann::json::array();
    if (!HasTable()) return out;
    Statement select(*db_,
                     "SELECT DISTINCT dag_id, task_id FROM drift_results ORDER BY dag_id, task_id");
    const Status read = select.ForEachRow([&] {
      out.push_back({{"dag_id", select.Text(0)}, {"task_id", select.Text(1)}});
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<nlohmann::json> Report(const std::string& dag_id, const std::string& task_id) override {
    if (!HasTable()) return NotFound("no drift results yet");
    Statement select(*db_,
                     "SELECT run_id, window_start, window_end, feature, test, value, threshold, "
                     "drifted FROM drift_results WHERE dag_id = ? AND task_id = ? ORDER BY rowid");
    select.Bind(1, dag_id).Bind(2, task_id);
    // Per (feature, test): per window, the latest run's point.
    std::map<std::pair<std::string, std::string>, std::map<std::string, nlohmann::json>> series;
    std::string last_run;
    std::vector<nlohmann::json> rows;
    const Status read = select.ForEachRow([&] {
      nlohmann::json point = {
          {"run_id", select.Text(0)},
          {"window_start", select.IsNull(1) ? nlohmann::json() : nlohmann::json(select.Text(1))},
          {"window_end", select.IsNull(2) ? nlohmann::json() : nlohmann::json(select.Text(2))},
          {"value", Value(select, 5)},
          {"threshold", Value(select, 6)},
          {"drifted", select.Int(7) != 0}};
      const std::string feature = select.Text(3), test = select.Text(4);
      const std::string window = select.IsNull(1) ? select.Text(0) : select.Text(1);
      series[{feature, test}][window] = point;
      if (select.Text(0) != last_run) {
        last_run = select.Text(0);
        rows.clear();
      }
      point["feature"] = feature;
      point["test"] = test;
      rows.push_back(point);
    });
    if (!read.ok()) return read.error();
    if (rows.empty()) {
      return NotFound("task '" + task_id + "' of DAG '" + dag_id + "' has no drift results");
    }
    // The latest run's latest window.
    nlohmann::json latest_window = rows.back().at("window_start");
    nlohmann::json latest_rows = nlohmann::json::array();
    for (const auto& r : rows) {
      if (r.at("window_start") == latest_window) latest_rows.push_back(r);
    }
    nlohmann::json histograms = nlohmann::json::object();
    Statement bins(*db_,
                   "SELECT feature, bins FROM drift_histograms WHERE dag_id = ? AND task_id = ? "
                   "AND run_id = ?");
    bins.Bind(1, dag_id).Bind(2, task_id).Bind(3, last_run);
    while (true) {
      auto row = bins.Step();
      if (!row.ok()) break;  // no histograms table: the report goes without them
      if (!*row) break;
      histograms[bins.Text(0)] = nlohmann::json::parse(bins.Text(1), nullptr, false);
    }
    bins.Reset();
    nlohmann::json out_series = nlohmann::json::array();
    for (const auto& [key, points] : series) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [window, point] : points) list.push_back(point);
      out_series.push_back({{"feature", key.first}, {"test", key.second}, {"points", list}});
    }
    return nlohmann::json{
        {"dag_id", dag_id},
        {"task_id", task_id},
        {"latest",
         {{"run_id", last_run},
          {"window_start", latest_window},
          {"window_end", latest_rows.empty() ? nlohmann::json() : latest_rows[0]["window_end"]},
          {"rows", latest_rows},
          {"histograms", histograms}}},
        {"series", out_series}};
  }

 private:
  bool HasTable() {
    Statement check(*db_,
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                    "('drift_results', 'drift_histograms')");
    auto row = check.Step();
    const bool has = row.ok() && *row && check.Int(0) == 2;
    check.Reset();
    return has;
  }

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

Result<std::unique_ptr<DriftResults>> DriftResults::Open(const std::string& data_db) {
  auto db = SqliteDb::Open(data_db);
  if (!db.ok()) return db.error();
  return std::unique_ptr<DriftResults>(new SqliteDriftResults(std::move(db).value()));
}

std::string RenderDriftGauges(const nlohmann::json& latest) {
  std::string score =
      "# HELP conveyor_drift_score The latest drift test value of a feature (a p-value for ks, "
      "chisquare and z; a distance or PSI otherwise).\n# TYPE conveyor_drift_score gauge\n";
  std::string detected =
      "# HELP conveyor_drift_detected Whether the latest drift test of a feature found drift.\n"
      "# TYPE conveyor_drift_detected gauge\n";
  std::string model =
      "# HELP conveyor_model_metric The latest model-quality metric of a drift task's primary "
      "window.\n# TYPE conveyor_model_metric gauge\n";
  for (const auto& row : latest) {
    if (!row.at("value").is_number()) continue;
    const std::string dag = Escape(row.at("dag")), task = Escape(row.at("task"));
    const std::string value = Number(row.at("value").get<double>());
    if (row.at("feature") == "model") {
      model += "conveyor_model_metric{dag=\"" + dag + "\",task=\"" + task + "\",metric=\"" +
               Escape(row.at("test")) + "\"} " + value + "\n";
      continue;
    }
    const std::string labels = "{dag=\"" + dag + "\",task=\"" + task + "\",feature=\"" +
                               Escape(row.at("feature")) + "\",test=\"" + Escape(row.at("test")) +
                               "\"}";
    score += "conveyor_drift_score" + labels + " " + value + "\n";
    detected += "conveyor_drift_detected" + labels + " " +
                (row.at("drifted").get<bool>() ? "1" : "0") + "\n";
  }
  return score + detected + model;
}

}  // namespace conveyor::data
