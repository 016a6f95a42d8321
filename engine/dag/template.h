#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::dag {

// A string with `{{ name }}`, `{{ a.b.c }}` and `{{ name | q }}` placeholders. Rendering is a pure
// function of a JSON context object; an unknown name is an error, never an empty string. The `q`
// filter shell-quotes the value so that it stays one word in a shell command.
class Template {
 public:
  struct Expression {
    std::vector<std::string> path;  // "outputs.train.auc" -> {"outputs", "train", "auc"}
    bool shell_quote = false;
    size_t offset = 0;  // of the "{{" in the source text
    size_t length = 0;  // from "{{" to "}}" included

    std::string DottedPath() const;
  };

  // Errors carry the 1-based column of the problem within `text` as location->column.
  static Result<Template> Parse(std::string_view text);

  // True when `text` contains no "{{": it renders to itself.
  static bool IsPlain(std::string_view text);

  Result<std::string> Render(const nlohmann::json& context) const;

  // Renders with each expression's value (unquoted: `| q` is not applied) replaced by what
  // `place(index, value)` returns; index counts expressions from 0.
  using Placer = std::function<Result<std::string>(size_t index, std::string value)>;
  Result<std::string> Render(const nlohmann::json& context, const Placer& place) const;

  // The literal text and the expressions' values in order, for callers that build something
  // other than a string (an argv): `literal(text)` and `value(index, text)` are called in order.
  Status Visit(const nlohmann::json& context,
               const std::function<void(std::string_view literal)>& literal,
               const std::function<Status(size_t index, std::string value)>& value) const;

  std::vector<Expression> Expressions() const;

 private:
  std::vector<std::variant<std::string, Expression>> parts_;
};

// The names a template may start with: ds, ds_nodash, ts, logical_date, data_interval_start,
// data_interval_end, run_id, dag_id, task_id, try_number, params, conf, outputs (and secrets, in
// a task's env: values only).
const std::vector<std::string>& TemplateRootNames();

// Quotes a string for /bin/sh: safe words stay as they are, anything else goes in single quotes.
std::string ShellQuote(std::string_view value);

}  // namespace conveyor::dag
