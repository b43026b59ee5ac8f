#include "simulate/incident.h"

#include <cmath>
#include <cstdio>

#include "core/time_format.h"

namespace burnrate::simulate {
namespace {

constexpr std::array<std::string_view, kIncidentKindCount> kNames = {
    "retry_loop",     "runaway_agent", "tenant_scripting",     "premium_routing",
    "new_feature",    "debug_script_weekend", "staging_leak", "unpriced_model"};

void AppendJsonString(std::string_view s, std::string& out) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void AppendOptional(const std::optional<std::string>& v, std::string& out) {
  if (v) {
    AppendJsonString(*v, out);
  } else {
    out.append("null");
  }
}

void AppendNumber(double v, std::string& out) {
  char buf[32];
  // Two decimals are plenty for a multiplier or dollars per hour, and keep
  // the labels readable.
  std::snprintf(buf, sizeof buf, "%.2f", std::isfinite(v) ? v : 0.0);
  out.append(buf);
}

}  // namespace

std::string_view IncidentKindName(IncidentKind kind) { return kNames[static_cast<size_t>(kind)]; }

std::optional<IncidentKind> ParseIncidentKind(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<IncidentKind>(i);
  }
  return std::nullopt;
}

std::vector<std::string_view> ExpectedAlerts(IncidentKind kind) {
  switch (kind) {
    case IncidentKind::kRetryLoop:
    case IncidentKind::kTenantScripting:
      return {"spike"};
    case IncidentKind::kRunawayAgent:
      return {"runaway"};
    case IncidentKind::kPremiumRouting:
      return {"unit_cost_shift", "spike"};
    case IncidentKind::kNewFeature:
      return {"new_spender"};
    case IncidentKind::kDebugScriptWeekend:
      return {"new_spender", "spike"};
    case IncidentKind::kStagingLeak:
      return {"spike", "new_spender"};
    case IncidentKind::kUnpricedModel:
      return {"unpriced"};
  }
  return {};
}

std::string IncidentLabelJson(const IncidentLabel& label) {
  std::string out;
  out.reserve(512);
  out.append("{\"incident_id\":");
  AppendJsonString(label.incident_id, out);
  out.append(",\"kind\":");
  AppendJsonString(IncidentKindName(label.kind), out);
  out.append(",\"expected_alerts\":[");
  bool first = true;
  for (std::string_view a : ExpectedAlerts(label.kind)) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(a, out);
  }
  out.append("],\"tenant\":");
  AppendJsonString(label.tenant, out);
  out.append(",\"feature\":");
  AppendOptional(label.feature, out);
  out.append(",\"environment\":");
  AppendOptional(label.environment, out);
  out.append(",\"agent_run_id\":");
  AppendOptional(label.agent_run_id, out);
  out.append(",\"model\":");
  AppendOptional(label.model, out);
  out.append(",\"start\":");
  AppendJsonString(FormatRfc3339Ms(label.start_ms), out);
  out.append(",\"end\":");
  AppendJsonString(FormatRfc3339Ms(label.end_ms), out);
  out.append(",\"start_ms\":");
  out.append(std::to_string(label.start_ms));
  out.append(",\"end_ms\":");
  out.append(std::to_string(label.end_ms));
  out.append(",\"magnitude\":");
  AppendNumber(label.magnitude, out);
  out.append(",\"expected_cost_per_hour_usd\":");
  AppendNumber(label.expected_cost_per_hour_usd, out);
  out.append(",\"description\":");
  AppendJsonString(label.description, out);
  out.push_back('}');
  return out;
}

}  // namespace burnrate::simulate
