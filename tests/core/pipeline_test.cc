#include "core/pipeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace burnrate {
namespace {

constexpr char kPrices[] = R"(version: "test-1"
compiled_on: "2026-11-01"
models:
  - model: gen-small
    provider: test
    prices:
      - effective_from: "2020-01-01"
        input: 1.00
        output: 2.00
)";

struct CollectingDeadLetters : DeadLetterSink {
  std::vector<std::pair<std::string, Rejection>> letters;
  void DeadLetter(std::string_view message, const Rejection& r) override {
    letters.emplace_back(std::string(message), r);
  }
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() : table_(*PriceTable::Parse(kPrices, "test-prices")) {
    options_.windows = {.size_ms = 60'000, .allowed_lateness_ms = 60'000, .max_keys_per_window = 1000};
  }
  std::string Event(const std::string& id, int64_t ts, const std::string& tenant, int64_t input,
                    const std::string& model = "gen-small") {
    return R"({"event_id":")" + id + R"(","ts":)" + std::to_string(ts) + R"(,"tenant":")" + tenant +
           R"(","feature":"f","environment":"prod","model":")" + model + R"(","input_tokens":)" +
           std::to_string(input) + R"(,"output_tokens":10})";
  }
  std::vector<std::pair<std::string, WindowTotals>> CloseAll(EventPipeline& p) {
    std::vector<std::pair<std::string, WindowTotals>> rows;
    p.CloseAll([&](const WindowRecord& r) {
      if (r.scope == WindowScope::kKey) rows.emplace_back(std::string(r.tenant), *r.totals);
    });
    return rows;
  }

  PriceTable table_;
  PipelineOptions options_;
  CollectingDeadLetters dead_;
};

constexpr int64_t kT0 = 1795365000000;  // 2026-11-22T16:30:00Z, on a minute boundary

TEST_F(PipelineTest, PricesAndCountsAndDeadLettersTheRest) {
  EventPipeline p(options_, table_, dead_);
  p.Process(Event("a", kT0, "acme", 1000));
  p.Process(Event("b", kT0 + 1, "acme", 2000));
  p.Process(Event("a", kT0 + 2, "acme", 1000));  // duplicate
  p.Process("{broken");
  p.Process(Event("c", kT0 + 3, "acme", 500, "no-such-model"));
  const auto rows = CloseAll(p);
  ASSERT_EQ(rows.size(), 1u);
  const WindowTotals& t = rows[0].second;
  EXPECT_EQ(t.events, 3);
  EXPECT_EQ(t.unpriced_events, 1);
  EXPECT_EQ(t.tokens[TokenKind::kInput], 3500);
  // (1000 + 2000) input at $1/M and 20 output at $2/M; the unknown model adds nothing.
  EXPECT_EQ(t.cost.picodollars(), 3000 * 1'000'000LL + 20 * 2'000'000LL);
  ASSERT_EQ(dead_.letters.size(), 2u);
  EXPECT_EQ(dead_.letters[0].second.reason, RejectReason::kDuplicate);
  EXPECT_EQ(dead_.letters[1].second.reason, RejectReason::kMalformedJson);
  EXPECT_EQ(dead_.letters[1].first, "{broken");  // the original bytes, for re-driving
  EXPECT_EQ(p.stats().events, 3u);
  EXPECT_EQ(p.stats().unpriced_events, 1u);
  EXPECT_EQ(p.stats().total_rejected(), 2u);
}

TEST_F(PipelineTest, LateAndFarFutureEventsAreDeadLetteredNotLost) {
  EventPipeline p(options_, table_, dead_);
  p.Process(Event("a", kT0, "acme", 1));
  p.Process(Event("b", kT0 + 3 * 60'000, "acme", 1));  // closes the first window after CloseReady
  p.CloseReady([](const WindowRecord&) {});
  p.Process(Event("late", kT0 + 5, "acme", 1));
  // `run` passes the wall clock as reference time: far ahead of it is refused.
  p.Process(Event("future", kT0 + 3 * 60'000 + options_.max_future_ms + 1, "acme", 1), EventTimeMs(kT0 + 3 * 60'000));
  ASSERT_EQ(dead_.letters.size(), 2u);
  EXPECT_EQ(dead_.letters[0].second.reason, RejectReason::kLate);
  EXPECT_EQ(dead_.letters[1].second.reason, RejectReason::kTimestampOutOfRange);
}

TEST_F(PipelineTest, ACopyOfALateEventIsLateNotADuplicate) {
  // The verdict on the copy must not depend on whether this pipeline saw the
  // original: in `run` a recount may start between the two. So a late event
  // leaves no trace in the dedup filter or the partitions' claims.
  ClaimTable claims(options_.dedup_horizon_ms);
  CollectingDeadLetters held;
  EventPipeline p(options_, table_, dead_);
  p.set_claims(&claims, /*partition=*/0, &held);
  p.Process(Event("a", kT0 + 3 * 60'000, "acme", 1));
  p.Process(Event("late", kT0 + 5, "acme", 1));
  p.Process(Event("late", kT0 + 5, "acme", 1));
  ASSERT_EQ(held.letters.size(), 2u) << "late verdicts wait for their checkpoint in `run`";
  EXPECT_EQ(held.letters[0].second.reason, RejectReason::kLate);
  EXPECT_EQ(held.letters[1].second.reason, RejectReason::kLate);
  EXPECT_TRUE(dead_.letters.empty());
  EXPECT_EQ(claims.size(), 1u) << "only the counted event holds a claim";
}

TEST_F(PipelineTest, AQuietStretchInReplayIsNotAClockError) {
  // Replay has no wall clock: a night without traffic in a file is just time passing.
  EventPipeline p(options_, table_, dead_);
  p.Process(Event("evening", kT0, "acme", 1));
  p.Process(Event("morning", kT0 + 8 * 3'600'000, "acme", 1));
  EXPECT_TRUE(dead_.letters.empty());
  EXPECT_EQ(p.stats().events, 2u);
}

TEST_F(PipelineTest, OneEventFromAClockYearsAheadCannotDragTheWatermark) {
  options_.not_after_ms = kT0 + 3'600'000;
  EventPipeline p(options_, table_, dead_);
  p.Process(Event("bogus", 4'000'000'000'000, "acme", 1));  // year 2096, first in the stream
  for (int i = 0; i < 10; ++i) p.Process(Event("e" + std::to_string(i), kT0 + i, "acme", 1));
  ASSERT_EQ(dead_.letters.size(), 1u);
  EXPECT_EQ(dead_.letters[0].second.reason, RejectReason::kTimestampOutOfRange);
  EXPECT_EQ(p.stats().events, 10u);
}

TEST_F(PipelineTest, TrustsReportedCostOnlyWhenConfigured) {
  const std::string with_cost =
      R"({"event_id":"x","ts":1795365000000,"tenant":"t","model":"no-such-model","cost_usd":0.25})";
  {
    EventPipeline p(options_, table_, dead_);
    p.Process(with_cost);
    const auto rows = CloseAll(p);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].second.unpriced_events, 1);
    EXPECT_EQ(rows[0].second.cost.picodollars(), 0);
  }
  options_.trust_reported_cost = true;
  EventPipeline p(options_, table_, dead_);
  p.Process(with_cost);
  const auto rows = CloseAll(p);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].second.unpriced_events, 0);
  EXPECT_EQ(rows[0].second.cost, Money::FromDollars(0.25));
}

TEST_F(PipelineTest, OrderWithinLatenessDoesNotChangeTotals) {
  std::vector<std::string> events;
  for (int i = 0; i < 2000; ++i) {
    events.push_back(Event("e" + std::to_string(i), kT0 + i * 97 % 300'000, "t" + std::to_string(i % 7), i));
  }
  auto run = [&](bool reversed_chunks) {
    EventPipeline p(options_, table_, dead_);
    // Reverse within chunks of 50 events: out of order by well under the lateness.
    for (size_t c = 0; c < events.size(); c += 50) {
      for (size_t k = 0; k < 50 && c + k < events.size(); ++k) {
        p.Process(events[reversed_chunks ? c + 49 - k : c + k]);
      }
    }
    return CloseAll(p);
  };
  const auto sorted = run(false);
  const auto shuffled = run(true);
  ASSERT_EQ(sorted.size(), shuffled.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ(sorted[i].first, shuffled[i].first);
    EXPECT_EQ(sorted[i].second, shuffled[i].second);
  }
}

}  // namespace
}  // namespace burnrate
