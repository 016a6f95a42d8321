#include "engine/dag/shell_placement.h"

#include <optional>

namespace conveyor::dag {
namespace {

enum class Frame {
  kTop,        // the command itself: bare words
  kSubshell,   // $( ... ): bare words again
  kSingle,     // '...'
  kDouble,     // "..."
  kBacktick,   // `...`
  kArith,      // $(( ... ))
  kParameter,  // ${ ... }
  kComment,    // # to the end of the line
};

struct Open {
  Frame frame;
  int depth = 0;  // parentheses or braces still open, for kSubshell, kArith and kParameter
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
      return "inside $((...))";
    case Frame::kParameter:
      return "inside ${...}";
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
    return std::move(contexts_);
  }

 private:
  Frame Top() const { return stack_.back().frame; }
  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  std::optional<Error> PlaceSpan() {
    const TemplateSpan& span = spans_[next_span_++];
    const Frame frame = Top();
    if (auto where = UnsafeWhere(frame)) return Unplaceable(span.begin, *where);
    contexts_.push_back(frame == Frame::kSingle   ? ShellContext::kSingleQuoted
                        : frame == Frame::kDouble ? ShellContext::kDoubleQuoted
                                                  : ShellContext::kBare);
    i_ = std::max(i_, span.end);
    word_start_ = false;
    return std::nullopt;
  }

  // Opens $(, $(( or ${ at i_ (a '$'); true when one was opened.
  bool OpenDollar() {
    if (At(i_ + 1) == '(' && At(i_ + 2) == '(') {
      stack_.push_back({Frame::kArith, 2});
      i_ += 3;
    } else if (At(i_ + 1) == '(') {
      stack_.push_back({Frame::kSubshell, 1});
      i_ += 2;
      word_start_ = true;
    } else if (At(i_ + 1) == '{') {
      stack_.push_back({Frame::kParameter, 1});
      i_ += 2;
    } else {
      return false;
    }
    return true;
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
        if (c == '\\') {
          i_ += 2;
          return std::nullopt;
        }
        if (c == '`') stack_.pop_back();
        ++i_;
        return std::nullopt;
      case Frame::kArith:
      case Frame::kParameter: {
        const char opens = open.frame == Frame::kArith ? '(' : '{';
        const char closes = open.frame == Frame::kArith ? ')' : '}';
        if (c == opens) ++open.depth;
        if (c == closes && --open.depth == 0) stack_.pop_back();
        ++i_;
        return std::nullopt;
      }
      case Frame::kDouble:
        if (c == '\\') {
          i_ += 2;
        } else if (c == '"') {
          stack_.pop_back();
          ++i_;
        } else if (c == '`') {
          stack_.push_back({Frame::kBacktick});
          ++i_;
        } else if (c != '$' || !OpenDollar()) {
          ++i_;
        }
        return std::nullopt;
      case Frame::kTop:
      case Frame::kSubshell:
        return BareStep(c);
    }
    return std::nullopt;
  }

  std::optional<Error> BareStep(char c) {
    const bool at_word_start = word_start_;
    word_start_ = EndsWord(c);
    switch (c) {
      case '\\':
        i_ += 2;
        return std::nullopt;
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
        if (OpenDollar()) return std::nullopt;
        break;
      case '(':
        if (Top() == Frame::kSubshell) ++stack_.back().depth;
        break;
      case ')':
        if (Top() == Frame::kSubshell && --stack_.back().depth == 0) stack_.pop_back();
        break;
      case '#':
        if (at_word_start) stack_.push_back({Frame::kComment});
        break;
      case '<':
        if (At(i_ + 1) == '<' && At(i_ + 2) == '<') {
          i_ += 3;  // bash's here-string: a word follows, not a heredoc
          word_start_ = true;
          return std::nullopt;
        }
        if (At(i_ + 1) == '<') return ReadHeredocOperator();
        break;
      case '\n':
        return Newline();
      default:
        break;
    }
    ++i_;
    return std::nullopt;
  }

  // "<<WORD" or "<<-WORD": the body starts at the next line.
  std::optional<Error> ReadHeredocOperator() {
    i_ += 2;
    Heredoc heredoc;
    if (At(i_) == '-') {
      heredoc.strip_tabs = true;
      ++i_;
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
  return command.find_first_of("|&;<>()$`\\\"'*?[]#~=%{}\n!") != std::string_view::npos;
}

}  // namespace conveyor::dag
