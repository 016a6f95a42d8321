#include "engine/dag/resources.h"

#include <gtest/gtest.h>

#include "engine/dag/slurm_options.h"

namespace conveyor::dag {
namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024;
constexpr std::uint64_t kGiB = 1024 * kMiB;

TEST(ResourcesTest, ReadsMemoryInBinaryAndDecimalUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"4GiB", 4 * kGiB},     {"4G", 4 * kGiB},      {"4GB", 4'000'000'000},
      {"512MiB", 512 * kMiB}, {"512M", 512 * kMiB},  {"1.5GiB", 3 * kGiB / 2},
      {"100", 100},           {"100B", 100},         {"2KiB", 2048},
      {"2KB", 2000},          {"1TiB", 1024 * kGiB}, {"0.25M", kMiB / 4},
  };
  for (const auto& [text, bytes] : cases) {
    auto parsed = ParseMemory(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, bytes) << text;
  }
  for (const char* bad :
       {"", "lots", "4 GiB", "4gib", "GiB", "-1G", "1.G", "4Gi", "1e9", "99999999999999999T"}) {
    auto parsed = ParseMemory(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "invalid memory size '" + std::string(bad) +
                  "': expected a number and a unit such as 512MiB, 4GiB or 4G");
  }
}

TEST(ResourcesTest, ReadsCpusToTheThousandth) {
  EXPECT_EQ(*ParseCpus("2"), 2000);
  EXPECT_EQ(*ParseCpus("0.5"), 500);
  EXPECT_EQ(*ParseCpus("1.125"), 1125);
  for (const char* bad : {"", "two", "0.0005", "-1", "2 ", "1,5"}) {
    auto parsed = ParseCpus(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "invalid CPU count '" + std::string(bad) +
                  "': expected a number such as 2 or 0.5 (at most three decimals)");
  }
  EXPECT_EQ(FormatCpus(2000), "2");
  EXPECT_EQ(FormatCpus(500), "0.5");
  EXPECT_EQ(FormatCpus(1125), "1.125");
  EXPECT_EQ(FormatCpus(1250), "1.25");
}

TEST(ResourcesTest, FormatsMemoryExactlyWhenItCanAndToATenthOtherwise) {
  EXPECT_EQ(FormatMemory(4 * kGiB), "4GiB");
  EXPECT_EQ(FormatMemory(1536 * kMiB), "1536MiB");
  EXPECT_EQ(FormatMemory(100), "100B");
  EXPECT_EQ(FormatMemory(25'000'000'000), "23.2GiB");
  EXPECT_EQ(Describe({2000, 4 * kGiB, 1}), "2 CPUs, 4GiB of memory, 1 GPU");
  EXPECT_EQ(Describe({1000, 0, 0}), "1 CPU");
  EXPECT_EQ(Describe({}), "nothing");
}

// On Slurm, resources become sbatch flags where the task's `slurm:` leaves them unset.
TEST(ResourcesTest, BecomeSlurmFlagsUnderTheExplicitOnes) {
  SlurmOptions none;
  const SlurmOptions derived = WithResources(none, {1500, 100 * kMiB + 1, 2});
  EXPECT_EQ(derived.cpus, 2);      // whole CPUs, rounded up
  EXPECT_EQ(derived.mem, "101M");  // MiB, rounded up
  EXPECT_EQ(derived.gres, "gpu:2");
  SlurmOptions explicit_options;
  explicit_options.cpus = 1;
  explicit_options.mem = "64M";
  explicit_options.gres = "gpu:a100:1";
  EXPECT_EQ(WithResources(explicit_options, {4000, 4 * kGiB, 2}), explicit_options);
  EXPECT_EQ(WithResources(none, {}), none);
}

}  // namespace
}  // namespace conveyor::dag
