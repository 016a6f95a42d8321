#include "engine/serving/prediction_input.h"

#include <gtest/gtest.h>

#include <cmath>

namespace conveyor::serving {
namespace {

const std::vector<std::string> kFeatures = {"a", "b"};

std::string Shown(const Result<Rows>& rows) {
  if (!rows.ok()) return "error: " + rows.error().message;
  std::string out;
  for (size_t i = 0; i < rows->values.size(); ++i) {
    const float v = rows->values[i];
    out += (i % rows->cols == 0 ? (i ? "|" : "") : ",") +
           (std::isnan(v) ? std::string("nan") : std::to_string(static_cast<int>(v * 10)));
  }
  return out;
}

TEST(PredictionInputTest, EveryMlflowFormPutsTheColumnsInTheModelsOrder) {
  const auto parse = [](const char* text) {
    return Shown(RowsFromMlflowJson(nlohmann::json::parse(text), kFeatures, 10));
  };
  EXPECT_EQ(parse(R"({"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1], [4, null]]}})"),
            "10,20|nan,40");
  EXPECT_EQ(parse(R"({"dataframe_records": [{"b": true, "a": 0.5}]})"), "5,10");
  EXPECT_EQ(parse(R"({"inputs": [[1, 2]]})"), "10,20");
  EXPECT_EQ(parse(R"({"instances": [{"a": 1, "b": 2}]})"), "10,20");
  EXPECT_EQ(parse(R"({"inputs": {"b": [2, 3], "a": [1, 1]}})"), "10,20|10,30");
  EXPECT_EQ(parse(R"({"inputs": []})"), "");
}

TEST(PredictionInputTest, BadInputsSayWhatIsWrong) {
  const auto parse = [](const char* text) {
    return Shown(RowsFromMlflowJson(nlohmann::json::parse(text), kFeatures, 2));
  };
  EXPECT_EQ(parse(R"({})"),
            "error: the body must hold exactly one of dataframe_split, dataframe_records, inputs "
            "or instances; it holds nothing");
  EXPECT_EQ(parse(R"({"dataframe_split": {"columns": ["a", "a"], "data": []}})"),
            "error: column 'a' is given twice");
  EXPECT_EQ(parse(R"({"dataframe_split": {"columns": ["a", "c"], "data": [[1, 2]]}})"),
            "error: missing features: b; unknown columns: c (the model's features: a, b)");
  EXPECT_EQ(parse(R"({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]], "index": []}})"),
            "error: dataframe_split's index must list one label per row");
  EXPECT_EQ(parse(R"({"inputs": {"a": [1, 2], "b": [1]}})"),
            "error: column 'b' has 1 values, column 'a' 2");
  EXPECT_EQ(parse(R"({"inputs": [[1, [2]]]})"),
            "error: row 0, column 'b' holds [2]: expected a number, a boolean or null");
  EXPECT_EQ(parse(R"({"inputs": [[1, 2], [1, 2], [1, 2]]})"),
            "error: 3 rows is more than the 2 a request may hold (serving.max_rows)");
  EXPECT_EQ(parse(R"({"inputs": "x"})"),
            "error: inputs must be a list of rows or an object of columns");
}

TEST(PredictionInputTest, CsvHasAHeaderAndEmptyFieldsAreMissing) {
  EXPECT_EQ(Shown(RowsFromCsv("b,a\r\n2,1\n,3\n", kFeatures, 10)), "10,20|30,nan");
  EXPECT_EQ(Shown(RowsFromCsv("a,b\n1,x\n", kFeatures, 10)),
            "error: row 0, column 'b' holds 'x': expected a number");
  EXPECT_EQ(Shown(RowsFromCsv("a,b\n1\n", kFeatures, 10)),
            "error: CSV line 2 has 1 fields, the header 2");
  EXPECT_EQ(Shown(RowsFromCsv("", kFeatures, 10)), "error: the CSV body has no header row");
  EXPECT_EQ(Shown(RowsFromCsv("a,b\n1,2\n1,2\n1,2\n", kFeatures, 2)),
            "error: more than the 2 rows a request may hold (serving.max_rows)");
}

TEST(PredictionInputTest, InferenceTensorsAndSeldonRows) {
  const auto v2 = [](const char* text) {
    return Shown(RowsFromInferenceRequest(nlohmann::json::parse(text), kFeatures, 10));
  };
  EXPECT_EQ(v2(R"({"inputs": [{"name": "t", "shape": [2, 2], "datatype": "FP64",
                  "data": [1, 2, 3, null]}]})"),
            "10,20|30,nan");
  EXPECT_EQ(v2(R"({"inputs": [{"name": "b", "shape": [1], "datatype": "BOOL", "data": [true]},
                             {"name": "a", "shape": [1, 1], "datatype": "INT64", "data": [[4]]}]})"),
            "40,10");
  EXPECT_EQ(v2(R"({"inputs": [{"name": "t", "shape": [1, 2], "datatype": "INT64",
                  "data": [1, 2.5]}]})"),
            "error: input 't' (INT64) holds 2.5");
  EXPECT_EQ(v2(R"({"inputs": [{"name": "t", "shape": [1, 2], "datatype": "FP32",
                  "data": [[[1, 2]]]}]})"),
            "error: input 't' nests deeper than its shape");
  EXPECT_EQ(v2(R"({"inputs": [{"name": "t", "shape": [2, 2], "datatype": "FP32",
                  "data": [1, 2, 3]}]})"),
            "error: input 't' holds 3 values, its shape [2,2]");
  EXPECT_EQ(v2(R"({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                             {"name": "b", "shape": [1], "datatype": "FP32", "data": [1]}]})"),
            "error: input 'b' has 1 rows, input 'a' 2");
  EXPECT_EQ(v2(R"({"inputs": []})"),
            "error: the body must be an inference request with a non-empty 'inputs' list");
  EXPECT_EQ(Shown(RowsFromSeldon(
                nlohmann::json::parse(R"({"data": {"names": ["b", "a"], "ndarray": [[2, 1]]}})"),
                kFeatures, 10)),
            "10,20");
  EXPECT_EQ(Shown(RowsFromSeldon(nlohmann::json::parse(R"({"data": {"ndarray": [[1, 2]]}})"),
                                 kFeatures, 10)),
            "10,20");
}

}  // namespace
}  // namespace conveyor::serving
