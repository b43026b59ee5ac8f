#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include "tests/metrics/exposition.h"

namespace burnrate {
namespace {

using testing::Find;
using testing::ParseExposition;
using testing::Sample;

std::vector<Sample> Scrape(const Metrics& metrics) {
  HttpRequest request;
  request.method = "GET";
  request.path = "/metrics";
  const HttpResponse response = MetricsHandler(metrics)(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto samples = ParseExposition(response.body);
  EXPECT_TRUE(samples.has_value()) << response.body;
  return samples.value_or(std::vector<Sample>{});
}

double Value(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  const Sample* s = Find(samples, name, labels);
  EXPECT_NE(s, nullptr) << name;
  return s ? s->value : -1;
}

TEST(Metrics, BuildInfoCarriesVersionAndRevision) {
  Metrics metrics({}, "abc123");
  const auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_build_info",
                  {{"version", std::string(BURNRATE_TEST_VERSION)}, {"revision", "abc123"}}),
            1);
}

TEST(Metrics, EveryEngineMetricIsExposedBeforeAnythingHappens) {
  // Dashboards and alert rules must find each series from the first scrape.
  Metrics metrics;
  const auto samples = Scrape(metrics);
  for (const char* name : {"burnrate_messages_consumed_total", "burnrate_events_decoded_total",
                           "burnrate_events_duplicate_total", "burnrate_events_late_total",
                           "burnrate_events_unpriced_total", "burnrate_window_key_overflow_total",
                           "burnrate_partitions_assigned", "burnrate_windows_closed_total",
                           "burnrate_window_close_delay_seconds_count",
                           "burnrate_alert_outbox_pending", "burnrate_ready"}) {
    EXPECT_EQ(Value(samples, name), 0) << name;
  }
  for (const char* reason : {"oversized", "malformed_json", "invalid_utf8", "wrong_type",
                             "missing_field", "field_too_long", "invalid_token_count", "invalid_cost",
                             "invalid_timestamp", "timestamp_out_of_range", "duplicate", "late"}) {
    EXPECT_EQ(Value(samples, "burnrate_events_dead_lettered_total", {{"reason", reason}}), 0)
        << reason;
  }
  for (const char* outcome : {"applied", "stale_position", "duplicate_events", "error"}) {
    EXPECT_EQ(Value(samples, "burnrate_checkpoints_total", {{"outcome", outcome}}), 0);
  }
  for (const char* state : {"ok", "warn", "throttle", "downgrade", "block"}) {
    EXPECT_EQ(Value(samples, "burnrate_quota_tenants", {{"state", state}}), 0);
  }
  for (const char* d : {"allow", "deny"}) {
    EXPECT_EQ(Value(samples, "burnrate_decision_requests_total", {{"decision", d}}), 0);
  }
  for (const char* kind : {"spike", "runaway", "budget_forecast"}) {
    EXPECT_EQ(Value(samples, "burnrate_alerts_total", {{"kind", kind}, {"status", "firing"}}), 0);
    EXPECT_EQ(Value(samples, "burnrate_alerts_firing", {{"kind", kind}}), 0);
  }
}

TEST(EngineProbe, PublishAddsTheGrowthOfThePipelineCounters) {
  Metrics metrics;
  EngineSnapshot s;
  s.pipeline.messages = 10;
  s.pipeline.events = 7;
  s.pipeline.unpriced_events = 1;
  s.pipeline.rejected[static_cast<size_t>(RejectReason::kMalformedJson)] = 2;
  s.pipeline.rejected[static_cast<size_t>(RejectReason::kDuplicate)] = 1;
  s.overflowed_events = 3;
  metrics.engine().Publish(s);
  s.pipeline.messages = 25;
  s.pipeline.rejected[static_cast<size_t>(RejectReason::kLate)] = 4;
  metrics.engine().Publish(s);
  metrics.engine().Publish(s);  // the same snapshot again adds nothing

  auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_messages_consumed_total"), 25);
  EXPECT_EQ(Value(samples, "burnrate_events_decoded_total"), 7);
  EXPECT_EQ(Value(samples, "burnrate_events_unpriced_total"), 1);
  EXPECT_EQ(Value(samples, "burnrate_window_key_overflow_total"), 3);
  EXPECT_EQ(Value(samples, "burnrate_events_duplicate_total"), 1);
  EXPECT_EQ(Value(samples, "burnrate_events_late_total"), 4);
  EXPECT_EQ(Value(samples, "burnrate_events_dead_lettered_total", {{"reason", "malformed_json"}}),
            2);
  EXPECT_EQ(Value(samples, "burnrate_events_dead_lettered_total", {{"reason", "late"}}), 4);
  EXPECT_EQ(Value(samples, "burnrate_events_dead_lettered_total", {{"reason", "duplicate"}}), 1);

  // A total that shrinks (a pipeline's counts dropped) never makes a
  // counter go down; growth after it counts from the new base.
  s.pipeline.messages = 5;
  metrics.engine().Publish(s);
  s.pipeline.messages = 8;
  metrics.engine().Publish(s);
  samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_messages_consumed_total"), 28);
}

TEST(EngineProbe, LagFollowsTheOwnedPartitions) {
  Metrics metrics;
  metrics.engine().SetConsumerLag({{0, 5}, {3, 100}});
  auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_consumer_lag_messages", {{"partition", "0"}}), 5);
  EXPECT_EQ(Value(samples, "burnrate_consumer_lag_messages", {{"partition", "3"}}), 100);
  EXPECT_EQ(Value(samples, "burnrate_partitions_assigned"), 2);

  metrics.engine().SetConsumerLag({{3, 7}});  // partition 0 revoked
  samples = Scrape(metrics);
  EXPECT_EQ(Find(samples, "burnrate_consumer_lag_messages", {{"partition", "0"}}), nullptr);
  EXPECT_EQ(Value(samples, "burnrate_consumer_lag_messages", {{"partition", "3"}}), 7);
  EXPECT_EQ(Value(samples, "burnrate_partitions_assigned"), 1);
}

TEST(EngineProbe, WindowsCheckpointsAndReadiness) {
  Metrics metrics;
  metrics.engine().RecordWindowClosed(70.5);
  metrics.engine().RecordWindowClosed(2);
  metrics.engine().RecordCheckpoint(EngineProbe::CheckpointOutcome::kApplied);
  metrics.engine().RecordCheckpoint(EngineProbe::CheckpointOutcome::kApplied);
  metrics.engine().RecordCheckpoint(EngineProbe::CheckpointOutcome::kStalePosition);
  metrics.engine().SetReady(true);
  const auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_windows_closed_total"), 2);
  EXPECT_EQ(Value(samples, "burnrate_window_close_delay_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(Value(samples, "burnrate_window_close_delay_seconds_sum"), 72.5);
  EXPECT_EQ(Value(samples, "burnrate_window_close_delay_seconds_bucket", {{"le", "5"}}), 1);
  EXPECT_EQ(Value(samples, "burnrate_window_close_delay_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(Value(samples, "burnrate_checkpoints_total", {{"outcome", "applied"}}), 2);
  EXPECT_EQ(Value(samples, "burnrate_checkpoints_total", {{"outcome", "stale_position"}}), 1);
  EXPECT_EQ(Value(samples, "burnrate_ready"), 1);
}

TEST(RedisProbe, DurationsAndErrorsPerOperation) {
  Metrics metrics;
  const RedisOperationMetrics checkpoint = metrics.redis().Operation("checkpoint");
  checkpoint.Observe(0.003);
  checkpoint.Observe(0.2);
  checkpoint.Error();
  const auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_redis_operation_duration_seconds_count",
                  {{"operation", "checkpoint"}}),
            2);
  EXPECT_EQ(Value(samples, "burnrate_redis_operation_duration_seconds_bucket",
                  {{"operation", "checkpoint"}, {"le", "0.005"}}),
            1);
  EXPECT_EQ(Value(samples, "burnrate_redis_errors_total", {{"operation", "checkpoint"}}), 1);
}

TEST(AlertProbe, TransitionsFiringDeliveriesOutbox) {
  Metrics metrics;
  metrics.alerts().RecordTransition(AlertKind::kSpike, AlertStatus::kFiring);
  metrics.alerts().RecordTransition(AlertKind::kSpike, AlertStatus::kFiring);
  metrics.alerts().RecordTransition(AlertKind::kSpike, AlertStatus::kResolved);
  metrics.alerts().SetFiring(AlertKind::kSpike, 1);
  const AlertDeliveryMetrics slack = metrics.alerts().Delivery("oncall", "slack");
  slack.Record(DeliveryOutcome::kOk);
  slack.Record(DeliveryOutcome::kRetry);
  slack.Record(DeliveryOutcome::kOk);
  metrics.alerts().SetOutboxPending(4);
  const auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_alerts_total", {{"kind", "spike"}, {"status", "firing"}}), 2);
  EXPECT_EQ(Value(samples, "burnrate_alerts_total", {{"kind", "spike"}, {"status", "resolved"}}),
            1);
  EXPECT_EQ(Value(samples, "burnrate_alerts_firing", {{"kind", "spike"}}), 1);
  EXPECT_EQ(Value(samples, "burnrate_alert_deliveries_total",
                  {{"receiver", "oncall"}, {"sink", "slack"}, {"outcome", "ok"}}),
            2);
  EXPECT_EQ(Value(samples, "burnrate_alert_deliveries_total",
                  {{"receiver", "oncall"}, {"sink", "slack"}, {"outcome", "dead_letter"}}),
            0);
  EXPECT_EQ(Value(samples, "burnrate_alert_outbox_pending"), 4);
}

TEST(QuotaProbe, TenantsPerStateAndDecisions) {
  Metrics metrics;
  metrics.quota().SetTenants({.ok = 90, .warn = 5, .throttle = 3, .downgrade = 1, .block = 1});
  metrics.quota().RecordDecision(true);
  metrics.quota().RecordDecision(true);
  metrics.quota().RecordDecision(false);
  const auto samples = Scrape(metrics);
  EXPECT_EQ(Value(samples, "burnrate_quota_tenants", {{"state", "ok"}}), 90);
  EXPECT_EQ(Value(samples, "burnrate_quota_tenants", {{"state", "block"}}), 1);
  EXPECT_EQ(Value(samples, "burnrate_decision_requests_total", {{"decision", "allow"}}), 2);
  EXPECT_EQ(Value(samples, "burnrate_decision_requests_total", {{"decision", "deny"}}), 1);
}

TEST(MetricsHandler, RefusesWrites) {
  Metrics metrics;
  HttpRequest request;
  request.method = "POST";
  request.path = "/metrics";
  EXPECT_EQ(MetricsHandler(metrics)(request).status, 405);
}

TEST(HealthHandler, AlwaysOk) {
  const HttpResponse r = HealthHandler()(HttpRequest{});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST(ReadinessHandler, ReadyOnlyWithPartitionsAndRedis) {
  ReadyState state;
  const HttpHandler handler = ReadinessHandler([&] { return state; });
  HttpResponse r = handler(HttpRequest{});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"ready\":false,\"missing\":[\"partitions_assigned\",\"redis\"]}\n");

  state.partitions_assigned = true;
  r = handler(HttpRequest{});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"ready\":false,\"missing\":[\"redis\"]}\n");

  state.redis_ok = true;
  r = handler(HttpRequest{});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ready\":true}\n");

  state.partitions_assigned = false;  // a rebalance took every partition away
  r = handler(HttpRequest{});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"ready\":false,\"missing\":[\"partitions_assigned\"]}\n");
}

}  // namespace
}  // namespace burnrate
