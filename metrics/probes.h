// The probes: one small class per area of the engine, each owning the
// metric families of its area (Redpanda's idea), so every metric burnrate
// exposes is declared in one place (probes.cc, spend_probe.cc) and listed in
// docs/metrics.md. Metrics (metrics/metrics.h) creates one of each.
//
// No label-set lookup happens per event: label sets are resolved when a probe
// is built (or when a handle is made, for labels only known from config),
// and the engine's per-event counters stay the plain integers it already
// keeps (see EngineProbe).
//
// prometheus-cpp stays out of this header: its types are only
// forward-declared, and every update is a call into probes.cc.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/alert.h"
#include "core/decode.h"
#include "core/pipeline.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace burnrate {

// Cumulative counts of the engine since start-up, as the engine keeps them.
struct EngineSnapshot {
  PipelineStats pipeline;          // RunEngine::TotalStats(), or a replay pipeline's stats()
  uint64_t overflowed_events = 0;  // sum of WindowAggregator::overflowed_events()
};

// Engine health: consumption, decoding, dead letters, lag, window closing,
// checkpoints and readiness.
//
// Design choice: the engine keeps counting in the plain, unsynchronised
// integers of PipelineStats (one pipeline per partition, one thread), and
// hands this probe a snapshot of their totals now and then (after each poll
// or checkpoint, about once a second). Publish() turns the growth since the
// previous snapshot into counter increments. The alternative, holding
// prometheus::Counter references in the pipeline, would put an atomic
// read-modify-write on a shared cache line for every event and make
// core/ depend on prometheus-cpp; a snapshot costs ~20 atomic adds per second
// and a scrape sees counts at most one publish old.
//
// Thread-safe: Publish and the Set/Record calls may come from any thread.
class EngineProbe {
 public:
  explicit EngineProbe(prometheus::Registry& registry);

  // Totals only grow; if one shrinks (a replaced pipeline's counts were
  // dropped) the probe takes the new value as its base and adds nothing.
  void Publish(const EngineSnapshot& snapshot);

  // The partitions this replica owns and their lag (messages behind the log
  // end); series of partitions no longer listed are removed. Also sets
  // burnrate_partitions_assigned.
  void SetConsumerLag(const std::map<int32_t, int64_t>& lag_by_partition);

  // One window closed by this replica, `delay_seconds` of wall time after
  // its end.
  void RecordWindowClosed(double delay_seconds);

  enum class CheckpointOutcome : uint8_t { kApplied, kStalePosition, kDuplicateEvents, kWindowClosed, kError };
  void RecordCheckpoint(CheckpointOutcome outcome);

  void SetReady(bool ready);

 private:
  std::mutex mu_;
  EngineSnapshot last_;
  prometheus::Counter* messages_;
  prometheus::Counter* decoded_;
  std::array<prometheus::Counter*, kRejectReasonCount> dead_lettered_;
  prometheus::Counter* duplicate_;
  prometheus::Counter* late_;
  prometheus::Counter* unpriced_;
  prometheus::Counter* overflow_;
  prometheus::Family<prometheus::Gauge>* lag_family_;
  std::map<int32_t, prometheus::Gauge*> lag_;
  prometheus::Gauge* partitions_assigned_;
  prometheus::Counter* windows_closed_;
  prometheus::Histogram* close_delay_;
  std::array<prometheus::Counter*, 5> checkpoints_;
  prometheus::Gauge* ready_;
};

// One state-store operation's duration histogram and error counter, resolved
// once (RedisProbe::Operation) and kept by the caller. Cheap to copy.
// Thread-safe.
class RedisOperationMetrics {
 public:
  void Observe(double seconds) const;
  void Error() const;

 private:
  friend class RedisProbe;
  prometheus::Histogram* duration_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
};

// Redis: latency and errors per operation (e.g. "checkpoint",
// "load_partition", "close_window", "read_window", "baselines").
// Thread-safe.
class RedisProbe {
 public:
  explicit RedisProbe(prometheus::Registry& registry);
  // Resolves the label set of `operation` (a name chosen by the code, never
  // from events); call at start-up and keep the result.
  RedisOperationMetrics Operation(std::string_view operation);

 private:
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Family<prometheus::Counter>* errors_;
};

enum class DeliveryOutcome : uint8_t { kOk, kRetry, kFatal, kDeadLetter };

// The delivery counters of one (receiver, sink) pair, resolved once
// (AlertProbe::Delivery) and kept by the sink's worker. Thread-safe.
class AlertDeliveryMetrics {
 public:
  void Record(DeliveryOutcome outcome) const;

 private:
  friend class AlertProbe;
  std::array<prometheus::Counter*, 4> outcomes_{};
};

// Alerting: transitions decided, alerts firing, deliveries, outbox.
// Thread-safe.
class AlertProbe {
 public:
  explicit AlertProbe(prometheus::Registry& registry);

  void RecordTransition(AlertKind kind, AlertStatus status);
  void SetFiring(AlertKind kind, int64_t count);
  // `receiver` is a receiver name from the config, `sink` its type
  // ("slack", "pagerduty", "webhook", "alertmanager", "kafka").
  AlertDeliveryMetrics Delivery(std::string_view receiver, std::string_view sink);
  void SetOutboxPending(int64_t count);

 private:
  static constexpr size_t kKinds = static_cast<size_t>(AlertKind::kBudgetForecast) + 1;
  std::array<std::array<prometheus::Counter*, 2>, kKinds> transitions_;
  std::array<prometheus::Gauge*, kKinds> firing_;
  prometheus::Family<prometheus::Counter>* deliveries_;
  prometheus::Gauge* outbox_pending_;
};

// How many tenants are in each quota state.
struct QuotaStateCounts {
  int64_t ok = 0;
  int64_t warn = 0;
  int64_t throttle = 0;
  int64_t downgrade = 0;
  int64_t block = 0;
};

// Quotas: tenants per state and gateway decisions. Thread-safe;
// RecordDecision is called per decision request and only bumps a counter.
class QuotaProbe {
 public:
  explicit QuotaProbe(prometheus::Registry& registry);
  void SetTenants(const QuotaStateCounts& counts);
  void RecordDecision(bool allowed);

 private:
  std::array<prometheus::Gauge*, 5> tenants_;
  prometheus::Counter* allow_;
  prometheus::Counter* deny_;
};

}  // namespace burnrate
