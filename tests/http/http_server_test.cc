// The HTTP server end to end in memory: raw requests through httplib's parser, the router, the
// guard and the handlers, over a real state database.
#include "engine/http/http_server.h"

#include <gtest/gtest.h>

#include "tests/support/http_fixture.h"

namespace conveyor::testing {
namespace {

nlohmann::json Json(const std::string& response) {
  return nlohmann::json::parse(HttpFixture::Body(response));
}

std::string Detail(const std::string& response) {
  return std::to_string(HttpFixture::Status(response)) + " " +
         Json(response)["detail"].get<std::string>();
}

TEST(HttpServerTest, ProblemsAreProblemJson) {
  HttpFixture http;
  const std::string response = http.Request("GET", "/api/v1/dags/nope");
  EXPECT_EQ(HttpFixture::Status(response), 404);
  EXPECT_NE(response.find("Content-Type: application/problem+json\r\n"), std::string::npos);
  EXPECT_EQ(Json(response), nlohmann::json::parse(R"({"type":"about:blank","title":"Not Found",
            "status":404,"detail":"unknown DAG 'nope'"})"));
  EXPECT_EQ(Detail(http.Request("GET", "/api/v1/dags/gret")),
            "404 unknown DAG 'gret', did you mean 'greet'?");
  // No "did you mean" for long ids: the edit distance would cost their length squared.
  const std::string long_id = "greet" + std::string(80, 'x');
  EXPECT_EQ(Detail(http.Request("GET", "/api/v1/dags/" + long_id)),
            "404 unknown DAG '" + long_id + "'");
}

TEST(HttpServerTest, TriggerChecksIdsAndConf) {
  HttpFixture http;
  const auto trigger = [&](const std::string& body) {
    return http.Request("POST", "/api/v1/dags/greet/dagRuns", body);
  };
  EXPECT_EQ(HttpFixture::Status(trigger(R"({"dag_run_id":"r1","conf":{"who":"x"}})")), 200);
  for (const char* id : {".", "..", ".hidden"}) {
    EXPECT_EQ(Detail(trigger(std::string(R"({"dag_run_id":")") + id + "\"}")),
              "400 dag_run_id must not begin with '.'");
  }
  EXPECT_EQ(Detail(trigger(R"({"dag_run_id":")" + std::string(251, 'r') + "\"}")),
            "400 dag_run_id is longer than 250 characters");
  EXPECT_EQ(Detail(trigger(R"({"conf":{"a":")" + std::string(70000, 'x') + "\"}}")),
            "400 conf is larger than 65536 bytes");
  EXPECT_EQ(Detail(trigger("{\"conf\":{\"a\":" + std::string(100000, '[') +
                           std::string(100000, ']') + "}}")),
            "400 the request body nests deeper than 64 levels");
  EXPECT_EQ(Detail(http.Request("GET", "/api/v1/dags/" + std::string(251, 'd'))),
            "400 dag_id is longer than 250 characters");
}

TEST(HttpServerTest, WritesAreRefusedFromOtherOriginsAndRecordedInTheEventLog) {
  HttpFixture http;
  const std::string body = R"({"dag_run_id":"x1"})";
  const std::string form_post =
      "POST /api/v1/dags/greet/dagRuns HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "Origin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(Detail(http.Raw(form_post)),
            "403 cross-origin request refused: Origin 'http://evil.example' is not this "
            "server's origin");
  EXPECT_EQ(Detail(http.Request("POST", "/api/v1/dags/greet/dagRuns", body, "", "none")),
            "401 this endpoint needs an Authorization: Bearer token");
  EXPECT_EQ(HttpFixture::Status(http.Request("POST", "/api/v1/dags/greet/dagRuns", body)), 200);
  const auto logs = Json(http.Request("GET", "/api/v1/eventLogs?event=api.trigger_dag_run"));
  // Refused requests are not recorded (a hostile page could grow the database): only the one
  // that passed the guard.
  ASSERT_EQ(logs["total_entries"], 1);
  // Oldest first, as Airflow orders by event_log_id.
  std::vector<int> statuses;
  for (const auto& entry : logs["event_logs"]) {
    EXPECT_EQ(entry["owner"], "api");
    EXPECT_EQ(entry["dag_id"], "greet");
    const auto extra = nlohmann::json::parse(entry["extra"].get<std::string>());
    EXPECT_EQ(extra["remote_addr"], "127.0.0.1");
    EXPECT_EQ(extra["path"], "/api/v1/dags/greet/dagRuns");
    statuses.push_back(extra["status"].get<int>());
  }
  EXPECT_EQ(statuses, (std::vector<int>{200}));
  EXPECT_EQ(Detail(http.Request("GET", "/api/v1/eventLogs?order_by=size")),
            "400 order_by must be event_log_id, -event_log_id, when or -when, got 'size'");
}

TEST(HttpServerTest, ReadsNeedTheTokenWhenConfigured) {
  HttpFixture http(true);
  EXPECT_EQ(Detail(http.Request("GET", "/api/v1/dags", "", "", "none")),
            "401 this endpoint needs an Authorization: Bearer token");
  EXPECT_EQ(Detail(http.Request("GET", "/metrics", "", "", "none")),
            "401 this endpoint needs an Authorization: Bearer token");
  EXPECT_EQ(HttpFixture::Status(http.Request("GET", "/api/v1/dags")), 200);
  EXPECT_EQ(HttpFixture::Status(http.Request("GET", "/api/v1/health", "", "", "none")), 200);
  EXPECT_EQ(HttpFixture::Status(http.Request("GET", "/", "", "", "none")), 200);
}

TEST(HttpServerTest, MalformedRequestsGetAnAnswer) {
  HttpFixture http;
  EXPECT_EQ(HttpFixture::Status(http.Raw("GARBAGE\r\n\r\n")), 400);
  EXPECT_EQ(Detail(http.Raw("POST /api/v1/dags/greet/dagRuns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 2000000\r\n\r\n{}")),
            "413 the request body is larger than 1048576 bytes");
}

}  // namespace
}  // namespace conveyor::testing
