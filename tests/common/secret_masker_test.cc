#include "engine/common/secret_masker.h"

#include <gtest/gtest.h>

namespace conveyor {
namespace {

TEST(SecretMaskerTest, MasksEveryFormInTextAndStreams) {
  RegisterSecrets({"s3cr3t-Value/42", "abc"});  // "abc" is too short to mask
  EXPECT_TRUE(HasSecrets());
  EXPECT_EQ(MaskSecrets("key=s3cr3t-Value/42; again s3cr3t-Value/42 abc"),
            "key=***; again *** abc");
  EXPECT_EQ(MaskSecrets("url=https://x/?k=s3cr3t-Value%2F42"), "url=https://x/?k=***");
  // Split across chunks of a process's output, even one byte at a time.
  const std::string text = "before s3cr3t-Value/42 after s3cr3t-Value/4 end s3cr3t-Value/42";
  for (size_t chunk : {1u, 3u, 7u, 16u, 100u}) {
    StreamMasker masker;
    std::string out;
    for (size_t i = 0; i < text.size(); i += chunk) out += masker.Feed(text.substr(i, chunk));
    out += masker.Finish();
    EXPECT_EQ(out, "before *** after s3cr3t-Value/4 end ***") << "chunks of " << chunk;
  }
}

}  // namespace
}  // namespace conveyor
