#include "operators/drift/drift_check_operator.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "engine/common/json_text.h"
#include "engine/common/time_format.h"
#include "engine/exec/drift_tables.h"
#include "operators/drift/drift_report.h"
#include "operators/feature_columns.h"
#include "operators/ml_arg.h"

namespace conveyor::operators {
namespace {

using drift::DriftInput;
using drift::DriftOptions;
using drift::FeatureColumn;
using drift::FeatureKind;
using drift::WindowReport;

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A table name, or a query when it starts with SELECT or WITH; a query is named with its text,
// as messages may name both sources.
Result<Source> OpenNamed(exec::DataStore& store, const std::string& what) {
  const std::string head = Lower(what.substr(0, what.find_first_of(" \t\n")));
  const bool is_query = head == "select" || head == "with";
  auto source = OpenSource(store, what, is_query);
  if (source.ok() && is_query) source->name += " '" + what + "'";
  return source;
}

std::string Iso(std::int64_t seconds) { return FormatUtc(Instant{std::chrono::seconds{seconds}}); }

// A window's feature reports with the prediction column's last, as they are written.
std::vector<const drift::FeatureReport*> Reported(const WindowReport& window) {
  std::vector<const drift::FeatureReport*> all;
  for (const auto& f : window.features) all.push_back(&f);
  if (window.prediction) all.push_back(&*window.prediction);
  return all;
}

std::string Number(double v) {
  std::ostringstream out;
  out.precision(4);
  out << v;
  return out.str();
}

class DriftCheck {
 public:
  explicit DriftCheck(exec::OperatorContext& context) : context_(context), args_(context.args) {}

  Result<nlohmann::json> Run() {
    auto options = Options();
    if (!options.ok()) return options.error();
    auto store = context_.OpenData();
    if (!store.ok()) return store.error();
    auto baseline = OpenNamed(**store, args_.at("baseline").get<std::string>());
    if (!baseline.ok()) return baseline.error();
    auto primary = OpenNamed(**store, args_.at("primary").get<std::string>());
    if (!primary.ok()) return primary.error();
    auto input = Load(*baseline, *primary, *options);
    if (!input.ok()) return input.error();
    auto reports = drift::ComputeDrift(std::move(input).value(), *options);
    if (!reports.ok()) return reports.error();
    if (reports->empty()) return InvalidArgument(primary->name + " has no rows to compare");
    if (Status s = Write(**store, *reports); !s.ok()) return s.error();
    return Summarize(*reports, *options);
  }

  bool fail_on_drift() const { return args_.value("on_drift", std::string("warn")) == "fail"; }
  const std::string& alert() const { return alert_; }

 private:
  Result<DriftOptions> Options() {
    DriftOptions options;
    options.problem_type = args_.value("problem_type", std::string("none"));
    if (args_.contains("window")) {
      auto window = drift::ParseWindow(args_.at("window").get<std::string>());
      if (!window.ok()) return window.error();
      options.window = *window;
      if (!args_.contains("timestamp_column")) {
        return InvalidArgument("window needs a timestamp_column to cut the primary rows by");
      }
    }
    if (args_.contains("tests")) {
      for (const auto& item : args_.at("tests").items()) {
        const std::string test = item.value().is_string() ? item.value().get<std::string>() : "";
        if (!drift::IsKnownTest(test) || test == "psi") {
          return InvalidArgument("tests." + item.key() + ": unknown test " + item.value().dump() +
                                 " (ks, chisquare, z, wasserstein, jensenshannon)");
        }
        options.tests[item.key()] = test;
      }
    }
    if (args_.contains("thresholds")) {
      for (const auto& item : args_.at("thresholds").items()) {
        auto value = NumberValue(item.value(), "thresholds." + item.key());
        if (!value.ok()) return value.error();
        options.thresholds[item.key()] = *value;
      }
    }
    options.drift_share = ArgNumber(args_, "drift_share", 0.5);
    options.metric_change_percent = ArgNumber(args_, "metric_change_percent", 15);
    options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return options;
  }

  // Reads both sources into columns: numbers as they are, text coded per column, NULL as NaN.
  Result<DriftInput> Load(Source& baseline, Source& primary, const DriftOptions& options) {
    const auto& bcols = baseline.reader->columns();
    const auto& pcols = primary.reader->columns();
    const std::string time_column = args_.value("timestamp_column", std::string());
    const std::string prediction = args_.value("prediction_column", std::string());
    const std::string label = args_.value("label_column", std::string());
    std::vector<std::string> names = StringList(args_, "features");
    if (names.empty()) {
      for (const auto& c : bcols) {
        const bool shared = std::any_of(pcols.begin(), pcols.end(),
                                        [&](const exec::Column& p) { return p.name == c.name; });
        if (shared && c.name != time_column && c.name != prediction && c.name != label &&
            c.type != exec::ColumnType::kTimestamp) {
          names.push_back(c.name);
        }
      }
      if (names.empty()) {
        return InvalidArgument(baseline.name + " and " + primary.name +
                               " share no feature columns");
      }
    }
    struct Slot {
      size_t b = 0, p = 0;
      FeatureColumn* column = nullptr;
      std::unordered_map<std::string, double> codes;
    };
    DriftInput input;
    input.features.resize(names.size());
    std::vector<Slot> slots(names.size());
    const auto kind_of = [](exec::ColumnType t) {
      return t == exec::ColumnType::kInteger || t == exec::ColumnType::kReal
                 ? FeatureKind::kNumerical
                 : FeatureKind::kCategorical;
    };
    for (size_t i = 0; i < names.size(); ++i) {
      auto b = FindColumn(bcols, names[i], "feature", baseline.name);
      if (!b.ok()) return b.error();
      auto p = FindColumn(pcols, names[i], "feature", primary.name);
      if (!p.ok()) return p.error();
      slots[i].b = *b;
      slots[i].p = *p;
      slots[i].column = &input.features[i];
      input.features[i].name = names[i];
      const bool numerical = kind_of(bcols[*b].type) == FeatureKind::kNumerical &&
                             kind_of(pcols[*p].type) == FeatureKind::kNumerical;
      input.features[i].kind = numerical ? FeatureKind::kNumerical : FeatureKind::kCategorical;
    }
    std::optional<Slot> prediction_slot, label_slot, time_slot;
    const bool quality = options.problem_type != "none";
    if (!prediction.empty()) {
      auto b = FindColumn(bcols, prediction, "prediction", baseline.name);
      if (!b.ok()) return b.error();
      auto p = FindColumn(pcols, prediction, "prediction", primary.name);
      if (!p.ok()) return p.error();
      input.prediction = FeatureColumn{prediction, FeatureKind::kNumerical, {}, {}};
      prediction_slot = Slot{*b, *p, &*input.prediction, {}};
    }
    if (quality) {
      if (prediction.empty() || label.empty()) {
        return InvalidArgument("problem_type " + options.problem_type +
                               " needs prediction_column and label_column");
      }
      auto b = FindColumn(bcols, label, "label", baseline.name);
      if (!b.ok()) return b.error();
      auto p = FindColumn(pcols, label, "label", primary.name);
      if (!p.ok()) return p.error();
      label_slot = Slot{*b, *p, nullptr, {}};
    }
    if (!time_column.empty()) {
      auto p = FindColumn(pcols, time_column, "timestamp", primary.name);
      if (!p.ok()) return p.error();
      time_slot = Slot{0, *p, nullptr, {}};
    }
    const auto value = [](const exec::Cell& cell, Slot& slot, FeatureKind kind) -> double {
      if (auto number = NumericValue(cell)) return *number;
      if (const auto* s = std::get_if<std::string>(&cell)) {
        if (kind == FeatureKind::kNumerical) return NAN;
        auto [it, fresh] = slot.codes.emplace(*s, static_cast<double>(slot.codes.size()));
        return it->second;
      }
      return NAN;
    };
    std::vector<exec::Cell> row;
    while (true) {
      auto got = baseline.reader->Next(row);
      if (!got.ok()) return got.error();
      if (!*got) break;
      for (Slot& slot : slots)
        slot.column->baseline.push_back(value(row[slot.b], slot, slot.column->kind));
      if (prediction_slot) {
        prediction_slot->column->baseline.push_back(
            value(row[prediction_slot->b], *prediction_slot, FeatureKind::kNumerical));
      }
      if (label_slot) {
        input.baseline_labels.push_back(
            value(row[label_slot->b], *label_slot, FeatureKind::kNumerical));
      }
    }
    for (size_t number = 1;; ++number) {
      auto got = primary.reader->Next(row);
      if (!got.ok()) return got.error();
      if (!*got) break;
      if (time_slot) {
        const auto* text = std::get_if<std::string>(&row[time_slot->p]);
        auto parsed = text ? ParseDateTime(*text) : Result<ParsedDateTime>(InvalidArgument(""));
        if (!parsed.ok()) {
          ++untimed_;
          continue;
        }
        const auto local = parsed->local.time_since_epoch().count();
        input.primary_time.push_back(local -
                                     (parsed->utc_offset ? parsed->utc_offset->count() : 0));
      }
      for (Slot& slot : slots)
        slot.column->primary.push_back(value(row[slot.p], slot, slot.column->kind));
      if (prediction_slot) {
        prediction_slot->column->primary.push_back(
            value(row[prediction_slot->p], *prediction_slot, FeatureKind::kNumerical));
      }
      if (label_slot) {
        input.primary_labels.push_back(
            value(row[label_slot->p], *label_slot, FeatureKind::kNumerical));
      }
    }
    if (untimed_ > 0) {
      context_.Log(std::to_string(untimed_) + " primary rows without a readable " + time_column +
                   " were left out");
    }
    if (input.features[0].baseline.empty()) return InvalidArgument(baseline.name + " has no rows");
    return input;
  }

  Status Write(exec::DataStore& store, const std::vector<WindowReport>& reports) {
    const auto& info = context_.info;
    namespace drift_tables = exec::drift_tables;
    const WindowReport& latest = reports.back();
    {
      auto writer =
          store.WriteTable(drift_tables::kHistograms, drift_tables::HistogramsColumns(), false);
      if (!writer.ok()) return writer.error();
      for (const drift::FeatureReport* f : Reported(latest)) {
        const nlohmann::json bins = {{"edges", f->histogram.edges},
                                     {"per_value", f->histogram.per_value},
                                     {"baseline", f->histogram.baseline},
                                     {"primary", f->histogram.primary}};
        if (Status s =
                (*writer)->Append({info.dag_id, info.run_id, info.task_id,
                                   WindowText(latest.start, latest), f->feature, DumpJson(bins)});
            !s.ok()) {
          return s;
        }
      }
      if (Status s = (*writer)->Commit(); !s.ok()) return s;
    }
    auto writer = store.WriteTable(drift_tables::kResults, drift_tables::ResultsColumns(), false);
    if (!writer.ok()) return writer.error();
    for (const WindowReport& w : reports) {
      const auto put = [&](const std::string& feature, const std::string& test, double value,
                           double threshold, bool drifted) {
        return (*writer)->Append({info.dag_id, info.run_id, info.task_id, WindowText(w.start, w),
                                  WindowText(w.end, w), feature, test,
                                  std::isfinite(value) ? exec::Cell(value) : exec::Cell(),
                                  threshold, std::int64_t{drifted ? 1 : 0}});
      };
      for (const drift::FeatureReport* f : Reported(w)) {
        if (Status s =
                put(f->feature, f->test.test, f->test.value, f->test.threshold, f->test.drifted);
            !s.ok()) {
          return s;
        }
        if (Status s = put(f->feature, "psi", f->psi.value, f->psi.threshold, f->psi.drifted);
            !s.ok()) {
          return s;
        }
      }
      for (const auto& m : w.metrics) {
        if (Status s = put(drift_tables::kModelFeature, m.metric, m.value, m.baseline, m.drifted);
            !s.ok()) {
          return s;
        }
      }
      if (Status s = put(drift_tables::kDatasetFeature, "drift_share", w.share,
                         args_.value("drift_share", 0.5), w.dataset_drift);
          !s.ok()) {
        return s;
      }
    }
    return (*writer)->Commit();
  }

  exec::Cell WindowText(std::int64_t seconds, const WindowReport& w) const {
    if (w.start == 0 && w.end == 0) return exec::Cell();
    return Iso(seconds);
  }

  nlohmann::json Summarize(const std::vector<WindowReport>& reports, const DriftOptions& options) {
    const WindowReport& latest = reports.back();
    std::vector<const drift::FeatureReport*> sorted;
    for (const auto& f : latest.features) sorted.push_back(&f);
    // Most severe first: drifted ones, then by how far past (or near) the threshold.
    const auto severity = [](const drift::FeatureReport* f) {
      const double v = f->test.value, t = f->test.threshold;
      return drift::IsPValueTest(f->test.test) ? (v > 0 ? t / v : 1e300) : v / t;
    };
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](auto* a, auto* b) { return severity(a) > severity(b); });
    std::string window = latest.start || latest.end ? Iso(latest.start) + " .. " + Iso(latest.end)
                                                    : std::string("all rows");
    context_.Log("latest window " + window + ": " + std::to_string(latest.primary_rows) +
                 " primary rows; " + std::to_string(reports.size()) + " window(s) compared");
    std::vector<std::string> drifted;
    for (const auto* f : sorted) {
      context_.Log("  " + f->feature + ": " + f->test.test + " " + Number(f->test.value) +
                   " (threshold " + Number(f->test.threshold) + ")" +
                   (f->test.drifted ? " DRIFT" : "") + ", psi " + Number(f->psi.value) +
                   (f->primary_dropped + f->baseline_dropped
                        ? ", " + std::to_string(f->primary_dropped + f->baseline_dropped) +
                              " NaN/inf/NULL dropped"
                        : ""));
      if (f->test.drifted) drifted.push_back(f->feature);
    }
    std::vector<std::string> alerts;
    for (const auto& m : latest.metrics) {
      context_.Log("  model " + m.metric + ": " + Number(m.value) + " (baseline " +
                   Number(m.baseline) + ")" + (m.drifted ? " ALERT" : ""));
      if (m.drifted) {
        alerts.push_back(m.metric + " " + Number(m.baseline) + " -> " + Number(m.value));
      }
    }
    std::string joined, alert_text;
    for (const auto& d : drifted) joined += (joined.empty() ? "" : ",") + d;
    for (const auto& a : alerts) alert_text += (alert_text.empty() ? "" : ", ") + a;
    if (latest.dataset_drift || latest.quality_alert) {
      alert_ = "drift in window " + window + ":";
      if (latest.dataset_drift) {
        alert_ += " " + std::to_string(drifted.size()) + " of " +
                  std::to_string(latest.features.size()) + " features drifted (share " +
                  Number(latest.share) + " >= " + Number(options.drift_share) + "): " + joined;
      }
      if (latest.quality_alert) {
        alert_ += std::string(latest.dataset_drift ? ";" : "") +
                  " model quality changed by more than " + Number(options.metric_change_percent) +
                  "%: " + alert_text;
      }
      context_.Log(alert_);
    }
    nlohmann::json outputs = {{"dataset_drift", latest.dataset_drift},
                              {"share", latest.share},
                              {"drifted_features", joined},
                              {"quality_alert", latest.quality_alert},
                              {"windows", reports.size()}};
    for (const auto& m : latest.metrics) outputs[m.metric] = m.value;
    return outputs;
  }

  exec::OperatorContext& context_;
  const nlohmann::json& args_;
  std::size_t untimed_ = 0;
  std::string alert_;
};

}  // namespace

exec::OperatorResult DriftCheckOperator::Execute(exec::OperatorContext& context) {
  DriftCheck check(context);
  exec::OperatorResult result = ResultOf(context, "drift_check", check.Run());
  if (result.outcome == exec::OperatorResult::Outcome::kSuccess && !check.alert().empty() &&
      check.fail_on_drift()) {
    result.outcome = exec::OperatorResult::Outcome::kFailed;  // outputs kept
    result.message = check.alert();
  }
  return result;
}

}  // namespace conveyor::operators
