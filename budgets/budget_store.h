// Where budget state lives: spend per period, per-window spend history (for
// burn rates) and the evaluation state (alerts fired, quota state machine),
// behind a small interface so `burnrate replay` runs the same logic in
// memory that `burnrate run` runs against Redis (RedisBudgetStore).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace burnrate {

// One closed window's spend for one budget. Spend is in nano-dollars so sums
// stay exact in Redis (integers) and in Lua (doubles below 2^53).
struct BudgetWindowUpdate {
  std::string budget;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  int64_t spend_nanos = 0;
  std::string period_id;
  int64_t period_start_ms = 0;
  // For each L, the spend of windows starting in [window_end - L, window_start].
  std::vector<int64_t> lookbacks_ms;
  // History older than window_end - retention is dropped.
  int64_t retention_ms = 0;
};

struct BudgetWindowState {
  // The window had been applied before (a replay after a crash): its spend
  // was not added again.
  bool already_applied = false;
  // A later window has already been evaluated: this one must not be.
  bool superseded = false;
  // The period the stored spend belongs to (the newest seen; an old window
  // arriving after the rollover only goes into the history).
  std::string period_id;
  int64_t period_start_ms = 0;
  int64_t period_spend_nanos = 0;
  std::vector<int64_t> lookback_spend_nanos;
  // Evaluation state to evaluate this window from (opaque to the store; the
  // tracker's JSON), empty for a new budget.
  std::string eval_from;
};

// Implementations are not required to be thread-safe; the tracker that owns
// one calls it from the window-closing thread.
class BudgetStore {
 public:
  virtual ~BudgetStore() = default;
  // Idempotent per (budget, window_start).
  virtual absl::StatusOr<BudgetWindowState> ApplyWindow(const BudgetWindowUpdate& update) = 0;
  // Records the evaluation of `window_start`: the state it started from and
  // the state after it, so re-evaluating the same window (after a crash)
  // starts from the same place and gives the same alerts.
  virtual absl::Status SaveEvaluation(const std::string& budget, int64_t window_start_ms,
                                      const std::string& before, const std::string& after) = 0;
};
using BudgetStorePtr = std::unique_ptr<BudgetStore>;

// In process memory: for replay and tests. Not thread-safe.
class MemoryBudgetStore : public BudgetStore {
 public:
  MemoryBudgetStore();
  ~MemoryBudgetStore() override;
  absl::StatusOr<BudgetWindowState> ApplyWindow(const BudgetWindowUpdate& update) override;
  absl::Status SaveEvaluation(const std::string& budget, int64_t window_start_ms,
                              const std::string& before, const std::string& after) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace burnrate
