#include <map>

#include "budgets/budget_store.h"

namespace burnrate {

struct MemoryBudgetStore::Impl {
  struct Budget {
    std::map<int64_t, int64_t> history;  // window start -> spend
    std::string period_id;
    int64_t period_start_ms = INT64_MIN;
    int64_t period_spend = 0;
    bool evaluated = false;
    int64_t eval_window = 0;
    std::string eval_before;
    std::string eval_after;
  };
  std::map<std::string, Budget> budgets;
};

MemoryBudgetStore::MemoryBudgetStore() : impl_(std::make_unique<Impl>()) {}
MemoryBudgetStore::~MemoryBudgetStore() = default;

absl::StatusOr<BudgetWindowState> MemoryBudgetStore::ApplyWindow(const BudgetWindowUpdate& u) {
  Impl::Budget& b = impl_->budgets[u.budget];
  BudgetWindowState out;
  out.already_applied = b.history.count(u.window_start_ms) > 0;
  if (!out.already_applied) {
    b.history[u.window_start_ms] = u.spend_nanos;
    if (u.period_start_ms > b.period_start_ms) {
      b.period_id = u.period_id;
      b.period_start_ms = u.period_start_ms;
      b.period_spend = u.spend_nanos;
    } else if (u.period_start_ms == b.period_start_ms) {
      b.period_spend += u.spend_nanos;
    }
    b.history.erase(b.history.begin(), b.history.lower_bound(u.window_end_ms - u.retention_ms));
  }
  out.period_id = b.period_id;
  out.period_start_ms = b.period_start_ms;
  out.period_spend_nanos = b.period_spend;
  for (int64_t lookback : u.lookbacks_ms) {
    int64_t sum = 0;
    for (auto it = b.history.lower_bound(u.window_end_ms - lookback);
         it != b.history.end() && it->first <= u.window_start_ms; ++it) {
      sum += it->second;
    }
    out.lookback_spend_nanos.push_back(sum);
  }
  if (b.evaluated) {
    if (b.eval_window == u.window_start_ms)
      out.eval_from = b.eval_before;
    else if (b.eval_window < u.window_start_ms)
      out.eval_from = b.eval_after;
    else
      out.superseded = true;
  }
  return out;
}

absl::Status MemoryBudgetStore::SaveEvaluation(const std::string& budget, int64_t window_start_ms,
                                               const std::string& before,
                                               const std::string& after) {
  Impl::Budget& b = impl_->budgets[budget];
  if (b.evaluated && b.eval_window > window_start_ms) return absl::OkStatus();
  b.evaluated = true;
  b.eval_window = window_start_ms;
  b.eval_before = before;
  b.eval_after = after;
  return absl::OkStatus();
}

}  // namespace burnrate
