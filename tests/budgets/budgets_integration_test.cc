// The budget acceptance scenario against the real Redis and Kafka: one
// tenant's month through warn, a 20x burn page, throttle, downgrade and
// block, a restart in the middle, and the next month back to ok; the state
// checked where gateways read it: the Redis key, the compacted Kafka topic
// and the HTTP decision endpoint.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "budgets/budget_tracker.h"
#include "budgets/kafka_quota_sink.h"
#include "budgets/quota_http.h"
#include "budgets/redis_budget_store.h"
#include "budgets/redis_quota_store.h"
#include "core/time_format.h"
#include "http/http_server.h"
#include "tests/budgets/window_feed.h"
#include "tests/support/stack.h"

namespace burnrate {
namespace {

using testing::CountKind;
using testing::FeedWindow;

constexpr int64_t kMinute = 60'000;

int64_t T(const char* rfc3339) { return *ParseRfc3339Ms(rfc3339); }

// The topic's cleanup.policy as the broker reports it ("" if unknown).
std::string CleanupPolicy(const std::string& brokers, const std::string& topic) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return "";
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &resource, 1, nullptr, queue);
  std::string policy;
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 15000)) {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t count = 0;
      const rd_kafka_ConfigEntry_t** entries =
          rd_kafka_ConfigResource_configs(resources[i], &count);
      for (size_t j = 0; j < count; ++j) {
        if (std::string(rd_kafka_ConfigEntry_name(entries[j])) == "cleanup.policy") {
          const char* value = rd_kafka_ConfigEntry_value(entries[j]);
          policy = value ? value : "";
        }
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_ConfigResource_destroy(resource);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(rk);
  return policy;
}

// Everything one replica builds over the shared Redis and Kafka.
struct Replica {
  Replica(const RedisConfig& redis, const KafkaConfig& kafka, const std::string& topic,
          const BudgetsConfig& budgets, const QuotaConfig& quota, const std::atomic<int64_t>* now) {
    auto quota_store = std::make_shared<RedisQuotaStore>(redis, quota.redis_key_prefix);
    decision_key = quota_store->DecisionKey("acme");
    auto sink = KafkaQuotaSink::Create(kafka, topic);
    EXPECT_TRUE(sink.ok()) << sink.status();
    publisher = std::make_shared<QuotaPublisher>(
        quota_store, std::shared_ptr<QuotaSink>(std::move(*sink)), [now] { return now->load(); });
    auto t =
        BudgetTracker::Create(budgets, quota, std::make_unique<RedisBudgetStore>(redis), publisher);
    EXPECT_TRUE(t.ok()) << t.status();
    tracker = std::move(*t);
    snapshot = std::make_shared<QuotaSnapshot>();
    refresher = std::make_unique<QuotaRefresher>(publisher, snapshot, 1000);
    DecisionOptions options = DecisionOptionsFrom(quota);
    options.clock = [now] { return now->load(); };
    server.Route("GET", "/v1/decision/*", MakeDecisionHandler(snapshot, options));
    EXPECT_TRUE(server.Start("127.0.0.1", 0).ok());
  }
  std::shared_ptr<QuotaPublisher> publisher;
  std::unique_ptr<BudgetTracker> tracker;
  std::shared_ptr<QuotaSnapshot> snapshot;
  std::unique_ptr<QuotaRefresher> refresher;
  HttpServer server;
  std::string decision_key;
};

class BudgetsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& stack = testing::Stack();
    redis_.host = stack.redis_host;
    redis_.port = stack.redis_port;
    redis_.key_prefix = testing::UniqueRedisPrefix();
    kafka_.brokers = stack.kafka_brokers;
    topic_ = "burnrate-quota-test-" + std::to_string(getpid()) + "-" +
             std::to_string(std::random_device{}());
    BudgetConfig b;
    b.name = "acme-monthly";
    b.tenant = "acme";
    b.period = BudgetPeriod::kMonth;
    b.amount_usd = 7200;  // November: 30 days, so 1x = $10/h
    b.thresholds = {0.5, 0.8, 1.0};
    b.hard = true;
    budgets_.list.push_back(b);
    QuotaTierPolicy tier;
    tier.warn_at = 0.8;
    tier.throttle_at = 0.9;
    tier.throttle_rate_factor = 0.5;
    tier.downgrade_at = 0.95;
    tier.downgrade_model = "gpt-4o-mini";
    tier.block_at = 1.0;
    quota_.tiers["default"] = tier;
  }
  void TearDown() override {
    testing::RedisClient client(redis_.host, redis_.port);
    client.DeleteKeysWithPrefix(redis_.key_prefix);
  }
  std::unique_ptr<Replica> NewReplica() {
    return std::make_unique<Replica>(redis_, kafka_, topic_, budgets_, quota_, &now_);
  }
  std::vector<Alert> Feed(Replica& r, int64_t start, double usd) {
    now_ = start + kMinute;
    auto alerts = FeedWindow(*r.tracker, start, kMinute, {{"acme", "chat", usd}});
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    return alerts.ok() ? *alerts : std::vector<Alert>{};
  }
  nlohmann::json RedisDecision(const Replica& r) {
    testing::RedisClient client(redis_.host, redis_.port);
    auto reply = client.CommandArgv({"GET", r.decision_key});
    std::string text =
        reply && reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : "";
    return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
  }
  std::string KafkaLastState() {
    auto messages = testing::ReadAll(topic_, std::chrono::seconds(30));
    std::string state;
    for (const auto& [key, value] : messages) {
      if (key == "acme") state = nlohmann::json::parse(value)["state"];
    }
    return state;
  }
  httplib::Result Decide(Replica& r) {
    EXPECT_TRUE(r.refresher->RefreshOnce().ok());
    httplib::Client client("127.0.0.1", r.server.port());
    return client.Get("/v1/decision/v1/chat/completions", {{"x-tenant-id", "acme"}});
  }

  RedisConfig redis_;
  KafkaConfig kafka_;
  std::string topic_;
  BudgetsConfig budgets_;
  QuotaConfig quota_;
  // The test's clock: set here, read by the decision endpoint's threads.
  std::atomic<int64_t> now_ = 0;
};

TEST_F(BudgetsIntegrationTest, AMonthOfOneTenantThroughEveryStateAndBack) {
  auto replica = NewReplica();
  const double one_x = 7200.0 / (30 * 24 * 60);  // $ per minute at burn rate 1x

  // An early-month batch job: 69% used, the 50% threshold fires.
  auto a = Feed(*replica, T("2026-11-05T12:00:00Z"), 5000);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 1);
  EXPECT_EQ(RedisDecision(*replica)["state"], "ok");

  // Four days later: steady 1x for two hours, nothing pages.
  const int64_t day9 = T("2026-11-09T00:00:00Z");
  int64_t t = day9;
  for (int m = 0; m < 120; ++m, t += kMinute) {
    a = Feed(*replica, t, one_x);
    EXPECT_EQ(CountKind(a, AlertKind::kBudgetBurnRate), 0) << m;
  }

  // 20x: pages on the 1h/5m rule as soon as the 1h average passes 14.4x.
  int burn_minutes = 0;
  int threshold80 = 0;
  bool paged = false;
  for (; !paged && burn_minutes < 60; ++burn_minutes, t += kMinute) {
    a = Feed(*replica, t, 20 * one_x);
    for (const auto& x : a) {
      if (x.kind == AlertKind::kBudgetBurnRate && x.status == AlertStatus::kFiring &&
          x.severity == Severity::kCritical) {
        paged = true;
      }
    }
  }
  EXPECT_TRUE(paged);
  EXPECT_EQ(burn_minutes, 43);  // ceil((14.4 - 1) / (20 - 1) * 60)
  EXPECT_GE(replica->tracker->statuses()[0].burn_rates_short[0], 14.4);

  // Keep burning to 80%: exactly one threshold alert, state warn everywhere.
  while (replica->tracker->statuses()[0].usage < 0.8) {
    a = Feed(*replica, t, 20 * one_x);
    t += kMinute;
    threshold80 += CountKind(a, AlertKind::kBudgetThreshold);
  }
  EXPECT_EQ(threshold80, 1);
  EXPECT_EQ(RedisDecision(*replica)["state"], "warn");
  EXPECT_EQ(KafkaLastState(), "warn");
  {
    auto r = Decide(*replica);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("x-burnrate-state"), "warn");
  }

  // To 90%: throttled.
  while (replica->tracker->statuses()[0].usage < 0.9) {
    a = Feed(*replica, t, 20 * one_x);
    t += kMinute;
    EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 0);
  }
  EXPECT_EQ(RedisDecision(*replica)["state"], "throttle");
  EXPECT_EQ(RedisDecision(*replica)["rate_factor"], 0.5);

  // Restart: a new tracker, store, publisher and endpoint over the same
  // Redis. Nothing changes: same spend, same decision (same updated_at).
  const nlohmann::json before = RedisDecision(*replica);
  const BudgetStatus status_before = replica->tracker->statuses()[0];
  const int64_t last_window = t - kMinute;
  replica.reset();
  replica = NewReplica();
  // The window closed just before the crash arrives again: counted once.
  a = Feed(*replica, last_window, 20 * one_x);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold), 0);
  EXPECT_NEAR(replica->tracker->statuses()[0].spend_usd, status_before.spend_usd, 1e-6);
  EXPECT_EQ(RedisDecision(*replica), before);
  {
    auto r = Decide(*replica);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("x-burnrate-state"), "throttle");
  }

  // To 95%: downgraded to the tier's cheaper model.
  while (replica->tracker->statuses()[0].usage < 0.95) {
    Feed(*replica, t, 20 * one_x);
    t += kMinute;
  }
  EXPECT_EQ(RedisDecision(*replica)["state"], "downgrade");
  {
    auto r = Decide(*replica);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("x-burnrate-downgrade-model"), "gpt-4o-mini");
  }

  // To 100%: blocked; 429 with Retry-After until the month ends.
  int threshold100 = 0;
  while (replica->tracker->statuses()[0].usage < 1.0) {
    a = Feed(*replica, t, 20 * one_x);
    t += kMinute;
    threshold100 += CountKind(a, AlertKind::kBudgetThreshold);
  }
  EXPECT_EQ(threshold100, 1);
  const nlohmann::json blocked = RedisDecision(*replica);
  EXPECT_EQ(blocked["state"], "block");
  EXPECT_EQ(blocked["until"], "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(KafkaLastState(), "block");
  {
    auto r = Decide(*replica);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->get_header_value("x-burnrate-state"), "block");
    EXPECT_EQ(std::stoll(r->get_header_value("Retry-After")),
              (T("2026-12-01T00:00:00Z") - now_ + 999) / 1000);
  }

  // December: everything is ok again.
  a = Feed(*replica, T("2026-12-01T00:00:00Z"), one_x);
  EXPECT_EQ(CountKind(a, AlertKind::kBudgetThreshold, AlertStatus::kResolved), 3);
  EXPECT_EQ(RedisDecision(*replica)["state"], "ok");
  EXPECT_EQ(KafkaLastState(), "ok");
  EXPECT_EQ(CleanupPolicy(kafka_.brokers, topic_), "compact");
  {
    auto r = Decide(*replica);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("x-burnrate-state"), "ok");
  }
}

TEST_F(BudgetsIntegrationTest, TwoReplicasAgreeAndOverridesReachEveryone) {
  auto a = NewReplica();
  auto b = NewReplica();
  // Windows closed alternately by the two replicas add up in one budget.
  const int64_t t0 = T("2026-11-20T00:00:00Z");
  for (int m = 0; m < 10; ++m) Feed(m % 2 == 0 ? *a : *b, t0 + m * kMinute, 600);  // $6000 = 83%
  EXPECT_NEAR(b->tracker->statuses()[0].spend_usd, 6000, 1e-6);
  EXPECT_EQ(RedisDecision(*a)["state"], "warn");

  // An operator pin set through replica a is what replica b serves.
  QuotaSignal pin{.subject = "acme",
                  .state = QuotaState::kBlock,
                  .reason = "fraud review",
                  .until_ms = now_ + 3'600'000,
                  .source = "override",
                  .expires_at_ms = now_ + 3'600'000};
  ASSERT_TRUE(a->publisher->Set("acme", QuotaStore::Part::kOverride, pin).ok());
  auto r = Decide(*b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("x-burnrate-reason"), "fraud review");
  // Once it expires, the refresh republishes the budget's state.
  now_ += 3'600'001;
  r = Decide(*b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("x-burnrate-state"), "warn");
  EXPECT_EQ(KafkaLastState(), "warn");
}

}  // namespace
}  // namespace burnrate
