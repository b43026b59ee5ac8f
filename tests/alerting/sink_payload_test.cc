// Each sink's payload against its receiver's documented format: Slack Block
// Kit limits and escaping, PagerDuty Events v2 fields and enums, Alertmanager
// v2's array schema, the webhook signature.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "alerting/alertmanager/alertmanager_sink.h"
#include "alerting/format.h"
#include "alerting/pagerduty/pagerduty_sink.h"
#include "alerting/slack/slack_sink.h"
#include "alerting/webhook/webhook_sink.h"
#include "core/json_output.h"
#include "core/time_format.h"
#include "tests/alerting/payload_checks.h"
#include "tests/alerting/test_alerts.h"

namespace burnrate {
namespace {

using testing::MakeTestAlert;

const AlertLinks kLinks{"http://grafana.example/d/burnrate", "http://burnrate:9464/v1/quota"};

TEST(SlackPayload, FiringHasHeaderFieldsContextAndFallback) {
  const Alert a = MakeTestAlert("a1");
  const std::string body = SlackPayload(a, {1'795'000'070'000, 0, "a1:firing"}, kLinks);
  EXPECT_EQ(testing::CheckSlackPayload(body), "");
  const auto j = nlohmann::json::parse(body);
  EXPECT_NE(j["text"].get<std::string>().find("FIRING"), std::string::npos);
  EXPECT_EQ(j["blocks"][0]["type"], "header");
  const std::string all = j.dump();
  for (const char* want : {"*Tenant*\\nacme", "*Feature*\\nchat", "*Environment*\\nprod",
                           "*Observed*\\n$42.50", "*Expected*\\n$10.00", "*Ratio*\\n4.25x",
                           "<http://grafana.example/d/burnrate?var-tenant=acme|Grafana dashboard>",
                           "<http://burnrate:9464/v1/quota?tenant=acme|Quota>"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << " in " << all;
  }
}

TEST(SlackPayload, ResolvedSaysResolved) {
  const std::string body =
      SlackPayload(MakeTestAlert("a1", AlertStatus::kResolved), {0, 0, "a1:resolved"}, kLinks);
  EXPECT_EQ(testing::CheckSlackPayload(body), "");
  EXPECT_NE(nlohmann::json::parse(body)["text"].get<std::string>().find("RESOLVED"),
            std::string::npos);
}

TEST(SlackPayload, HostileAndHugeStringsStayWithinLimitsAndEscaped) {
  Alert a = MakeTestAlert("a1");
  a.tenant = std::string(5000, '<') + "\xC3\xA9";
  a.feature = "<!channel> & <http://evil|click>";
  a.summary = std::string(10'000, '&');
  a.subject = std::string(3000, 'x');
  const std::string body = SlackPayload(a, {0, 0, "k"}, kLinks);
  EXPECT_EQ(testing::CheckSlackPayload(body), "");
  EXPECT_EQ(body.find("<!channel>"), std::string::npos);
  EXPECT_NE(body.find("&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"), std::string::npos);
}

TEST(SlackEscape, EscapesTheThreeControlCharacters) {
  EXPECT_EQ(SlackEscape("a & b < c > d"), "a &amp; b &lt; c &gt; d");
}

TEST(TruncateUtf8, NeverSplitsACharacter) {
  const std::string s = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // four 2-byte characters
  for (size_t max = 3; max <= s.size(); ++max) {
    const std::string t = TruncateUtf8(s, max);
    EXPECT_LE(t.size(), max);
    EXPECT_TRUE(IsValidUtf8(t)) << max;
  }
}

TEST(PagerDutyPayload, TriggerHasRequiredFields) {
  Alert a = MakeTestAlert("a1", AlertStatus::kFiring, Severity::kCritical);
  a.summary = std::string(3000, 's');
  const std::string body =
      PagerDutyPayload(a, {0, 0, "a1:firing"}, "R0UT1NGKEY", "burnrate-prod", kLinks);
  EXPECT_EQ(testing::CheckPagerDutyPayload(body, "R0UT1NGKEY"), "");
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["event_action"], "trigger");
  EXPECT_EQ(j["dedup_key"], "a1");
  EXPECT_EQ(j["payload"]["severity"], "critical");
  EXPECT_EQ(j["payload"]["source"], "burnrate-prod");
  EXPECT_LE(j["payload"]["summary"].get<std::string>().size(), 1024u);
  EXPECT_EQ(j["payload"]["custom_details"]["observed"], "$42.50");
  EXPECT_EQ(j["payload"]["custom_details"]["expected"], "$10.00");
}

TEST(PagerDutyPayload, ResolveUsesTheSameDedupKey) {
  const std::string body = PagerDutyPayload(MakeTestAlert("a1", AlertStatus::kResolved),
                                            {0, 0, "a1:resolved"}, "K", "src", kLinks);
  EXPECT_EQ(testing::CheckPagerDutyPayload(body, "K"), "");
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["event_action"], "resolve");
  EXPECT_EQ(j["dedup_key"], "a1");
}

TEST(PagerDutySeverity, MapsEachLevel) {
  EXPECT_EQ(PagerDutySeverity(Severity::kCritical), "critical");
  EXPECT_EQ(PagerDutySeverity(Severity::kWarning), "warning");
  EXPECT_EQ(PagerDutySeverity(Severity::kInfo), "info");
}

TEST(AlertmanagerPayload, FiringIsAnArrayWithLabelsAndFutureEndsAt) {
  const int64_t now = 1'795'000'100'000;
  const std::string body =
      AlertmanagerPayload(MakeTestAlert("a1"), {now, 0, "a1:firing"}, 60'000, kLinks);
  EXPECT_EQ(testing::CheckAlertmanagerPayload(body), "");
  const auto j = nlohmann::json::parse(body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["labels"]["alertname"], "BurnrateSpike");
  EXPECT_EQ(j[0]["labels"]["alert_id"], "a1");
  EXPECT_EQ(j[0]["labels"]["tenant"], "acme");
  EXPECT_EQ(j[0]["startsAt"], FormatRfc3339Ms(1'795'000'060'000));
  EXPECT_EQ(*ParseRfc3339Ms(j[0]["endsAt"].get<std::string>()), now + 4 * 60'000);
  EXPECT_EQ(j[0]["generatorURL"], "http://grafana.example/d/burnrate?var-tenant=acme");
}

TEST(AlertmanagerPayload, ResolvedEndsAtTheResolveTime) {
  const std::string body = AlertmanagerPayload(MakeTestAlert("a1", AlertStatus::kResolved),
                                               {1'795'000'900'000, 0, "k"}, 60'000, kLinks);
  EXPECT_EQ(testing::CheckAlertmanagerPayload(body), "");
  EXPECT_EQ(nlohmann::json::parse(body)[0]["endsAt"], FormatRfc3339Ms(1'795'000'660'000));
}

TEST(AlertmanagerAlertName, CamelCasesTheKind) {
  EXPECT_EQ(AlertmanagerAlertName(AlertKind::kBudgetBurnRate), "BurnrateBudgetBurnRate");
  EXPECT_EQ(AlertmanagerAlertName(AlertKind::kSpike), "BurnrateSpike");
}

TEST(WebhookSignature, IsHmacSha256OverTimestampDotBody) {
  // RFC 4231-style known answer (the well-known "quick brown fox" vector).
  EXPECT_EQ(HmacSha256Hex("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  EXPECT_EQ(WebhookSignature("key", 1700000000, "{}"),
            "v1=" + HmacSha256Hex("key", "1700000000.{}"));
}

}  // namespace
}  // namespace burnrate
