// The HTTP server on a real loopback socket, driven by cpp-httplib's client.
#include "http/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace burnrate {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->Route("GET", "/healthz", [](const HttpRequest&) {
      HttpResponse r;
      r.body = "ok\n";
      return r;
    });
    server_->Route("GET", "/echo", [](const HttpRequest& req) {
      HttpResponse r;
      r.body = std::string(req.Header("x-tenant-id")) + "|" + std::string(req.Query("q"));
      r.headers.emplace_back("X-Seen-Method", req.method);
      return r;
    });
    server_->Route("PUT", "/v1/items/*", [](const HttpRequest& req) {
      HttpResponse r;
      r.status = 201;
      r.content_type = "application/json";
      r.body = "{\"path\":\"" + req.path + "\",\"len\":" + std::to_string(req.body.size()) + "}";
      return r;
    });
    server_->Route("GET", "/v1/decision/*", [](const HttpRequest& req) {
      HttpResponse r;
      r.body = "prefix:" + req.path;
      return r;
    });
    server_->Route("GET", "/v1/decision/exact", [](const HttpRequest&) {
      HttpResponse r;
      r.body = "exact";
      return r;
    });
    server_->Route("GET", "/throws",
                   [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
    ASSERT_GT(server_->port(), 0);
  }
  httplib::Client Client() {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(std::chrono::seconds(5));
    return client;
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesRoutesWithLowerCaseHeadersAndQuery) {
  StartServer();
  auto client = Client();
  auto res = client.Get("/echo?q=hello%20world", {{"X-Tenant-ID", "acme"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "acme|hello world");
  EXPECT_EQ(res->get_header_value("X-Seen-Method"), "GET");

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok\n");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  StartServer();
  auto client = Client();
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto wrong = client.Post("/healthz", "x", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET");
  auto del = client.Delete("/v1/items/a");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->get_header_value("Allow"), "PUT");
}

TEST_F(HttpServerTest, PrefixRoutesMatchEverythingUnderThemExactRoutesWin) {
  StartServer();
  auto client = Client();
  auto bare = client.Get("/v1/decision");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->body, "prefix:/v1/decision");
  auto deep = client.Get("/v1/decision/v1/chat/completions");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->body, "prefix:/v1/decision/v1/chat/completions");
  auto exact = client.Get("/v1/decision/exact");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->body, "exact");
  auto sibling = client.Get("/v1/decisions");
  ASSERT_TRUE(sibling);
  EXPECT_EQ(sibling->status, 404);

  auto put = client.Put("/v1/items/acme", "{\"a\":1}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201);
  EXPECT_EQ(put->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(put->body, "{\"path\":\"/v1/items/acme\",\"len\":7}");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndOversizedHeadersAre431) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.max_header_bytes = 2048;
  StartServer(options);
  auto client = Client();
  auto big = client.Put("/v1/items/a", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto fits = client.Put("/v1/items/a", std::string(1000, 'x'), "text/plain");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 201);

  httplib::Headers headers;
  for (int i = 0; i < 10; ++i)
    headers.emplace("x-filler-" + std::to_string(i), std::string(300, 'h'));
  auto heavy = client.Get("/healthz", headers);
  ASSERT_TRUE(heavy);
  EXPECT_EQ(heavy->status, 431);
  // A single header line beyond the library's own 8 KiB line limit.
  auto huge = client.Get("/healthz", {{"x-huge", std::string(20000, 'h')}});
  if (huge) {
    EXPECT_GE(huge->status, 400);
  }
  // The server still serves after all that.
  auto after = Client().Get("/healthz");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsGet4xxAndTheServerSurvives) {
  StartServer();
  const std::vector<std::string> garbage = {
      "BLAH\r\n\r\n",
      "GET\r\n\r\n",
      "GET /healthz HTTP/9.9\r\n\r\n",
      "PUT /v1/items/a HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
      std::string("\x00\x01\x02\xff\r\n\r\n", 8),
  };
  for (const std::string& raw : garbage) {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(std::chrono::seconds(2));
    // Send raw bytes over a socket; whatever comes back must not be 2xx/5xx
    // for a request the server could not parse.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(send(fd, raw.data(), raw.size(), 0), static_cast<ssize_t>(raw.size()));
    shutdown(fd, SHUT_WR);
    std::string reply;
    char buf[1024];
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;)
      reply.append(buf, static_cast<size_t>(n));
    close(fd);
    if (!reply.empty()) {
      ASSERT_GE(reply.size(), 12u) << reply;
      const int status = std::stoi(reply.substr(9, 3));
      EXPECT_GE(status, 400) << raw;
      EXPECT_LT(status, 500) << raw;
    }
  }
  auto after = Client().Get("/healthz");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  StartServer();
  auto res = Client().Get("/throws");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
}

TEST_F(HttpServerTest, BearerTokenGuardsEveryRouteOfAnAdminListener) {
  HttpServerOptions options;
  options.bearer_token = "s3cret-token";
  StartServer(options);
  auto client = Client();
  auto none = client.Get("/healthz");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  auto wrong = client.Get("/healthz", {{"Authorization", "Bearer s3cret-tokeN"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto unknown = client.Get("/nope");  // no route discovery without the token
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  auto right = client.Get("/healthz", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
}

TEST(RequireBearerTokenTest, WrapsOneHandler) {
  HttpHandler h = RequireBearerToken("tok", [](const HttpRequest&) { return HttpResponse{}; });
  HttpRequest req;
  EXPECT_EQ(h(req).status, 401);
  req.headers = {{"authorization", "bearer tok"}};
  EXPECT_EQ(h(req).status, 200);
  req.headers = {{"authorization", "Bearer to"}};
  EXPECT_EQ(h(req).status, 401);
  HttpHandler open = RequireBearerToken("", [](const HttpRequest&) { return HttpResponse{}; });
  req.headers = {{"authorization", "Bearer "}};
  EXPECT_EQ(open(req).status, 401);
}

TEST(ConstantTimeEqualsTest, ComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(ParseHostPortTest, ParsesHostAndPort) {
  auto a = ParseHostPort("127.0.0.1:9464");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9464);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 0);
  EXPECT_FALSE(ParseHostPort("localhost").ok());
  EXPECT_FALSE(ParseHostPort("h:70000").ok());
  EXPECT_FALSE(ParseHostPort("h:x").ok());
}

TEST(HttpServerLifecycleTest, ConcurrentClientsAndCleanStop) {
  HttpServerOptions options;
  options.threads = 4;
  HttpServer server(options);
  std::atomic<int> served{0};
  server.Route("GET", "/count", [&](const HttpRequest&) {
    served.fetch_add(1);
    return HttpResponse{};
  });
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  EXPECT_FALSE(server.Start("127.0.0.1", 0).ok());
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", server.port());
      for (int i = 0; i < 50; ++i) {
        auto res = client.Get("/count");
        if (res && res->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(served.load(), 200);
  server.Stop();
  server.Stop();
  EXPECT_FALSE(server.running());
  httplib::Client after("127.0.0.1", server.port());
  after.set_connection_timeout(std::chrono::seconds(1));
  EXPECT_FALSE(after.Get("/count"));
}

TEST(HttpServerLifecycleTest, BusyPortIsAnError) {
  HttpServer first;
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  HttpServer second;
  EXPECT_FALSE(second.Start("127.0.0.1", first.port()).ok());
}

}  // namespace
}  // namespace burnrate
