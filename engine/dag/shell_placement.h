#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::dag {

// Where a template stands in a /bin/sh command, as the shell's lexer would read it.
enum class ShellContext {
  kBare,          // an unquoted word, or inside $( ... )
  kSingleQuoted,  // inside '...'
  kDoubleQuoted,  // inside "..."
};

// A template's span in a command's text: [begin, end).
struct TemplateSpan {
  size_t begin = 0;
  size_t end = 0;
};

// The context of each span of `command` (spans in order, not overlapping). A span the lexer
// cannot place safely (inside a heredoc, backticks, $((...)) or ${...}) is an error located at
// its column, saying to use env: or a list command.
Result<std::vector<ShellContext>> PlaceTemplates(std::string_view command,
                                                 const std::vector<TemplateSpan>& spans);

// How a template in `context` refers to the environment variable `name` so that the shell
// substitutes its value as text, never parsed again and never split into words:
// bare "${name}", in double quotes ${name}, in single quotes '"${name}"' (closing and
// reopening the quotes).
std::string ShellReference(std::string_view name, ShellContext context);

// True when `command` needs /bin/sh: it holds quoting, expansion, redirection or control syntax.
bool HasShellSyntax(std::string_view command);

}  // namespace conveyor::dag
