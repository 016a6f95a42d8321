#include "engine/dag/shell_placement.h"

#include <gtest/gtest.h>

#include "engine/dag/template.h"

namespace conveyor::dag {
namespace {

// The context of each template of `command`, as "bare,single,double", or the error with its
// column.
std::string Place(const std::string& command) {
  auto parsed = Template::Parse(command);
  if (!parsed.ok()) return "parse error";
  std::vector<TemplateSpan> spans;
  for (const auto& e : parsed->Expressions()) spans.push_back({e.offset, e.offset + e.length});
  auto placed = PlaceTemplates(command, spans);
  if (!placed.ok()) {
    return std::to_string(placed.error().location->column) + ": " + placed.error().message;
  }
  std::string out;
  for (ShellContext context : *placed) {
    out += out.empty() ? "" : ",";
    out += context == ShellContext::kBare           ? "bare"
           : context == ShellContext::kSingleQuoted ? "single"
                                                    : "double";
  }
  return out;
}

TEST(ShellPlacementTest, QuotingContexts) {
  EXPECT_EQ(Place("echo {{ a }} '{{ b }}' \"{{ c }}\" x{{ d }}y"), "bare,single,double,bare");
  EXPECT_EQ(Place("echo \"it's {{ a }}\" 'say \"{{ b }}\"'"), "double,single");
  EXPECT_EQ(Place("echo \\'{{ a }}"), "bare");  // an escaped quote opens nothing
  EXPECT_EQ(Place("echo \"\\\"{{ a }}\""), "double");
  EXPECT_EQ(Place("echo $(basename {{ a }}) \"$(cat '{{ b }}')\" \"x$(echo \"{{ c }}\")\""),
            "bare,single,double");
  EXPECT_EQ(Place("f() { echo {{ a }}; }; f # {{ b }}"), "bare,bare");
  EXPECT_EQ(Place("echo a#{{ a }}"), "bare");
  EXPECT_EQ(Place("case {{ a }} in x) echo '{{ b }}';; esac"), "bare,single");
  EXPECT_EQ(Place("echo ${HOME} {{ a }}"), "bare");
}

TEST(ShellPlacementTest, PositionsTheLexerCannotPlaceAreErrors) {
  const std::string advice =
      " cannot be passed to the shell safely: pass the value through env: (and use \"$NAME\") or "
      "write the command as a list";
  EXPECT_EQ(Place("echo `echo {{ a }}`"), "12: a template inside backticks" + advice);
  EXPECT_EQ(Place("echo \"`{{ a }}`\""), "8: a template inside backticks" + advice);
  EXPECT_EQ(Place("echo $(( {{ a }} + 1 ))"), "10: a template inside $((...))" + advice);
  EXPECT_EQ(Place("echo ${X:-{{ a }}}"), "11: a template inside ${...}" + advice);
  EXPECT_EQ(Place("cat <<EOF\nhello {{ a }}\nEOF"), "17: a template inside a heredoc" + advice);
  EXPECT_EQ(Place("cat <<-'END' | wc\n\thello {{ a }}\n\tEND\necho {{ b }}"),
            "26: a template inside a heredoc" + advice);
  EXPECT_EQ(Place("cat <<{{ a }}\nx\n"), "7: a template as a heredoc's delimiter" + advice);
  // After the heredoc's end, bare text again.
  EXPECT_EQ(Place("cat <<EOF\nhello\nEOF\necho {{ a }}"), "bare");
  EXPECT_EQ(Place("cat <<<'{{ a }}'"), "single");  // not a heredoc (bash's here-string)
}

TEST(ShellPlacementTest, ReferencesStayOneWordInEveryContext) {
  EXPECT_EQ(ShellReference("V", ShellContext::kBare), "\"${V}\"");
  EXPECT_EQ(ShellReference("V", ShellContext::kDoubleQuoted), "${V}");
  EXPECT_EQ(ShellReference("V", ShellContext::kSingleQuoted), "'\"${V}\"'");
  EXPECT_FALSE(HasShellSyntax("python train.py --rows 10"));
  EXPECT_TRUE(HasShellSyntax("echo a > b"));
}

}  // namespace
}  // namespace conveyor::dag
