// The alerting section of the config file: the documented example parses,
// mistakes are rejected with FILE:LINE, secrets never show in check-config.
#include <gtest/gtest.h>

#include <cstdlib>

#include "alerting/router.h"
#include "alerting/sink_registry.h"
#include "config/config.h"
#include "tests/alerting/test_alerts.h"

namespace burnrate {
namespace {

constexpr char kExample[] = R"(
alerting:
  dashboard_url: http://grafana.example/d/burnrate
  quota_url: http://burnrate:9464/v1/quota
  outbox: {give_up_after: 24h}
  receivers:
    - name: oncall
      pagerduty: {routing_key: {env: BR_TEST_PD_KEY}, url: https://events.pagerduty.com/v2/enqueue}
    - name: finops
      slack: {webhook_url: {env: BR_TEST_SLACK_URL}, rate_limit_per_second: 1}
    - name: hooks
      webhook: {url: {env: BR_TEST_HOOK_URL}, hmac_secret: {env: BR_TEST_HMAC}}
    - name: am
      alertmanager: {url: http://alertmanager:9093, resend_interval: 1m}
    - name: stream
      kafka: {topic: burnrate-alerts}
  route:
    receiver: finops
    group_wait: 30s
    repeat_interval: 4h
    routes:
      - match: {severity: critical}
        receiver: oncall
        continue: true
      - match: {kind: budget_forecast}
        receiver: hooks
  silences:
    - match: {tenant: loadtest}
      until: 2026-12-01T00:00:00Z
      reason: planned load test
)";

class AlertingConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("BR_TEST_PD_KEY", "pd-secret-key-123", 1);
    setenv("BR_TEST_SLACK_URL", "https://hooks.slack.com/services/T0/B0/slacksecret", 1);
    setenv("BR_TEST_HOOK_URL", "https://hooks.example/secret-path", 1);
    setenv("BR_TEST_HMAC", "hmac-secret-456", 1);
  }
};

TEST_F(AlertingConfigTest, ParsesTheDocumentedExample) {
  auto c = ParseConfig(kExample, "example.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const AlertingConfig& a = c->alerting;
  ASSERT_EQ(a.receivers.size(), 5u);
  EXPECT_EQ(a.receivers[0].type, "pagerduty");
  EXPECT_EQ(a.receivers[0].pagerduty.routing_key.value, "pd-secret-key-123");
  EXPECT_EQ(a.receivers[1].rate_limit_per_second, 1);
  EXPECT_EQ(a.receivers[3].alertmanager.resend_interval_ms, 60'000);
  EXPECT_EQ(a.receivers[4].kafka.topic, "burnrate-alerts");
  EXPECT_EQ(a.route.group_wait_ms, 30'000);
  EXPECT_EQ(a.route.repeat_interval_ms, 4 * 3'600'000);
  ASSERT_EQ(a.route.routes.size(), 2u);
  EXPECT_TRUE(a.route.routes[0].continue_matching);
  ASSERT_EQ(a.silences.size(), 1u);
  EXPECT_EQ(a.silences[0].reason, "planned load test");

  // critical + continue: oncall and then the default (no other child matches).
  auto decisions =
      RouteAlert(a.route, testing::MakeTestAlert("x", AlertStatus::kFiring, Severity::kCritical));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].receiver, "oncall");
  EXPECT_EQ(decisions[0].group_wait_ms, 30'000);
  Alert forecast = testing::MakeTestAlert("y", AlertStatus::kFiring, Severity::kCritical);
  forecast.kind = AlertKind::kBudgetForecast;
  decisions = RouteAlert(a.route, forecast);
  ASSERT_EQ(decisions.size(), 2u);
  EXPECT_EQ(decisions[1].receiver, "hooks");
}

TEST_F(AlertingConfigTest, ExplainRedactsEverySecret) {
  auto c = ParseConfig(kExample, "example.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = ExplainConfig(*c);
  for (const char* secret :
       {"pd-secret-key-123", "slacksecret", "secret-path", "hmac-secret-456"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked:\n" << text;
  }
  EXPECT_NE(text.find("receiver oncall: pagerduty"), std::string::npos) << text;
  EXPECT_NE(text.find("<redacted, from env:BR_TEST_PD_KEY>"), std::string::npos) << text;
}

TEST_F(AlertingConfigTest, RejectsMistakesWithTheLine) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      {"alerting:\n  receivers:\n    - name: x\n      email: {to: a}\n",
       "bad.yaml:4: unknown key 'email'"},
      {"alerting:\n  receivers:\n    - name: x\n      slack: {webhook_url: http://literal}\n",
       "not a literal"},
      {"alerting:\n  receivers:\n    - name: x\n      log: {}\n  route:\n    receiver: y\n",
       "unknown receiver 'y'"},
      {"alerting:\n  receivers:\n    - name: x\n      log: {}\n  route:\n    receiver: x\n    "
       "routes:\n"
       "      - match: {colour: red}\n        receiver: x\n",
       "bad.yaml:8: unknown label 'colour'"},
      {"alerting:\n  receivers:\n    - name: x\n      log: {}\n  route:\n    receiver: x\n    "
       "routes:\n"
       "      - match: {severity: huge}\n        receiver: x\n",
       "unknown severity 'huge'"},
      {"alerting:\n  receivers:\n    - name: x\n      log: {}\n    - name: x\n      log: {}\n",
       "defined twice"},
      {"alerting:\n  receivers:\n    - name: 'a|b'\n      log: {}\n", "letters, digits"},
      {"alerting:\n  receivers:\n    - name: x\n      pagerduty: {routing_key: {env: "
       "BR_TEST_UNSET_VAR}}\n",
       "BR_TEST_UNSET_VAR is not set"},
      {"alerting:\n  receivers:\n    - name: x\n      log: {}\n  silences:\n    - match: {tenant: "
       "a}\n      until: soon\n",
       "RFC 3339"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseConfig(c.yaml, "bad.yaml");
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_NE(std::string(parsed.status().message()).find(c.message), std::string::npos)
        << parsed.status() << " should say " << c.message;
  }
}

TEST_F(AlertingConfigTest, RegistryCreatesEveryTypeByNameAndRejectsUnknownOnes) {
  auto c = ParseConfig(kExample, "example.yaml");
  ASSERT_TRUE(c.ok());
  SinkDeps deps;
  for (const auto& r : c->alerting.receivers) {
    auto sink = CreateSink(r, deps);
    if (r.type == "kafka") {
      EXPECT_FALSE(sink.ok());  // needs a producer
    } else {
      EXPECT_TRUE(sink.ok()) << r.name << ": " << sink.status();
    }
  }
  ReceiverConfig unknown;
  unknown.name = "x";
  unknown.type = "carrier-pigeon";
  auto sink = CreateSink(unknown, deps);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(std::string(sink.status().message()).find("unknown receiver type 'carrier-pigeon'"),
            std::string::npos);
}

}  // namespace
}  // namespace burnrate
