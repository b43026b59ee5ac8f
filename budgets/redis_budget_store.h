// BudgetStore in Redis, so replicas and restarts agree. Per budget B
// (P = redis.key_prefix; docs/budgets.md):
//   P budget:{B}:state    hash: period_id, period_start, spend_nanos,
//                         eval_window, eval_before, eval_after
//   P budget:{B}:history  sorted set: member "<window_start>:<spend_nanos>",
//                         score window_start; trimmed to the longest lookback
// One Lua script applies a window: it checks the history for the window
// start first, so a window replayed after a crash is not counted twice.
#pragma once

#include <string>

#include "budgets/budget_store.h"
#include "config/config.h"
#include "state/redis_client.h"

namespace burnrate {

// Not thread-safe (one connection), like the tracker that owns it.
class RedisBudgetStore : public BudgetStore {
 public:
  explicit RedisBudgetStore(RedisConfig options);
  ~RedisBudgetStore() override;
  absl::StatusOr<BudgetWindowState> ApplyWindow(const BudgetWindowUpdate& update) override;
  absl::Status SaveEvaluation(const std::string& budget, int64_t window_start_ms,
                              const std::string& before, const std::string& after) override;

 private:
  std::string Key(const std::string& budget, const char* suffix) const;
  std::string key_prefix_;  // RedisConfig::key_prefix
  RedisClient redis_;
};

}  // namespace burnrate
