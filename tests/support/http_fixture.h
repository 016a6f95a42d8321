#pragma once

#include <memory>
#include <string>

#include "engine/graph/dag_folder.h"
#include "engine/http/http_server.h"
#include "engine/serve/dag_snapshot.h"
#include "engine/serve/metrics.h"
#include "tests/support/temp_dir.h"

namespace conveyor::testing {

// conveyor's HTTP server over a fresh state database and a folder with one DAG ("greet", two
// shell tasks), answering raw requests in memory: no socket, no scheduler.
class HttpFixture {
 public:
  static constexpr const char* kToken = "fixture-token";

  explicit HttpFixture(bool reads_need_token = false);

  // One raw HTTP/1.1 request in, the raw response out.
  std::string Raw(const std::string& request);
  // A request built from parts: Host 127.0.0.1:8080, the fixture's token unless `token` is
  // "none", Content-Type application/json when there is a body.
  std::string Request(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& extra_headers = "",
                      const std::string& token = kToken);

  // The status code of a raw response, and its body.
  static int Status(const std::string& response);
  static std::string Body(const std::string& response);

  http::Api& api() { return *api_; }

 private:
  TempDir dir_;
  std::unique_ptr<graph::DagFolder> folder_;
  serve::SharedDags dags_;
  serve::Metrics metrics_;
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace conveyor::testing
