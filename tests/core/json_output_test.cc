#include "core/json_output.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace burnrate {
namespace {

TEST(JsonOutput, EscapesUntrustedStringsIntoValidJson) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01\x7f\xff\xc3\xa9", out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\xef\xbf\xbd\xc3\xa9\"");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "a\"b\\c\n\x01\x7f\xef\xbf\xbd\xc3\xa9");
}

TEST(JsonOutput, UsdIsExact) {
  std::string out;
  AppendUsd(Money::FromPicodollars(1'234'567'890'123'456), out);
  EXPECT_EQ(out, "1234.567890123456");
  out.clear();
  AppendUsd(Money::FromPicodollars(5), out);
  EXPECT_EQ(out, "0.000000000005");
}

TEST(JsonOutput, WindowRowHasTheContractFields) {
  WindowTotals t;
  t.events = 3;
  t.tokens[TokenKind::kInput] = 100;
  t.tokens[Layer::kTool] = 7;
  t.cost = Money::FromPicodollars(2'500'000'000'000);
  WindowRecord r;
  r.start = WindowStartMs(1795365000000);
  r.size_ms = 60'000;
  r.tenant = "ac\"me";
  r.feature = "f";
  r.environment = "prod";
  r.totals = &t;
  std::string out;
  AppendWindowRecordJson(r, out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["window_start"], "2026-11-22T16:30:00.000Z");
  EXPECT_EQ(j["window_end"], "2026-11-22T16:31:00.000Z");
  EXPECT_EQ(j["tenant"], "ac\"me");
  EXPECT_EQ(j["events"], 3);
  EXPECT_EQ(j["input_tokens"], 100);
  EXPECT_EQ(j["layers"]["tool"], 7);
  EXPECT_DOUBLE_EQ(j["cost_usd"].get<double>(), 2.5);
}

TEST(JsonOutput, DeadLetterKeepsTheOriginalBytes) {
  std::string out;
  AppendDeadLetterJson("{\"a\":1", {RejectReason::kMalformedJson, "document", -1}, out);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["reason"], "malformed_json");
  EXPECT_EQ(j["message"], "{\"a\":1");
  out.clear();
  AppendDeadLetterJson("\xff\x00z", {RejectReason::kInvalidUtf8, "document", 2}, out);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["message_base64"], "/w==");  // "\xff" then the view ends at the NUL
  EXPECT_EQ(j["item"], 2);
}

}  // namespace
}  // namespace burnrate
