#include "engine/data/drift_results.h"

#include <initializer_list>
#include <map>

#include "engine/common/prometheus_text.h"
#include "engine/exec/drift_tables.h"
#include "engine/store/sqlite_db.h"

namespace conveyor::data {
namespace {

using store::SqliteDb;
using store::Statement;

nlohmann::json Value(const Statement& s, int column) {
  if (s.IsNull(column)) return nullptr;
  return s.Real(column);
}

// "p.a, p.b": columns a and b after `prefix`.
std::string Columns(std::initializer_list<const char*> names, const std::string& prefix = "") {
  std::string out;
  for (const char* name : names) out += (out.empty() ? "" : ", ") + prefix + name;
  return out;
}

// Each run's rows of its latest window, for the latest run of each task.
std::string LatestSql() {
  using namespace exec::drift_tables;
  const std::string results = kResults, run = Columns({kDagId, kTaskId, kRunId});
  const std::string r_run = Columns({kDagId, kTaskId, kRunId}, "r.");
  return "WITH last_run AS (SELECT " + run + " FROM " + results +
         " WHERE rowid IN (SELECT max(rowid) FROM " + results + " GROUP BY " +
         Columns({kDagId, kTaskId}) + ")), last_window AS (SELECT " + r_run + ", max(r." +
         kWindowStart + ") AS " + kWindowStart + " FROM " + results + " r JOIN last_run l USING (" +
         run + ") GROUP BY " + r_run + ") SELECT " +
         Columns({kDagId, kTaskId, kFeature, kTest, kValue, kThreshold, kDrifted}, "r.") +
         " FROM " + results + " r JOIN last_window w USING (" + run + ") WHERE r." + kWindowStart +
         " IS w." + kWindowStart + " ORDER BY " + Columns({kDagId, kTaskId, kFeature, kTest}, "r.");
}

std::string TasksSql() {
  using namespace exec::drift_tables;
  const std::string key = Columns({kDagId, kTaskId});
  return "SELECT DISTINCT " + key + " FROM " + kResults + " ORDER BY " + key;
}

std::string ReportSql() {
  using namespace exec::drift_tables;
  return "SELECT " +
         Columns(
             {kRunId, kWindowStart, kWindowEnd, kFeature, kTest, kValue, kThreshold, kDrifted}) +
         " FROM " + kResults + " WHERE " + kDagId + " = ? AND " + kTaskId + " = ? ORDER BY rowid";
}

std::string BinsSql() {
  using namespace exec::drift_tables;
  return "SELECT " + Columns({kFeature, kBins}) + " FROM " + kHistograms + " WHERE " + kDagId +
         " = ? AND " + kTaskId + " = ? AND " + kRunId + " = ?";
}

std::string HasTablesSql() {
  using namespace exec::drift_tables;
  return std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('") +
         kResults + "', '" + kHistograms + "')";
}

class SqliteDriftResults : public DriftResults {
 public:
  explicit SqliteDriftResults(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<nlohmann::json> Latest() override {
    nlohmann::json out = nlohmann::json::array();
    if (!HasTable()) return out;
    static const std::string sql = LatestSql();
    Statement select(*db_, sql.c_str());
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
    static const std::string sql = TasksSql();
    Statement select(*db_, sql.c_str());
    const Status read = select.ForEachRow([&] {
      out.push_back({{"dag_id", select.Text(0)}, {"task_id", select.Text(1)}});
    });
    if (!read.ok()) return read.error();
    return out;
  }

  Result<nlohmann::json> Report(const std::string& dag_id, const std::string& task_id) override {
    if (!HasTable()) return NotFound("no drift results yet");
    static const std::string sql = ReportSql();
    Statement select(*db_, sql.c_str());
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
    static const std::string bins_sql = BinsSql();
    Statement bins(*db_, bins_sql.c_str());
    bins.Bind(1, dag_id).Bind(2, task_id).Bind(3, last_run);
    // A failed read leaves the report without (the rest of) its histograms.
    (void)bins.ForEachRow(
        [&] { histograms[bins.Text(0)] = nlohmann::json::parse(bins.Text(1), nullptr, false); });
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
    static const std::string sql = HasTablesSql();
    Statement check(*db_, sql.c_str());
    auto tables = check.ScalarInt();
    return tables.ok() && *tables == 2;
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
  std::string score, detected, model;
  AppendPrometheusHeader(score, "conveyor_drift_score", "gauge",
                         "The latest drift test value of a feature (a p-value for ks, chisquare "
                         "and z; a distance or PSI otherwise).");
  AppendPrometheusHeader(detected, "conveyor_drift_detected", "gauge",
                         "Whether the latest drift test of a feature found drift.");
  AppendPrometheusHeader(model, "conveyor_model_metric", "gauge",
                         "The latest model-quality metric of a drift task's primary window.");
  for (const auto& row : latest) {
    if (!row.at("value").is_number()) continue;
    const std::string dag = PrometheusLabelValue(row.at("dag").get<std::string>());
    const std::string task = PrometheusLabelValue(row.at("task").get<std::string>());
    const std::string test = PrometheusLabelValue(row.at("test").get<std::string>());
    const std::string value = PrometheusNumber(row.at("value").get<double>());
    if (row.at("feature") == exec::drift_tables::kModelFeature) {
      model += "conveyor_model_metric{dag=\"" + dag + "\",task=\"" + task + "\",metric=\"" + test +
               "\"} " + value + "\n";
      continue;
    }
    const std::string labels = "{dag=\"" + dag + "\",task=\"" + task + "\",feature=\"" +
                               PrometheusLabelValue(row.at("feature").get<std::string>()) +
                               "\",test=\"" + test + "\"}";
    score += "conveyor_drift_score" + labels + " " + value + "\n";
    detected += "conveyor_drift_detected" + labels + " " +
                (row.at("drifted").get<bool>() ? "1" : "0") + "\n";
  }
  return score + detected + model;
}

}  // namespace conveyor::data
