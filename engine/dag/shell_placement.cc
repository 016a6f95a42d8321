#include "engine/dag/shell_placement.h"

#include <optional>
#include <set>

namespace conveyor::dag {
namespace {

enum class Frame {
  kTop,           // the command itself: bare words
  kSubshell,      // $( ... ): bare words again
  kSingle,        // '...'
  kDollarSingle,  // $'...' (bash's ANSI-C quoting)
  kDouble,        // "..."
  kBacktick,      // `...`
  kArith,         // $(( ... )), (( ... )) or $[ ... ]: bash evaluates variables' values there
  kTest,          // [[ ... ]]: bash evaluates operands of -eq, -lt, ... as arithmetic
  kParameter,     // ${ ... }
  kSubscript,     // name[ ... ]: an array subscript, arithmetic in bash (or a glob's brackets)
  kComment,       // # to the end of the line
};

struct Open {
  Frame frame;
  int depth = 0;     // brackets still open, for kSubshell, kArith and kParameter
  char opens = '(';  // kArith's bracket: '(' or '['
  int cases = 0;     // `case` commands open in a kSubshell (their patterns end with ')')
};

struct Heredoc {
  std::string delimiter;
  bool strip_tabs = false;
};

bool EndsWord(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
         c == '>' || c == '(' || c == ')';
}

std::optional<std::string> UnsafeWhere(Frame frame) {
  switch (frame) {
    case Frame::kBacktick:
      return "inside backticks";
    case Frame::kArith:
      return "inside an arithmetic expression (((...)), $((...)) or $[...])";
    case Frame::kTest:
      return "inside [[ ... ]]";
    case Frame::kParameter:
      return "inside ${...}";
    case Frame::kDollarSingle:
      return "inside $'...'";
    case Frame::kSubscript:
      return "inside name[...] (an array subscript, arithmetic in bash)";
    default:
      return std::nullopt;
  }
}

Error Unplaceable(size_t offset, const std::string& where) {
  return InvalidArgument("a template " + where +
                             " cannot be passed to the shell safely: pass the value through "
                             "env: (and use \"$NAME\") or write the command as a list",
                         Location{"", 1, static_cast<int>(offset) + 1});
}

class Lexer {
 public:
  Lexer(std::string_view text, const std::vector<TemplateSpan>& spans)
      : text_(text), spans_(spans) {}

  Result<std::vector<ShellContext>> Run() {
    while (i_ < text_.size()) {
      if (next_span_ < spans_.size() && i_ >= spans_[next_span_].begin) {
        if (auto error = PlaceSpan()) return *error;
        continue;
      }
      if (auto error = Step()) return *error;
    }
    // Spans past the end cannot happen for a parsed template; place any left as bare text.
    while (next_span_ < spans_.size()) {
      if (auto error = PlaceSpan()) return *error;
    }
    if (!spans_.empty() && (stack_.size() > 1 || !pending_.empty()) && Top() != Frame::kComment) {
      return InvalidArgument(
          "the command has an unterminated quote, substitution or heredoc: its templates "
          "cannot be placed",
          Location{"", 1, static_cast<int>(text_.size()) + 1});
    }
    return std::move(contexts_);
  }

 private:
  Frame Top() const { return stack_.back().frame; }
  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }
  // The index of the first character at or after `i` that is not a backslash-newline (a line
  // continuation, which the shell removes before anything else).
  size_t Skip(size_t i) const {
    while (At(i) == '\\' && At(i + 1) == '\n') i += 2;
    return i;
  }

  std::optional<Error> PlaceSpan() {
    const TemplateSpan& span = spans_[next_span_++];
    const Frame frame = Top();
    // Quotes do not help inside an unsafe construct: [[ "$x" -gt 1 ]] still evaluates x.
    for (const Open& open : stack_) {
      if (auto where = UnsafeWhere(open.frame)) return Unplaceable(span.begin, *where);
    }
    if (frame != Frame::kSingle && span.begin > 0 && At(span.begin - 1) == '\\') {
      return Unplaceable(span.begin, "right after a backslash");
    }
    // bash evaluates the arguments of let, and of declare -i and the like, as arithmetic.
    if (command_ == "let" || command_ == "declare" || command_ == "typeset" ||
        command_ == "local") {
      return Unplaceable(span.begin, "in the arguments of " + command_);
    }
    contexts_.push_back(frame == Frame::kSingle   ? ShellContext::kSingleQuoted
                        : frame == Frame::kDouble ? ShellContext::kDoubleQuoted
                                                  : ShellContext::kBare);
    i_ = std::max(i_, span.end);
    word_start_ = false;
    word_.clear();
    return std::nullopt;
  }

  // Opens $(, $((, ${, $[ or $' at i_ (a '$'); true when one was opened.
  bool OpenDollar(bool ansi_quotes) {
    const size_t first = Skip(i_ + 1);
    const size_t second = Skip(first + 1);
    if (At(first) == '(' && At(second) == '(') {
      stack_.push_back({Frame::kArith, 2, '('});
      i_ = second + 1;
    } else if (At(first) == '(') {
      stack_.push_back({Frame::kSubshell, 1});
      i_ = first + 1;
      word_start_ = true;
      word_.clear();
      at_command_start_ = true;
      command_.clear();
    } else if (At(first) == '{') {
      stack_.push_back({Frame::kParameter, 1});
      i_ = first + 1;
    } else if (At(first) == '[') {
      stack_.push_back({Frame::kArith, 1, '['});
      i_ = first + 1;
    } else if (ansi_quotes && At(first) == '\'') {
      stack_.push_back({Frame::kDollarSingle});
      i_ = first + 1;
    } else {
      return false;
    }
    return true;
  }

  // A backslash: a line continuation vanishes; otherwise it quotes the next character.
  void Backslash() {
    const bool continuation = At(i_ + 1) == '\n';
    i_ += 2;
    if (!continuation) word_start_ = false;
  }

  std::optional<Error> Step() {
    const char c = text_[i_];
    Open& open = stack_.back();
    switch (open.frame) {
      case Frame::kSingle:
        if (c == '\'') stack_.pop_back();
        ++i_;
        return std::nullopt;
      case Frame::kComment:
        if (c == '\n') {
          stack_.pop_back();
          return Newline();
        }
        ++i_;
        return std::nullopt;
      case Frame::kBacktick:
      case Frame::kDollarSingle:
        if (c == '\\') {
          i_ += 2;
          return std::nullopt;
        }
        if (c == (open.frame == Frame::kBacktick ? '`' : '\'')) stack_.pop_back();
        ++i_;
        return std::nullopt;
      case Frame::kSubscript:
      case Frame::kArith: {
        const char closes = open.opens == '(' ? ')' : ']';
        if (c == open.opens) ++open.depth;
        if (c == closes && --open.depth == 0) stack_.pop_back();
        ++i_;
        return std::nullopt;
      }
      case Frame::kTest:
        return QuotingStep(c, [this, c] {
          if (c == ']' && At(Skip(i_ + 1)) == ']') {
            stack_.pop_back();
            i_ = Skip(i_ + 1) + 1;
            return true;
          }
          return false;
        });
      case Frame::kParameter:
        return QuotingStep(c, [this, c, &open] {
          if (c == '{') ++open.depth;
          if (c == '}' && --open.depth == 0) {
            stack_.pop_back();
            ++i_;
            return true;
          }
          return false;
        });
      case Frame::kDouble:
        if (c == '\\') {
          Backslash();
        } else if (c == '"') {
          stack_.pop_back();
          ++i_;
        } else if (c == '`') {
          stack_.push_back({Frame::kBacktick});
          ++i_;
        } else if (c != '$' || !OpenDollar(false)) {
          ++i_;
        }
        return std::nullopt;
      case Frame::kTop:
      case Frame::kSubshell:
        return BareStep(c);
    }
    return std::nullopt;
  }

  // Inside [[ ]] and ${ }: quotes and substitutions nest; `closes` handles the frame's own end.
  template <typename Closes>
  std::optional<Error> QuotingStep(char c, const Closes& closes) {
    if (c == '\\') {
      Backslash();
    } else if (c == '\'') {
      stack_.push_back({Frame::kSingle});
      ++i_;
    } else if (c == '"') {
      stack_.push_back({Frame::kDouble});
      ++i_;
    } else if (c == '`') {
      stack_.push_back({Frame::kBacktick});
      ++i_;
    } else if (c == '$' && OpenDollar(true)) {
    } else if (!closes()) {
      ++i_;
    }
    return std::nullopt;
  }

  // The word just ended: `case` and `esac` open and close a case command, whose patterns end
  // with a ')' that closes no $(.
  void EndWord() {
    Open& open = stack_.back();
    if (word_ == "case") ++open.cases;
    if (word_ == "esac" && open.cases > 0) --open.cases;
    if (at_command_start_ && !word_.empty()) {
      command_ = word_;
      at_command_start_ = false;
    }
    word_.clear();
  }

  // Separators that start a new simple command.
  void CommandSeparator(char c) {
    if (c == ';' || c == '&' || c == '|' || c == '\n' || c == '(') {
      at_command_start_ = true;
      command_.clear();
    }
  }

  std::optional<Error> BareStep(char c) {
    const bool at_word_start = word_start_;
    if (c == '\\') {
      Backslash();
      return std::nullopt;
    }
    if (EndsWord(c)) {
      EndWord();
      CommandSeparator(c);
    } else {
      word_ += c;
    }
    word_start_ = EndsWord(c);
    switch (c) {
      case '\'':
        stack_.push_back({Frame::kSingle});
        break;
      case '"':
        stack_.push_back({Frame::kDouble});
        break;
      case '`':
        stack_.push_back({Frame::kBacktick});
        break;
      case '$':
        if (OpenDollar(true)) {
          word_start_ = false;
          return std::nullopt;
        }
        break;
      case '(':
        if (at_word_start && At(Skip(i_ + 1)) == '(') {  // (( ... )): arithmetic in bash
          stack_.push_back({Frame::kArith, 2, '('});
          i_ = Skip(i_ + 1) + 1;
          return std::nullopt;
        }
        if (Top() == Frame::kSubshell) ++stack_.back().depth;
        break;
      case ')':
        if (Top() == Frame::kSubshell && stack_.back().cases == 0 && --stack_.back().depth == 0) {
          stack_.pop_back();
          word_start_ = false;  // "$(date)#x" goes on as one word
        }
        break;
      case '[':
        if (at_word_start && At(Skip(i_ + 1)) == '[') {
          stack_.push_back({Frame::kTest});
          i_ = Skip(i_ + 1) + 1;
          return std::nullopt;
        }
        if (!at_word_start) {
          stack_.push_back({Frame::kSubscript, 1, '['});
          ++i_;
          return std::nullopt;
        }
        break;
      case '#':
        if (at_word_start) stack_.push_back({Frame::kComment});
        break;
      case '<':
        if (At(Skip(i_ + 1)) == '<' && At(Skip(Skip(i_ + 1) + 1)) == '<') {
          i_ = Skip(Skip(i_ + 1) + 1) + 1;  // bash's here-string: a word follows, not a heredoc
          word_start_ = true;
          return std::nullopt;
        }
        if (At(Skip(i_ + 1)) == '<') {
          i_ = Skip(i_ + 1);
          return ReadHeredocOperator();
        }
        break;
      case '\n':
        return Newline();
      default:
        break;
    }
    ++i_;
    return std::nullopt;
  }

  // At the second '<' of "<<WORD" or "<<-WORD": the body starts at the next line.
  std::optional<Error> ReadHeredocOperator() {
    i_ = Skip(i_ + 1);
    Heredoc heredoc;
    if (At(i_) == '-') {
      heredoc.strip_tabs = true;
      i_ = Skip(i_ + 1);
    }
    while (At(i_) == ' ' || At(i_) == '\t') ++i_;
    while (i_ < text_.size() && !EndsWord(text_[i_])) {
      if (next_span_ < spans_.size() && i_ >= spans_[next_span_].begin) {
        return Unplaceable(spans_[next_span_].begin, "as a heredoc's delimiter");
      }
      if (text_[i_] != '\'' && text_[i_] != '"' && text_[i_] != '\\') {
        heredoc.delimiter += text_[i_];
      }
      ++i_;
    }
    pending_.push_back(std::move(heredoc));
    word_start_ = true;
    return std::nullopt;
  }

  // At a newline in bare text: the bodies of the heredocs opened on this line follow.
  std::optional<Error> Newline() {
    ++i_;
    word_start_ = true;
    for (const Heredoc& heredoc : pending_) {
      while (i_ < text_.size()) {
        size_t end = text_.find('\n', i_);
        if (end == std::string_view::npos) end = text_.size();
        std::string_view line = text_.substr(i_, end - i_);
        if (heredoc.strip_tabs) {
          while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
        }
        if (next_span_ < spans_.size() && spans_[next_span_].begin < end &&
            line != heredoc.delimiter) {
          return Unplaceable(spans_[next_span_].begin, "inside a heredoc");
        }
        i_ = std::min(text_.size(), end + 1);
        if (line == heredoc.delimiter) break;
      }
    }
    pending_.clear();
    return std::nullopt;
  }

  std::string_view text_;
  const std::vector<TemplateSpan>& spans_;
  size_t next_span_ = 0;
  size_t i_ = 0;
  bool word_start_ = true;
  std::string word_;
  bool at_command_start_ = true;
  std::string command_;  // the current simple command's first word
  std::vector<Open> stack_ = {{Frame::kTop}};
  std::vector<Heredoc> pending_;
  std::vector<ShellContext> contexts_;
};

}  // namespace

Result<std::vector<ShellContext>> PlaceTemplates(std::string_view command,
                                                 const std::vector<TemplateSpan>& spans) {
  return Lexer(command, spans).Run();
}

std::string ShellReference(std::string_view name, ShellContext context) {
  const std::string reference = "${" + std::string(name) + "}";
  switch (context) {
    case ShellContext::kBare:
      return "\"" + reference + "\"";
    case ShellContext::kDoubleQuoted:
      return reference;
    case ShellContext::kSingleQuoted:
      return "'\"" + reference + "\"'";
  }
  return reference;
}

bool HasShellSyntax(std::string_view command) {
  if (command.find_first_of("|&;<>()$`\\\"'*?[]#~=%{}\n!") != std::string_view::npos) return true;
  // A shell built-in ("exit 99", "cd dir") has no program to exec.
  static const std::set<std::string_view> kBuiltins = {
      ".",     ":",      "alias", "break",  "cd",       "command", "continue", "eval",  "exec",
      "exit",  "export", "local", "read",   "readonly", "return",  "set",      "shift", "source",
      "times", "trap",   "type",  "ulimit", "umask",    "unset",   "wait"};
  const size_t start = command.find_first_not_of(" \t");
  if (start == std::string_view::npos) return false;
  const size_t end = command.find_first_of(" \t", start);
  return kBuiltins.count(
             command.substr(start, end == std::string_view::npos ? end : end - start)) != 0;
}

}  // namespace conveyor::dag
