#include "metrics/probes.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "metrics/labels.h"

namespace burnrate {
namespace {

constexpr size_t kMaxConfigLabelBytes = 64;

// Adds the growth from `before` to `after` (never a decrease) to `counter`.
void AddGrowth(prometheus::Counter& counter, uint64_t before, uint64_t after) {
  if (after > before) counter.Increment(static_cast<double>(after - before));
}

prometheus::Counter& SingleCounter(prometheus::Registry& r, const std::string& name,
                                   const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& SingleGauge(prometheus::Registry& r, const std::string& name,
                               const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

EngineProbe::EngineProbe(prometheus::Registry& r) {
  messages_ = &SingleCounter(r, "burnrate_messages_consumed_total",
                             "Kafka messages (or replay lines) read.");
  decoded_ = &SingleCounter(r, "burnrate_events_decoded_total",
                            "Events decoded, within time bounds, not duplicates, and counted "
                            "into windows (priced when their model is known).");
  auto& dead = prometheus::BuildCounter()
                   .Name("burnrate_events_dead_lettered_total")
                   .Help("Inputs refused and sent to the dead-letter output, by reason.")
                   .Register(r);
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    dead_lettered_[i] =
        &dead.Add({{"reason", std::string(RejectReasonName(static_cast<RejectReason>(i)))}});
  }
  duplicate_ = &SingleCounter(r, "burnrate_events_duplicate_total",
                              "Events dropped because their event_id was already counted.");
  late_ = &SingleCounter(r, "burnrate_events_late_total",
                         "Events refused because their window had already closed.");
  unpriced_ = &SingleCounter(r, "burnrate_events_unpriced_total",
                             "Events counted whose model the price table does not know "
                             "(tokens counted, cost unknown).");
  overflow_ = &SingleCounter(r, "burnrate_window_key_overflow_total",
                             "Events counted under the __overflow__ key because a window "
                             "reached its key limit.");
  lag_family_ = &prometheus::BuildGauge()
                     .Name("burnrate_consumer_lag_messages")
                     .Help(
                         "Messages between this replica's position and the end of the "
                         "log, per owned partition.")
                     .Register(r);
  partitions_assigned_ =
      &SingleGauge(r, "burnrate_partitions_assigned", "Kafka partitions this replica owns.");
  windows_closed_ = &SingleCounter(r, "burnrate_windows_closed_total",
                                   "Windows closed (and published) by this replica.");
  close_delay_ =
      &prometheus::BuildHistogram()
           .Name("burnrate_window_close_delay_seconds")
           .Help("Wall time from a window's end to its close (includes allowed lateness).")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 90, 120, 180, 300,
                                                            600, 1800});
  auto& checkpoints = prometheus::BuildCounter()
                          .Name("burnrate_checkpoints_total")
                          .Help("Partition checkpoints to the state store, by outcome.")
                          .Register(r);
  checkpoints_ = {&checkpoints.Add({{"outcome", "applied"}}),
                  &checkpoints.Add({{"outcome", "stale_position"}}),
                  &checkpoints.Add({{"outcome", "duplicate_events"}}),
                  &checkpoints.Add({{"outcome", "window_closed"}}),
                  &checkpoints.Add({{"outcome", "error"}})};
  ready_ = &SingleGauge(r, "burnrate_ready",
                        "1 when partitions are assigned and Redis answers (what /readyz says).");
}

void EngineProbe::Publish(const EngineSnapshot& s) {
  std::lock_guard lock(mu_);
  const PipelineStats& a = last_.pipeline;
  const PipelineStats& b = s.pipeline;
  AddGrowth(*messages_, a.messages, b.messages);
  AddGrowth(*decoded_, a.events, b.events);
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    AddGrowth(*dead_lettered_[i], a.rejected[i], b.rejected[i]);
  }
  constexpr auto kDup = static_cast<size_t>(RejectReason::kDuplicate);
  constexpr auto kLate = static_cast<size_t>(RejectReason::kLate);
  AddGrowth(*duplicate_, a.rejected[kDup], b.rejected[kDup]);
  AddGrowth(*late_, a.rejected[kLate], b.rejected[kLate]);
  AddGrowth(*unpriced_, a.unpriced_events, b.unpriced_events);
  AddGrowth(*overflow_, last_.overflowed_events, s.overflowed_events);
  last_ = s;
}

void EngineProbe::SetConsumerLag(const std::map<int32_t, int64_t>& lag_by_partition) {
  std::lock_guard lock(mu_);
  for (auto it = lag_.begin(); it != lag_.end();) {
    if (!lag_by_partition.contains(it->first)) {
      lag_family_->Remove(it->second);
      it = lag_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [partition, lag] : lag_by_partition) {
    auto it = lag_.find(partition);
    if (it == lag_.end()) {
      it = lag_.emplace(partition, &lag_family_->Add({{"partition", std::to_string(partition)}}))
               .first;
    }
    it->second->Set(static_cast<double>(lag));
  }
  partitions_assigned_->Set(static_cast<double>(lag_by_partition.size()));
}

void EngineProbe::RecordWindowClosed(double delay_seconds) {
  windows_closed_->Increment();
  close_delay_->Observe(delay_seconds);
}

void EngineProbe::RecordCheckpoint(CheckpointOutcome outcome) {
  checkpoints_[static_cast<size_t>(outcome)]->Increment();
}

void EngineProbe::SetReady(bool ready) { ready_->Set(ready ? 1 : 0); }

void RedisOperationMetrics::Observe(double seconds) const {
  if (duration_ != nullptr) duration_->Observe(seconds);
}

void RedisOperationMetrics::Error() const {
  if (errors_ != nullptr) errors_->Increment();
}

RedisProbe::RedisProbe(prometheus::Registry& r) {
  duration_ = &prometheus::BuildHistogram()
                   .Name("burnrate_redis_operation_duration_seconds")
                   .Help("Duration of state-store (Redis) operations, by operation.")
                   .Register(r);
  errors_ = &prometheus::BuildCounter()
                 .Name("burnrate_redis_errors_total")
                 .Help("State-store (Redis) operations that failed, by operation.")
                 .Register(r);
}

RedisOperationMetrics RedisProbe::Operation(std::string_view operation) {
  const prometheus::Labels labels{
      {"operation", SanitizeLabelValue(operation, kMaxConfigLabelBytes)}};
  RedisOperationMetrics m;
  m.duration_ = &duration_->Add(
      labels, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  m.errors_ = &errors_->Add(labels);
  return m;
}

void AlertDeliveryMetrics::Record(DeliveryOutcome outcome) const {
  if (auto* c = outcomes_[static_cast<size_t>(outcome)]) c->Increment();
}

AlertProbe::AlertProbe(prometheus::Registry& r) {
  auto& transitions = prometheus::BuildCounter()
                          .Name("burnrate_alerts_total")
                          .Help("Alert transitions decided, by kind and status (firing, resolved).")
                          .Register(r);
  auto& firing = prometheus::BuildGauge()
                     .Name("burnrate_alerts_firing")
                     .Help("Alerts currently firing, by kind.")
                     .Register(r);
  for (size_t k = 0; k < kKinds; ++k) {
    const std::string kind(AlertKindName(static_cast<AlertKind>(k)));
    transitions_[k] = {&transitions.Add({{"kind", kind}, {"status", "firing"}}),
                       &transitions.Add({{"kind", kind}, {"status", "resolved"}})};
    firing_[k] = &firing.Add({{"kind", kind}});
  }
  deliveries_ = &prometheus::BuildCounter()
                     .Name("burnrate_alert_deliveries_total")
                     .Help(
                         "Alert delivery attempts, by receiver, sink type and outcome "
                         "(ok, retry, fatal, dead_letter).")
                     .Register(r);
  outbox_pending_ = &SingleGauge(r, "burnrate_alert_outbox_pending",
                                 "Alert notifications waiting in the outbox.");
}

void AlertProbe::RecordTransition(AlertKind kind, AlertStatus status) {
  const auto k = static_cast<size_t>(kind);
  if (k >= kKinds) return;
  transitions_[k][status == AlertStatus::kFiring ? 0 : 1]->Increment();
}

void AlertProbe::SetFiring(AlertKind kind, int64_t count) {
  const auto k = static_cast<size_t>(kind);
  if (k < kKinds) firing_[k]->Set(static_cast<double>(count));
}

AlertDeliveryMetrics AlertProbe::Delivery(std::string_view receiver, std::string_view sink) {
  const std::string r = SanitizeLabelValue(receiver, kMaxConfigLabelBytes);
  const std::string s = SanitizeLabelValue(sink, kMaxConfigLabelBytes);
  AlertDeliveryMetrics m;
  constexpr std::array<const char*, 4> kOutcomes = {"ok", "retry", "fatal", "dead_letter"};
  for (size_t i = 0; i < kOutcomes.size(); ++i) {
    m.outcomes_[i] = &deliveries_->Add({{"receiver", r}, {"sink", s}, {"outcome", kOutcomes[i]}});
  }
  return m;
}

void AlertProbe::SetOutboxPending(int64_t count) {
  outbox_pending_->Set(static_cast<double>(count));
}

QuotaProbe::QuotaProbe(prometheus::Registry& r) {
  auto& tenants = prometheus::BuildGauge()
                      .Name("burnrate_quota_tenants")
                      .Help("Tenants in each quota state (ok, warn, throttle, downgrade, block).")
                      .Register(r);
  tenants_ = {&tenants.Add({{"state", "ok"}}), &tenants.Add({{"state", "warn"}}),
              &tenants.Add({{"state", "throttle"}}), &tenants.Add({{"state", "downgrade"}}),
              &tenants.Add({{"state", "block"}})};
  auto& decisions = prometheus::BuildCounter()
                        .Name("burnrate_decision_requests_total")
                        .Help("Gateway decision requests answered, by decision (allow, deny).")
                        .Register(r);
  allow_ = &decisions.Add({{"decision", "allow"}});
  deny_ = &decisions.Add({{"decision", "deny"}});
}

void QuotaProbe::SetTenants(const QuotaStateCounts& c) {
  const std::array<int64_t, 5> values = {c.ok, c.warn, c.throttle, c.downgrade, c.block};
  for (size_t i = 0; i < values.size(); ++i) tenants_[i]->Set(static_cast<double>(values[i]));
}

void QuotaProbe::RecordDecision(bool allowed) { (allowed ? allow_ : deny_)->Increment(); }

}  // namespace burnrate
