#include "engine/cli/output.h"

#include <algorithm>

namespace conveyor::cli {

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(widths[c] - cells[c].size() + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

nlohmann::json ErrorToJson(const Error& error) {
  nlohmann::json out = {{"message", error.message}};
  if (error.location) {
    out["file"] = error.location->file;
    out["line"] = error.location->line;
    out["column"] = error.location->column;
  }
  return out;
}

}  // namespace conveyor::cli
