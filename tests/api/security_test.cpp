// Who may talk to the API: the listen policy, the bearer token, the Host
// check (DNS rebinding), the Origin check and CORS, and the bounded pool.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "api/routes.h"
#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

class SecurityTest : public ApiTest {};

// One request written by hand (no Host header unless given); the whole answer.
std::string raw_request(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return {};
  }
  ::send(fd, request.data(), request.size(), 0);
  std::string answer;
  char buffer[4096];
  for (ssize_t got; (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<size_t>(got));
  ::close(fd);
  return answer;
}

TEST_F(SecurityTest, RefusesToListenBeyondLoopbackWithoutAToken) {
  for (const std::string host : {"0.0.0.0", "::", "192.168.1.10"}) {
    SCOPED_TRACE(host);
    ApiOptions options = default_options();
    options.host = host;
    try {
      ApiServer server(options, context());
      FAIL() << "an open server on " << host << " was allowed";
    } catch (const InvalidInput& error) {
      EXPECT_NE(std::string(error.what()).find("api.token"), std::string::npos) << error.what();
    }
  }
  ApiOptions with_token = default_options();
  with_token.host = "0.0.0.0";
  with_token.token = "short";
  try {
    ApiServer server(with_token, context());
    FAIL() << "a guessable token was allowed beyond loopback";
  } catch (const InvalidInput& error) {
    EXPECT_NE(std::string(error.what()).find("at least 16 characters"), std::string::npos) << error.what();
  }
  with_token.token = "a-long-enough-secret";
  EXPECT_NO_THROW(ApiServer(with_token, context()));
  ApiOptions loopback = default_options();
  loopback.host = "127.0.0.1";
  EXPECT_NO_THROW(ApiServer(loopback, context()));
}

TEST_F(SecurityTest, ABoundPortIsAnErrorNamingTheAddress) {
  start_server();
  ApiOptions same = default_options();
  same.port = server_->port();
  ApiServer second(same, context());
  try {
    second.start();
    FAIL() << "a second server bound the same port";
  } catch (const Unavailable& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(same.port)), std::string::npos)
        << error.what();
  }
  expect_healthy();
}

TEST_F(SecurityTest, ATokenIsRequiredWhenSet) {
  ApiOptions options = default_options();
  options.token = "s3cret-token";
  start_server(options);
  expect_error(client().Get("/api/search?q=cat"), 401, "unauthorized", "Authorization: Bearer");
  expect_error(client().Get("/api/search?q=cat", {{"Authorization", "Bearer wrong-token!"}}), 401, "unauthorized",
               "token is wrong");
  expect_error(client().Get("/api/search?q=cat", {{"Authorization", "Bearer s3cret-toke"}}), 401, "unauthorized",
               "token is wrong");
  expect_error(client().Get("/api/search?q=cat", {{"Authorization", "Basic czNjcmV0LXRva2Vu"}}), 401, "unauthorized",
               "Authorization: Bearer");
  expect_error(client().Post("/api/rescan", "{}", "application/json"), 401, "unauthorized", "Bearer");
  EXPECT_EQ(client().Get("/api/search?q=cat")->get_header_value("WWW-Authenticate"), "Bearer realm=\"imgsearchd\"");

  auto authorised = new_client();
  authorised->set_bearer_token_auth("s3cret-token");
  EXPECT_EQ(authorised->Get("/api/search?q=cat")->status, 200);
  EXPECT_EQ(authorised->Get("/metrics")->status, 200);
  // Probes and the page need none.
  EXPECT_EQ(client().Get("/health")->status, 200);
  EXPECT_EQ(client().Get("/")->status, 200);
}

TEST_F(SecurityTest, AForeignHostHeaderIsRefused) {
  start_server();
  const std::string port = std::to_string(server_->port());
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "evil.example", "127.0.0.1.evil.example:" + port,
                                 "localhost.evil.example", "[::2]:" + port}) {
    SCOPED_TRACE(host);
    expect_error(client().Get("/api/search?q=cat", {{"Host", host}}), 403, "forbidden", "DNS rebinding");
  }
  for (const std::string& host : std::vector<std::string>{"localhost:" + port, "127.0.0.1:" + port, "LOCALHOST", "[::1]:" + port}) {
    SCOPED_TRACE(host);
    EXPECT_EQ(client().Get("/health", {{"Host", host}})->status, 200);
  }
  const std::string answer = raw_request(server_->port(), "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 403", 0), 0u) << answer;
  EXPECT_NE(answer.find("Host header is missing"), std::string::npos) << answer;
  expect_healthy();
}

// Every route of the table, by its own method: a foreign Host is refused
// whatever the token, and a missing or wrong token wherever one is needed,
// each with the JSON error and the service still healthy after.
TEST_F(SecurityTest, EveryRouteRefusesAForeignHostAndAWrongToken) {
  const std::string token = "s3cret-token-0123456789";
  ApiOptions options = default_options();
  options.token = token;
  start_server(options);
  const std::string id = std::to_string(id_of(photos_[0]));
  for (const api::Route& route : api::route_table()) {
    std::string path = route.path;
    const size_t braces = path.find("{id}");
    if (braces != std::string::npos) path.replace(braces, 4, id);
    const bool post = std::string(route.method) == "POST";
    SCOPED_TRACE(std::string(route.method) + " " + path);
    auto send = [&](const httplib::Headers& headers) {
      return post ? client().Post(path, headers, "{}", "application/json") : client().Get(path, headers);
    };
    expect_error(send({{"Host", "evil.example"}, {"Authorization", "Bearer " + token}}), 403, "forbidden",
                 "DNS rebinding");
    if (route.needs_token) {
      expect_error(send({}), 401, "unauthorized", "Authorization: Bearer");
      expect_error(send({{"Authorization", "Bearer " + token + "x"}}), 401, "unauthorized", "token is wrong");
    } else {
      EXPECT_EQ(send({{"Authorization", "Bearer wrong"}})->status, 200);
    }
  }
}

TEST_F(SecurityTest, CrossOriginRequestsAreRefusedUnlessConfigured) {
  start_server();
  const std::string port = std::to_string(server_->port());
  expect_error(client().Get("/api/search?q=cat", {{"Origin", "https://evil.example"}}), 403, "forbidden",
               "https://evil.example");
  // The page itself (same origin) may.
  const httplib::Result same = client().Get("/api/search?q=cat", {{"Origin", "http://127.0.0.1:" + port}});
  EXPECT_EQ(same->status, 200);
  EXPECT_FALSE(same->has_header("Access-Control-Allow-Origin"));

  ApiOptions options = default_options();
  options.cors_origins = {"http://app.example:3000"};
  start_server(options);
  clients_.clear();
  const httplib::Result allowed = client().Get("/api/search?q=cat", {{"Origin", "http://app.example:3000"}});
  ASSERT_EQ(allowed->status, 200);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "http://app.example:3000");
  const httplib::Result preflight =
      client().Options("/api/search", {{"Origin", "http://app.example:3000"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_EQ(preflight->status, 204);
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  expect_error(client().Get("/api/status", {{"Origin", "http://other.example"}}), 403, "forbidden",
               "api.cors_origins");
}

TEST_F(SecurityTest, AFloodBeyondThePoolGets503AndTheServiceRecovers) {
  ApiOptions options = default_options();
  options.threads = 1;
  options.max_queued_connections = 0;
  start_server(options);
  {
    std::lock_guard<std::mutex> lock(service_.mutex);
    service_.hold_rescans = true;
  }
  // Keep the one request thread busy inside a handler.
  std::thread busy([this] {
    auto holder = new_client();
    const httplib::Result result = holder->Post("/api/rescan", "", "application/json");
    EXPECT_EQ(result->status, 202);
  });
  {
    std::unique_lock<std::mutex> lock(service_.mutex);
    service_.changed.wait(lock, [this] { return service_.rescan_entered; });
  }
  auto flood = new_client();
  const httplib::Result refused = flood->Get("/health");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("the server is busy"), std::string::npos) << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  {
    std::lock_guard<std::mutex> lock(service_.mutex);
    service_.hold_rescans = false;
  }
  service_.changed.notify_all();
  busy.join();
  // The holder's connection is closed: the thread is free again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    httplib::Client again("127.0.0.1", server_->port());
    const httplib::Result result = again.Get("/health");
    status = result ? result->status : 0;
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace imgsearchd::test
