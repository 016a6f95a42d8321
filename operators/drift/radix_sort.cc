#include "operators/drift/radix_sort.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

namespace conveyor::operators::drift {
namespace {

// Maps a double's bits to an unsigned key in the same order.
std::uint64_t Key(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return (bits & 0x8000000000000000ULL) ? ~bits : bits | 0x8000000000000000ULL;
}

double Value(std::uint64_t key) {
  const std::uint64_t bits = (key & 0x8000000000000000ULL) ? key & 0x7fffffffffffffffULL : ~key;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

}  // namespace

void SortDoubles(std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 4096) {
    std::sort(values.begin(), values.end());
    return;
  }
  constexpr int kBits = 11;
  constexpr int kPasses = 6;  // 66 bits cover the 64
  constexpr size_t kBuckets = size_t{1} << kBits;
  // The keys live in the values' own storage; one scratch buffer per thread is kept between
  // calls (uninitialised: no memset, no fresh pages after the first call).
  thread_local std::unique_ptr<std::uint64_t[]> scratch;
  thread_local size_t scratch_size = 0;
  if (scratch_size < n) {
    scratch.reset(new std::uint64_t[n]);
    scratch_size = n;
  }
  thread_local std::vector<std::array<std::uint32_t, kBuckets>> counts(kPasses);
  for (auto& c : counts) c.fill(0);
  std::uint64_t* keys = reinterpret_cast<std::uint64_t*>(values.data());
  static_assert(sizeof(double) == sizeof(std::uint64_t));
  for (size_t i = 0; i < n; ++i) {
    const std::uint64_t k = Key(values[i]);
    std::memcpy(&values[i], &k, sizeof k);
    for (int pass = 0; pass < kPasses; ++pass)
      ++counts[pass][(k >> (pass * kBits)) & (kBuckets - 1)];
  }
  std::uint64_t* from = keys;
  std::uint64_t* to = scratch.get();
  for (int pass = 0; pass < kPasses; ++pass) {
    auto& count = counts[pass];
    // A digit all keys share needs no pass.
    if (std::any_of(count.begin(), count.end(), [n](std::uint32_t c) { return c == n; })) continue;
    std::uint32_t sum = 0;
    for (auto& c : count) {
      const std::uint32_t here = c;
      c = sum;
      sum += here;
    }
    for (size_t i = 0; i < n; ++i) {
      std::uint64_t k;
      std::memcpy(&k, from + i, sizeof k);
      std::memcpy(to + count[(k >> (pass * kBits)) & (kBuckets - 1)]++, &k, sizeof k);
    }
    std::swap(from, to);
  }
  for (size_t i = 0; i < n; ++i) {
    std::uint64_t k;
    std::memcpy(&k, from + i, sizeof k);
    values[i] = Value(k);
  }
}

}  // namespace conveyor::operators::drift
