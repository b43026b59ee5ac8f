// The gateway-facing side of quota: an in-memory snapshot of every tenant's
// decision, refreshed from the store in the background (never a Redis call
// per request), the decision endpoint an Envoy ext_authz HTTP filter calls,
// and the admin endpoint for operator overrides. docs/quota.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "budgets/budgets_config.h"
#include "budgets/quota.h"
#include "budgets/quota_publisher.h"
#include "core/http_types.h"

namespace burnrate {

class HttpServer;

// Every subject's effective decision, replaced as a whole. Thread-safe; reads
// take a short lock to copy a shared pointer.
class QuotaSnapshot {
 public:
  using Map = std::unordered_map<std::string, QuotaSignal>;
  QuotaSnapshot();
  void Replace(std::vector<QuotaSignal> signals, int64_t refreshed_at_ms);
  std::shared_ptr<const Map> Get() const;
  int64_t refreshed_at_ms() const { return refreshed_at_ms_.load(); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Map> map_;
  std::atomic<int64_t> refreshed_at_ms_{0};
};

// Refreshes a snapshot from the publisher's store every interval on its own
// thread, and republishes decisions whose input expired. Owned by the run
// command; Stop (or the destructor) joins the thread.
class QuotaRefresher {
 public:
  QuotaRefresher(std::shared_ptr<QuotaPublisher> publisher, std::shared_ptr<QuotaSnapshot> snapshot,
                 int64_t interval_ms);
  ~QuotaRefresher();
  // One refresh, on the caller's thread (start-up, tests).
  absl::Status RefreshOnce();
  void Start();
  void Stop();
  // Failed refreshes so far (the snapshot then keeps its last contents).
  uint64_t failures() const { return failures_.load(); }

 private:
  std::shared_ptr<QuotaPublisher> publisher_;
  std::shared_ptr<QuotaSnapshot> snapshot_;
  int64_t interval_ms_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<uint64_t> failures_{0};
};

struct DecisionOptions {
  std::string tenant_header = "x-tenant-id";
  std::string feature_header = "x-feature-id";
  // Seed of the admission sampling of throttled tenants.
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  WallClock clock;  // for Retry-After; the system clock when empty
};
DecisionOptions DecisionOptionsFrom(const QuotaConfig& config);

// The decision endpoint: 200 to allow (x-burnrate-state and, when
// downgraded, x-burnrate-downgrade-model), 429 with Retry-After when blocked
// or when a throttled request is not admitted (each is admitted with
// probability rate_factor). A request without a tenant, or for a tenant with
// no decision, is allowed. Thread-safe.
HttpHandler MakeDecisionHandler(std::shared_ptr<QuotaSnapshot> snapshot, DecisionOptions options);

// Admin: GET <prefix> lists overrides; PUT <prefix>/<tenant> pins a tenant
// (body {state, rate_factor?, downgrade_model?, until, reason}); DELETE
// <prefix>/<tenant> removes the pin. `prefix` is /v1/quota/overrides.
HttpHandler MakeQuotaOverridesHandler(std::shared_ptr<QuotaPublisher> publisher, QuotaConfig config,
                                      std::string prefix = "/v1/quota/overrides");

// Registers the decision endpoint (GET, POST and the other methods ext_authz
// may forward, under quota.decision_path/*) on the read-only server and the
// override routes on the admin server.
void RegisterQuotaRoutes(HttpServer& read_only, HttpServer* admin,
                         std::shared_ptr<QuotaSnapshot> snapshot,
                         std::shared_ptr<QuotaPublisher> publisher, const QuotaConfig& config);

}  // namespace burnrate
