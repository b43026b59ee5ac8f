// Budgets per tenant (or tenant+feature, or team) over calendar periods:
// threshold alerts, multi-window burn-rate alerts (Google SRE workbook),
// a forecast alert, and the budget-driven quota state of each tenant.
// docs/budgets.md explains the rules; docs/quota.md the published signal.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "budgets/budget_store.h"
#include "budgets/budgets_config.h"
#include "budgets/period.h"
#include "budgets/quota_publisher.h"
#include "core/alert.h"
#include "core/window.h"

namespace burnrate {

// One burn-rate rule: page (or ticket) when the spend rate over both the
// long and the short window is at least `factor` times the rate that spends
// the budget exactly over its period. Windows are fractions of the period
// (the workbook's 1 h of a 30-day budget is 1/720 of it), so a daily budget
// gets proportionally shorter windows; never shorter than one engine window.
struct BurnRateRule {
  double factor;
  double long_fraction;   // of the period length
  double short_fraction;  // of the period length
  Severity severity;
  const char* label;  // "1h/5m" at a 30-day scale
};
// 14.4x over 1 h confirmed by 5 min and 6x over 6 h confirmed by 30 min
// (critical: page), 1x over 3 days confirmed by 6 h (warning: ticket).
const std::vector<BurnRateRule>& DefaultBurnRateRules();

// What the tracker last concluded about one budget (for /metrics and tests).
struct BudgetStatus {
  std::string name;
  std::string period_id;
  int64_t period_start_ms = 0;
  int64_t period_end_ms = 0;
  double amount_usd = 0;
  double spend_usd = 0;
  double usage = 0;                     // spend / amount
  std::vector<double> burn_rates_long;  // per rule
  std::vector<double> burn_rates_short;
  double projected_usd = 0;
  int64_t projected_exhaustion_ms = 0;  // 0 when not before the period end
  int64_t evaluated_window_ms = 0;
};

// Applies closed windows to budget state and evaluates it as of each
// window's end (event time, so replay gives the same alerts as run mode).
// Owned by the window-closing thread; thread-compatible (not thread-safe),
// except that the QuotaPublisher it shares is.
class BudgetTracker {
 public:
  // Fails on an invalid config (unknown time zone, a budget without scope).
  // `publisher` may be null: alerts only, no quota signals.
  static absl::StatusOr<std::unique_ptr<BudgetTracker>> Create(
      BudgetsConfig budgets, QuotaConfig quota, BudgetStorePtr store,
      std::shared_ptr<QuotaPublisher> publisher);
  ~BudgetTracker();

  // Rows of one closed window; call EndWindow after the last row.
  void Observe(const WindowRecord& row);
  // Applies the window to budget state (idempotent per window), evaluates
  // thresholds, burn rates and forecasts as of the window's end, updates
  // quota states and publishes them. Every budget is evaluated each window,
  // also those that spent nothing in it. On a store failure nothing of this
  // window is lost: call EndWindow again with the same window (the rows
  // observed are kept until it succeeds).
  absl::StatusOr<std::vector<Alert>> EndWindow(WindowStartMs start, int64_t size_ms);

  // A detector's alert: a firing `runaway`, or a critical `spike`, throttles
  // its tenant for quota.alert_throttle_ms (at alert_throttle_rate_factor);
  // other alerts are ignored. A resolved alert does not lift the throttle
  // early: it runs out.
  absl::Status ApplyAlert(const Alert& alert);

  const std::vector<BudgetStatus>& statuses() const { return statuses_; }

 private:
  struct Budget;
  BudgetTracker(BudgetsConfig budgets, QuotaConfig quota, PeriodCalendar calendar,
                BudgetStorePtr store, std::shared_ptr<QuotaPublisher> publisher);

  BudgetsConfig config_;
  QuotaConfig quota_;
  PeriodCalendar calendar_;
  BudgetStorePtr store_;
  std::shared_ptr<QuotaPublisher> publisher_;
  std::vector<std::unique_ptr<Budget>> budgets_;
  std::vector<BudgetStatus> statuses_;
  // The budget input last published per subject, to skip unchanged ones.
  std::map<std::string, QuotaSignal> published_;
};

}  // namespace burnrate
