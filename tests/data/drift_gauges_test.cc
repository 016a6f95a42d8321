#include <gtest/gtest.h>

#include "engine/data/drift_results.h"

namespace conveyor::data {
namespace {

TEST(DriftGaugesTest, RendersFeatureAndModelRows) {
  const nlohmann::json latest = {{{"dag", "d\"1"},
                                  {"task", "t"},
                                  {"feature", "age"},
                                  {"test", "ks"},
                                  {"value", 0.05},
                                  {"threshold", 0.05},
                                  {"drifted", true}},
                                 {{"dag", "d\"1"},
                                  {"task", "t"},
                                  {"feature", "model"},
                                  {"test", "accuracy"},
                                  {"value", 0.9},
                                  {"threshold", 0.8},
                                  {"drifted", false}},
                                 {{"dag", "d\"1"},
                                  {"task", "t"},
                                  {"feature", "income"},
                                  {"test", "z"},
                                  {"value", nullptr},
                                  {"threshold", 0.05},
                                  {"drifted", false}}};
  EXPECT_EQ(RenderDriftGauges(latest),
            "# HELP conveyor_drift_score The latest drift test value of a feature (a p-value for "
            "ks, chisquare and z; a distance or PSI otherwise).\n"
            "# TYPE conveyor_drift_score gauge\n"
            "conveyor_drift_score{dag=\"d\\\"1\",task=\"t\",feature=\"age\",test=\"ks\"} 0.05\n"
            "# HELP conveyor_drift_detected Whether the latest drift test of a feature found "
            "drift.\n"
            "# TYPE conveyor_drift_detected gauge\n"
            "conveyor_drift_detected{dag=\"d\\\"1\",task=\"t\",feature=\"age\",test=\"ks\"} 1\n"
            "# HELP conveyor_model_metric The latest model-quality metric of a drift task's "
            "primary window.\n"
            "# TYPE conveyor_model_metric gauge\n"
            "conveyor_model_metric{dag=\"d\\\"1\",task=\"t\",metric=\"accuracy\"} 0.9\n");
}

}  // namespace
}  // namespace conveyor::data
