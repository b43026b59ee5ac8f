#include "metrics/spend_probe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <iostream>
#include <random>

#include "metrics/metrics.h"
#include "tests/metrics/exposition.h"

namespace burnrate {
namespace {

using testing::Find;
using testing::ParseExposition;
using testing::Sample;
using testing::SumOf;

constexpr int64_t kMinute = 60'000;

// Feeds closed-window rows as the window closer would, keeping the totals
// alive for the duration of the call.
class Feeder {
 public:
  explicit Feeder(SpendProbe& probe) : probe_(probe) {}

  void Key(int64_t window, std::string_view tenant, std::string_view feature,
           std::string_view environment, int64_t picodollars, int64_t events = 1,
           int64_t input_tokens = 0) {
    WindowTotals& t = totals_.emplace_back();
    t.events = events;
    t.cost = Money::FromPicodollars(picodollars);
    t.tokens[TokenKind::kInput] = input_tokens;
    WindowRecord r;
    r.scope = WindowScope::kKey;
    r.start = WindowStartMs(window * kMinute);
    r.size_ms = kMinute;
    r.tenant = tenant;
    r.feature = feature;
    r.environment = environment;
    r.totals = &t;
    probe_.Record(r);
    fed_picos_ += picodollars;
    fed_events_ += events;
    fed_input_ += input_tokens;
  }

  void Model(int64_t window, std::string_view model, int64_t picodollars) {
    WindowTotals& t = totals_.emplace_back();
    t.cost = Money::FromPicodollars(picodollars);
    WindowRecord r;
    r.scope = WindowScope::kModel;
    r.start = WindowStartMs(window * kMinute);
    r.size_ms = kMinute;
    r.model = model;
    r.totals = &t;
    probe_.Record(r);
    fed_model_picos_ += picodollars;
  }

  double fed_dollars() const { return Money::FromPicodollars(fed_picos_).dollars(); }
  double fed_model_dollars() const { return Money::FromPicodollars(fed_model_picos_).dollars(); }
  int64_t fed_events() const { return fed_events_; }
  int64_t fed_input() const { return fed_input_; }

 private:
  SpendProbe& probe_;
  std::deque<WindowTotals> totals_;
  int64_t fed_picos_ = 0;
  int64_t fed_model_picos_ = 0;
  int64_t fed_events_ = 0;
  int64_t fed_input_ = 0;
};

std::vector<Sample> Parse(const std::string& text) {
  auto samples = ParseExposition(text);
  EXPECT_TRUE(samples.has_value()) << text.substr(0, 2000);
  return samples.value_or(std::vector<Sample>{});
}

std::map<std::string, std::string> KeyLabels(const std::string& t, const std::string& f,
                                             const std::string& e) {
  return {{"tenant", t}, {"feature", f}, {"environment", e}};
}

constexpr int64_t kDollar = Money::kPicosPerDollar;

TEST(SpendProbe, HeavyKeyGetsItsOwnSeriesFromTheNextWindow) {
  Metrics metrics;
  Feeder feed(metrics.spend());
  feed.Key(0, "acme", "chat", "prod", 5 * kDollar, 10, 1000);
  feed.Key(0, "tiny", "chat", "prod", kDollar / 1000, 1, 10);
  // Window 1 begins: acme (99.98% of spend) is promoted; tiny is not (below
  // 1/800 of spend, the noise floor of the sketch's 800 candidates).
  // Window 0's spend stays where it was counted.
  feed.Key(1, "acme", "chat", "prod", 2 * kDollar, 4, 500);

  const auto samples = Parse(metrics.Serialize());
  const auto acme = KeyLabels("acme", "chat", "prod");
  const auto other = KeyLabels("other", "other", "other");
  ASSERT_NE(Find(samples, "burnrate_cost_usd_total", acme), nullptr);
  EXPECT_DOUBLE_EQ(Find(samples, "burnrate_cost_usd_total", acme)->value, 2.0);
  EXPECT_DOUBLE_EQ(Find(samples, "burnrate_cost_usd_total", other)->value, 5.001);
  EXPECT_EQ(Find(samples, "burnrate_llm_calls_total", acme)->value, 4);
  auto acme_input = acme;
  acme_input["kind"] = "input";
  EXPECT_EQ(Find(samples, "burnrate_tokens_total", acme_input)->value, 500);
  EXPECT_EQ(Find(samples, "burnrate_cost_usd_total", KeyLabels("tiny", "chat", "prod")), nullptr);
  EXPECT_DOUBLE_EQ(SumOf(samples, "burnrate_cost_usd_total"), feed.fed_dollars());
  EXPECT_EQ(metrics.spend().tracked_keys(), 1u);
}

TEST(SpendProbe, WindowCostShowsTheLastClosedWindowAndBaselineOnlyTrackedKeys) {
  Metrics metrics;
  Feeder feed(metrics.spend());
  feed.Key(0, "acme", "chat", "prod", 5 * kDollar);
  feed.Key(1, "acme", "chat", "prod", 3 * kDollar);
  metrics.spend().SetBaseline("acme", "chat", "prod", Money::FromDollars(2.5));
  metrics.spend().SetBaseline("nobody", "chat", "prod", Money::FromDollars(1));
  auto samples = Parse(metrics.Serialize());
  const auto acme = KeyLabels("acme", "chat", "prod");
  EXPECT_DOUBLE_EQ(Find(samples, "burnrate_window_cost_usd", acme)->value, 3.0);
  EXPECT_DOUBLE_EQ(Find(samples, "burnrate_baseline_cost_usd", acme)->value, 2.5);
  EXPECT_EQ(Find(samples, "burnrate_baseline_cost_usd", KeyLabels("nobody", "chat", "prod")),
            nullptr);

  // A window without acme: its last-window spend is 0, its counter keeps
  // its value and its label set.
  feed.Key(2, "other-co", "chat", "prod", kDollar);
  samples = Parse(metrics.Serialize());
  EXPECT_EQ(Find(samples, "burnrate_window_cost_usd", acme)->value, 0);
  EXPECT_DOUBLE_EQ(Find(samples, "burnrate_cost_usd_total", acme)->value, 3.0);
}

TEST(SpendProbe, UntrustedNamesAreExposedSafely) {
  Metrics metrics;
  Feeder feed(metrics.spend());
  const std::string quote_newline = "a\"b\nc";
  const std::string backslash = "x\\y";
  const std::string long_name(300, 'z');
  const std::string bad_utf8 = "m\xFF";
  for (int64_t w = 0; w < 2; ++w) {
    feed.Key(w, quote_newline, "chat", "prod", 3 * kDollar);
    feed.Key(w, backslash, "chat", "prod", 3 * kDollar);
    feed.Key(w, long_name, "chat", "prod", 3 * kDollar);
    feed.Model(w, bad_utf8, 3 * kDollar);
  }
  const std::string text = metrics.Serialize();
  // Each sample stays on one line, quotes and backslashes escaped.
  EXPECT_NE(text.find("tenant=\"a\\\"b?c\""), std::string::npos) << text;
  EXPECT_NE(text.find("tenant=\"x\\\\y\""), std::string::npos);
  EXPECT_EQ(text.find("b\nc"), std::string::npos);

  const auto samples = Parse(text);
  EXPECT_NE(Find(samples, "burnrate_cost_usd_total", KeyLabels("a\"b?c", "chat", "prod")), nullptr);
  EXPECT_NE(Find(samples, "burnrate_cost_usd_total", KeyLabels("x\\y", "chat", "prod")), nullptr);
  EXPECT_NE(
      Find(samples, "burnrate_cost_usd_total", KeyLabels(std::string(64, 'z'), "chat", "prod")),
      nullptr);
  EXPECT_NE(Find(samples, "burnrate_model_cost_usd_total", {{"model", "m\xEF\xBF\xBD"}}), nullptr);
  for (const auto& s : samples) {
    for (const auto& [k, v] : s.labels) EXPECT_LE(v.size(), 64u) << s.name;
  }
}

// The acceptance test of the cardinality rule: 100,000 distinct tenants in
// the stream, a few hundred of them regular heavy spenders, and /metrics stays
// under 5,000 series with every dollar accounted for.
TEST(SpendProbe, HundredThousandTenantsStayUnderFiveThousandSeries) {
  Metrics metrics;
  Feeder feed(metrics.spend());
  std::mt19937_64 rng(42);
  const std::array<std::string, 4> features = {"chat", "search", "agent", "summarize"};
  const std::array<std::string, 3> environments = {"prod", "staging", "dev"};
  constexpr int kWindows = 20;
  constexpr int kNewTenantsPerWindow = 5'000;  // 100,000 distinct in all
  constexpr int kRegulars = 300;
  std::vector<std::string> names;
  for (int64_t w = 0; w < kWindows; ++w) {
    // Regular tenants: steady, heavier spend with a long tail
    // (regular-0 spends the most).
    for (int i = 0; i < kRegulars; ++i) {
      const int64_t picos = static_cast<int64_t>(50 * kDollar / (i + 1)) + rng() % 1'000'000;
      feed.Key(w, "regular-" + std::to_string(i), features[i % 4], environments[i % 3], picos,
               1 + static_cast<int64_t>(rng() % 50), static_cast<int64_t>(rng() % 100'000));
    }
    // Fresh tenants, each seen once, each spending a few cents.
    for (int j = 0; j < kNewTenantsPerWindow; ++j) {
      const int64_t picos = static_cast<int64_t>(rng() % (5 * kDollar / 100));
      feed.Key(w, "tenant-" + std::to_string(w * kNewTenantsPerWindow + j), features[rng() % 4],
               environments[rng() % 3], picos, 1, static_cast<int64_t>(rng() % 5'000));
    }
    // 1,000 model names, most of them seen in one window only.
    for (int m = 0; m < 50; ++m) {
      feed.Model(w, "model-" + std::to_string(w * 50 + m), static_cast<int64_t>(rng() % kDollar));
    }
    feed.Model(w, "gpt-big", 20 * kDollar);
  }

  const std::string text = metrics.Serialize();
  const auto samples = Parse(text);
  EXPECT_LT(samples.size(), 5'000u) << "series exposed";
  std::cout << "series exposed: " << samples.size() << ", /metrics bytes: " << text.size()
            << ", tracked keys: " << metrics.spend().tracked_keys()
            << ", tracked models: " << metrics.spend().tracked_models() << "\n";
  EXPECT_LE(metrics.spend().tracked_keys(), 200u);
  EXPECT_LE(metrics.spend().tracked_models(), 50u);

  // Nothing is lost in "other".
  const double cost = SumOf(samples, "burnrate_cost_usd_total");
  EXPECT_NEAR(cost, feed.fed_dollars(), feed.fed_dollars() * 1e-12);
  EXPECT_NEAR(SumOf(samples, "burnrate_model_cost_usd_total"), feed.fed_model_dollars(),
              feed.fed_model_dollars() * 1e-12);
  EXPECT_EQ(SumOf(samples, "burnrate_llm_calls_total"), static_cast<double>(feed.fed_events()));
  double input = 0;
  for (const auto& s : samples) {
    if (s.name == "burnrate_tokens_total" && s.labels.at("kind") == "input") input += s.value;
  }
  EXPECT_EQ(input, static_cast<double>(feed.fed_input()));

  // The heaviest spenders have their own series; one-off tenants do not.
  EXPECT_NE(Find(samples, "burnrate_cost_usd_total", KeyLabels("regular-0", "chat", "prod")),
            nullptr);
  EXPECT_NE(Find(samples, "burnrate_cost_usd_total", KeyLabels("regular-1", "search", "staging")),
            nullptr);
  EXPECT_NE(Find(samples, "burnrate_model_cost_usd_total", {{"model", "gpt-big"}}), nullptr);
  size_t fresh = 0;
  for (const auto& s : samples) {
    auto it = s.labels.find("tenant");
    if (it != s.labels.end() && it->second.rfind("tenant-", 0) == 0) ++fresh;
  }
  EXPECT_EQ(fresh, 0u);
}

// The worst case of the budget: every slot taken, many models, and the
// engine's own series for 64 partitions, 5 Redis operations and 4 alert
// receivers.
TEST(SpendProbe, EverySlotTakenStillUnderFiveThousandSeries) {
  Metrics metrics;
  Feeder feed(metrics.spend());
  std::mt19937_64 rng(7);
  for (int64_t w = 0; w < 10; ++w) {
    for (int i = 0; i < 400; ++i) {
      feed.Key(w, "heavy-" + std::to_string(i), "feature-" + std::to_string(i % 7), "prod",
               kDollar + static_cast<int64_t>(rng() % 1000));
    }
    for (int j = 0; j < 10'000; ++j) {
      feed.Key(w, "once-" + std::to_string(w * 10'000 + j), "chat", "prod",
               static_cast<int64_t>(rng() % (kDollar / 100)));
    }
    for (int m = 0; m < 100; ++m) feed.Model(w, "model-" + std::to_string(m), kDollar);
  }
  for (int i = 0; i < 200; ++i) {
    metrics.spend().SetBaseline("heavy-" + std::to_string(i), "feature-" + std::to_string(i % 7),
                                "prod", Money::FromDollars(1));
  }
  std::map<int32_t, int64_t> lag;
  for (int32_t p = 0; p < 64; ++p) lag[p] = p;
  metrics.engine().SetConsumerLag(lag);
  for (const char* op :
       {"checkpoint", "load_partition", "close_window", "read_window", "baselines"}) {
    metrics.redis().Operation(op).Observe(0.001);
  }
  for (const char* receiver : {"slack-oncall", "pagerduty", "webhook", "alertmanager"}) {
    metrics.alerts().Delivery(receiver, receiver).Record(DeliveryOutcome::kOk);
  }

  const std::string text = metrics.Serialize();
  const auto samples = Parse(text);
  EXPECT_EQ(metrics.spend().tracked_keys(), 200u);
  EXPECT_EQ(metrics.spend().tracked_models(), 50u);
  EXPECT_LT(samples.size(), 5'000u);
  std::cout << "series exposed with every slot taken: " << samples.size()
            << ", /metrics bytes: " << text.size() << "\n";
  EXPECT_NEAR(SumOf(samples, "burnrate_cost_usd_total"), feed.fed_dollars(),
              feed.fed_dollars() * 1e-12);
}

}  // namespace
}  // namespace burnrate
