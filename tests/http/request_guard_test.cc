#include "engine/http/request_guard.h"

#include <gtest/gtest.h>

#include "engine/http/json_body.h"

namespace conveyor::http {
namespace {

AccessPolicy Policy(bool reads_need_token = false) {
  AccessPolicy policy;
  policy.token = "s3cret";
  policy.reads_need_token = reads_need_token;
  policy.hosts = ServerHostNames("127.0.0.1", "https://conveyor.example.com/ui");
  policy.public_origin = OriginOfUrl("https://conveyor.example.com/ui");
  return policy;
}

RequestHead Write(std::string origin = "") {
  return {"POST", "/api/v1/dags/d/dagRuns", "127.0.0.1:8080",   std::move(origin),
          "",     "Bearer s3cret",          "application/json", ""};
}

std::string Detail(const std::optional<ApiResponse>& response) {
  if (!response) return "passed";
  const auto json = nlohmann::json::parse(response->body);
  return std::to_string(response->status) + " " + json["detail"].get<std::string>();
}

TEST(RequestGuardTest, LoopbackIsParsedExactly) {
  for (const char* host : {"127.0.0.1", "127.9.8.7", "::1", "localhost", "LOCALHOST"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"127.0.0.1.example.com", "127.example.com", "0.0.0.0", "::", "",
                           "10.0.0.1", "localhost.evil", "127.0.0.1 ", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
  EXPECT_EQ(HostOfAuthority("[::1]:8080"), "::1");
  EXPECT_EQ(HostOfAuthority("Example.COM:80"), "example.com");
  EXPECT_EQ(OriginOfUrl("https://Example.com:8443/x?y"), "https://example.com:8443");
  EXPECT_EQ(OriginOfUrl("ftp://example.com/"), "");
  EXPECT_EQ(OriginOfUrl("http://user@evil.example/"), "");
}

TEST(RequestGuardTest, HostMustNameTheServer) {
  RequestHead head = Write();
  for (const char* host :
       {"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost", "conveyor.example.com"}) {
    head.host = host;
    EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "passed") << host;
  }
  head.host = "evil.example";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "403 the Host header 'evil.example' does not name this server");
  head.host = "127.0.0.1.example.com:8080";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "403 the Host header '127.0.0.1.example.com:8080' does not name this server");
  // Bound to 0.0.0.0: the address a client connected to names the server; a name does not.
  head.local_addr = "10.1.2.3";
  head.host = "10.1.2.3:8080";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "passed");
  head.host = "rebind.evil.example:8080";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "403 the Host header 'rebind.evil.example:8080' does not name this server");
  head.local_addr = "";
  head.host = "";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), true)),
            "403 the Host header '' does not name this server");
}

TEST(RequestGuardTest, CrossOriginRequestsAreRefusedEvenOnOpenPaths) {
  EXPECT_EQ(Detail(CheckRequest(Write("http://127.0.0.1:8080"), Policy(), false)), "passed");
  EXPECT_EQ(Detail(CheckRequest(Write("https://conveyor.example.com"), Policy(), false)), "passed");
  EXPECT_EQ(Detail(CheckRequest(Write("http://evil.example"), Policy(), true)),
            "403 cross-origin request refused: Origin 'http://evil.example' is not this "
            "server's origin");
  EXPECT_EQ(Detail(CheckRequest(Write("null"), Policy(), false)),
            "403 cross-origin request refused: Origin 'null' is not this server's origin");
  // Another port of the same host is another origin.
  EXPECT_EQ(Detail(CheckRequest(Write("http://127.0.0.1:9999"), Policy(), false)),
            "403 cross-origin request refused: Origin 'http://127.0.0.1:9999' is not this "
            "server's origin");
  RequestHead head = Write();
  head.referer = "http://evil.example/page";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "403 cross-origin request refused: Referer 'http://evil.example/page' is not from "
            "this server's origin");
  head.referer = "http://127.0.0.1:8080/#/dags";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "passed");
}

TEST(RequestGuardTest, WritesNeedTheTokenAndJson) {
  RequestHead head = Write();
  head.authorization = "";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "401 this endpoint needs an Authorization: Bearer token");
  head.authorization = "Bearer s3cre";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "403 the token is not valid");
  head.authorization = "Basic s3cret";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "403 the token is not valid");
  head = Write();
  head.content_type = "text/plain";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "415 a write needs Content-Type: application/json, got 'text/plain'");
  head.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "415 a write needs Content-Type: application/json, got "
            "'application/x-www-form-urlencoded'");
  head.content_type = "Application/JSON; charset=utf-8";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)), "passed");
  // The cross-site form post with no token: the origin is refused before anything else.
  head = Write("http://evil.example");
  head.authorization = "";
  head.content_type = "text/plain";
  EXPECT_EQ(Detail(CheckRequest(head, Policy(), false)),
            "403 cross-origin request refused: Origin 'http://evil.example' is not this "
            "server's origin");
}

TEST(RequestGuardTest, ReadsNeedTheTokenOnlyWhenConfigured) {
  RequestHead read = {"GET", "/api/v1/dags", "127.0.0.1:8080", "", "", "", "", ""};
  EXPECT_EQ(Detail(CheckRequest(read, Policy(false), false)), "passed");
  EXPECT_EQ(Detail(CheckRequest(read, Policy(true), false)),
            "401 this endpoint needs an Authorization: Bearer token");
  EXPECT_EQ(Detail(CheckRequest(read, Policy(true), true)), "passed");  // health
  read.authorization = "Bearer s3cret";
  EXPECT_EQ(Detail(CheckRequest(read, Policy(true), false)), "passed");
}

TEST(JsonBodyTest, DepthIsCountedOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth(R"({"a":[1,{"b":[]}]})", 64), 4);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[[[\"[[["})", 64), 1);
  EXPECT_EQ(JsonNestingDepth("", 64), 0);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(JsonNestingDepth(deep, 64), 65);  // stops counting past the limit
}

TEST(JsonBodyTest, BodiesAreObjectsOfLimitedDepth) {
  EXPECT_EQ(ParseJsonBody("")->dump(), "{}");
  EXPECT_EQ(ParseJsonBody(R"({"conf":{"a":1}})")->dump(), R"({"conf":{"a":1}})");
  EXPECT_EQ(ParseJsonBody("{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}").ok(),
            true);
  auto deep = ParseJsonBody("{\"conf\":{\"a\":" + std::string(100000, '[') +
                            std::string(100000, ']') + "}}");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().message, "the request body nests deeper than 64 levels");
  EXPECT_EQ(ParseJsonBody("[1]").error().message, "the request body must be a JSON object");
  EXPECT_EQ(ParseJsonBody("{").error().message, "the request body is not valid JSON");
}

}  // namespace
}  // namespace conveyor::http
