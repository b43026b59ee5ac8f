// burnrate's Prometheus metrics and its health endpoints: the registry with
// every probe, and the HTTP handlers for /metrics, /healthz and /readyz
// (served by http/, see core/http_types.h). docs/metrics.md lists every
// metric.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/http_types.h"
#include "metrics/metrics_config.h"
#include "metrics/probes.h"
#include "metrics/spend_probe.h"

namespace burnrate {

// The registry and one probe per area. Create one at start-up and keep it
// for the life of the process (the probes are handed out by reference).
// Thread-safe: every probe is, and serializing may run alongside updates.
class Metrics {
 public:
  // `revision` identifies the build (e.g. a git revision; "unknown" when
  // not known); burnrate_build_info carries it with the version.
  explicit Metrics(const MetricsConfig& config = {}, std::string_view revision = "unknown");
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  EngineProbe& engine() { return *engine_; }
  SpendProbe& spend() { return *spend_; }
  AlertProbe& alerts() { return *alerts_; }
  QuotaProbe& quota() { return *quota_; }
  RedisProbe& redis() { return *redis_; }

  // Everything, in the Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<EngineProbe> engine_;
  std::unique_ptr<SpendProbe> spend_;
  std::unique_ptr<AlertProbe> alerts_;
  std::unique_ptr<QuotaProbe> quota_;
  std::unique_ptr<RedisProbe> redis_;
};

// GET /metrics: 200 with Metrics::Serialize(); 405 for methods other than
// GET and HEAD. `metrics` must outlive the handler.
HttpHandler MetricsHandler(const Metrics& metrics);

// GET /healthz: 200 "ok" whenever the process can answer at all.
HttpHandler HealthHandler();

// What readiness depends on.
struct ReadyState {
  bool partitions_assigned = false;  // this replica owns at least one partition
  bool redis_ok = false;             // the last state-store operation succeeded
  bool ready() const { return partitions_assigned && redis_ok; }
};

// GET /readyz: asks `state` on every request. 200 {"ready":true} when ready;
// otherwise 503 with a JSON body naming what is missing, e.g.
// {"ready":false,"missing":["partitions_assigned","redis"]}.
// `state` is called on the HTTP server's thread and must be thread-safe.
HttpHandler ReadinessHandler(std::function<ReadyState()> state);

}  // namespace burnrate
