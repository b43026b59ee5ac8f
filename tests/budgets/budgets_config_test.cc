// The budgets:, quota: and http: sections of the config file.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"

namespace burnrate {
namespace {

TEST(BudgetsConfigTest, ParsesTheDocumentedShape) {
  setenv("BURNRATE_TEST_ADMIN_TOKEN", "tok-123", 1);
  auto c = ParseConfig(R"(
http:
  listen: 127.0.0.1:9464
  admin_listen: 127.0.0.1:9465
  admin_token: {env: BURNRATE_TEST_ADMIN_TOKEN}
  threads: 16
quota:
  tenant_header: X-Tenant-ID
  kafka_topic: burnrate-quota
  tiers:
    default: {warn_at: 0.8, throttle_at: 0.9, throttle_rate_factor: 0.5, downgrade_at: 0.95, downgrade_model: gpt-4o-mini, block_at: 1.0}
    enterprise: {warn_at: 0.8, downgrade_at: 1.0, downgrade_model: claude-haiku-4-5}
  tenant_tiers: {acme: enterprise}
budgets:
  time_zone: Europe/Paris
  list:
    - name: acme-monthly
      tenant: acme
      period: month
      amount_usd: 5000
      thresholds: [0.5, 0.8, 1.0]
      hard: true
    - name: growth-weekly
      team: growth
      tenants: [acme, globex]
      period: week
      amount_usd: 900
)",
                       "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http.listen.port, 9464);
  EXPECT_TRUE(c->http.admin_listen.enabled);
  EXPECT_EQ(c->http.admin_token.value, "tok-123");
  EXPECT_EQ(c->http.threads, 16);
  EXPECT_EQ(c->quota.tenant_header, "x-tenant-id");
  EXPECT_EQ(c->quota.tiers.at("enterprise").block_at, 0);
  EXPECT_EQ(c->quota.tenant_tiers.at("acme"), "enterprise");
  EXPECT_EQ(c->budgets.time_zone, "Europe/Paris");
  ASSERT_EQ(c->budgets.list.size(), 2u);
  EXPECT_TRUE(c->budgets.list[0].hard);
  EXPECT_EQ(c->budgets.list[1].tenants.size(), 2u);
  EXPECT_EQ(c->budgets.list[1].period, BudgetPeriod::kWeek);
  const std::string explained = ExplainConfig(*c);
  EXPECT_EQ(explained.find("tok-123"), std::string::npos) << explained;
  EXPECT_NE(explained.find("<redacted, from env:BURNRATE_TEST_ADMIN_TOKEN>"), std::string::npos)
      << explained;
  EXPECT_NE(explained.find("acme-monthly"), std::string::npos);
}

TEST(BudgetsConfigTest, ErrorsNameTheLine) {
  auto bad_zone = ParseConfig("budgets:\n  time_zone: Nowhere/Land\n", "b.yaml");
  ASSERT_FALSE(bad_zone.ok());
  EXPECT_NE(bad_zone.status().message().find("b.yaml:2:"), std::string::npos) << bad_zone.status();
  auto no_amount = ParseConfig("budgets:\n  list:\n    - name: x\n      tenant: a\n", "b.yaml");
  ASSERT_FALSE(no_amount.ok());
  EXPECT_NE(no_amount.status().message().find("amount_usd"), std::string::npos);
  auto bad_tier = ParseConfig("quota:\n  tiers:\n    default: {downgrade_at: 0.9}\n", "b.yaml");
  ASSERT_FALSE(bad_tier.ok());
  EXPECT_NE(bad_tier.status().message().find("downgrade_model"), std::string::npos);
  auto no_token = ParseConfig("http:\n  admin_listen: 127.0.0.1:9465\n", "b.yaml");
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().message().find("admin_token"), std::string::npos);
  auto literal_token = ParseConfig("http:\n  admin_token: hunter2\n", "b.yaml");
  EXPECT_FALSE(literal_token.ok());
  auto typo = ParseConfig(
      "budgets:\n  list:\n    - name: x\n      tenant: a\n      amount_usd: 1\n      hardd: true\n",
      "b.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("b.yaml:6:"), std::string::npos) << typo.status();
}

}  // namespace
}  // namespace burnrate
