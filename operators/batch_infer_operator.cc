#include "operators/batch_infer_operator.h"

#include <algorithm>
#include <thread>

#include "operators/feature_columns.h"
#include "operators/ml_arg.h"
#include "operators/xgboost_model.h"

namespace conveyor::operators {
namespace {

class BatchInfer {
 public:
  explicit BatchInfer(exec::OperatorContext& context) : context_(context), args_(context.args) {}

  Result<nlohmann::json> Run() {
    const std::string reference = args_.at("model").get<std::string>();
    if (!context_.data.open_registry) return InvalidArgument("no model registry is configured");
    auto registry = context_.data.open_registry();
    if (!registry.ok()) return registry.error();
    auto version = (*registry)->Resolve(reference);
    if (!version.ok()) return version.error();
    const std::string described = version->name + " version " + std::to_string(version->version);
    auto model = XgbModel::Load(version->artifact_path);
    if (!model.ok()) return model.error();
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    if (Status s = model->SetParam("nthread", std::to_string(threads)); !s.ok()) return s.error();

    auto input_store = context_.OpenData();
    if (!input_store.ok()) return input_store.error();
    auto output_store = context_.OpenData();
    if (!output_store.ok()) return output_store.error();
    auto source = OpenSourceArg(**input_store, args_);
    if (!source.ok()) return source.error();
    exec::TableReader& reader = *source->reader;
    const auto& columns = reader.columns();
    const std::string output_table = args_.at("output_table").get<std::string>();
    if (args_.value("table", std::string()) == output_table) {
      return InvalidArgument("output_table must differ from the input table '" + output_table +
                             "'");
    }

    std::vector<std::string> missing;
    for (const std::string& feature : version->features) {
      const bool found = std::any_of(columns.begin(), columns.end(),
                                     [&](const exec::Column& c) { return c.name == feature; });
      if (!found) missing.push_back(feature);
    }
    if (!missing.empty()) {
      std::string list;
      for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
      return InvalidArgument(source->name + " lacks " +
                             (missing.size() == 1 ? "a feature" : "features") + " of " + described +
                             ": " + list);
    }
    auto features = ChooseFeatures(columns, version->features, {}, {}, source->name);
    if (!features.ok()) return features.error();

    const std::string prediction =
        args_.value("prediction_column", std::string("prediction_score"));
    std::vector<size_t> kept;
    if (args_.contains("columns")) {
      for (const std::string& name : StringList(args_, "columns")) {
        auto index = FindColumn(columns, name, "output", source->name);
        if (!index.ok()) return index.error();
        kept.push_back(*index);
      }
    } else {
      for (size_t i = 0; i < columns.size(); ++i) kept.push_back(i);
    }
    std::erase_if(kept, [&](size_t i) { return columns[i].name == prediction; });
    std::vector<exec::Column> output_columns;
    for (size_t i : kept) output_columns.push_back(columns[i]);
    output_columns.push_back({prediction, exec::ColumnType::kReal});
    auto writer = (*output_store)->WriteTable(output_table, output_columns, true);
    if (!writer.ok()) return writer.error();

    const auto batch_size =
        static_cast<size_t>(std::max<std::int64_t>(1, ArgInteger(args_, "batch_size", 8192)));
    std::vector<std::vector<exec::Cell>> rows(batch_size);
    std::vector<exec::Cell> out(output_columns.size());
    DenseMatrix matrix;
    matrix.cols = features->size();
    std::int64_t total = 0;
    bool more = true;
    while (more) {
      if (context_.cancelled) return InvalidArgument("cancelled");
      matrix.values.clear();
      matrix.rows = 0;
      size_t filled = 0;
      while (filled < batch_size) {
        auto got = reader.Next(rows[filled]);
        if (!got.ok()) return got.error();
        if (!*got) {
          more = false;
          break;
        }
        size_t bad = 0;
        if (!AppendFeatureRow(rows[filled], *features, matrix, &bad)) {
          return InvalidArgument("feature column '" + columns[bad].name + "' of " + source->name +
                                 " holds text " + CellText(rows[filled][bad]) + " at row " +
                                 std::to_string(total + filled + 1));
        }
        ++filled;
      }
      if (filled == 0) break;
      auto scores = model->Predict(matrix);
      if (!scores.ok()) return scores.error();
      for (size_t r = 0; r < filled; ++r) {
        for (size_t k = 0; k < kept.size(); ++k) out[k] = std::move(rows[r][kept[k]]);
        out.back() = static_cast<double>((*scores)[r]);
        if (Status s = (*writer)->Append(out); !s.ok()) return s.error();
      }
      total += static_cast<std::int64_t>(filled);
    }
    if (Status s = (*writer)->Commit(); !s.ok()) return s.error();
    context_.Log("scored " + std::to_string(total) + " rows of " + source->name + " with " +
                 described + " into " + output_table);
    return nlohmann::json{{"rows", total},
                          {"output_table", output_table},
                          {"model_name", version->name},
                          {"model_version", version->version}};
  }

 private:
  exec::OperatorContext& context_;
  const nlohmann::json& args_;
};

}  // namespace

exec::OperatorResult BatchInferOperator::Execute(exec::OperatorContext& context) {
  return ResultOf(context, "batch_infer", BatchInfer(context).Run());
}

}  // namespace conveyor::operators
