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
  // A case pattern's ')' closes no $( ... ).
  EXPECT_EQ(Place("echo \"$(case a in a) echo {{ a }};; esac)\" {{ b }}"), "bare,bare");
  EXPECT_EQ(Place("echo \"$(case a in a) echo x;; esac) {{ a }}\""), "double");
  // Quotes inside ${ } do not end it.
  EXPECT_EQ(Place("echo ${x:-\"}\"} '{{ a }}' ${y:-'}'} {{ b }}"), "single,bare");
  // "$(date)#" goes on as one word: no comment.
  EXPECT_EQ(Place("echo $(date)#\"{{ a }}\""), "double");
  // Line continuations vanish before anything else.
  EXPECT_EQ(Place("python3 train.py \\\n  --date {{ a }} \\\n  --name '{{ b }}'"), "bare,single");
}

TEST(ShellPlacementTest, PositionsTheLexerCannotPlaceAreErrors) {
  const std::string advice =
      " cannot be passed to the shell safely: pass the value through env: (and use \"$NAME\") or "
      "write the command as a list";
  EXPECT_EQ(Place("echo `echo {{ a }}`"), "12: a template inside backticks" + advice);
  EXPECT_EQ(Place("echo \"`{{ a }}`\""), "8: a template inside backticks" + advice);
  const std::string arithmetic =
      "a template inside an arithmetic expression (((...)), $((...)) "
      "or $[...])" +
      advice;
  EXPECT_EQ(Place("echo $(( {{ a }} + 1 ))"), "10: " + arithmetic);
  EXPECT_EQ(Place("(( {{ a }} > 3 )) && echo big"), "4: " + arithmetic);
  EXPECT_EQ(Place("echo $[ {{ a }} ]"), "9: " + arithmetic);
  EXPECT_EQ(Place("echo $\\\n(( {{ a }} ))"), "12: " + arithmetic);
  EXPECT_EQ(Place("[[ \"{{ a }}\" -gt 1 ]] && echo"), "5: a template inside [[ ... ]]" + advice);
  EXPECT_EQ(Place("echo $'x{{ a }}'"), "9: a template inside $'...'" + advice);
  EXPECT_EQ(Place("echo \\{{ a }}"), "7: a template right after a backslash" + advice);
  EXPECT_EQ(Place("sh <\\\n<EOF\necho {{ a }}\nEOF"), "17: a template inside a heredoc" + advice);
  EXPECT_EQ(Place("a[{{ a }}]=1"),
            "3: a template inside name[...] (an array subscript, arithmetic in bash)" + advice);
  EXPECT_EQ(Place("x=1; let x={{ a }}"), "12: a template in the arguments of let" + advice);
  EXPECT_EQ(Place("declare -i n=\"{{ a }}\""),
            "15: a template in the arguments of declare" + advice);
  EXPECT_EQ(Place("declare -i n; echo \"{{ a }}\""), "double");
  EXPECT_EQ(Place("echo [{{ a }}]"), "bare");  // a word's first '[' is no subscript
  EXPECT_EQ(Place("echo '{{ a }}"),
            "14: the command has an unterminated quote, substitution or heredoc: its templates "
            "cannot be placed");
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
