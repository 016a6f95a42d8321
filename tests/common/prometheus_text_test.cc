#include "engine/common/prometheus_text.h"

#include <gtest/gtest.h>

#include <limits>

namespace conveyor {
namespace {

TEST(PrometheusMetricTextTest, EscapesLabelValues) {
  EXPECT_EQ(PrometheusLabelValue("plain"), "plain");
  EXPECT_EQ(PrometheusLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(PrometheusMetricTextTest, WritesShortestNumbersAndSpecialValues) {
  EXPECT_EQ(PrometheusNumber(0.1), "0.1");
  EXPECT_EQ(PrometheusNumber(0.005), "0.005");
  EXPECT_EQ(PrometheusNumber(3600), "3600");
  EXPECT_EQ(PrometheusNumber(-2.5), "-2.5");
  EXPECT_EQ(PrometheusNumber(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PrometheusNumber(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(PrometheusNumber(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(PrometheusMetricTextTest, WritesHelpAndType) {
  std::string out = "x\n";
  AppendPrometheusHeader(out, "conveyor_up", "gauge", "Up \\ or\ndown.");
  EXPECT_EQ(out, "x\n# HELP conveyor_up Up \\\\ or\\ndown.\n# TYPE conveyor_up gauge\n");
}

}  // namespace
}  // namespace conveyor
