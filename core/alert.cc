#include "core/alert.h"

#include <cmath>
#include <cstdio>

#include "core/concat.h"
#include "core/dedup.h"
#include "core/json_output.h"
#include "core/time_format.h"

namespace burnrate {
namespace {

constexpr std::string_view kKindNames[] = {"spike",           "unit_cost_shift",  "new_spender",
                                           "runaway",         "unpriced",         "budget_threshold",
                                           "budget_burn_rate", "budget_forecast"};
constexpr std::string_view kSeverityNames[] = {"info", "warning", "critical"};

void AppendNumber(double v, std::string& out) {
  if (!std::isfinite(v)) {  // JSON has no infinity: a ratio against zero is null
    out += "null";
    return;
  }
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.6g", v);
  out.append(buf, static_cast<size_t>(n));
}

void AppendField(std::string_view name, std::string_view value, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
  AppendJsonString(value, out);
}

}  // namespace

std::string_view AlertKindName(AlertKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

std::optional<AlertKind> ParseAlertKind(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (kKindNames[i] == name) return static_cast<AlertKind>(i);
  }
  return std::nullopt;
}

std::string_view AlertStatusName(AlertStatus status) {
  return status == AlertStatus::kFiring ? "firing" : "resolved";
}

std::string_view SeverityName(Severity severity) { return kSeverityNames[static_cast<size_t>(severity)]; }

std::optional<Severity> ParseSeverity(std::string_view name) {
  for (size_t i = 0; i < std::size(kSeverityNames); ++i) {
    if (kSeverityNames[i] == name) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

std::string Alert::TransitionKey() const { return Concat(alert_id, ":", AlertStatusName(status)); }

std::string MakeAlertId(AlertKind kind, std::string_view key, int64_t started_at_ms) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(StableHash64(Concat(AlertKindName(kind), "\x1f", key, "\x1f",
                                                                    started_at_ms))));
  return std::string(buf);
}

std::string AlertToJson(const Alert& a) {
  std::string out = "{\"alert_id\":";
  AppendJsonString(a.alert_id, out);
  AppendField("kind", AlertKindName(a.kind), out);
  AppendField("status", AlertStatusName(a.status), out);
  AppendField("severity", SeverityName(a.severity), out);
  AppendField("tenant", a.tenant, out);
  AppendField("feature", a.feature, out);
  AppendField("environment", a.environment, out);
  if (!a.model.empty()) AppendField("model", a.model, out);
  if (!a.subject.empty()) AppendField("subject", a.subject, out);
  out += ",\"window_start\":";
  AppendJsonString(FormatRfc3339Ms(a.window_start_ms), out);
  out += ",\"window_size_seconds\":";
  out += std::to_string(a.window_size_ms / 1000);
  out += ",\"observed\":";
  AppendNumber(a.observed, out);
  out += ",\"baseline\":";
  AppendNumber(a.baseline, out);
  out += ",\"ratio\":";
  AppendNumber(a.ratio, out);
  AppendField("unit", a.unit, out);
  out += ",\"started_at\":";
  AppendJsonString(FormatRfc3339Ms(a.started_at_ms), out);
  out += ",\"resolved_at\":";
  if (a.status == AlertStatus::kResolved) {
    AppendJsonString(FormatRfc3339Ms(a.resolved_at_ms), out);
  } else {
    out += "null";
  }
  AppendField("summary", a.summary, out);
  if (!a.details.empty()) {
    out += ",\"details\":{";
    bool first = true;
    for (const auto& [k, v] : a.details) {
      if (!first) out += ',';
      first = false;
      AppendJsonString(k, out);
      out += ':';
      AppendJsonString(v, out);
    }
    out += '}';
  }
  out += '}';
  return out;
}

}  // namespace burnrate
