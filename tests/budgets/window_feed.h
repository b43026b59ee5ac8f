// Synthetic closed windows for budget tests: rows as the window closer emits
// them (key rows, then roll-ups), for a few tenants' spend.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "budgets/budget_tracker.h"
#include "core/window.h"

namespace burnrate::testing {

struct Spend {
  std::string tenant;
  std::string feature = "chat";
  double usd = 0;
};

inline absl::StatusOr<std::vector<Alert>> FeedWindow(BudgetTracker& tracker, int64_t start_ms,
                                                     int64_t size_ms,
                                                     const std::vector<Spend>& spends) {
  std::vector<WindowTotals> totals(spends.size());
  std::map<std::string, WindowTotals> per_tenant;
  for (size_t i = 0; i < spends.size(); ++i) {
    totals[i].events = 1;
    totals[i].cost = Money::FromDollars(spends[i].usd);
    per_tenant[spends[i].tenant].Merge(totals[i]);
  }
  for (size_t i = 0; i < spends.size(); ++i) {
    WindowRecord row;
    row.scope = WindowScope::kKey;
    row.start = WindowStartMs(start_ms);
    row.size_ms = size_ms;
    row.tenant = spends[i].tenant;
    row.feature = spends[i].feature;
    row.environment = "prod";
    row.totals = &totals[i];
    tracker.Observe(row);
  }
  for (const auto& [tenant, t] : per_tenant) {
    WindowRecord row;
    row.scope = WindowScope::kTenant;
    row.start = WindowStartMs(start_ms);
    row.size_ms = size_ms;
    row.tenant = tenant;
    row.totals = &t;
    tracker.Observe(row);
  }
  return tracker.EndWindow(WindowStartMs(start_ms), size_ms);
}

inline int CountKind(const std::vector<Alert>& alerts, AlertKind kind,
                     AlertStatus status = AlertStatus::kFiring) {
  int n = 0;
  for (const auto& a : alerts) n += a.kind == kind && a.status == status;
  return n;
}

}  // namespace burnrate::testing
