#include "engine/dag/template.h"

#include <cctype>

#include "engine/common/json_text.h"

namespace conveyor::dag {
namespace {

Error ErrorAt(size_t offset, std::string message) {
  return InvalidArgument(std::move(message), Location{"", 1, static_cast<int>(offset) + 1});
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

Result<Template::Expression> ParseExpression(std::string_view body, size_t offset) {
  Template::Expression expression;
  expression.offset = offset;
  std::string_view name = body;
  if (const size_t bar = body.find('|'); bar != std::string_view::npos) {
    const std::string_view filter = Trim(body.substr(bar + 1));
    if (filter != "q") {
      return ErrorAt(offset, "unknown template filter '" + std::string(filter) + "' (expected q)");
    }
    expression.shell_quote = true;
    name = body.substr(0, bar);
  }
  name = Trim(name);
  if (name.empty()) return ErrorAt(offset, "empty template expression '{{ }}'");
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view part =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    bool valid = !part.empty();
    for (char c : part) valid = valid && IsNameChar(c);
    if (!valid) {
      return ErrorAt(offset, "bad template name '" + std::string(name) +
                                 "' (expected a dotted name such as params.model_name)");
    }
    expression.path.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return expression;
}

std::string ToText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return DumpJson(value);
}

}  // namespace

std::string Template::Expression::DottedPath() const {
  std::string out;
  for (const std::string& part : path) out += (out.empty() ? "" : ".") + part;
  return out;
}

bool Template::IsPlain(std::string_view text) { return text.find("{{") == std::string_view::npos; }

Result<Template> Template::Parse(std::string_view text) {
  Template parsed;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      parsed.parts_.emplace_back(std::string(text.substr(pos)));
      break;
    }
    if (open > pos) parsed.parts_.emplace_back(std::string(text.substr(pos, open - pos)));
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return ErrorAt(open, "unterminated '{{' in template");
    auto expression = ParseExpression(text.substr(open + 2, close - open - 2), open);
    if (!expression.ok()) return expression.error();
    expression->length = close + 2 - open;
    parsed.parts_.emplace_back(std::move(expression).value());
    pos = close + 2;
  }
  return parsed;
}

Status Template::Visit(const nlohmann::json& context,
                       const std::function<void(std::string_view literal)>& literal,
                       const std::function<Status(size_t index, std::string value)>& value) const {
  size_t index = 0;
  for (const auto& part : parts_) {
    if (const auto* text = std::get_if<std::string>(&part)) {
      literal(*text);
      continue;
    }
    const Expression& expression = std::get<Expression>(part);
    const nlohmann::json* found = &context;
    const std::vector<std::string>& path = expression.path;
    for (size_t i = 0; i < path.size(); ++i) {
      // A name may hold dots ("outputs.features.scale.k": the task "features.scale"): the
      // shortest run of parts that names an entry is taken.
      std::string name = path[i];
      while (found->is_object() && !found->contains(name) && i + 1 < path.size()) {
        name += "." + path[++i];
      }
      if (!found->is_object() || !found->contains(name)) {
        return ErrorAt(expression.offset,
                       "unknown template name '" + expression.DottedPath() + "'");
      }
      found = &(*found)[name];
    }
    if (Status s = value(index++, ToText(*found)); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::string> Template::Render(const nlohmann::json& context, const Placer& place) const {
  std::string out;
  const Status status = Visit(
      context, [&out](std::string_view literal) { out += literal; },
      [&out, &place](size_t index, std::string value) -> Status {
        auto placed = place(index, std::move(value));
        if (!placed.ok()) return placed.error();
        out += *placed;
        return Status::Ok();
      });
  if (!status.ok()) return status.error();
  return out;
}

Result<std::string> Template::Render(const nlohmann::json& context) const {
  std::vector<bool> quote;
  for (const auto& part : parts_) {
    if (const auto* expression = std::get_if<Expression>(&part)) {
      quote.push_back(expression->shell_quote);
    }
  }
  return Render(context, [&quote](size_t index, std::string value) -> Result<std::string> {
    return quote[index] ? ShellQuote(value) : std::move(value);
  });
}

std::vector<Template::Expression> Template::Expressions() const {
  std::vector<Expression> out;
  for (const auto& part : parts_) {
    if (const auto* expression = std::get_if<Expression>(&part)) out.push_back(*expression);
  }
  return out;
}

const std::vector<std::string>& TemplateRootNames() {
  static const std::vector<std::string> kNames = {"ds",
                                                  "ds_nodash",
                                                  "ts",
                                                  "logical_date",
                                                  "data_interval_start",
                                                  "data_interval_end",
                                                  "run_id",
                                                  "dag_id",
                                                  "task_id",
                                                  "try_number",
                                                  "params",
                                                  "conf",
                                                  "outputs"};
  return kNames;
}

std::string ShellQuote(std::string_view value) {
  if (value.empty()) return "''";
  bool safe = true;
  for (char c : value) {
    safe = safe && (std::isalnum(static_cast<unsigned char>(c)) ||
                    std::string_view("_@%+=:,./-").find(c) != std::string_view::npos);
  }
  if (safe) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace conveyor::dag
