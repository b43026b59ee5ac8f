// Wiring of budgets and quota for the commands: everything `burnrate run`
// (Redis and Kafka) or `burnrate replay` (memory) needs, built from the
// config in one call. The integration recipe is in docs/budgets.md.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "budgets/budget_tracker.h"
#include "budgets/quota_http.h"
#include "budgets/quota_publisher.h"
#include "config/config.h"

namespace burnrate {

// Owned by the command. `tracker` belongs to the window-closing thread;
// `publisher`, `snapshot` and `refresher` are shared with the HTTP servers
// (RegisterQuotaRoutes) and are thread-safe.
struct BudgetsRuntime {
  std::shared_ptr<QuotaPublisher> publisher;
  std::shared_ptr<QuotaSnapshot> snapshot;
  std::unique_ptr<QuotaRefresher> refresher;  // not started
  std::unique_ptr<BudgetTracker> tracker;
};

// Run mode: budget state and decisions in Redis, decisions also to the
// compacted topic quota.kafka_topic (created if missing). `clock` (wall time
// by default) stamps decisions and times overrides and detector throttles.
absl::StatusOr<BudgetsRuntime> MakeRedisBudgets(const Config& config, WallClock clock = {});

// Replay: all in memory, no Kafka. Pass a clock that follows event time
// (e.g. the end of the last closed window) so detector throttles expire in
// event time as everything else does.
absl::StatusOr<BudgetsRuntime> MakeMemoryBudgets(const Config& config, WallClock clock);

}  // namespace burnrate
