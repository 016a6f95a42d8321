#include "engine/dag/template.h"

#include <gtest/gtest.h>

namespace conveyor::dag {
namespace {

const nlohmann::json kContext = {
    {"ds", "2026-01-01"},
    {"run_id", "manual__x"},
    {"try_number", 2},
    {"params", {{"model_name", "credit_default"}, {"threshold", 0.7}, {"nested", {{"a", true}}}}},
    {"outputs", {{"train", {{"auc", "0.81"}}}}},
    {"conf", {{"evil", "x'; rm -rf / #"}}}};

std::string Render(const std::string& text) {
  auto parsed = Template::Parse(text);
  if (!parsed.ok())
    return "parse error at " + std::to_string(parsed.error().location->column) + ": " +
           parsed.error().message;
  auto rendered = parsed->Render(kContext);
  if (!rendered.ok())
    return "render error at " + std::to_string(rendered.error().location->column) + ": " +
           rendered.error().message;
  return *rendered;
}

TEST(TemplateTest, RendersNamesAndDottedPaths) {
  EXPECT_EQ(Render("{{ run_id }} {{ds}} auc={{ outputs.train.auc }}"),
            "manual__x 2026-01-01 auc=0.81");
  EXPECT_EQ(Render("try {{ try_number }} of {{ params.model_name }} at {{ params.threshold }}"),
            "try 2 of credit_default at 0.7");
  EXPECT_EQ(Render("{{ params.nested.a }}"), "true");
  EXPECT_EQ(Render("no placeholders"), "no placeholders");
  EXPECT_EQ(Render(""), "");
}

TEST(TemplateTest, UnknownNameIsAnErrorAtItsColumn) {
  EXPECT_EQ(Render("x {{ params.missing }}"),
            "render error at 3: unknown template name 'params.missing'");
  EXPECT_EQ(Render("{{ conf.evil.deeper }}"),
            "render error at 1: unknown template name 'conf.evil.deeper'");
}

TEST(TemplateTest, SyntaxErrors) {
  EXPECT_EQ(Render("abc {{ ds"), "parse error at 5: unterminated '{{' in template");
  EXPECT_EQ(Render("{{ }}"), "parse error at 1: empty template expression '{{ }}'");
  EXPECT_EQ(Render("a{{ ds | upper }}"),
            "parse error at 2: unknown template filter 'upper' (expected q)");
  EXPECT_EQ(Render("{{ params..x }}"),
            "parse error at 1: bad template name 'params..x' (expected a dotted name such as "
            "params.model_name)");
}

TEST(TemplateTest, QuoteFilterKeepsHostileValuesOneShellWord) {
  EXPECT_EQ(Render("echo {{ conf.evil | q }}"), "echo 'x'\\''; rm -rf / #'");
  EXPECT_EQ(Render("echo {{ ds | q }}"), "echo 2026-01-01");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(TemplateTest, ListsItsExpressions) {
  auto parsed = Template::Parse("{{ a.b }} and {{ c | q }}");
  ASSERT_TRUE(parsed.ok());
  const auto expressions = parsed->Expressions();
  ASSERT_EQ(expressions.size(), 2u);
  EXPECT_EQ(expressions[0].DottedPath(), "a.b");
  EXPECT_EQ(expressions[0].offset, 0u);
  EXPECT_TRUE(expressions[1].shell_quote);
  EXPECT_EQ(expressions[1].offset, 14u);
}

}  // namespace
}  // namespace conveyor::dag
