// Bad input never crashes the decoder and is never dropped silently: valid
// messages of every accepted form are damaged at random (bytes changed,
// removed, inserted or repeated, the message cut short, invalid UTF-8,
// numbers out of range, escapes), and every result is checked against what
// the pipeline promises for any input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/decode.h"
#include "core/pipeline.h"
#include "core/pricing.h"

namespace burnrate {
namespace {

constexpr int64_t kSeedTime = 1795365000000;  // 2026-11-22T16:30:00Z

// An OTLP export of many spans: over 4 KiB, so the decoder's padded copy is
// sized to it exactly and a read past the padding would show under
// AddressSanitizer (smaller messages land in a 4 KiB buffer).
std::string LargeOtlpExport() {
  std::string spans;
  for (int i = 0; i < 40; ++i) {
    if (i > 0) spans += ",";
    spans += R"({"traceId":"trace-)" + std::to_string(i) + R"(","spanId":"s)" + std::to_string(i) +
             R"(","endTimeUnixNano":"1795365000000000000","attributes":[)"
             R"({"key":"gen_ai.usage.input_tokens","value":{"intValue":")" + std::to_string(100 + i) + R"("}},)"
             R"({"key":"gen_ai.usage.output_tokens","value":{"intValue":7}},)"
             R"({"key":"gen_ai.request.model","value":{"stringValue":"gen-small"}}]})";
  }
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + spans +
         R"(]}],"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]}}]})";
}

// Valid messages of each form docs/events.md describes, as the seeds; the
// OTLP exports last.
const std::vector<std::string>& Seeds() {
  static const std::vector<std::string> seeds = {
      // The flat schema, every field.
      R"({"event_id":"e1","ts":"2026-11-22T16:30:00Z","tenant":"acme","feature":"summarize",)"
      R"("environment":"prod","team":"search","user_id":"u7","agent_run_id":"run-1","workflow_step":"plan",)"
      R"("request_origin":"api","correlation_id":"c-9","provider":"anthropic","model":"claude-sonnet-4-5",)"
      R"("input_tokens":1200,"output_tokens":300,"cache_read_tokens":800,"cache_write_tokens":100,)"
      R"("reasoning_tokens":50,"layers":{"prompt":700,"tool":300,"memory":200,"response":300},)"
      R"("service_tier":"batch","cost_usd":0.0123,"unrelated":{"nested":[1,2,3]}})",
      // Epoch milliseconds, a fractional RFC 3339 time with an offset, escapes.
      R"({"event_id":"e2","ts":1795365000000,"tenant":"t\u00e9st","feature":"a\"b","environment":"dev",)"
      R"("model":"gen-small","input_tokens":10,"output_tokens":2})",
      R"({"event_id":"e3","ts":"2026-11-22T17:30:00.250+01:00","tenant":"acme","feature":"chat",)"
      R"("environment":"prod","model":"unknown-model-7","input_tokens":5,"output_tokens":1,"cost_usd":"0.5"})",
      // OpenTelemetry GenAI attribute names on a flat object.
      R"({"event_id":"e4","ts":1795365000000,"tenant.id":"acme","deployment.environment.name":"prod",)"
      R"("gen_ai.request.model":"gpt-4o","gen_ai.response.model":"gpt-4o","gen_ai.provider.name":"openai",)"
      R"("gen_ai.usage.input_tokens":100,"gen_ai.usage.output_tokens":20,"gen_ai.usage.cache_read.input_tokens":40,)"
      R"("gen_ai.usage.cache_creation.input_tokens":10,"gen_ai.usage.reasoning.output_tokens":5})",
      // An OTLP/JSON export: integers as strings, a span without usage, the
      // resource after the spans.
      R"({"resourceSpans":[{"scopeSpans":[{"scope":{"name":"x"},"spans":[)"
      R"({"traceId":"t1","spanId":"s1","name":"chat","endTimeUnixNano":"1795365000000000000","attributes":[)"
      R"({"key":"gen_ai.usage.input_tokens","value":{"intValue":"120"}},)"
      R"({"key":"gen_ai.usage.output_tokens","value":{"intValue":30}},)"
      R"({"key":"gen_ai.request.model","value":{"stringValue":"gen-small"}},)"
      R"({"key":"feature","value":{"stringValue":"triage"}}]},)"
      R"({"traceId":"t1","spanId":"s2","name":"GET /","endTimeUnixNano":"1795365000000000000","attributes":[)"
      R"({"key":"http.method","value":{"stringValue":"GET"}}]},)"
      R"({"traceId":"t1","spanId":"s3","endTimeUnixNano":1795365001000000000,"attributes":[)"
      R"({"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}},)"
      R"({"key":"gen_ai.usage.output_tokens","value":{"intValue":"1"}},)"
      R"({"key":"tenant.id","value":{"intValue":"42"}},)"
      R"({"key":"event_id","value":{"stringValue":"explicit-id"}}]}]}],)"
      R"("resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}},)"
      R"({"key":"deployment.environment.name","value":{"stringValue":"prod"}}]}}]})",
      LargeOtlpExport(),
  };
  return seeds;
}

// Fragments a damaged message is likely to meet: structure, escapes, numbers
// at and beyond the limits, bytes that are not UTF-8.
const std::vector<std::string>& Fragments() {
  static const std::vector<std::string> fragments = {
      "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "\\udc00\\ud800", "\\u0000",
      "null", "true", "-", "-1", "1e400", "-1e400", "99999999999999999999", "9223372036854775807",
      "-9223372036854775808", "0.0000001", "1.5", "\"12\"", "\"-3\"", "NaN",
      "{\"intValue\":\"x\"}", std::string("\xc3\x28", 2), std::string("\xff", 1),
      std::string("\xed\xa0\x80", 3), std::string("\xf4\x90\x80\x80", 4),
      std::string("\xe2\x82", 2), std::string("\0", 1), "\xc3\xa9", "\"event_id\":\"dup\",", "\"ts\":\"2026-02-30T00:00:00Z\",",
      "\"ts\":-1,", "\"input_tokens\":-5,", "\"tenant\":\"\",", "\"layers\":{\"prompt\":99999999},",
      std::string(300, 'x'),
  };
  return fragments;
}

// Applies one to four random damages to `message`.
std::string Mutate(std::string message, std::mt19937_64& rng) {
  const auto below = [&rng](size_t n) {
    return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n);
  };
  const int damages = 1 + static_cast<int>(below(4));
  for (int d = 0; d < damages; ++d) {
    const size_t at = below(message.size() + 1);
    switch (below(7)) {
      case 0:  // one byte changed to any value
        if (!message.empty()) message[below(message.size())] = static_cast<char>(rng() & 0xff);
        break;
      case 1:  // a stretch removed
        message.erase(at, 1 + below(16));
        break;
      case 2:  // a fragment inserted
        message.insert(at, Fragments()[below(Fragments().size())]);
        break;
      case 3:  // cut short
        message.resize(at);
        break;
      case 4: {  // a stretch repeated (keys given twice, nesting doubled)
        const std::string stretch = message.substr(at, 1 + below(40));
        message.insert(at, stretch);
        break;
      }
      case 5: {  // a number replaced by one at or beyond a limit
        const size_t digit = message.find_first_of("0123456789", at);
        if (digit == std::string::npos) break;
        const size_t end = message.find_first_not_of("0123456789", digit);
        const std::string_view kNumbers[] = {"-1",  "10000001",  "1e400", "99999999999999999999",
                                             "0.5", "\"7\""};
        message.replace(digit, (end == std::string::npos ? message.size() : end) - digit,
                        kNumbers[below(std::size(kNumbers))]);
        break;
      }
      default: {  // a stretch of another seed spliced in
        const std::string& other = Seeds()[below(Seeds().size())];
        const size_t from = below(other.size());
        message.insert(at, other.substr(from, 1 + below(60)));
        break;
      }
    }
  }
  return message;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      n = 1, cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2, cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

struct CheckingDeadLetters : DeadLetterSink {
  std::string_view expected_message;
  uint64_t letters = 0;
  uint64_t wrong_bytes = 0;
  void DeadLetter(std::string_view message, const Rejection& rejection) override {
    ++letters;
    if (message != expected_message) ++wrong_bytes;
    EXPECT_LT(static_cast<size_t>(rejection.reason), kRejectReasonCount);
    EXPECT_FALSE(rejection.detail.empty());
  }
};

constexpr int kDamagedMessages = 60'000;

TEST(DecodeMutationTest, EveryDecodedEventIsWithinBoundsAndEveryMessageGivesAnAnswer) {
  DecoderOptions options;
  EventDecoder decoder(options);
  std::vector<CostEvent> events;
  std::vector<Rejection> rejections;
  std::mt19937_64 rng(20261124);
  uint64_t decoded = 0, refused = 0, silent = 0;
  for (int i = 0; i < kDamagedMessages; ++i) {
    const std::string& seed = Seeds()[static_cast<size_t>(i) % Seeds().size()];
    const std::string message = Mutate(seed, rng);
    try {
      decoder.Decode(message, events, rejections);
    } catch (const std::exception& e) {
      FAIL() << "the decoder threw (" << e.what() << ") on: " << message;
    }
    decoded += events.size();
    refused += rejections.size();
    // Only an OTLP export may decode to nothing (no span carries usage);
    // a flat message is an event or a refusal.
    if (events.empty() && rejections.empty()) {
      ++silent;
      EXPECT_NE(message.find("resourceSpans"), std::string::npos) << "nothing came of: " << message;
    }
    for (const CostEvent& e : events) {
      SCOPED_TRACE(message);
      for (std::string_view s :
           {e.event_id, e.tenant, e.feature, e.environment, e.team, e.user_id, e.agent_run_id,
            e.workflow_step, e.request_origin, e.correlation_id, e.provider, e.model, e.service_tier}) {
        EXPECT_LE(s.size(), options.max_field_bytes);
        EXPECT_TRUE(ValidUtf8(s)) << "not UTF-8: " << s;
      }
      EXPECT_FALSE(e.event_id.empty());
      EXPECT_FALSE(e.tenant.empty());
      EXPECT_FALSE(e.feature.empty());
      EXPECT_FALSE(e.environment.empty());
      for (int64_t n : e.tokens.by_kind) {
        EXPECT_GE(n, 0);
        EXPECT_LE(n, options.max_tokens);
      }
      for (int64_t n : e.tokens.by_layer) {
        EXPECT_GE(n, 0);
        EXPECT_LE(n, options.max_tokens);
      }
      if (e.has_reported_cost) {
        EXPECT_TRUE(std::isfinite(e.reported_cost_usd));
        EXPECT_GE(e.reported_cost_usd, 0);
      }
    }
    if (HasFailure()) return;  // one broken message explained is enough
  }
  // The damage left both outcomes common, or the test would prove little.
  EXPECT_GT(decoded, static_cast<uint64_t>(kDamagedMessages) / 20);
  EXPECT_GT(refused, static_cast<uint64_t>(kDamagedMessages) / 2);
  std::printf(
      "%d damaged messages: %llu events decoded, %llu refusals, %llu OTLP exports with nothing\n",
      kDamagedMessages, static_cast<unsigned long long>(decoded),
      static_cast<unsigned long long>(refused), static_cast<unsigned long long>(silent));
}

// Through the whole pipeline (the shipped price table, and reported costs
// trusted where an event has one): every flat message is counted once or
// dead-lettered once with its own bytes, and the closed windows hold
// exactly the events counted.
TEST(DecodeMutationTest, EveryFlatMessageIsCountedOrDeadLetteredOnce) {
  PipelineOptions options;
  options.trust_reported_cost = true;
  options.windows = {
      .size_ms = 60'000, .allowed_lateness_ms = 3'600'000, .max_keys_per_window = 100'000};
  options.max_past_ms = 3'600'000;
  CheckingDeadLetters sink;
  EventPipeline pipeline(options, PriceTable::Default(), sink);
  std::mt19937_64 rng(7);
  for (int i = 0; i < kDamagedMessages; ++i) {
    // Flat seeds only (an OTLP message's outcomes are per span), each with
    // its own event id, so that copies are not refused as duplicates.
    std::string seed = Seeds()[static_cast<size_t>(i) % (Seeds().size() - 2)];
    const size_t id = seed.find(R"("event_id":"e)") + 12;
    seed.replace(id, 2, "m" + std::to_string(i));
    const std::string message = Mutate(seed, rng);
    if (message.find("resourceSpans") != std::string::npos) continue;
    sink.expected_message = message;
    const uint64_t counted_before = pipeline.stats().events;
    const uint64_t letters_before = sink.letters;
    try {
      pipeline.Process(message, EventTimeMs(kSeedTime));
    } catch (const std::exception& e) {
      FAIL() << "the pipeline threw (" << e.what() << ") on: " << message;
    }
    const uint64_t outcomes =
        (pipeline.stats().events - counted_before) + (sink.letters - letters_before);
    ASSERT_EQ(outcomes, 1u) << "message " << i << ": " << message;
  }
  EXPECT_EQ(sink.wrong_bytes, 0u);
  EXPECT_EQ(sink.letters, pipeline.stats().total_rejected());
  int64_t in_windows = 0;
  bool negative = false;
  pipeline.CloseAll([&](const WindowRecord& r) {
    if (r.scope != WindowScope::kKey) return;
    in_windows += r.totals->events;
    for (int64_t n : r.totals->tokens.by_kind) negative |= n < 0;
    negative |= r.totals->cost.picodollars() < 0;
  });
  EXPECT_EQ(in_windows, static_cast<int64_t>(pipeline.stats().events));
  EXPECT_FALSE(negative);
  EXPECT_GT(pipeline.stats().events, 1000u);
  // Pricing was exercised: most events had a known model or a reported cost.
  EXPECT_LT(pipeline.stats().unpriced_events, pipeline.stats().events / 2);
}

}  // namespace
}  // namespace burnrate
