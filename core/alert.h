// The alert: what detectors and budgets decide and what alerting/ delivers.
// One incident has one stable alert_id and goes through at most two
// transitions, firing then resolved; each transition is delivered once
// (docs/alerts.md describes the fields and the JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace burnrate {

enum class AlertKind : uint8_t {
  kSpike,
  kUnitCostShift,
  kNewSpender,
  kRunaway,
  kUnpriced,
  kBudgetThreshold,
  kBudgetBurnRate,
  kBudgetForecast,
};
std::string_view AlertKindName(AlertKind kind);
std::optional<AlertKind> ParseAlertKind(std::string_view name);

enum class AlertStatus : uint8_t { kFiring, kResolved };
std::string_view AlertStatusName(AlertStatus status);

enum class Severity : uint8_t { kInfo, kWarning, kCritical };
std::string_view SeverityName(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view name);

struct Alert {
  // Stable for the whole incident: kind, key and start, hashed. A repeat of
  // the same problem later is a new incident with a new id.
  std::string alert_id;
  AlertKind kind = AlertKind::kSpike;
  AlertStatus status = AlertStatus::kFiring;
  Severity severity = Severity::kWarning;

  // The key's dimensions; empty where the alert sums over a dimension (a
  // tenant roll-up has no feature). `subject` names what is neither, e.g.
  // the agent_run_id of a runaway or the budget's name.
  std::string tenant;
  std::string feature;
  std::string environment;
  std::string model;
  std::string subject;

  // The window (or evaluation time) that produced this transition.
  int64_t window_start_ms = 0;
  int64_t window_size_ms = 0;
  // What was seen, what was expected and their ratio, in `unit`
  // ("usd", "usd_per_call", "calls", "tokens", "events").
  double observed = 0;
  double baseline = 0;
  double ratio = 0;
  std::string unit = "usd";

  int64_t started_at_ms = 0;
  int64_t resolved_at_ms = 0;  // 0 while firing
  std::string summary;         // one line a human reads first
  // Further figures for receivers that show details (PagerDuty
  // custom_details, Alertmanager annotations); values are already text.
  std::vector<std::pair<std::string, std::string>> details;

  // The idempotency key of this transition: "<alert_id>:firing" or
  // "<alert_id>:resolved". A receiver sees each key once.
  std::string TransitionKey() const;
};

// One alert as a JSON object without a trailing newline (the JSONL and the
// Kafka alerts topic format). Times are RFC 3339 UTC.
std::string AlertToJson(const Alert& alert);

// A stable id from the parts that identify one incident.
std::string MakeAlertId(AlertKind kind, std::string_view key, int64_t started_at_ms);

}  // namespace burnrate
