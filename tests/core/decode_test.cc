#include "core/decode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace burnrate {
namespace {

class DecodeTest : public ::testing::Test {
 protected:
  // Decodes and expects exactly one event.
  CostEvent One(const std::string& json) {
    decoder_.Decode(json, events_, rejections_);
    EXPECT_TRUE(rejections_.empty()) << (rejections_.empty() ? "" : RejectReasonName(rejections_[0].reason))
                                     << " " << (rejections_.empty() ? "" : rejections_[0].detail);
    EXPECT_EQ(events_.size(), 1u);
    return events_.empty() ? CostEvent{} : events_[0];
  }
  // Decodes and expects one rejection; returns its reason.
  RejectReason Rejected(const std::string& json) {
    decoder_.Decode(json, events_, rejections_);
    EXPECT_TRUE(events_.empty());
    EXPECT_EQ(rejections_.size(), 1u) << json;
    return rejections_.empty() ? RejectReason::kLate : rejections_[0].reason;
  }

  DecoderOptions options_;
  EventDecoder decoder_{options_};
  std::vector<CostEvent> events_;
  std::vector<Rejection> rejections_;
};

TEST_F(DecodeTest, FlatSchemaWithEveryField) {
  const CostEvent e = One(R"({"event_id":"e1","ts":"2026-11-22T16:30:00Z","tenant":"acme",
    "feature":"summarize","environment":"prod","team":"search","user_id":"u7","agent_run_id":"run-1",
    "workflow_step":"plan","request_origin":"api","correlation_id":"c-9","provider":"anthropic",
    "model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300,"cache_read_tokens":800,
    "cache_write_tokens":100,"reasoning_tokens":50,"layers":{"prompt":700,"tool":300,"memory":200,
    "response":300},"service_tier":"batch","cost_usd":0.0123,"unrelated":{"nested":[1,2,3]}})");
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_EQ(e.time.value(), 1795365000000);
  EXPECT_EQ(e.tenant, "acme");
  EXPECT_EQ(e.feature, "summarize");
  EXPECT_EQ(e.environment, "prod");
  EXPECT_EQ(e.team, "search");
  EXPECT_EQ(e.agent_run_id, "run-1");
  EXPECT_EQ(e.correlation_id, "c-9");
  EXPECT_EQ(e.model, "claude-sonnet-4-5");
  EXPECT_EQ(e.service_tier, "batch");
  EXPECT_EQ(e.tokens[TokenKind::kInput], 1200);
  EXPECT_EQ(e.tokens[TokenKind::kOutput], 300);
  EXPECT_EQ(e.tokens[TokenKind::kCacheRead], 800);
  EXPECT_EQ(e.tokens[TokenKind::kCacheWrite], 100);
  EXPECT_EQ(e.tokens[TokenKind::kReasoning], 50);
  EXPECT_EQ(e.tokens[Layer::kPrompt], 700);
  EXPECT_EQ(e.tokens[Layer::kResponse], 300);
  EXPECT_TRUE(e.has_reported_cost);
  EXPECT_DOUBLE_EQ(e.reported_cost_usd, 0.0123);
  EXPECT_EQ(e.missing_dimensions, 0);
}

TEST_F(DecodeTest, EpochMillisecondsAndEscapedStrings) {
  const CostEvent e = One(R"({"event_id":"e\"2","ts":1795365000123,"tenant":"caf\u00e9","model":"m"})");
  EXPECT_EQ(e.event_id, "e\"2");
  EXPECT_EQ(e.time.value(), 1795365000123);
  EXPECT_EQ(e.tenant, "caf\xc3\xa9");
}

TEST_F(DecodeTest, KeysAreMatchedWholeAndAfterUnescaping) {
  // Known keys are first matched as written in the input, so: a key written
  // with escapes is still the key; one that is a known key's prefix, or has
  // one as its prefix, is not.
  const CostEvent e = One(
      R"({"event_id":"a","ts":1795365000000,"tena\u006et":"acme","ten":"no","tenant_x":"no",)"
      R"("featur":"no","features":"no","\u0066eature":"chat","environment":"prod","t":"no"})");
  EXPECT_EQ(e.tenant, "acme");
  EXPECT_EQ(e.feature, "chat");
  EXPECT_EQ(e.environment, "prod");
}

TEST(DecodeOptionsTest, ConfiguredKeysOfOneByteAndOverridesAreMatchedAsWritten) {
  DecoderOptions options;
  options.tenant_keys = {"o"};
  options.feature_keys = {"team"};  // a built-in key, given another meaning
  EventDecoder decoder(options);
  std::vector<CostEvent> events;
  std::vector<Rejection> rejections;
  decoder.Decode(R"({"event_id":"a","ts":1795365000000,"o":"acme","team":"search","op":"x"})", events,
                 rejections);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tenant, "acme");
  EXPECT_EQ(events[0].feature, "search");
  EXPECT_EQ(events[0].team, "");
}

TEST_F(DecodeTest, MissingDimensionsBecomeUnknownAndAreFlagged) {
  const CostEvent e = One(R"({"event_id":"e3","ts":1795365000000,"feature":"chat","tenant":""})");
  EXPECT_EQ(e.tenant, kUnknownDimension);
  EXPECT_EQ(e.feature, "chat");
  EXPECT_EQ(e.environment, kUnknownDimension);
  EXPECT_EQ(e.missing_dimensions, 0b101);
  EXPECT_EQ(e.model, kUnknownDimension);
}

TEST_F(DecodeTest, OpenTelemetryAttributeNamesOnAFlatObject) {
  const CostEvent e = One(R"({"event_id":"e4","ts":1795365000000,"tenant.id":"acme",
    "deployment.environment.name":"prod","gen_ai.request.model":"gpt-4o","gen_ai.response.model":"gpt-4o-2024-08-06",
    "gen_ai.provider.name":"openai","gen_ai.usage.input_tokens":100,"gen_ai.usage.output_tokens":20,
    "gen_ai.usage.cache_read.input_tokens":40,"gen_ai.usage.cache_creation.input_tokens":10,
    "gen_ai.usage.reasoning.output_tokens":5})");
  EXPECT_EQ(e.tenant, "acme");
  EXPECT_EQ(e.environment, "prod");
  EXPECT_EQ(e.model, "gpt-4o-2024-08-06");  // the model that answered is billed
  EXPECT_EQ(e.provider, "openai");
  EXPECT_EQ(e.tokens[TokenKind::kCacheRead], 40);
  EXPECT_EQ(e.tokens[TokenKind::kCacheWrite], 10);
  EXPECT_EQ(e.tokens[TokenKind::kReasoning], 5);
}

TEST_F(DecodeTest, OtlpExportWithManySpansAndResourceAttributes) {
  // As the Collector's Kafka exporter writes it: integers as strings, the
  // resource after the spans, a non-GenAI span in between.
  const std::string otlp = R"({"resourceSpans":[{"scopeSpans":[{"scope":{"name":"x"},"spans":[
    {"traceId":"t1","spanId":"s1","name":"chat","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"120"}},
      {"key":"gen_ai.usage.output_tokens","value":{"intValue":30}},
      {"key":"gen_ai.request.model","value":{"stringValue":"claude-haiku-4-5"}},
      {"key":"feature","value":{"stringValue":"triage"}}]},
    {"traceId":"t1","spanId":"s2","name":"GET /","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"http.method","value":{"stringValue":"GET"}}]},
    {"traceId":"t1","spanId":"s3","endTimeUnixNano":1795365001000000000,"attributes":[
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}},
      {"key":"gen_ai.usage.output_tokens","value":{"intValue":"1"}},
      {"key":"tenant.id","value":{"intValue":"42"}},
      {"key":"event_id","value":{"stringValue":"explicit-id"}}]}]}],
    "resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}},
      {"key":"deployment.environment.name","value":{"stringValue":"prod"}}]}}]})";
  decoder_.Decode(otlp, events_, rejections_);
  EXPECT_TRUE(rejections_.empty());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].event_id, "t1:s1");
  EXPECT_EQ(events_[0].tenant, "acme");  // from the resource
  EXPECT_EQ(events_[0].environment, "prod");
  EXPECT_EQ(events_[0].feature, "triage");
  EXPECT_EQ(events_[0].model, "claude-haiku-4-5");
  EXPECT_EQ(events_[0].tokens[TokenKind::kInput], 120);
  EXPECT_EQ(events_[0].tokens[TokenKind::kOutput], 30);
  EXPECT_EQ(events_[0].time.value(), 1795365000000);
  EXPECT_EQ(events_[1].event_id, "explicit-id");
  EXPECT_EQ(events_[1].tenant, "42");  // the span's own attribute wins over the resource
  EXPECT_EQ(events_[1].time.value(), 1795365001000);
  EXPECT_EQ(decoder_.skipped_spans(), 1u);
}

// An empty event_id attribute reads as absent: the span's trace and span
// ids name the event instead.
TEST_F(DecodeTest, OtlpEmptyEventIdFallsBackToTraceAndSpanIds) {
  const std::string otlp = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"t9","spanId":"s9","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"event_id","value":{"stringValue":""}},
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}}]}]}]}]})";
  decoder_.Decode(otlp, events_, rejections_);
  EXPECT_TRUE(rejections_.empty());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event_id, "t9:s9");
}

TEST_F(DecodeTest, OtlpBadSpanIsRefusedAloneWithItsIndex) {
  const std::string otlp = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"t","spanId":"a","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"-5"}}]},
    {"traceId":"t","spanId":"b","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}}]}]}]}]})";
  decoder_.Decode(otlp, events_, rejections_);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event_id, "t:b");
  ASSERT_EQ(rejections_.size(), 1u);
  EXPECT_EQ(rejections_[0].reason, RejectReason::kInvalidTokenCount);
  EXPECT_EQ(rejections_[0].item, 0);
}

TEST_F(DecodeTest, RefusesBadInputWithTheRightReason) {
  EXPECT_EQ(Rejected("{not json"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(""), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected("[1,2]"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000} trailing)"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":5)"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected("{\"event_id\":\"a\xff\",\"ts\":1795365000000}"), RejectReason::kInvalidUtf8);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"tenant":5})"), RejectReason::kWrongType);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":"lots"})"), RejectReason::kWrongType);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":-1})"), RejectReason::kInvalidTokenCount);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":1.5})"), RejectReason::kInvalidTokenCount);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":99999999999})"),
            RejectReason::kInvalidTokenCount);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":10,"cache_read_tokens":11})"),
            RejectReason::kInvalidTokenCount);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"output_tokens":1,"reasoning_tokens":2})"),
            RejectReason::kInvalidTokenCount);
  EXPECT_EQ(Rejected(R"({"ts":1795365000000})"), RejectReason::kMissingField);
  EXPECT_EQ(Rejected(R"({"event_id":"a"})"), RejectReason::kMissingField);
  EXPECT_EQ(Rejected(R"({"event_id":"","ts":1795365000000})"), RejectReason::kMissingField);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":"yesterday"})"), RejectReason::kInvalidTimestamp);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":"1990-01-01T00:00:00Z"})"), RejectReason::kTimestampOutOfRange);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000})"), RejectReason::kTimestampOutOfRange);  // seconds
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"tenant":")" + std::string(300, 'x') + "\"}"),
            RejectReason::kFieldTooLong);
}

TEST(DecodeOptionsTest, OversizedMessagesAndConfiguredDimensionKeys) {
  DecoderOptions options;
  options.max_message_bytes = 200;
  options.tenant_keys = {"org"};
  EventDecoder decoder(options);
  std::vector<CostEvent> events;
  std::vector<Rejection> rejections;
  decoder.Decode(R"({"event_id":"a","ts":1795365000000,"org":"acme"})", events, rejections);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tenant, "acme");
  decoder.Decode("{\"pad\":\"" + std::string(300, 'x') + "\"}", events, rejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].reason, RejectReason::kOversized);
}

TEST_F(DecodeTest, CountsWrittenAsTextOrAsWholeDecimalsAreRead) {
  const CostEvent e =
      One(R"({"event_id":"a","ts":1795365000000,"input_tokens":"1200","output_tokens":30.0})");
  EXPECT_EQ(e.tokens[TokenKind::kInput], 1200);
  EXPECT_EQ(e.tokens[TokenKind::kOutput], 30);
}

TEST_F(DecodeTest, AStringWithABrokenEscapeIsMalformed) {
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"tenant":"acme \q corp"})"),
            RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"tenant":"\u12"})"),
            RejectReason::kMalformedJson);
  // The same in an OTLP attribute.
  const std::string otlp = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"t","spanId":"a","endTimeUnixNano":"1795365000000000000","attributes":[
      {"key":"gen_ai.request.model","value":{"stringValue":"gen \q"}},
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}}]}]}]}]})";
  decoder_.Decode(otlp, events_, rejections_);
  EXPECT_TRUE(events_.empty());
  ASSERT_EQ(rejections_.size(), 1u);
  EXPECT_EQ(rejections_[0].reason, RejectReason::kMalformedJson);
}

TEST_F(DecodeTest, AReportedCostMustBeANonNegativeAmountWithinTheCeiling) {
  EXPECT_DOUBLE_EQ(One(R"({"event_id":"a","ts":1795365000000,"cost_usd":10000})").reported_cost_usd, 10'000);
  EXPECT_DOUBLE_EQ(One(R"({"event_id":"a","ts":1795365000000,"cost_usd":"0.25"})").reported_cost_usd, 0.25);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":10000.01})"), RejectReason::kInvalidCost);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":-0.5})"), RejectReason::kInvalidCost);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":"1e400"})"), RejectReason::kInvalidCost);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":1e400})"), RejectReason::kInvalidCost);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":"cheap"})"), RejectReason::kWrongType);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"cost_usd":true})"), RejectReason::kWrongType);
  EXPECT_EQ(RejectReasonName(RejectReason::kInvalidCost), "invalid_cost");

  DecoderOptions options;
  options.max_cost_usd = 1;
  EventDecoder decoder(options);
  decoder.Decode(R"({"event_id":"a","ts":1795365000000,"cost_usd":1.5})", events_, rejections_);
  ASSERT_EQ(rejections_.size(), 1u);
  EXPECT_EQ(rejections_[0].reason, RejectReason::kInvalidCost);
}

// A token that starts like null but is not one is malformed, wherever it
// stands (simdjson reports it as an error; read unchecked, it would throw).
TEST_F(DecodeTest, ATokenThatOnlyStartsLikeNullIsMalformed) {
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"input_tokens":nope})"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"tenant":nil})"), RejectReason::kMalformedJson);
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"layers":{"prompt":nah}})"),
            RejectReason::kMalformedJson);
  // The layers object itself: its rejection names it (this once read past the
  // table of field names; AddressSanitizer found it).
  EXPECT_EQ(Rejected(R"({"event_id":"a","ts":1795365000000,"layers":nope})"), RejectReason::kMalformedJson);
  ASSERT_EQ(rejections_.size(), 1u);
  EXPECT_EQ(rejections_[0].detail, "layers");
}

TEST_F(DecodeTest, NullFieldsReadAsAbsent) {
  const CostEvent e = One(R"({"event_id":"a","ts":1795365000000,"tenant":null,"input_tokens":null})");
  EXPECT_EQ(e.tenant, kUnknownDimension);
  EXPECT_EQ(e.tokens[TokenKind::kInput], 0);
}

}  // namespace
}  // namespace burnrate
