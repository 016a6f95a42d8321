#include "engine/graph/graph_render.h"

#include <gtest/gtest.h>

#include "engine/cli/command_context.h"
#include "tests/support/temp_dir.h"

namespace conveyor::graph {
namespace {

constexpr char kDag[] = R"(dag_id: render_me
schedule: "0 3 * * *"
tasks:
  - {id: extract, operator: noop}
  - {id: say_hi, operator: noop, depends_on: [extract], retries: 2, retry_delay: 1m}
  - {id: load, operator: noop, depends_on: [extract, say_hi], trigger_rule: all_done}
)";

class GraphRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics errors;
    auto loaded = LoadAndBuild(dir_.Write("render_me.yaml", kDag), cli::BuiltinRegistry(), &errors);
    ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
    loaded_.emplace(std::move(loaded).value());
  }
  testing::TempDir dir_;
  std::optional<LoadedDag> loaded_;
};

TEST_F(GraphRenderTest, DotListsNodesAndEdgesInOrder) {
  EXPECT_EQ(RenderDot(*loaded_),
            "digraph \"render_me\" {\n"
            "  graph [label=\"render_me\", labelloc=t, rankdir=LR];\n"
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f0f0f0\", "
            "fontname=\"Helvetica\"];\n"
            "  \"extract\";\n"
            "  \"say_hi\";\n"
            "  \"load\";\n"
            "  \"extract\" -> \"say_hi\";\n"
            "  \"extract\" -> \"load\";\n"
            "  \"say_hi\" -> \"load\";\n"
            "}\n");
}

TEST_F(GraphRenderTest, SvgComesFromGraphviz) {
  auto svg = RenderSvg(*loaded_);
  ASSERT_TRUE(svg.ok()) << svg.error().ToString();
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_NE(svg->find("<title>extract&#45;&gt;say_hi</title>"), std::string::npos);
  EXPECT_NE(svg->find("<title>say_hi&#45;&gt;load</title>"), std::string::npos);
}

TEST_F(GraphRenderTest, TextShowsSettingsAndUpstream) {
  const std::string text = RenderText(*loaded_);
  EXPECT_NE(text.find("schedule: 0 3 * * * (UTC)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  say_hi [noop] <- extract (retries 2 every 1m)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  load [noop] <- extract, say_hi (trigger_rule all_done)\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace conveyor::graph
