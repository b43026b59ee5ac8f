#include "core/pricing.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/concat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace burnrate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Epoch milliseconds, computed independently of the code under test.
constexpr int64_t k2024_02_29 = 1709164800000;
constexpr int64_t k2025_01_01 = 1735689600000;
constexpr int64_t k2025_04_16 = 1744761600000;
constexpr int64_t k2025_06_10 = 1749513600000;
constexpr int64_t k2025_06_10_0830 = 1749544200000;
constexpr int64_t k2025_10_01 = 1759276800000;
constexpr int64_t k2026_11_22 = 1795305600000;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

EventTimeMs At(int64_t ms) { return EventTimeMs(ms); }

// The period found for `name` at `at`, or an all-minus-one price when there is
// none, so that a missing period fails the comparison instead of crashing.
ModelPrice FindOrNone(const PriceTable& table, std::string_view name, int64_t at) {
  const ModelPrice* price = table.Find(name, At(at));
  if (price != nullptr) return *price;
  ModelPrice none;
  none.model = "<none>";
  none.prices = {.input = -1, .output = -1, .cache_read = -1, .cache_write = -1};
  return none;
}

PriceTable MustParse(std::string_view yaml) {
  absl::StatusOr<PriceTable> table = PriceTable::Parse(yaml, "test.yaml");
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : PriceTable();
}

// Asserts that parsing fails with InvalidArgument, names `line`, and says why.
void ExpectError(std::string_view yaml, int line, std::string_view reason) {
  absl::StatusOr<PriceTable> table = PriceTable::Parse(yaml, "test.yaml");
  ASSERT_FALSE(table.ok()) << "parsed, but expected an error at line " << line << ":\n" << yaml;
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(table.status().message());
  EXPECT_THAT(message, StartsWith(Concat("test.yaml:", line, ": "))) << yaml;
  EXPECT_THAT(message, HasSubstr(std::string(reason)));
}

// A one-model table: `period_body` holds the first period's keys after
// effective_from (line 7), indented by 8 spaces, so it starts on line 8.
std::string OneModel(const std::string& period_body) {
  return Concat(
      "version: v1\n"                         // 1
      "compiled_on: 2025-01-01\n"             // 2
      "models:\n"                             // 3
      "  - model: m\n"                        // 4
      "    provider: p\n"                     // 5
      "    prices:\n"                         // 6
      "      - effective_from: 2025-01-01\n"  // 7
      "",
      period_body);
}

CostEvent Event(int64_t input, int64_t output, int64_t cache_read = 0, int64_t cache_write = 0,
                int64_t reasoning = 0) {
  CostEvent event;
  event.tokens[TokenKind::kInput] = input;
  event.tokens[TokenKind::kOutput] = output;
  event.tokens[TokenKind::kCacheRead] = cache_read;
  event.tokens[TokenKind::kCacheWrite] = cache_write;
  event.tokens[TokenKind::kReasoning] = reasoning;
  return event;
}

ModelPrice Sonnet() {
  ModelPrice price;
  price.model = "sonnet";
  price.prices = {
      .input = 3'000'000, .output = 15'000'000, .cache_read = 300'000, .cache_write = 3'750'000};
  price.long_context_threshold = 200'000;
  price.long_context = {
      .input = 6'000'000, .output = 22'500'000, .cache_read = 600'000, .cache_write = 7'500'000};
  price.batch_basis_points = 5000;
  return price;
}

// --------------------------------------------------------------- parsing ---

TEST(PriceTableParseTest, ConvertsDecimalDollarsPerMillionToExactPicodollarsPerToken) {
  const PriceTable table =
      MustParse(OneModel("        input: 3.75\n"
                         "        output: 0.000001\n"
                         "        cache_read: 15\n"
                         "        cache_write: 123456.123456\n"));
  const ModelPrice* price = table.Find("m", At(k2025_01_01));
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->prices.input, 3'750'000);
  EXPECT_EQ(price->prices.output, 1);
  EXPECT_EQ(price->prices.cache_read, 15'000'000);
  EXPECT_EQ(price->prices.cache_write, 123'456'123'456);
  EXPECT_EQ(price->batch_basis_points, 10000);
  EXPECT_EQ(price->long_context_threshold, 0);
  EXPECT_EQ(price->model, "m");
  EXPECT_EQ(price->provider, "p");
  EXPECT_EQ(table.version(), "v1");
  EXPECT_EQ(table.compiled_on(), "2025-01-01");
  EXPECT_EQ(table.model_count(), 1u);
}

TEST(PriceTableParseTest, DecimalsThatDoubleWouldRoundAreExact) {
  // 0.29 and 0.57 have no exact binary form; 0.29 * 1e6 in double is
  // 289999.99999999994.
  const PriceTable table =
      MustParse(OneModel("        input: 0.29\n"
                         "        output: 0.57\n"
                         "        cache_read: \"0.000003\"\n"));
  const ModelPrice* price = table.Find("m", At(k2025_01_01));
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->prices.input, 290'000);
  EXPECT_EQ(price->prices.output, 570'000);
  EXPECT_EQ(price->prices.cache_read, 3);
}

TEST(PriceTableParseTest, CachePricesDefaultToInputPrice) {
  const PriceTable table =
      MustParse(OneModel("        input: 2.50\n"
                         "        output: 10\n"
                         "        long_context: {threshold_tokens: 1000, input: 5, output: 20}\n"));
  const ModelPrice* price = table.Find("m", At(k2025_01_01));
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->prices.cache_read, 2'500'000);
  EXPECT_EQ(price->prices.cache_write, 2'500'000);
  EXPECT_EQ(price->long_context_threshold, 1000);
  EXPECT_EQ(price->long_context.input, 5'000'000);
  EXPECT_EQ(price->long_context.output, 20'000'000);
  EXPECT_EQ(price->long_context.cache_read, 5'000'000);
  EXPECT_EQ(price->long_context.cache_write, 5'000'000);
}

TEST(PriceTableParseTest, BatchMultiplierBecomesBasisPoints) {
  for (const auto& [text, basis_points] : std::vector<std::pair<std::string, int32_t>>{
           {"0.5", 5000}, {"0.1234", 1234}, {"1", 10000}, {"1.0000", 10000}, {"0.0001", 1}}) {
    const PriceTable table = MustParse(
        OneModel(Concat("        input: 1\n        output: 1\n        batch: ", text, "\n")));
    const ModelPrice* price = table.Find("m", At(k2025_01_01));
    ASSERT_NE(price, nullptr) << text;
    EXPECT_EQ(price->batch_basis_points, basis_points) << text;
  }
}

TEST(PriceTableParseTest, RejectsBadNumbersNamingTheLine) {
  struct Case {
    std::string value;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {"0.0000001", "more than 6 decimal places"},
           {"-1", "negative"},
           {"-0.5", "negative"},
           {"abc", "not a plain decimal"},
           {"1e-6", "not a plain decimal"},
           {"3.", "not a plain decimal"},
           {".5", "not a plain decimal"},
           {"+3", "not a plain decimal"},
           {"1,5", "not a plain decimal"},
           {"\"\"", "empty"},
           {"[1]", "expected a number"},
           {"99999999999999999999", "too large"},
       }) {
    SCOPED_TRACE(c.value);
    ExpectError(OneModel(Concat("        input: 1\n        output: ", c.value, "\n")), 9, c.reason);
  }
}

TEST(PriceTableParseTest, RejectsBadBatchMultipliers) {
  for (const std::string value : {"0.12345", "1.5", "0", "50", "-0.5", "half"}) {
    SCOPED_TRACE(value);
    ExpectError(
        OneModel(Concat("        input: 1\n        output: 1\n        batch: ", value, "\n")), 10,
        "batch");
  }
}

TEST(PriceTableParseTest, RejectsBadDatesNamingTheLine) {
  for (const std::string date :
       {"2025-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "yesterday", "2025-6-1",
        "2025-06-10T25:00:00Z", "2025-06-10T10:00:00", "2025-06-10T10:00Z",
        "2025-06-10T10:00:00+0200", "2025-06-10 extra", "2025-06-10T10:00:00.Z"}) {
    SCOPED_TRACE(date);
    ExpectError(Concat("version: v1\n"
                       "compiled_on: 2025-01-01\n"
                       "models:\n"
                       "  - model: m\n"
                       "    provider: p\n"
                       "    prices:\n"
                       "      - effective_from: \"",
                       date,
                       "\"\n"
                       "        input: 1\n"
                       "        output: 1\n"),
                7, "effective_from");
  }
  ExpectError("version: v1\ncompiled_on: 2025-01-01T00:00:00Z\nmodels: []\n", 2, "compiled_on");
}

TEST(PriceTableParseTest, AcceptsLeapDaysAndRfc3339Timestamps) {
  const PriceTable table = MustParse(
      "version: v1\n"
      "compiled_on: 2024-02-29\n"
      "models:\n"
      "  - model: m\n"
      "    provider: p\n"
      "    prices:\n"
      "      - {effective_from: 2024-02-29, input: 1, output: 1}\n"
      "      - {effective_from: \"2025-06-10T10:30:00+02:00\", input: 2, output: 2}\n"
      "      - {effective_from: \"2025-10-01T00:00:00.250Z\", input: 3, output: 3}\n");
  EXPECT_EQ(table.Find("m", At(k2024_02_29 - 1)), nullptr);
  ASSERT_NE(table.Find("m", At(k2024_02_29)), nullptr);
  EXPECT_EQ(FindOrNone(table, "m", k2024_02_29).prices.input, 1'000'000);
  // 10:30+02:00 is 08:30Z.
  EXPECT_EQ(FindOrNone(table, "m", k2025_06_10_0830 - 1).prices.input, 1'000'000);
  EXPECT_EQ(FindOrNone(table, "m", k2025_06_10_0830).prices.input, 2'000'000);
  EXPECT_EQ(FindOrNone(table, "m", k2025_10_01 + 249).prices.input, 2'000'000);
  EXPECT_EQ(FindOrNone(table, "m", k2025_10_01 + 250).prices.input, 3'000'000);
}

TEST(PriceTableParseTest, RejectsStructuralErrorsNamingTheLine) {
  // Unknown keys, at every level.
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodles: []\n", 3, "unknown key 'modles'");
  ExpectError(OneModel("        input: 1\n        output: 1\n        cache_raed: 1\n"), 10,
              "unknown key 'cache_raed'");
  ExpectError(
      "version: v1\n"
      "compiled_on: 2025-01-01\n"
      "models:\n"
      "  - model: m\n"
      "    provider: p\n"
      "    alias: [x]\n"
      "    prices: [{effective_from: 2025-01-01, input: 1, output: 1}]\n",
      6, "unknown key 'alias'");
  ExpectError(OneModel("        input: 1\n        output: 1\n"
                       "        long_context: {threshold: 5, input: 1, output: 1}\n"),
              10, "unknown key 'threshold'");
  // Missing required keys.
  ExpectError("compiled_on: 2025-01-01\nmodels: []\n", 1, "missing required key 'version'");
  ExpectError("version: v1\nmodels: []\n", 1, "missing required key 'compiled_on'");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\n", 1, "missing required key 'models'");
  ExpectError(OneModel("        output: 1\n"), 7, "missing required key 'input'");
  ExpectError(OneModel("        input: 1\n"), 7, "missing required key 'output'");
  ExpectError(OneModel("        input: 1\n        output: 1\n"
                       "        long_context: {input: 1, output: 1}\n"),
              10, "missing required key 'threshold_tokens'");
  ExpectError(
      "version: v1\n"
      "compiled_on: 2025-01-01\n"
      "models:\n"
      "  - provider: p\n"
      "    prices: [{effective_from: 2025-01-01, input: 1, output: 1}]\n",
      4, "missing required key 'model'");
  ExpectError(
      "version: v1\n"
      "compiled_on: 2025-01-01\n"
      "models:\n"
      "  - model: m\n"
      "    prices: [{effective_from: 2025-01-01, input: 1, output: 1}]\n",
      4, "missing required key 'provider'");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: m\n    provider: p\n", 4,
              "missing required key 'prices'");
  ExpectError(
      "version: v1\n"
      "compiled_on: 2025-01-01\n"
      "models:\n"
      "  - model: m\n"
      "    provider: p\n"
      "    prices:\n"
      "      - input: 1\n"
      "        output: 1\n",
      7, "missing required key 'effective_from'");
  // Wrong shapes and empty values.
  ExpectError("", 1, "empty");
  ExpectError("just a string\n", 1, "must be a mapping");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels: 3\n", 3, "must be a list");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels: []\n", 3, "must not be empty");
  ExpectError("version: \"\"\ncompiled_on: 2025-01-01\nmodels: []\n", 1,
              "'version' must not be empty");
  ExpectError("version: [1]\ncompiled_on: 2025-01-01\nmodels: []\n", 1, "must be a string");
  ExpectError(
      "version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: m\n    provider: p\n"
      "    prices: []\n",
      6, "non-empty list");
  ExpectError(OneModel("        input: 1\n        output: 1\n"
                       "        long_context: {threshold_tokens: 0, input: 1, output: 1}\n"),
              10, "must be positive");
  ExpectError(OneModel("        input: 1\n        output: 1\n"
                       "        long_context: {threshold_tokens: 2.5, input: 1, output: 1}\n"),
              10, "not a whole number");
  ExpectError(OneModel("        input: 1\n        output: 1\n"
                       "        long_context: {threshold_tokens: 10, input: 1, output: x}\n"),
              10, "long_context.output");
  // An empty value is reported on its key's line, not where yaml-cpp marks it.
  ExpectError(OneModel("        input:\n        output: 1\n"), 8,
              "input: expected a number, found no value");
  ExpectError(OneModel("        input: 1\n        output: 1\n        cache_read:\n"), 10,
              "found no value");
  // A repeated key would otherwise silently keep one of the two values.
  ExpectError(OneModel("        input: 1\n        output: 1\n        input: 2\n"), 10,
              "key 'input' repeated (first at line 8)");
}

TEST(PriceTableParseTest, TurnsYamlSyntaxErrorsIntoStatusWithLine) {
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels: [\n  {model: m\n", 5, "");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: m\n   bad indent: x\n", 5,
              "");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: m: n\n", 4,
              "illegal map value");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: m\n\tprovider: p\n", 5,
              "tab");
  ExpectError("version: v1\ncompiled_on: 2025-01-01\nmodels:\n  - model: *nowhere\n", 4, "anchor");
}

TEST(PriceTableParseTest, RejectsNamesClaimedTwice) {
  const std::string header = "version: v1\ncompiled_on: 2025-01-01\nmodels:\n";
  const auto model = [](const std::string& name, const std::string& extra) {
    return Concat("  - model: ", name, "\n    provider: p\n", extra,
                  "    prices: [{effective_from: 2025-01-01, input: 1, output: 1}]\n");
  };
  // Each model block is 3 lines plus its extra lines; the header is 3 lines.
  ExpectError(header + model("a", "") + model("a", ""), 7,
              "model name 'a' is already claimed by model 'a' at line 4");
  ExpectError(header + model("a", "    aliases: [x]\n") + model("b", "    aliases: [x]\n"), 10,
              "alias 'x' is already claimed by model 'a' at line 6");
  ExpectError(header + model("a", "    aliases: [b]\n") + model("b", ""), 8,
              "model name 'b' is already claimed by model 'a' at line 6");
  ExpectError(header + model("a", "") + model("b", "    aliases: [a]\n"), 9,
              "alias 'a' is already claimed by model 'a' at line 4");
  ExpectError(header + model("a", "    aliases: [a]\n"), 6, "alias 'a' is already claimed");
  ExpectError(header + model("a", "    aliases: [x, x]\n"), 6, "alias 'x' is already claimed");
  ExpectError(
      header + model("a", "    patterns: [\"a-*\"]\n") + model("b", "    patterns: [\"a-*\"]\n"),
      10, "pattern 'a-*' is already claimed by model 'a' at line 6");
}

TEST(PriceTableParseTest, RejectsBadNamesAndPatterns) {
  const std::string header = "version: v1\ncompiled_on: 2025-01-01\nmodels:\n";
  const std::string prices = "    prices: [{effective_from: 2025-01-01, input: 1, output: 1}]\n";
  ExpectError(header + "  - model: a\n    provider: p\n    patterns: [\"gpt-4o\"]\n" + prices, 6,
              "has no '*' or '?'");
  ExpectError(header + "  - model: a\n    provider: p\n    aliases: [\"gpt-*\"]\n" + prices, 6,
              "list it under patterns");
  ExpectError(header + "  - model: \"a*\"\n    provider: p\n" + prices, 4,
              "list it under patterns");
  ExpectError(header + "  - model: \"a b\"\n    provider: p\n" + prices, 4, "whitespace");
  ExpectError(header + "  - model: " + std::string(300, 'x') + "\n    provider: p\n" + prices, 4,
              "longer than 256");
  ExpectError(header + "  - model: a\n    provider: p\n    aliases: {x: y}\n" + prices, 6,
              "must be a list of strings");
}

TEST(PriceTableParseTest, RejectsPeriodsNotStrictlyIncreasing) {
  const std::string head =
      "version: v1\n"
      "compiled_on: 2025-01-01\n"
      "models:\n"
      "  - model: m\n"
      "    provider: p\n"
      "    prices:\n"
      "      - {effective_from: 2025-06-10, input: 1, output: 1}\n";
  ExpectError(head + "      - {effective_from: 2025-06-10, input: 2, output: 2}\n", 8,
              "later than the previous period's (line 7)");
  ExpectError(head + "      - {effective_from: 2025-01-01, input: 2, output: 2}\n", 8,
              "later than the previous period's (line 7)");
  ExpectError(
      head + "      - {effective_from: \"2025-06-10T02:00:00+02:00\", input: 2, output: 2}\n", 8,
      "later than");
}

TEST(PriceTableParseTest, ErrorsNameTheSource) {
  absl::StatusOr<PriceTable> table = PriceTable::Parse("models: 1\n", "prices/acme.yaml");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), StartsWith("prices/acme.yaml:1: "));
}

TEST(PriceTableLoadFileTest, LoadsAFileAndNamesItInErrors) {
  const std::string dir = ::testing::TempDir();
  const std::string good = dir + "/pricing_test_good.yaml";
  const std::string bad = dir + "/pricing_test_bad.yaml";
  std::ofstream(good) << OneModel("        input: 3\n        output: 15\n");
  std::ofstream(bad) << OneModel("        input: 3\n        output: lots\n");

  absl::StatusOr<PriceTable> table = PriceTable::LoadFile(good);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_NE(table->Find("m", At(k2025_01_01)), nullptr);
  EXPECT_EQ(FindOrNone(*table, "m", k2025_01_01).prices.output, 15'000'000);

  table = PriceTable::LoadFile(bad);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(table.status().message()), StartsWith(bad + ":9: output: "));

  table = PriceTable::LoadFile(dir + "/pricing_test_does_not_exist.yaml");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("pricing_test_does_not_exist.yaml"));
}

// ------------------------------------------------------------ resolution ---

constexpr std::string_view kResolutionTable = R"yaml(
version: v1
compiled_on: 2025-01-01
models:
  - model: alpha
    provider: p
    aliases: [alpha-latest, alpha.1]
    patterns: ["alpha-20??-??-??", "*vendor.alpha-*"]
    prices:
      - {effective_from: 2025-04-16, input: 10, output: 40, cache_read: 2.5}
      - {effective_from: 2025-06-10, input: 2, output: 8, cache_read: 0.5}
  - model: alpha-mini
    provider: p
    patterns: ["alpha-mini-*"]
    prices: [{effective_from: 2025-01-01, input: 1, output: 4}]
  - model: alpha-wide
    provider: p
    patterns: ["alpha-*"]
    prices: [{effective_from: 2025-01-01, input: 5, output: 5}]
  - model: org/custom
    provider: q
    prices: [{effective_from: 2025-01-01, input: 7, output: 7}]
)yaml";

std::string Resolve(const PriceTable& table, std::string_view name, int64_t at = k2026_11_22) {
  const ModelPrice* price = table.Find(name, At(at));
  return price == nullptr ? "<none>" : price->model;
}

TEST(PriceTableFindTest, ResolvesExactThenAliasThenPatternsInFileOrder) {
  const PriceTable table = MustParse(kResolutionTable);
  EXPECT_EQ(Resolve(table, "alpha"), "alpha");
  EXPECT_EQ(Resolve(table, "alpha-latest"), "alpha");
  EXPECT_EQ(Resolve(table, "alpha.1"), "alpha");
  // '?' matches exactly one character.
  EXPECT_EQ(Resolve(table, "alpha-2025-06-10"), "alpha");
  EXPECT_EQ(Resolve(table, "us.vendor.alpha-2025-v1:0"), "alpha");
  // The first matching pattern wins, so alpha-mini's precedes alpha-wide's.
  EXPECT_EQ(Resolve(table, "alpha-mini-2025-01-01"), "alpha-mini");
  EXPECT_EQ(Resolve(table, "alpha-2025-6-10"), "alpha-wide");
  EXPECT_EQ(Resolve(table, "alpha-mini"), "alpha-mini");
  // An exact name wins over patterns that would also match it.
  EXPECT_EQ(Resolve(table, "alpha-wide"), "alpha-wide");
  EXPECT_EQ(Resolve(table, "org/custom"), "org/custom");
}

TEST(PriceTableFindTest, UnknownModelsAreNotPriced) {
  const PriceTable table = MustParse(kResolutionTable);
  EXPECT_EQ(table.Find("beta", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("ALPHA", At(k2026_11_22)), nullptr);  // case-sensitive
  EXPECT_EQ(table.Find("alph", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("xalpha", At(k2026_11_22)), nullptr);
  EXPECT_EQ(FindOrNone(table, "alpha-", k2026_11_22).model, "alpha-wide");  // '*' matches nothing
  EXPECT_EQ(table.Find("openai/", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("/", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find(std::string(257, 'a'), At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("alpha-" + std::string(300, '9'), At(k2026_11_22)), nullptr);
}

TEST(PriceTableFindTest, StripsLeadingProviderSegments) {
  const PriceTable table = MustParse(kResolutionTable);
  EXPECT_EQ(Resolve(table, "openai/alpha"), "alpha");
  EXPECT_EQ(Resolve(table, "openrouter/p/alpha-latest"), "alpha");
  EXPECT_EQ(Resolve(table, "bedrock/us.vendor.alpha-2025-v1:0"), "alpha");
  EXPECT_EQ(Resolve(table, "x/org/custom"), "org/custom");
  EXPECT_EQ(Resolve(table, "openai/beta"), "<none>");
  // Exact names and aliases, stripped or not, win over patterns.
  EXPECT_EQ(Resolve(table, "alpha-x/alpha"), "alpha");
  EXPECT_EQ(Resolve(table, "alpha-x/beta"), "alpha-wide");
  EXPECT_EQ(Resolve(table, "p/alpha-mini-2025"), "alpha-mini");
}

TEST(PriceTableFindTest, PicksThePeriodInForceAtEventTime) {
  const PriceTable table = MustParse(kResolutionTable);
  EXPECT_EQ(table.Find("alpha", At(k2025_04_16 - 1)), nullptr);
  EXPECT_EQ(table.Find("alpha-2025-04-16", At(k2025_04_16 - 1)), nullptr);
  ASSERT_NE(table.Find("alpha", At(k2025_04_16)), nullptr);
  EXPECT_EQ(FindOrNone(table, "alpha", k2025_04_16).prices.input, 10'000'000);
  EXPECT_EQ(FindOrNone(table, "alpha", k2025_06_10 - 1).prices.input, 10'000'000);
  EXPECT_EQ(FindOrNone(table, "alpha", k2025_06_10 - 1).prices.cache_read, 2'500'000);
  EXPECT_EQ(FindOrNone(table, "alpha", k2025_06_10).prices.input, 2'000'000);
  EXPECT_EQ(FindOrNone(table, "alpha", k2025_06_10).prices.cache_read, 500'000);
  EXPECT_EQ(FindOrNone(table, "openai/alpha-latest", k2026_11_22).prices.output, 8'000'000);
  EXPECT_EQ(FindOrNone(table, "alpha", kInt64Max).prices.input, 2'000'000);
  EXPECT_EQ(table.Find("alpha", At(std::numeric_limits<int64_t>::min())), nullptr);
}

TEST(PriceTableFindTest, CopiesAreIndependentOfTheOriginal) {
  std::optional<PriceTable> original = MustParse(kResolutionTable);
  const PriceTable copy = *original;
  original.reset();
  EXPECT_EQ(Resolve(copy, "alpha-2025-06-10"), "alpha");
  EXPECT_EQ(Resolve(copy, "alpha-latest"), "alpha");
  EXPECT_EQ(copy.model_count(), 4u);
}

TEST(PriceTableFindTest, ConcurrentReadersAgree) {
  const PriceTable table = MustParse(kResolutionTable);
  std::vector<std::thread> threads;
  std::vector<int> hits(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, &hits, t] {
      for (int i = 0; i < 20000; ++i) {
        const ModelPrice* p = table.Find(i % 2 ? "openai/alpha-2025-06-10" : "us.vendor.alpha-x",
                                         At(k2025_06_10 + i));
        if (p != nullptr && p->prices.input == 2'000'000) ++hits[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(hits[t], 20000);
}

// ------------------------------------------------------- model price cache ---

TEST(ModelPriceCacheTest, GivesWhatTheTableGivesForEveryNameAndTime) {
  const PriceTable table = MustParse(kResolutionTable);
  ModelPriceCache cache(table);
  const std::vector<std::string> names = {
      "alpha",          "alpha-latest", "openai/alpha",         "alpha-2025-06-10",
      "us.vendor.alpha-2025-v1:0",      "alpha-mini-2025-01-01", "alpha-wide",
      "org/custom",     "beta",         "",                     std::string(257, 'a')};
  const std::vector<int64_t> times = {std::numeric_limits<int64_t>::min(),
                                      k2025_01_01 - 1,
                                      k2025_01_01,
                                      k2025_04_16 - 1,
                                      k2025_04_16,
                                      k2025_06_10 - 1,
                                      k2025_06_10,
                                      k2026_11_22,
                                      kInt64Max};
  // Every time in both directions, so each entry moves forward and back
  // across period boundaries.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < times.size(); ++i) {
      const int64_t at = pass == 0 ? times[i] : times[times.size() - 1 - i];
      for (const std::string& name : names) {
        EXPECT_EQ(cache.Find(name, At(at)), table.Find(name, At(at)))
            << "name '" << name << "' at " << at;
      }
    }
  }
}

TEST(ModelPriceCacheTest, FollowsAnEffectiveDateChangeBothWays) {
  const PriceTable table = MustParse(kResolutionTable);
  ModelPriceCache cache(table);
  const auto input_price = [&cache](std::string_view name, int64_t at) -> int64_t {
    const ModelPrice* price = cache.Find(name, At(at));
    return price == nullptr ? -1 : price->prices.input;
  };
  EXPECT_EQ(input_price("alpha-latest", k2025_06_10 - 1), 10'000'000);
  EXPECT_EQ(input_price("alpha-latest", k2025_06_10), 2'000'000);  // the change
  EXPECT_EQ(input_price("alpha-latest", k2025_06_10 - 1), 10'000'000);  // back before it
  EXPECT_EQ(input_price("alpha-latest", k2025_04_16 - 1), -1);  // before the first period
  EXPECT_EQ(input_price("alpha-latest", k2025_04_16), 10'000'000);
  EXPECT_EQ(input_price("alpha-latest", kInt64Max), 2'000'000);
  EXPECT_EQ(cache.size(), 1u);  // one name, however many periods it went through
}

TEST(ModelPriceCacheTest, StopsGrowingAtItsBoundAndStillAnswers) {
  const PriceTable table = MustParse(kResolutionTable);
  ModelPriceCache cache(table, /*max_entries=*/2);
  for (int i = 0; i < 10; ++i) {
    const std::string name =
        (i % 2 ? "tenant-made-up-" : "p/alpha-mini-") + std::to_string(i);
    EXPECT_EQ(cache.Find(name, At(k2026_11_22)), table.Find(name, At(k2026_11_22))) << name;
  }
  EXPECT_EQ(cache.size(), 2u);
  // Odd names are unknown; even ones resolve, also past the bound.
  EXPECT_EQ(cache.Find("tenant-made-up-9", At(k2026_11_22)), nullptr);
  ASSERT_NE(cache.Find("p/alpha-mini-8", At(k2026_11_22)), nullptr);
  EXPECT_EQ(cache.Find("p/alpha-mini-8", At(k2026_11_22))->model, "alpha-mini");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ModelPriceCacheTest, TakesAPrecomputedHash) {
  const PriceTable table = MustParse(kResolutionTable);
  ModelPriceCache cache(table);
  const HashedStringView name("openrouter/p/alpha-latest");
  EXPECT_EQ(cache.Find(name, At(k2025_06_10)), table.Find(name.text, At(k2025_06_10)));
  EXPECT_EQ(cache.Find("openrouter/p/alpha-latest", At(k2025_06_10)),
            table.Find(name.text, At(k2025_06_10)));
  EXPECT_EQ(cache.size(), 1u);
}

// ------------------------------------------------------------------ cost ---

TEST(ComputeCostTest, PricesPlainInputAndOutput) {
  const ModelPrice price = Sonnet();
  // 1000 input tokens at $3/M: 1000 * 3,000,000 picodollars.
  EXPECT_EQ(ComputeCost(Event(1000, 0), price).picodollars(), 3'000'000'000);
  // 100K in + 100K out = $0.30 + $1.50.
  EXPECT_EQ(ComputeCost(Event(100'000, 100'000), price).picodollars(), 1'800'000'000'000);
  EXPECT_EQ(ComputeCost(Event(0, 0), price).picodollars(), 0);
}

TEST(ComputeCostTest, SplitsInputIntoUncachedCacheReadAndCacheWrite) {
  // 10,000 input of which 6,000 cache reads and 2,000 cache writes:
  //   2,000 uncached * 3,000,000  =  6,000,000,000
  //   6,000 reads    *   300,000  =  1,800,000,000
  //   2,000 writes   * 3,750,000  =  7,500,000,000
  //     500 output   * 15,000,000 =  7,500,000,000
  EXPECT_EQ(ComputeCost(Event(10'000, 500, 6'000, 2'000), Sonnet()).picodollars(), 22'800'000'000);
}

TEST(ComputeCostTest, ReasoningIsPartOfOutputAndNotChargedTwice) {
  EXPECT_EQ(ComputeCost(Event(0, 500, 0, 0, /*reasoning=*/300), Sonnet()).picodollars(),
            7'500'000'000);
}

TEST(ComputeCostTest, CachedPartsAboveInputClampUncachedToZero) {
  // 100 input but 80 reads + 50 writes: uncached is 0, not -30.
  EXPECT_EQ(ComputeCost(Event(100, 0, 80, 50), Sonnet()).picodollars(),
            80 * 300'000 + 50 * 3'750'000);
  EXPECT_EQ(ComputeCost(Event(-5, -5, -5, -5), Sonnet()).picodollars(), 0);
}

TEST(ComputeCostTest, LongContextTierAppliesAboveThresholdToTheWholeCall) {
  const ModelPrice price = Sonnet();
  // Exactly at the threshold: base prices.
  EXPECT_EQ(ComputeCost(Event(200'000, 1'000, 100'000, 0), price).picodollars(),
            100'000 * 3'000'000LL + 100'000 * 300'000LL + 1'000 * 15'000'000LL);
  // One token over (cache reads count toward the prompt): everything at the
  // long-context prices.
  EXPECT_EQ(ComputeCost(Event(200'001, 1'000, 100'000, 1), price).picodollars(),
            100'000 * 6'000'000LL + 100'000 * 600'000LL + 1 * 7'500'000LL + 1'000 * 22'500'000LL);
  ModelPrice no_tier = price;
  no_tier.long_context_threshold = 0;
  EXPECT_EQ(ComputeCost(Event(300'000, 0), no_tier).picodollars(), 300'000 * 3'000'000LL);
}

TEST(ComputeCostTest, BatchTierAppliesTheShareRoundingHalfUp) {
  ModelPrice price = Sonnet();
  CostEvent event = Event(1000, 100);
  event.service_tier = "batch";
  // Half of 3,000,000,000 + 1,500,000,000.
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 2'250'000'000);

  // 1 token at 3 picodollars, half price: 1.5 rounds up to 2.
  price.prices = {.input = 3, .output = 1, .cache_read = 0, .cache_write = 0};
  event = Event(1, 0);
  event.service_tier = "batch";
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 2);
  // 1 token of output at 1 picodollar: 0.5 rounds up to 1.
  event = Event(0, 1);
  event.service_tier = "batch";
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 1);
  // 0.3333 rounds down to 0; 3 tokens give 0.9999, which rounds up to 1.
  price.batch_basis_points = 3333;
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 0);
  event = Event(0, 3);
  event.service_tier = "batch";
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 1);

  // Other tiers, and the tier name in other case, pay list price.
  event = Event(1000, 100);
  for (std::string_view tier : {"", "default", "flex", "Batch"}) {
    event.service_tier = tier;
    EXPECT_EQ(ComputeCost(event, Sonnet()).picodollars(), 4'500'000'000) << tier;
  }
}

TEST(ComputeCostTest, BigCountsDoNotOverflow) {
  ModelPrice price;
  price.prices = {.input = 150'000'000,
                  .output = 600'000'000,
                  .cache_read = 0,
                  .cache_write = 0};  // $150 / $600 per M
  // 10 billion output tokens at 600,000,000: 6e18, still below 2^63.
  EXPECT_EQ(ComputeCost(Event(0, 10'000'000'000), price).picodollars(), 6'000'000'000'000'000'000);
  // Intermediate 1.2e19 exceeds int64, the batch half (6e18) does not.
  price.batch_basis_points = 5000;
  CostEvent event = Event(0, 20'000'000'000);
  event.service_tier = "batch";
  EXPECT_EQ(ComputeCost(event, price).picodollars(), 6'000'000'000'000'000'000);
  // Beyond int64 the cost saturates rather than wrapping negative.
  EXPECT_EQ(ComputeCost(Event(kInt64Max, kInt64Max, 0, 0), price).picodollars(), kInt64Max);
  price.prices = {
      .input = kInt64Max, .output = kInt64Max, .cache_read = kInt64Max, .cache_write = kInt64Max};
  event = Event(kInt64Max, kInt64Max, kInt64Max, kInt64Max);
  EXPECT_EQ(ComputeCost(event, price).picodollars(), kInt64Max);
  event.service_tier = "batch";
  EXPECT_EQ(ComputeCost(event, price).picodollars(), kInt64Max);
}

// ----------------------------------------------------------------- money ---

TEST(MoneyTest, FromDollarsRoundsToTheNearestPicodollar) {
  EXPECT_EQ(Money::FromDollars(0.1).picodollars(), 100'000'000'000);
  EXPECT_EQ(Money::FromDollars(3.75).picodollars(), 3'750'000'000'000);
  EXPECT_EQ(Money::FromDollars(-2.5).picodollars(), -2'500'000'000'000);
  EXPECT_EQ(Money::FromDollars(1e-12).picodollars(), 1);
  EXPECT_EQ(Money::FromDollars(0.6e-12).picodollars(), 1);
  EXPECT_EQ(Money::FromDollars(0.4e-12).picodollars(), 0);
  EXPECT_EQ(Money::FromDollars(4096.0009765625).picodollars(), 4'096'000'976'562'500);
  EXPECT_EQ(Money::FromDollars(0.0).picodollars(), 0);
}

TEST(MoneyTest, FromDollarsSaturatesAndIgnoresNan) {
  EXPECT_EQ(Money::FromDollars(1e300).picodollars(), kInt64Max);
  EXPECT_EQ(Money::FromDollars(HUGE_VAL).picodollars(), kInt64Max);
  EXPECT_EQ(Money::FromDollars(-1e300).picodollars(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Money::FromDollars(std::nan("")).picodollars(), 0);
}

// -------------------------------------------------------- shipped table ---

TEST(DefaultPriceTableTest, ParsesAndIsSubstantial) {
  const PriceTable& table = PriceTable::Default();
  EXPECT_GT(table.model_count(), 20u);
  EXPECT_FALSE(table.version().empty());
  EXPECT_EQ(table.compiled_on().size(), 10u);  // YYYY-MM-DD
  EXPECT_EQ(&table, &PriceTable::Default());   // parsed once
}

TEST(DefaultPriceTableTest, MatchesTheSourceFile) {
  absl::StatusOr<PriceTable> file =
      PriceTable::LoadFile(std::string(BURNRATE_SOURCE_DIR) + "/core/prices/default.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->version(), PriceTable::Default().version());
  EXPECT_EQ(file->model_count(), PriceTable::Default().model_count());
}

TEST(DefaultPriceTableTest, ResolvesNamesAsGatewaysReportThem) {
  const PriceTable& table = PriceTable::Default();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"claude-sonnet-4-5", "claude-sonnet-4-5"},
      {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
      {"claude-sonnet-4-5@20250929", "claude-sonnet-4-5"},
      {"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"},
      {"anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"},
      {"claude-sonnet-4-20250514", "claude-sonnet-4"},
      {"claude-opus-4-20250514", "claude-opus-4"},
      {"claude-opus-4-1-20250805", "claude-opus-4-1"},
      {"claude-opus-4-5-20251101", "claude-opus-4-5"},
      {"claude-haiku-4-5-20251001", "claude-haiku-4-5"},
      {"claude-3-5-haiku-20241022", "claude-3-5-haiku"},
      {"claude-3-5-haiku-latest", "claude-3-5-haiku"},
      {"claude-3-opus-20240229", "claude-3-opus"},
      {"claude-3-haiku-20240307", "claude-3-haiku"},
      {"gpt-5", "gpt-5"},
      {"gpt-5-2025-08-07", "gpt-5"},
      {"gpt-5-mini-2025-08-07", "gpt-5-mini"},
      {"gpt-5-nano-2025-08-07", "gpt-5-nano"},
      {"openai/gpt-5", "gpt-5"},
      {"gpt-4.1-2025-04-14", "gpt-4.1"},
      {"gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"},
      {"gpt-4o-2024-08-06", "gpt-4o"},
      {"gpt-4o-2024-05-13", "gpt-4o-2024-05-13"},
      {"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
      {"o3-2025-04-16", "o3"},
      {"o4-mini-2025-04-16", "o4-mini"},
      {"o1-2024-12-17", "o1"},
      {"gemini-2.5-pro", "gemini-2.5-pro"},
      {"models/gemini-2.5-flash", "gemini-2.5-flash"},
      {"vertex_ai/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"},
      {"gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"},
      {"gemini-2.0-flash-001", "gemini-2.0-flash"},
  };
  for (const auto& [name, canonical] : cases) {
    EXPECT_EQ(Resolve(table, name), canonical) << name;
  }
  EXPECT_EQ(table.Find("gpt-9-ultra", At(k2026_11_22)), nullptr);
  EXPECT_EQ(table.Find("my-finetune", At(k2026_11_22)), nullptr);
}

TEST(DefaultPriceTableTest, PricesWellKnownModels) {
  const PriceTable& table = PriceTable::Default();
  const ModelPrice* sonnet = table.Find("claude-sonnet-4-5-20250929", At(k2025_10_01));
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->provider, "anthropic");
  EXPECT_EQ(sonnet->prices.input, 3'000'000);
  EXPECT_EQ(sonnet->prices.output, 15'000'000);
  EXPECT_EQ(sonnet->prices.cache_read, 300'000);
  EXPECT_EQ(sonnet->prices.cache_write, 3'750'000);
  EXPECT_EQ(sonnet->long_context_threshold, 200'000);
  EXPECT_EQ(sonnet->long_context.input, 6'000'000);
  EXPECT_EQ(sonnet->batch_basis_points, 5000);
  // Sonnet 4.5 did not exist before 2025-09-29.
  EXPECT_EQ(table.Find("claude-sonnet-4-5", At(k2025_06_10)), nullptr);

  // gpt-4o: 1M in + 1M out = $2.50 + $10.
  const ModelPrice* gpt4o = table.Find("gpt-4o", At(k2026_11_22));
  ASSERT_NE(gpt4o, nullptr);
  EXPECT_EQ(ComputeCost(Event(1'000'000, 1'000'000), *gpt4o).picodollars(), 12'500'000'000'000);
  EXPECT_EQ(gpt4o->prices.cache_write, gpt4o->prices.input);

  // o3's price change on 2025-06-10.
  const ModelPrice* o3_before = table.Find("o3", At(k2025_06_10 - 1));
  const ModelPrice* o3_after = table.Find("o3", At(k2025_06_10));
  ASSERT_NE(o3_before, nullptr);
  ASSERT_NE(o3_after, nullptr);
  EXPECT_EQ(o3_before->prices.input, 10'000'000);
  EXPECT_EQ(o3_after->prices.input, 2'000'000);
  EXPECT_EQ(o3_after->prices.output, 8'000'000);

  // gemini-2.5-pro above 200K prompt tokens: 300K in at $2.50 + 10K out at $15.
  const ModelPrice* gemini = table.Find("gemini-2.5-pro", At(k2026_11_22));
  ASSERT_NE(gemini, nullptr);
  EXPECT_EQ(ComputeCost(Event(300'000, 10'000), *gemini).picodollars(),
            300'000 * 2'500'000LL + 10'000 * 15'000'000LL);
  EXPECT_EQ(ComputeCost(Event(100'000, 10'000), *gemini).picodollars(),
            100'000 * 1'250'000LL + 10'000 * 10'000'000LL);

  const ModelPrice* nano = table.Find("gpt-5-nano", At(k2026_11_22));
  ASSERT_NE(nano, nullptr);
  EXPECT_EQ(nano->prices.input, 50'000);
  EXPECT_EQ(nano->prices.cache_read, 5'000);
}

}  // namespace
}  // namespace burnrate
