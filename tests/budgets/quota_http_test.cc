// The decision endpoint and the override admin endpoint, as handlers and
// over a real loopback server.
#include "budgets/quota_http.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "http/http_server.h"

namespace burnrate {
namespace {

constexpr int64_t kNow = 1'795'000'000'000;

HttpRequest Check(const std::string& tenant, const std::string& feature = "") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/v1/decision/v1/chat/completions";
  if (!tenant.empty()) r.headers.emplace_back("x-tenant-id", tenant);
  if (!feature.empty()) r.headers.emplace_back("x-feature-id", feature);
  return r;
}

std::string H(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

struct DecisionFixture : ::testing::Test {
  DecisionFixture() {
    snapshot = std::make_shared<QuotaSnapshot>();
    DecisionOptions options;
    options.clock = [] { return kNow; };
    handler = MakeDecisionHandler(snapshot, options);
  }
  void Set(std::vector<QuotaSignal> signals) { snapshot->Replace(std::move(signals), kNow); }
  std::shared_ptr<QuotaSnapshot> snapshot;
  HttpHandler handler;
};

TEST_F(DecisionFixture, AllowsUnknownTenantsAndOk) {
  EXPECT_EQ(handler(Check("")).status, 200);
  auto r = handler(Check("nobody"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(H(r, "x-burnrate-state"), "ok");
}

TEST_F(DecisionFixture, WarnAndDowngradeAllowWithHeaders) {
  Set({{.subject = "acme", .state = QuotaState::kWarn, .reason = "budget at 81%"},
       {.subject = "globex",
        .state = QuotaState::kDowngrade,
        .downgrade_model = "gpt-4o-mini",
        .reason = "budget at 96%"}});
  auto warn = handler(Check("acme"));
  EXPECT_EQ(warn.status, 200);
  EXPECT_EQ(H(warn, "x-burnrate-state"), "warn");
  EXPECT_EQ(H(warn, "x-burnrate-reason"), "budget at 81%");
  auto down = handler(Check("globex"));
  EXPECT_EQ(down.status, 200);
  EXPECT_EQ(H(down, "x-burnrate-state"), "downgrade");
  EXPECT_EQ(H(down, "x-burnrate-downgrade-model"), "gpt-4o-mini");
}

TEST_F(DecisionFixture, BlockIs429WithRetryAfterUntilTheStateLifts) {
  Set({{.subject = "acme",
        .state = QuotaState::kBlock,
        .reason = "budget used up\r\nx: y",
        .until_ms = kNow + 90'500}});
  auto r = handler(Check("acme"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(H(r, "Retry-After"), "91");
  EXPECT_EQ(H(r, "x-burnrate-state"), "block");
  EXPECT_EQ(H(r, "x-burnrate-reason"), "budget used up  x: y");
  EXPECT_EQ(H(r, "x-burnrate-until"), FormatRfc3339Ms(kNow + 90'500));
}

TEST_F(DecisionFixture, ThrottleAdmitsAboutRateFactorOfRequests) {
  Set({{.subject = "acme", .state = QuotaState::kThrottle, .rate_factor = 0.3}});
  int allowed = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto r = handler(Check("acme"));
    if (r.status == 200) {
      ++allowed;
    } else {
      EXPECT_EQ(r.status, 429);
      EXPECT_EQ(H(r, "Retry-After"), "1");
    }
    EXPECT_EQ(H(r, "x-burnrate-state"), "throttle");
  }
  EXPECT_NEAR(static_cast<double>(allowed) / n, 0.3, 0.02);
}

TEST_F(DecisionFixture, TenantFeatureSignalTightensTheTenantOne) {
  Set({{.subject = "acme", .state = QuotaState::kWarn},
       {.subject = "acme/summarize", .state = QuotaState::kBlock}});
  EXPECT_EQ(handler(Check("acme", "chat")).status, 200);
  EXPECT_EQ(handler(Check("acme", "summarize")).status, 429);
}

struct OverrideFixture : ::testing::Test {
  OverrideFixture() {
    store = std::make_shared<MemoryQuotaStore>();
    publisher = std::make_shared<QuotaPublisher>(store, nullptr, [] { return kNow; });
    QuotaConfig config;
    config.tiers["default"].downgrade_model = "gpt-4o-mini";
    handler = MakeQuotaOverridesHandler(publisher, config);
  }
  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    return handler(r);
  }
  std::shared_ptr<MemoryQuotaStore> store;
  std::shared_ptr<QuotaPublisher> publisher;
  HttpHandler handler;
};

TEST_F(OverrideFixture, PinListAndRemove) {
  const std::string until = FormatRfc3339Ms(kNow + 3'600'000);
  auto put = Call("PUT", "/v1/quota/overrides/acme",
                  R"({"state":"throttle","rate_factor":0.1,"until":")" + until +
                      R"(","reason":"incident 42"})");
  ASSERT_EQ(put.status, 200) << put.body;
  auto j = nlohmann::json::parse(put.body);
  EXPECT_EQ(j["state"], "throttle");
  EXPECT_EQ(j["rate_factor"], 0.1);
  EXPECT_EQ(j["source"], "override");
  EXPECT_EQ(j["until"], until);
  auto list = Call("GET", "/v1/quota/overrides");
  ASSERT_EQ(list.status, 200);
  auto lj = nlohmann::json::parse(list.body);
  ASSERT_EQ(lj["overrides"].size(), 1u);
  EXPECT_EQ(lj["overrides"][0]["tenant"], "acme");
  EXPECT_EQ(lj["overrides"][0]["reason"], "incident 42");
  auto del = Call("DELETE", "/v1/quota/overrides/acme");
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(nlohmann::json::parse(del.body)["state"], "ok");
  EXPECT_EQ(nlohmann::json::parse(Call("GET", "/v1/quota/overrides").body)["overrides"].size(), 0u);
}

TEST_F(OverrideFixture, DowngradeTakesTheTierModelUnlessGiven) {
  auto put = Call("PUT", "/v1/quota/overrides/acme",
                  R"({"state":"downgrade","until":)" + std::to_string(kNow + 60'000) +
                      R"(,"reason":"cost cut"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(nlohmann::json::parse(put.body)["downgrade_model"], "gpt-4o-mini");
}

TEST_F(OverrideFixture, BadRequestsAre400) {
  const std::string future = std::to_string(kNow + 60'000);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/acme", "not json").status, 400);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/acme",
                 R"({"state":"nope","until":)" + future + R"(,"reason":"x"})")
                .status,
            400);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/acme", R"({"state":"block","reason":"x"})").status,
            400);
  EXPECT_EQ(
      Call("PUT", "/v1/quota/overrides/acme", R"({"state":"block","until":)" + future + "}").status,
      400);
  EXPECT_EQ(
      Call("PUT", "/v1/quota/overrides/acme", R"({"state":"block","until":5,"reason":"past"})")
          .status,
      400);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/acme",
                 R"({"state":"throttle","rate_factor":2,"until":)" + future + R"(,"reason":"x"})")
                .status,
            400);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/acme",
                 R"({"state":"block","until":)" + future + R"(,"reason":"x","extra":1})")
                .status,
            400);
  EXPECT_EQ(Call("PUT", "/v1/quota/overrides/", "{}").status, 404);
}

TEST(QuotaRoutesTest, DecisionAndAdminOverLoopback) {
  auto store = std::make_shared<MemoryQuotaStore>();
  auto publisher = std::make_shared<QuotaPublisher>(store, nullptr, SystemWallClock());
  auto snapshot = std::make_shared<QuotaSnapshot>();
  QuotaConfig config;
  HttpServer read_only;
  HttpServerOptions admin_options;
  admin_options.bearer_token = "admin-secret";
  HttpServer admin(admin_options);
  RegisterQuotaRoutes(read_only, &admin, snapshot, publisher, config);
  ASSERT_TRUE(read_only.Start("127.0.0.1", 0).ok());
  ASSERT_TRUE(admin.Start("127.0.0.1", 0).ok());
  QuotaRefresher refresher(publisher, snapshot, 50);

  httplib::Client admin_client("127.0.0.1", admin.port());
  const std::string body = R"({"state":"block","until":")" +
                           FormatRfc3339Ms(SystemWallClock()() + 600'000) +
                           R"(","reason":"abuse"})";
  auto unauth = admin_client.Put("/v1/quota/overrides/acme", body, "application/json");
  ASSERT_TRUE(unauth);
  EXPECT_EQ(unauth->status, 401);
  auto put = admin_client.Put("/v1/quota/overrides/acme",
                              {{"Authorization", "Bearer admin-secret"}}, body, "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;

  // The endpoint answers from the snapshot: blocked once refreshed.
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  httplib::Client client("127.0.0.1", read_only.port());
  auto blocked = client.Get("/v1/decision/v1/messages", {{"X-Tenant-Id", "acme"}});
  ASSERT_TRUE(blocked);
  EXPECT_EQ(blocked->status, 429);
  EXPECT_EQ(blocked->get_header_value("x-burnrate-state"), "block");
  const int retry = std::stoi(blocked->get_header_value("Retry-After"));
  EXPECT_GT(retry, 590);
  EXPECT_LE(retry, 600);
  auto other = client.Post("/v1/decision", {{"X-Tenant-Id", "globex"}}, "", "text/plain");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);

  // The background refresher picks up the removal.
  refresher.Start();
  auto del =
      admin_client.Delete("/v1/quota/overrides/acme", {{"Authorization", "Bearer admin-secret"}});
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/v1/decision", {{"X-Tenant-Id", "acme"}});
    status = r ? r->status : 0;
    if (status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200);
  refresher.Stop();
}

}  // namespace
}  // namespace burnrate
