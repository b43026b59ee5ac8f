#include "budgets/budget_tracker.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {
namespace {

constexpr double kNanosPerDollar = 1e9;
constexpr int64_t kHourMs = 3'600'000;
constexpr double k30DaysMs = 30.0 * 24 * kHourMs;

std::string Dollars(double usd) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "$%.2f", usd);
  return buf;
}
std::string Percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f%%", ratio * 100);
  return buf;
}
// The threshold as it appears in alert ids: "0.8", "1".
std::string ThresholdKey(double t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", t);
  return buf;
}
std::string Factor(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fx", f);
  return buf;
}

// "1h", "5m", "2h30m", "3d".
std::string FormatDurationMsForAlert(int64_t ms) {
  if (ms % (24 * kHourMs) == 0) return Concat(ms / (24 * kHourMs), "d");
  if (ms % kHourMs == 0) return Concat(ms / kHourMs, "h");
  if (ms >= kHourMs && ms % 60'000 == 0)
    return Concat(ms / kHourMs, "h", (ms % kHourMs) / 60'000, "m");
  if (ms % 60'000 == 0) return Concat(ms / 60'000, "m");
  return Concat(ms / 1000, "s");
}

// Evaluation state of one budget, stored as JSON beside its spend so that a
// restarted or another replica continues where the last evaluation stopped.
struct EvalState {
  int64_t period_start_ms = INT64_MIN;
  std::string period_id;
  std::vector<double> fired;                  // thresholds fired this period
  std::vector<int64_t> burn_started;          // per rule; 0 = not firing
  int64_t forecast_started = 0;               // 0 = not firing
  std::map<std::string, QuotaMachine> quota;  // per subject

  std::string ToJson() const {
    nlohmann::json j;
    j["period_start"] = period_start_ms;
    j["period_id"] = period_id;
    j["fired"] = fired;
    j["burn_started"] = burn_started;
    j["forecast_started"] = forecast_started;
    nlohmann::json q = nlohmann::json::object();
    for (const auto& [subject, m] : quota) {
      q[subject] = {{"state", static_cast<int>(m.state)}, {"since", m.since_ms}};
    }
    j["quota"] = q;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  static EvalState FromJson(const std::string& text, size_t rules) {
    EvalState e;
    e.burn_started.assign(rules, 0);
    if (text.empty()) return e;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return e;
    e.period_start_ms = j.value("period_start", INT64_MIN);
    e.period_id = j.value("period_id", "");
    if (j.contains("fired") && j["fired"].is_array())
      e.fired = j["fired"].get<std::vector<double>>();
    if (j.contains("burn_started") && j["burn_started"].is_array()) {
      e.burn_started = j["burn_started"].get<std::vector<int64_t>>();
      e.burn_started.resize(rules, 0);
    }
    e.forecast_started = j.value("forecast_started", int64_t{0});
    if (j.contains("quota") && j["quota"].is_object()) {
      for (const auto& [subject, m] : j["quota"].items()) {
        QuotaMachine machine;
        machine.state = static_cast<QuotaState>(std::clamp(m.value("state", 0), 0, 4));
        machine.since_ms = m.value("since", int64_t{0});
        e.quota[subject] = machine;
      }
    }
    return e;
  }
};

}  // namespace

const std::vector<BurnRateRule>& DefaultBurnRateRules() {
  static const std::vector<BurnRateRule> kRules = {
      {14.4, kHourMs / k30DaysMs, 5 * 60'000 / k30DaysMs, Severity::kCritical, "1h/5m"},
      {6.0, 6 * kHourMs / k30DaysMs, 30 * 60'000 / k30DaysMs, Severity::kCritical, "6h/30m"},
      {1.0, 72 * kHourMs / k30DaysMs, 6 * kHourMs / k30DaysMs, Severity::kWarning, "3d/6h"},
  };
  return kRules;
}

struct BudgetTracker::Budget {
  BudgetConfig config;
  std::set<std::string> tenants;      // tenant-level scope (kTenant rows)
  std::set<std::string> features;     // with `tenant`: feature-level scope (kKey rows)
  std::vector<std::string> subjects;  // quota subjects a hard budget drives
  int64_t pending_nanos = 0;
  std::vector<double> thresholds;  // sorted
};

absl::StatusOr<std::unique_ptr<BudgetTracker>> BudgetTracker::Create(
    BudgetsConfig budgets, QuotaConfig quota, BudgetStorePtr store,
    std::shared_ptr<QuotaPublisher> publisher) {
  auto calendar = PeriodCalendar::Create(budgets.time_zone);
  if (!calendar.ok()) return calendar.status();
  if (store == nullptr) return absl::InvalidArgumentError("budget tracker needs a store");
  std::set<std::string> names;
  for (const BudgetConfig& b : budgets.list) {
    if (b.name.empty()) return absl::InvalidArgumentError("a budget needs a name");
    if (!names.insert(b.name).second)
      return absl::InvalidArgumentError(Concat("duplicate budget '", b.name, "'"));
    if (b.tenant.empty() && b.tenants.empty()) {
      return absl::InvalidArgumentError(Concat("budget '", b.name, "' needs tenant or tenants"));
    }
    if (!(b.amount_usd > 0))
      return absl::InvalidArgumentError(Concat("budget '", b.name, "' needs amount_usd > 0"));
  }
  return std::unique_ptr<BudgetTracker>(new BudgetTracker(std::move(budgets), std::move(quota),
                                                          std::move(*calendar), std::move(store),
                                                          std::move(publisher)));
}

BudgetTracker::BudgetTracker(BudgetsConfig budgets, QuotaConfig quota, PeriodCalendar calendar,
                             BudgetStorePtr store, std::shared_ptr<QuotaPublisher> publisher)
    : config_(std::move(budgets)),
      quota_(std::move(quota)),
      calendar_(std::move(calendar)),
      store_(std::move(store)),
      publisher_(std::move(publisher)) {
  for (const BudgetConfig& c : config_.list) {
    auto b = std::make_unique<Budget>();
    b->config = c;
    if (!c.tenants.empty()) {
      b->tenants.insert(c.tenants.begin(), c.tenants.end());
      for (const auto& t : c.tenants) b->subjects.push_back(t);
    } else if (!c.features.empty() || !c.feature.empty()) {
      b->features.insert(c.features.begin(), c.features.end());
      if (!c.feature.empty()) b->features.insert(c.feature);
      for (const auto& f : b->features) b->subjects.push_back(Concat(c.tenant, "/", f));
    } else {
      b->tenants.insert(c.tenant);
      b->subjects.push_back(c.tenant);
    }
    b->thresholds = c.thresholds;
    std::sort(b->thresholds.begin(), b->thresholds.end());
    budgets_.push_back(std::move(b));
  }
  statuses_.resize(budgets_.size());
}

BudgetTracker::~BudgetTracker() = default;

void BudgetTracker::Observe(const WindowRecord& row) {
  if (row.totals == nullptr) return;
  const int64_t nanos = row.totals->cost.picodollars() / 1000;
  for (auto& b : budgets_) {
    if (row.scope == WindowScope::kTenant && !b->tenants.empty()) {
      if (b->tenants.count(std::string(row.tenant))) b->pending_nanos += nanos;
    } else if (row.scope == WindowScope::kKey && !b->features.empty()) {
      if (row.tenant == b->config.tenant && b->features.count(std::string(row.feature))) {
        b->pending_nanos += nanos;
      }
    }
  }
}

absl::StatusOr<std::vector<Alert>> BudgetTracker::EndWindow(WindowStartMs start, int64_t size_ms) {
  std::vector<Alert> alerts;
  const int64_t ws = start.value();
  const int64_t we = ws + size_ms;
  const auto& rules = DefaultBurnRateRules();
  // Budget-driven quota inputs of this window, per subject: the tightest.
  std::map<std::string, QuotaSignal> budget_parts;

  for (size_t bi = 0; bi < budgets_.size(); ++bi) {
    Budget& b = *budgets_[bi];
    const BudgetConfig& c = b.config;
    const PeriodBounds period = calendar_.PeriodOf(c.period, ws);
    const double period_ms = static_cast<double>(period.length_ms());
    // Lookbacks: each rule's long and short window, rounded up to whole
    // engine windows; the forecast uses the 6h-scale long window.
    BudgetWindowUpdate update;
    update.budget = c.name;
    update.window_start_ms = ws;
    update.window_end_ms = we;
    update.spend_nanos = b.pending_nanos;
    update.period_id = period.id;
    update.period_start_ms = period.start_ms;
    auto round_up = [size_ms](double ms) {
      const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ms / size_ms - 1e-9)));
      return n * size_ms;
    };
    for (const auto& r : rules) {
      update.lookbacks_ms.push_back(round_up(r.long_fraction * period_ms));
      update.lookbacks_ms.push_back(round_up(r.short_fraction * period_ms));
    }
    update.retention_ms =
        *std::max_element(update.lookbacks_ms.begin(), update.lookbacks_ms.end()) + size_ms;

    auto state = store_->ApplyWindow(update);
    if (!state.ok()) return state.status();
    b.pending_nanos = 0;
    if (state->superseded || state->period_start_ms > period.start_ms) {
      // A window older than one already evaluated (a replay), or one from a
      // period that has already rolled over: its spend is in the history,
      // its verdicts were given then.
      continue;
    }
    const std::string before = state->eval_from;
    EvalState eval = EvalState::FromJson(state->eval_from, rules.size());

    auto base_alert = [&](AlertKind kind) {
      Alert a;
      a.kind = kind;
      a.tenant = b.tenants.size() == 1 ? *b.tenants.begin() : c.tenant;
      if (b.features.size() == 1) a.feature = *b.features.begin();
      a.subject = c.name;
      a.window_start_ms = ws;
      a.window_size_ms = size_ms;
      a.unit = "usd";
      a.details.emplace_back("budget", c.name);
      a.details.emplace_back("period", period.id);
      a.details.emplace_back("amount_usd", Dollars(c.amount_usd));
      if (!c.team.empty()) a.details.emplace_back("team", c.team);
      return a;
    };

    // Period rollover: the first window of a new period resolves what the
    // old period fired and lets the quota state start again from ok.
    if (eval.period_start_ms != period.start_ms) {
      if (eval.period_start_ms != INT64_MIN) {
        for (double t : eval.fired) {
          Alert a = base_alert(AlertKind::kBudgetThreshold);
          a.alert_id = MakeAlertId(AlertKind::kBudgetThreshold,
                                   Concat(c.name, "|", ThresholdKey(t)), eval.period_start_ms);
          a.status = AlertStatus::kResolved;
          a.severity = t >= 1.0 ? Severity::kCritical : Severity::kWarning;
          a.started_at_ms = eval.period_start_ms;
          a.resolved_at_ms = period.start_ms;
          a.baseline = c.amount_usd * t;
          a.summary = Concat("budget ", c.name, ": period ", eval.period_id, " ended; new period ",
                             period.id);
          alerts.push_back(std::move(a));
        }
        if (eval.forecast_started != 0) {
          Alert a = base_alert(AlertKind::kBudgetForecast);
          a.alert_id = MakeAlertId(AlertKind::kBudgetForecast, c.name, eval.period_start_ms);
          a.status = AlertStatus::kResolved;
          a.started_at_ms = eval.forecast_started;
          a.resolved_at_ms = period.start_ms;
          a.summary = Concat("budget ", c.name, ": period ", eval.period_id, " ended");
          alerts.push_back(std::move(a));
        }
      }
      eval.fired.clear();
      eval.forecast_started = 0;
      eval.quota.clear();
      eval.period_start_ms = period.start_ms;
      eval.period_id = period.id;
    }

    const double spend = static_cast<double>(state->period_spend_nanos) / kNanosPerDollar;
    const double usage = spend / c.amount_usd;
    BudgetStatus& st = statuses_[bi];
    st.name = c.name;
    st.period_id = period.id;
    st.period_start_ms = period.start_ms;
    st.period_end_ms = period.end_ms;
    st.amount_usd = c.amount_usd;
    st.spend_usd = spend;
    st.usage = usage;
    st.evaluated_window_ms = ws;

    // Thresholds: once per period each; one alert for the highest crossed
    // in this window (a jump over 50% and 80% at once is one event).
    double crossed = -1;
    for (double t : b.thresholds) {
      if (usage >= t && std::find(eval.fired.begin(), eval.fired.end(), t) == eval.fired.end()) {
        crossed = t;
        eval.fired.push_back(t);
      }
    }
    if (crossed >= 0) {
      Alert a = base_alert(AlertKind::kBudgetThreshold);
      a.alert_id = MakeAlertId(AlertKind::kBudgetThreshold,
                               Concat(c.name, "|", ThresholdKey(crossed)), period.start_ms);
      a.severity = crossed >= 1.0 ? Severity::kCritical : Severity::kWarning;
      a.started_at_ms = we;
      a.observed = spend;
      a.baseline = c.amount_usd;
      a.ratio = usage;
      a.details.emplace_back("threshold", Percent(crossed));
      a.summary =
          Concat("budget ", c.name, " at ", Percent(usage), " of ", Dollars(c.amount_usd), " for ",
                 period.id, " (", Dollars(spend), " spent; threshold ", Percent(crossed), ")");
      alerts.push_back(std::move(a));
    }

    // Burn rates: rate 1x spends exactly amount over the period.
    const double budget_per_ms = c.amount_usd / period_ms;
    st.burn_rates_long.assign(rules.size(), 0);
    st.burn_rates_short.assign(rules.size(), 0);
    for (size_t r = 0; r < rules.size(); ++r) {
      const double long_ms = static_cast<double>(update.lookbacks_ms[2 * r]);
      const double short_ms = static_cast<double>(update.lookbacks_ms[2 * r + 1]);
      const double long_usd =
          static_cast<double>(state->lookback_spend_nanos[2 * r]) / kNanosPerDollar;
      const double short_usd =
          static_cast<double>(state->lookback_spend_nanos[2 * r + 1]) / kNanosPerDollar;
      const double long_rate = long_usd / (budget_per_ms * long_ms);
      const double short_rate = short_usd / (budget_per_ms * short_ms);
      st.burn_rates_long[r] = long_rate;
      st.burn_rates_short[r] = short_rate;
      if (!c.burn_rate_alerts) continue;
      const bool firing = long_rate >= rules[r].factor && short_rate >= rules[r].factor;
      int64_t& started = eval.burn_started[r];
      if (firing == (started != 0)) continue;
      Alert a = base_alert(AlertKind::kBudgetBurnRate);
      a.severity = rules[r].severity;
      a.observed = long_usd;
      a.baseline = budget_per_ms * long_ms;
      a.ratio = long_rate;
      a.details.emplace_back(
          "rule", Concat(Factor(rules[r].factor), " over ", rules[r].label, " (30-day scale)"));
      a.details.emplace_back("long_window",
                             FormatDurationMsForAlert(static_cast<int64_t>(long_ms)));
      a.details.emplace_back("short_window",
                             FormatDurationMsForAlert(static_cast<int64_t>(short_ms)));
      a.details.emplace_back("burn_rate_long", Factor(long_rate));
      a.details.emplace_back("burn_rate_short", Factor(short_rate));
      if (firing) {
        started = we;
        a.started_at_ms = we;
        a.alert_id =
            MakeAlertId(AlertKind::kBudgetBurnRate, Concat(c.name, "|", rules[r].label), started);
        const double hours_left =
            short_rate > 0 ? (c.amount_usd - spend) / (budget_per_ms * short_rate) / kHourMs : 0;
        a.summary = Concat("budget ", c.name, " burning ", Factor(long_rate), " over ",
                           FormatDurationMsForAlert(static_cast<int64_t>(long_ms)), " and ",
                           Factor(short_rate), " over ",
                           FormatDurationMsForAlert(static_cast<int64_t>(short_ms)), " (",
                           Percent(usage), " of ", Dollars(c.amount_usd), " used; ~",
                           static_cast<int64_t>(std::max(0.0, hours_left)), "h left at this rate)");
      } else {
        a.status = AlertStatus::kResolved;
        a.started_at_ms = started;
        a.resolved_at_ms = we;
        a.alert_id =
            MakeAlertId(AlertKind::kBudgetBurnRate, Concat(c.name, "|", rules[r].label), started);
        a.summary = Concat("budget ", c.name, " burn rate back to ", Factor(short_rate));
        started = 0;
      }
      alerts.push_back(std::move(a));
    }

    // Forecast: at the rate of the 6h-scale window, when is the budget gone?
    {
      const double rate_usd_per_ms = static_cast<double>(state->lookback_spend_nanos[2]) /
                                     kNanosPerDollar / static_cast<double>(update.lookbacks_ms[2]);
      const double remaining_ms = static_cast<double>(period.end_ms - we);
      const double projected = spend + rate_usd_per_ms * std::max(0.0, remaining_ms);
      st.projected_usd = projected;
      st.projected_exhaustion_ms = 0;
      if (spend < c.amount_usd && rate_usd_per_ms > 0) {
        const double exhaust = static_cast<double>(we) + (c.amount_usd - spend) / rate_usd_per_ms;
        if (exhaust < static_cast<double>(period.end_ms))
          st.projected_exhaustion_ms = static_cast<int64_t>(exhaust);
      }
      const bool over = st.projected_exhaustion_ms != 0;
      if (c.forecast_alerts && over && eval.forecast_started == 0) {
        eval.forecast_started = we;
        Alert a = base_alert(AlertKind::kBudgetForecast);
        a.alert_id = MakeAlertId(AlertKind::kBudgetForecast, c.name, period.start_ms);
        a.severity = Severity::kWarning;
        a.started_at_ms = we;
        a.observed = projected;
        a.baseline = c.amount_usd;
        a.ratio = projected / c.amount_usd;
        a.details.emplace_back("projected_exhaustion", FormatRfc3339Ms(st.projected_exhaustion_ms));
        a.details.emplace_back("period_end", FormatRfc3339Ms(period.end_ms));
        a.summary =
            Concat("budget ", c.name, " will exhaust its ", Dollars(c.amount_usd), " ",
                   BudgetPeriodName(c.period), " budget on ",
                   FormatRfc3339Ms(st.projected_exhaustion_ms), ", before the period ends (",
                   Dollars(spend), " spent, ", Dollars(projected), " projected)");
        alerts.push_back(std::move(a));
      } else if (eval.forecast_started != 0 && spend < c.amount_usd &&
                 projected < 0.9 * c.amount_usd) {
        Alert a = base_alert(AlertKind::kBudgetForecast);
        a.alert_id = MakeAlertId(AlertKind::kBudgetForecast, c.name, period.start_ms);
        a.status = AlertStatus::kResolved;
        a.started_at_ms = eval.forecast_started;
        a.resolved_at_ms = we;
        a.observed = projected;
        a.baseline = c.amount_usd;
        a.ratio = projected / c.amount_usd;
        a.summary = Concat("budget ", c.name, " now projected at ", Dollars(projected), " of ",
                           Dollars(c.amount_usd));
        eval.forecast_started = 0;
        alerts.push_back(std::move(a));
      }
    }

    // Quota: a hard budget drives the state of each subject it covers.
    if (c.hard) {
      for (const std::string& subject : b.subjects) {
        const std::string tenant = subject.substr(0, subject.find('/'));
        const QuotaTierPolicy& policy = PolicyForTenant(quota_, tenant);
        QuotaMachine& m = eval.quota[subject];
        m.Update(policy, usage, we);
        QuotaSignal part;
        part.subject = subject;
        part.state = m.state;
        part.source = "budget";
        ApplyPolicyDetails(policy, part);
        if (m.state != QuotaState::kOk) {
          part.reason = Concat("budget ", c.name, " at ", Percent(usage), " of ",
                               Dollars(c.amount_usd), " for ", period.id);
          part.until_ms = period.end_ms;
        }
        auto [it, inserted] = budget_parts.try_emplace(subject, part);
        if (!inserted && part.state > it->second.state) it->second = part;
      }
    }

    if (auto s = store_->SaveEvaluation(c.name, ws, before, eval.ToJson()); !s.ok()) return s;
  }

  if (publisher_) {
    for (auto& [subject, part] : budget_parts) {
      auto it = published_.find(subject);
      if (it != published_.end() && it->second == part) continue;
      auto set = publisher_->Set(
          subject, QuotaStore::Part::kBudget,
          part.state == QuotaState::kOk ? std::nullopt : std::optional<QuotaSignal>(part));
      if (!set.ok()) return set.status();
      published_[subject] = part;
    }
  }
  return alerts;
}

absl::Status BudgetTracker::ApplyAlert(const Alert& alert) {
  if (!publisher_ || alert.tenant.empty() || alert.status != AlertStatus::kFiring)
    return absl::OkStatus();
  const bool throttles = alert.kind == AlertKind::kRunaway ||
                         (alert.kind == AlertKind::kSpike && alert.severity == Severity::kCritical);
  if (!throttles) return absl::OkStatus();
  const int64_t now = publisher_->now_ms();
  QuotaSignal part;
  part.subject = alert.tenant;
  part.state = QuotaState::kThrottle;
  part.rate_factor = quota_.alert_throttle_rate_factor;
  part.source = "alert";
  part.reason = Concat(AlertKindName(alert.kind), " alert ", alert.alert_id, ": ", alert.summary);
  if (part.reason.size() > 512) part.reason.resize(512);
  part.until_ms = now + quota_.alert_throttle_ms;
  part.expires_at_ms = part.until_ms;
  auto set = publisher_->Set(alert.tenant, QuotaStore::Part::kAlert, part);
  return set.ok() ? absl::OkStatus() : set.status();
}

}  // namespace burnrate
