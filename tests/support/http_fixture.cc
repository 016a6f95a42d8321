#include "tests/support/http_fixture.h"

#include "engine/cli/command_context.h"
#include "engine/http/request_guard.h"

namespace conveyor::testing {

HttpFixture::HttpFixture(bool reads_need_token) {
  dir_.Write("dags/greet.yaml",
             "params: {who: world}\n"
             "tasks:\n"
             "  - id: hello\n"
             "    command: echo \"hello {{ params.who }}\"\n"
             "  - id: after\n"
             "    depends_on: [hello]\n"
             "    command: echo done\n");
  folder_ = std::make_unique<graph::DagFolder>(dir_.path() + "/dags", cli::BuiltinRegistry());
  folder_->ReloadAll();
  dags_.Publish(serve::MakeSnapshot(*folder_));
  http::ApiSettings settings;
  settings.db = dir_.path() + "/state.db";
  settings.dags_are_paused_at_creation = false;
  api_ = std::make_unique<http::Api>(settings, dags_, metrics_, [] {});
  http::ServerSettings server;
  server.access.token = kToken;
  server.access.reads_need_token = reads_need_token;
  server.access.hosts = http::ServerHostNames("127.0.0.1", "");
  server_ = std::make_unique<http::HttpServer>(server, *api_, metrics_);
}

std::string HttpFixture::Raw(const std::string& request) { return server_->HandleRaw(request); }

std::string HttpFixture::Request(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& extra_headers,
                                 const std::string& token) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  if (token != "none") request += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty()) {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += extra_headers + "\r\n" + body;
  return Raw(request);
}

int HttpFixture::Status(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.1 ", 0) != 0) return -1;
  return std::stoi(response.substr(9, 3));
}

std::string HttpFixture::Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace conveyor::testing
