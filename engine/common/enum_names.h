#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace conveyor {

// A fixed table of an enum's values and their spellings, looked up both ways.
template <typename Enum, size_t N>
using EnumNames = std::array<std::pair<Enum, std::string_view>, N>;

// The spelling of `value`, or `fallback` when the table lacks it.
template <typename Enum, size_t N>
constexpr std::string_view NameOf(const EnumNames<Enum, N>& names, Enum value,
                                  std::string_view fallback) {
  for (const auto& [entry, name] : names) {
    if (entry == value) return name;
  }
  return fallback;
}

// The value spelled `name`, if any.
template <typename Enum, size_t N>
constexpr std::optional<Enum> ValueOf(const EnumNames<Enum, N>& names, std::string_view name) {
  for (const auto& [entry, spelled] : names) {
    if (spelled == name) return entry;
  }
  return std::nullopt;
}

}  // namespace conveyor
