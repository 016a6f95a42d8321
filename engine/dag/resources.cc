#include "engine/dag/resources.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>

namespace conveyor::dag {
namespace {

// A decimal number "12" or "1.25" as an integer mantissa and its count of decimals.
struct Decimal {
  std::uint64_t mantissa = 0;
  int decimals = 0;
};

// Reads the leading decimal number of `text` (at most 15 significant digits); `rest` is what
// follows it.
std::optional<Decimal> ReadDecimal(std::string_view text, std::string_view& rest) {
  Decimal out;
  size_t pos = 0;
  int digits = 0;
  bool point = false;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '.' && !point) {
      point = true;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      if (++digits > 15) return std::nullopt;
      out.mantissa = out.mantissa * 10 + static_cast<std::uint64_t>(c - '0');
      if (point) ++out.decimals;
    } else {
      break;
    }
    ++pos;
  }
  if (digits == 0 || (point && out.decimals == 0)) return std::nullopt;
  rest = text.substr(pos);
  return out;
}

std::uint64_t Pow10(int n) {
  std::uint64_t out = 1;
  while (n-- > 0) out *= 10;
  return out;
}

struct MemoryUnit {
  std::string_view suffix;
  std::uint64_t size;
};

constexpr std::uint64_t kKi = 1024;
constexpr MemoryUnit kMemoryUnits[] = {
    {"", 1},
    {"B", 1},
    {"K", kKi},
    {"KiB", kKi},
    {"KB", 1000},
    {"M", kKi* kKi},
    {"MiB", kKi* kKi},
    {"MB", 1000 * 1000},
    {"G", kKi* kKi* kKi},
    {"GiB", kKi* kKi* kKi},
    {"GB", 1000 * 1000 * 1000},
    {"T", kKi* kKi* kKi* kKi},
    {"TiB", kKi* kKi* kKi* kKi},
    {"TB", 1000ull * 1000 * 1000 * 1000},
};

}  // namespace

Result<std::uint64_t> ParseMemory(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgument("invalid memory size '" + std::string(text) +
                           "': expected a number and a unit such as 512MiB, 4GiB or 4G");
  };
  std::string_view rest;
  auto number = ReadDecimal(text, rest);
  if (!number) return bad();
  for (const MemoryUnit& unit : kMemoryUnits) {
    if (rest != unit.suffix) continue;
    const std::uint64_t scale = Pow10(number->decimals);
    // mantissa * size / scale, without overflowing: mantissa < 10^15 and size <= 2^40.
    const std::uint64_t whole = number->mantissa / scale;
    const std::uint64_t fraction = number->mantissa % scale;
    if (whole > std::numeric_limits<std::uint64_t>::max() / unit.size) return bad();
    return whole * unit.size + static_cast<std::uint64_t>(static_cast<long double>(fraction) *
                                                          static_cast<long double>(unit.size) /
                                                          static_cast<long double>(scale));
  }
  return bad();
}

std::string FormatMemory(std::uint64_t bytes) {
  static constexpr MemoryUnit kUnits[] = {
      {"TiB", kKi * kKi * kKi * kKi}, {"GiB", kKi * kKi * kKi}, {"MiB", kKi * kKi}, {"KiB", kKi}};
  for (const MemoryUnit& unit : kUnits) {
    if (bytes != 0 && bytes % unit.size == 0) {
      return std::to_string(bytes / unit.size) + std::string(unit.suffix);
    }
  }
  for (const MemoryUnit& unit : kUnits) {
    if (bytes >= unit.size) {
      const std::uint64_t tenths = bytes * 10 / unit.size;  // bytes < 2^60 on any machine
      return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) +
             std::string(unit.suffix);
    }
  }
  return std::to_string(bytes) + "B";
}

Result<std::int64_t> ParseCpus(std::string_view text) {
  std::string_view rest;
  auto number = ReadDecimal(text, rest);
  if (!number || !rest.empty() || number->decimals > 3 || number->mantissa > 1'000'000'000'000) {
    return InvalidArgument("invalid CPU count '" + std::string(text) +
                           "': expected a number such as 2 or 0.5 (at most three decimals)");
  }
  return static_cast<std::int64_t>(number->mantissa * Pow10(3 - number->decimals));
}

std::string FormatCpus(std::int64_t millicpus) {
  std::string out = std::to_string(millicpus / 1000);
  std::int64_t fraction = millicpus % 1000;
  if (fraction == 0) return out;
  std::string decimals = std::to_string(1000 + fraction).substr(1);
  while (decimals.back() == '0') decimals.pop_back();
  return out + "." + decimals;
}

std::string Describe(const Resources& resources) {
  std::string out;
  const auto add = [&out](const std::string& part) {
    if (!out.empty()) out += ", ";
    out += part;
  };
  if (resources.millicpus > 0) {
    add(FormatCpus(resources.millicpus) + (resources.millicpus == 1000 ? " CPU" : " CPUs"));
  }
  if (resources.memory_bytes > 0) add(FormatMemory(resources.memory_bytes) + " of memory");
  if (resources.gpus > 0)
    add(std::to_string(resources.gpus) + (resources.gpus == 1 ? " GPU" : " GPUs"));
  return out.empty() ? "nothing" : out;
}

}  // namespace conveyor::dag
