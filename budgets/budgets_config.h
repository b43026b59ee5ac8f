// Configuration of budgets and quota enforcement (the `budgets:` and
// `quota:` sections, docs/configuration.md). Header-only so config/ can hold
// it without depending on the budgets library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace burnrate {

enum class BudgetPeriod : uint8_t { kDay, kWeek, kMonth };

// One budget. Its scope is a tenant, optionally narrowed to one feature; a
// team budget lists the tenants (or, with one tenant, the features) that
// make up the team, and sums them.
struct BudgetConfig {
  std::string name;
  std::string tenant;                 // empty only when `tenants` is set
  std::string feature;                // optional: a tenant+feature budget
  std::string team;                   // optional: label; the scope is `tenants`/`features`
  std::vector<std::string> tenants;   // a team budget over several tenants
  std::vector<std::string> features;  // a team budget over several features of `tenant`
  BudgetPeriod period = BudgetPeriod::kMonth;
  double amount_usd = 0;
  std::vector<double> thresholds = {0.5, 0.8, 1.0};
  // Enforcement: a hard budget drives its tenants' quota state; an
  // alert-only budget only alerts.
  bool hard = false;
  bool burn_rate_alerts = true;
  bool forecast_alerts = true;
};

struct BudgetsConfig {
  std::string time_zone = "UTC";  // calendar periods start at local midnight here
  std::vector<BudgetConfig> list;
};

// How a tier of tenants is tightened as a hard budget is used up. A level of
// 0 is never reached.
struct QuotaTierPolicy {
  double warn_at = 0.8;
  double throttle_at = 0;
  double throttle_rate_factor = 0.5;
  double downgrade_at = 0;
  std::string downgrade_model;
  double block_at = 1.0;
  // A state is left only once usage is this far below its level (and the
  // state has been held min_hold_ms), so a tenant does not flap at a boundary.
  double hysteresis = 0.02;
  int64_t min_hold_ms = 60'000;
};

struct QuotaConfig {
  std::string tenant_header = "x-tenant-id";
  std::string feature_header = "x-feature-id";
  std::string redis_key_prefix = "quota:";  // under redis.key_prefix
  std::string kafka_topic = "burnrate-quota";
  std::string decision_path = "/v1/decision";
  int64_t refresh_interval_ms = 1000;
  // What a detector alert does to its tenant (runaway, critical spike).
  double alert_throttle_rate_factor = 0.25;
  int64_t alert_throttle_ms = 15 * 60'000;
  std::map<std::string, QuotaTierPolicy> tiers = {{"default", QuotaTierPolicy{}}};
  std::map<std::string, std::string> tenant_tiers;  // tenant -> tier name
};

}  // namespace burnrate
