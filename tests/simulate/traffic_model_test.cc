// The traffic model as the lead's detectors see it: events the real decoder
// accepts and the shipped table prices, seasonality in the bands the brief
// sets, and for every label its signature in the generated events.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <set>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/decode.h"
#include "core/pricing.h"
#include "core/time_format.h"
#include "simulate/traffic_model.h"

namespace burnrate::simulate {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kWeekMs = 7 * kDayMs;

std::unique_ptr<TrafficModel> MustCreate(const TrafficOptions& options) {
  auto model = TrafficModel::Create(options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

uint64_t Fnv(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

TEST(TrafficModelTest, SameSeedSameBytesOtherSeedOtherBytes) {
  TrafficOptions o;
  o.days = 2;
  o.warmup_days = 1;
  o.incidents_per_day = 5;
  auto hash_of = [](const TrafficOptions& opt) {
    auto model = MustCreate(opt);
    uint64_t h = Fnv(model->MetaJson());
    for (const IncidentLabel& l : model->incidents()) h = Fnv(IncidentLabelJson(l), h);
    MinuteBatch batch;
    while (model->NextMinute(batch)) h = Fnv(batch.text, h);
    return h;
  };
  const uint64_t a = hash_of(o);
  EXPECT_EQ(a, hash_of(o));
  o.seed = 2;
  EXPECT_NE(a, hash_of(o));
}

TEST(TrafficModelTest, BadOptionsAreRefused) {
  TrafficOptions o;
  o.days = 0;
  EXPECT_FALSE(TrafficModel::Create(o).ok());
  o = {};
  o.warmup_days = 28;
  EXPECT_FALSE(TrafficModel::Create(o).ok());
  o = {};
  o.scale = 0;
  EXPECT_FALSE(TrafficModel::Create(o).ok());
  o = {};
  o.tenants = 0;
  EXPECT_FALSE(TrafficModel::Create(o).ok());
  o = {};
  o.scheduled.push_back({IncidentKind::kRetryLoop, o.start_ms - 1});
  EXPECT_FALSE(TrafficModel::Create(o).ok());
}

TEST(TrafficModelTest, ScheduledIncidentsOnlyWhenRandomOnesAreOff) {
  TrafficOptions o;
  o.days = 2;
  o.warmup_days = 1;
  o.random_incidents = false;
  for (IncidentKind kind : kAllIncidentKinds) o.scheduled.push_back({kind, o.start_ms + 30 * kHourMs});
  auto model = MustCreate(o);
  ASSERT_EQ(model->incidents().size(), kIncidentKindCount);
  for (const IncidentLabel& l : model->incidents()) {
    EXPECT_EQ(l.start_ms, o.start_ms + 30 * kHourMs) << IncidentKindName(l.kind);
    EXPECT_GT(l.end_ms, l.start_ms);
    EXPECT_LE(l.end_ms, model->end_ms());
  }
}

TEST(TrafficModelTest, MalformedLinesAreRefusedByTheDecoder) {
  TrafficOptions o;
  o.days = 1;
  o.warmup_days = 0;
  o.random_incidents = false;
  o.malformed_fraction = 0.01;
  o.scale = 0.2;
  auto model = MustCreate(o);
  EventDecoder decoder;
  std::vector<CostEvent> events;
  std::vector<Rejection> rejections;
  uint64_t refused = 0;
  MinuteBatch batch;
  while (model->NextMinute(batch)) {
    for (size_t i = 0; i < batch.lines.size(); ++i) {
      decoder.Decode(batch.line(i), events, rejections);
      refused += !rejections.empty();
    }
  }
  EXPECT_GT(model->stats().malformed, 0u);
  EXPECT_EQ(refused, model->stats().malformed);
}

TEST(TrafficModelTest, LabelJsonHasTheDocumentedFields) {
  IncidentLabel l;
  l.incident_id = "inc-0007";
  l.kind = IncidentKind::kPremiumRouting;
  l.tenant = "acme-001";
  l.feature = "chat";
  l.environment = "prod";
  l.model = "o3";
  l.start_ms = 1'773'014'400'000;
  l.end_ms = l.start_ms + kHourMs;
  l.magnitude = 12.5;
  l.description = "a \"quoted\" line";
  const nlohmann::json j = nlohmann::json::parse(IncidentLabelJson(l));
  EXPECT_EQ(j["incident_id"], "inc-0007");
  EXPECT_EQ(j["kind"], "premium_routing");
  EXPECT_EQ(j["expected_alerts"], nlohmann::json::parse(R"(["unit_cost_shift","spike"])"));
  EXPECT_EQ(j["tenant"], "acme-001");
  EXPECT_EQ(j["feature"], "chat");
  EXPECT_EQ(j["environment"], "prod");
  EXPECT_TRUE(j["agent_run_id"].is_null());
  EXPECT_EQ(j["model"], "o3");
  EXPECT_EQ(j["start"], "2026-03-09T00:00:00.000Z");
  EXPECT_EQ(j["end"], "2026-03-09T01:00:00.000Z");
  EXPECT_EQ(j["start_ms"], l.start_ms);
  EXPECT_EQ(j["end_ms"], l.end_ms);
  EXPECT_DOUBLE_EQ(j["magnitude"].get<double>(), 12.5);
  EXPECT_EQ(j["description"], "a \"quoted\" line");
  for (IncidentKind kind : kAllIncidentKinds) {
    EXPECT_EQ(ParseIncidentKind(IncidentKindName(kind)), kind);
    EXPECT_FALSE(ExpectedAlerts(kind).empty());
  }
  EXPECT_EQ(ExpectedAlerts(IncidentKind::kRetryLoop), std::vector<std::string_view>{"spike"});
  EXPECT_EQ(ExpectedAlerts(IncidentKind::kRunawayAgent), std::vector<std::string_view>{"runaway"});
  EXPECT_EQ(ExpectedAlerts(IncidentKind::kNewFeature), std::vector<std::string_view>{"new_spender"});
  EXPECT_EQ(ExpectedAlerts(IncidentKind::kUnpricedModel), std::vector<std::string_view>{"unpriced"});
  EXPECT_FALSE(ParseIncidentKind("meteor_strike").has_value());
}

// What one label's window looks like in the events.
struct Window {
  int64_t calls = 0;
  double cost = 0;
  int64_t on_label_model = 0;
  int64_t unpriced = 0;
  int64_t with_correlation = 0;
  std::set<std::string> correlation_ids;
};
struct LabelStats {
  Window during, week_before;
  int64_t calls_before_start = 0;
  int64_t run_calls = 0, run_calls_outside = 0, run_first_input = -1, run_last_input = 0;
};

// One pass over the default 28-day run, decoded and priced by the real code.
class DefaultRunTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    TrafficOptions o;  // the defaults the lead runs
    auto model = MustCreate(o);
    ASSERT_NE(model, nullptr);
    run_ = new Run;
    run_->labels = model->incidents();
    run_->meta = model->MetaJson();
    run_->key_count = model->key_count();
    run_->warmup_end_ms = model->warmup_end_ms();
    run_->stats.resize(run_->labels.size());
    std::unordered_map<std::string, std::vector<size_t>> by_tenant;
    for (size_t i = 0; i < run_->labels.size(); ++i) by_tenant[run_->labels[i].tenant].push_back(i);
    const PriceTable& prices = PriceTable::Default();
    EventDecoder decoder;
    std::vector<CostEvent> events;
    std::vector<Rejection> rejections;
    std::unordered_set<std::string> keys;
    MinuteBatch batch;
    int64_t last_ts = 0;
    while (model->NextMinute(batch)) {
      for (size_t li = 0; li < batch.lines.size(); ++li) {
        decoder.Decode(batch.line(li), events, rejections);
        if (!rejections.empty() || events.size() != 1) {
          ++run_->refused;
          continue;
        }
        const CostEvent& e = events[0];
        const int64_t ts = e.time.value();
        run_->out_of_order += ts < last_ts;
        last_ts = ts;
        ++run_->events;
        const ModelPrice* price = prices.Find(e.model, e.time);
        const double cost = price ? ComputeCost(e, *price).dollars() : 0;
        if (keys.size() < 100'000) keys.insert(std::string(e.tenant) + "|" + std::string(e.feature) + "|" + std::string(e.environment));
        // Hour of the UTC week (0 = Monday 00:00), for the seasonality checks.
        const int64_t day = ts / kDayMs;
        const int64_t how = ((day + 3) % 7) * 24 + (ts % kDayMs) / kHourMs;
        run_->calls_by_hour_of_week[how] += 1;
        bool in_unpriced_incident = false;
        auto it = by_tenant.find(std::string(e.tenant));
        if (it != by_tenant.end()) {
          for (size_t i : it->second) {
            const IncidentLabel& l = run_->labels[i];
            LabelStats& s = run_->stats[i];
            if (l.agent_run_id && e.agent_run_id == *l.agent_run_id) {
              ++s.run_calls;
              s.run_calls_outside += ts < l.start_ms || ts >= l.end_ms;
              if (s.run_first_input < 0) s.run_first_input = e.tokens[TokenKind::kInput];
              s.run_last_input = e.tokens[TokenKind::kInput];
            }
            if (l.feature && e.feature != *l.feature) continue;
            if (l.environment && e.environment != *l.environment) continue;
            Window* w = ts >= l.start_ms && ts < l.end_ms                       ? &s.during
                        : ts >= l.start_ms - kWeekMs && ts < l.end_ms - kWeekMs ? &s.week_before
                                                                                : nullptr;
            s.calls_before_start += ts < l.start_ms;
            if (w == nullptr) continue;
            ++w->calls;
            w->cost += cost;
            w->on_label_model += l.model && e.model == *l.model;
            w->unpriced += price == nullptr;
            w->with_correlation += !e.correlation_id.empty();
            if (l.kind == IncidentKind::kRetryLoop && !e.correlation_id.empty()) {
              w->correlation_ids.emplace(e.correlation_id);
            }
            in_unpriced_incident |= w == &s.during && l.kind == IncidentKind::kUnpricedModel;
          }
        }
        if (price == nullptr && !in_unpriced_incident) ++run_->unpriced_outside_incidents;
      }
    }
    run_->distinct_keys = keys.size();
  }
  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }

  // Public: the checks below are plain functions over one shared run.
  struct Run {
    std::vector<IncidentLabel> labels;
    std::vector<LabelStats> stats;
    std::string meta;
    size_t key_count = 0;
    int64_t warmup_end_ms = 0;
    uint64_t events = 0, refused = 0, out_of_order = 0, unpriced_outside_incidents = 0;
    size_t distinct_keys = 0;
    std::array<double, 168> calls_by_hour_of_week{};
  };
  static Run* run_;
};
DefaultRunTest::Run* DefaultRunTest::run_ = nullptr;

void CheckSizeKeysAndOrder(const DefaultRunTest::Run* run) {
  EXPECT_GE(run->events, 5'000'000u);
  EXPECT_LE(run->events, 15'000'000u);
  EXPECT_EQ(run->refused, 0u);
  EXPECT_EQ(run->out_of_order, 0u);
  EXPECT_GE(run->key_count, 500u);
  EXPECT_GE(run->distinct_keys, 500u);
  EXPECT_EQ(run->unpriced_outside_incidents, 0u);
  const nlohmann::json meta = nlohmann::json::parse(run->meta);
  EXPECT_EQ(meta["seed"], 1);
  EXPECT_EQ(meta["start"], "2026-03-02T00:00:00.000Z");
  EXPECT_EQ(meta["warmup_end"], "2026-03-09T00:00:00.000Z");
  EXPECT_EQ(meta["end"], "2026-03-30T00:00:00.000Z");
  EXPECT_EQ(meta["keys"], run->key_count);
  EXPECT_FALSE(meta["benign"].empty());
}

void CheckSeasonalityIsVisible(const DefaultRunTest::Run* run) {
  const auto& h = run->calls_by_hour_of_week;
  double noon = 0, night = 0, weekday = 0, weekend = 0, monday_morning = 0, midweek_morning = 0;
  for (int d = 0; d < 7; ++d) {
    for (int hour = 0; hour < 24; ++hour) (d < 5 ? weekday : weekend) += h[d * 24 + hour];
    if (d >= 5) continue;
    noon += h[d * 24 + 12];
    night += h[d * 24 + 3];
  }
  for (int hour = 8; hour < 11; ++hour) {
    monday_morning += h[hour];
    midweek_morning += (h[24 + hour] + h[48 + hour] + h[72 + hour]) / 3;
  }
  const double weekend_ratio = (weekend / 2) / (weekday / 5);
  // Seeds 1-8 give 2.5-6 (time zones and heavy-tailed tenants blur the
  // aggregate; each business tenant alone is ~10x).
  EXPECT_GT(noon / night, 2.5) << "weekday noon vs 3am";
  EXPECT_LT(noon / night, 15.0);
  std::cout << "noon/3am " << noon / night << ", weekend/weekday " << weekend_ratio << ", monday/midweek 8-11h "
            << monday_morning / midweek_morning << "\n";
  EXPECT_GT(weekend_ratio, 0.3);
  EXPECT_LT(weekend_ratio, 0.8);
  EXPECT_GT(monday_morning, midweek_morning * 1.05);
}

void CheckIncidentsCountAndPlacement(const DefaultRunTest::Run* run) {
  EXPECT_GE(run->labels.size(), 50u);
  std::map<IncidentKind, int> by_kind;
  std::set<int64_t> hours, weekdays;
  for (const IncidentLabel& l : run->labels) {
    EXPECT_GE(l.start_ms, run->warmup_end_ms) << l.incident_id;
    EXPECT_GT(l.end_ms, l.start_ms) << l.incident_id;
    EXPECT_GT(l.magnitude, 0) << l.incident_id;
    ++by_kind[l.kind];
    hours.insert(l.start_ms % kDayMs / kHourMs);
    weekdays.insert((l.start_ms / kDayMs + 3) % 7);
  }
  for (IncidentKind kind : kAllIncidentKinds) EXPECT_GE(by_kind[kind], 3) << IncidentKindName(kind);
  EXPECT_GE(hours.size(), 12u);
  // Rate and price incidents are sized to matter: each adds at least the
  // default $1/hour at its start (label: cost during x (1 - 1/magnitude)).
  for (const IncidentLabel& l : run->labels) {
    if (l.kind == IncidentKind::kDebugScriptWeekend) {
      EXPECT_GE(l.expected_cost_per_hour_usd, 1.0 - 1e-9) << l.incident_id;  // what the script spends
    }
    if (l.kind != IncidentKind::kRetryLoop && l.kind != IncidentKind::kTenantScripting &&
        l.kind != IncidentKind::kStagingLeak && l.kind != IncidentKind::kPremiumRouting) {
      continue;
    }
    EXPECT_GE(l.expected_cost_per_hour_usd * (1 - 1 / l.magnitude), 1.0 - 1e-9) << l.incident_id;
  }
  EXPECT_EQ(weekdays.size(), 7u);
}

// Whether the week before `l` on its key was itself inside an incident
// (a repeat a week later): then "the week before" is no baseline.
bool WeekBeforeWasAnIncident(const DefaultRunTest::Run* run, const IncidentLabel& l) {
  constexpr int64_t kWeekMs = 7 * kDayMs;
  for (const IncidentLabel& other : run->labels) {
    if (&other == &l || other.tenant != l.tenant || other.feature != l.feature || other.environment != l.environment) {
      continue;
    }
    if (other.start_ms < l.end_ms - kWeekMs && other.end_ms > l.start_ms - kWeekMs) return true;
  }
  return false;
}

void CheckEachLabelShowsItsSignature(const DefaultRunTest::Run* run) {
  for (size_t i = 0; i < run->labels.size(); ++i) {
    const IncidentLabel& l = run->labels[i];
    const LabelStats& s = run->stats[i];
    SCOPED_TRACE(IncidentLabelJson(l));
    const double minutes = static_cast<double>(l.end_ms - l.start_ms) / kMinuteMs;
    ASSERT_GT(s.during.calls, 0);
    if (WeekBeforeWasAnIncident(run, l)) continue;
    switch (l.kind) {
      case IncidentKind::kRetryLoop:
        // At least 0.4x the magnitude over the same time a week before, not a
        // flat 10x: that week can be busier (growth, noise, another incident
        // on the key), which is what a detector sees too.
        EXPECT_GE(s.during.calls, 0.4 * l.magnitude * std::max<int64_t>(1, s.week_before.calls));
        EXPECT_GE(s.during.with_correlation, s.during.calls / 2);
        // Retries of one request share its id: far fewer ids than calls.
        EXPECT_LT(s.during.correlation_ids.size(), s.during.with_correlation / 2);
        break;
      case IncidentKind::kRunawayAgent:
        EXPECT_GE(s.run_calls, 300);
        EXPECT_EQ(s.run_calls_outside, 0);
        EXPECT_GT(s.run_last_input, 5 * s.run_first_input);
        break;
      case IncidentKind::kTenantScripting:
        EXPECT_GE(s.during.calls, 1.5 * std::max<int64_t>(1, s.week_before.calls));
        break;
      case IncidentKind::kPremiumRouting: {
        EXPECT_EQ(s.during.on_label_model, s.during.calls);
        ASSERT_GT(s.week_before.calls, 0);
        const double per_call_before = s.week_before.cost / s.week_before.calls;
        const double per_call_during = s.during.cost / s.during.calls;
        EXPECT_GT(per_call_during, 0.4 * l.magnitude * per_call_before);
        const double calls_ratio = static_cast<double>(s.during.calls) / s.week_before.calls;
        EXPECT_GT(calls_ratio, 0.4);
        EXPECT_LT(calls_ratio, 2.5);
        break;
      }
      case IncidentKind::kNewFeature:
        EXPECT_EQ(s.calls_before_start, 0);
        EXPECT_GT(s.during.cost / (minutes / 60), 5.0) << "USD per hour";
        break;
      case IncidentKind::kDebugScriptWeekend:
        EXPECT_GE(static_cast<double>(s.during.calls), 0.5 * minutes) << "steady calls";
        EXPECT_GE(s.during.calls, 20 * std::max<int64_t>(1, s.week_before.calls));
        EXPECT_GE(l.end_ms - l.start_ms, 48 * kHourMs);
        break;
      case IncidentKind::kStagingLeak:
        EXPECT_GE(s.during.calls, 0.3 * l.magnitude * std::max<int64_t>(1, s.week_before.calls));
        break;
      case IncidentKind::kUnpricedModel:
        EXPECT_EQ(s.during.unpriced, s.during.calls);
        EXPECT_EQ(s.during.on_label_model, s.during.calls);
        break;
    }
  }
}

// One test, so the 28-day run is generated once per process (ctest runs
// each test in its own process).
TEST_F(DefaultRunTest, SizeSeasonalityIncidentsAndSignatures) {
  {
    SCOPED_TRACE("SizeKeysAndOrder");
    CheckSizeKeysAndOrder(run_);
  }
  {
    SCOPED_TRACE("SeasonalityIsVisible");
    CheckSeasonalityIsVisible(run_);
  }
  {
    SCOPED_TRACE("IncidentsCountAndPlacement");
    CheckIncidentsCountAndPlacement(run_);
  }
  {
    SCOPED_TRACE("EachLabelShowsItsSignature");
    CheckEachLabelShowsItsSignature(run_);
  }
}

}  // namespace
}  // namespace burnrate::simulate
