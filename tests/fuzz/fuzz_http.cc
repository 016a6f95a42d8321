// libFuzzer target: any bytes as one HTTP request to conveyor's server (httplib's parser, the
// router, the request guard and every handler) over a state database made fresh for the run.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/support/http_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static conveyor::testing::HttpFixture* http = [] {
    spdlog::set_level(spdlog::level::off);  // the access log would cost more than the request
    return new conveyor::testing::HttpFixture();
  }();
  // Half the inputs get the token's header spliced in after the request line, so that the
  // handlers behind the guard are reached too.
  std::string request(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1) != 0) {
    const size_t line_end = request.find("\r\n");
    if (line_end != std::string::npos) {
      request.insert(line_end + 2, std::string("Authorization: Bearer ") +
                                       conveyor::testing::HttpFixture::kToken + "\r\n");
    }
  }
  (void)http->Raw(request);
  return 0;
}
