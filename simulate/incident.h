// Incident kinds and labels of `burnrate simulate`: what was injected into
// the synthetic traffic, where and when, and which alerts a detector should
// raise for it. The labels are the ground truth `burnrate evaluate` scores
// detectors against (docs/simulate.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace burnrate::simulate {

enum class IncidentKind : uint8_t {
  kRetryLoop,           // one key's call rate x10-50 for minutes
  kRunawayAgent,        // one agent run makes hundreds of calls, context growing
  kTenantScripting,     // a tenant's key(s) at a 3-5x plateau for hours
  kPremiumRouting,      // a feature's calls switch to a premium model
  kNewFeature,          // a never-seen feature key with meaningful spend
  kDebugScriptWeekend,  // a dev key calling steadily from Friday to Monday
  kStagingLeak,         // a staging key with prod-level traffic
  kUnpricedModel,       // calls to a model the price table does not know
};
inline constexpr size_t kIncidentKindCount = 8;
inline constexpr std::array<IncidentKind, kIncidentKindCount> kAllIncidentKinds = {
    IncidentKind::kRetryLoop,      IncidentKind::kRunawayAgent,       IncidentKind::kTenantScripting,
    IncidentKind::kPremiumRouting, IncidentKind::kNewFeature,         IncidentKind::kDebugScriptWeekend,
    IncidentKind::kStagingLeak,    IncidentKind::kUnpricedModel};

// "retry_loop", "runaway_agent", ...
std::string_view IncidentKindName(IncidentKind kind);
std::optional<IncidentKind> ParseIncidentKind(std::string_view name);
// The alert kinds a detector should raise, preferred first ("spike",
// "runaway", "unit_cost_shift", "new_spender", "unpriced").
std::vector<std::string_view> ExpectedAlerts(IncidentKind kind);

// One injected incident: one line of the labels file.
struct IncidentLabel {
  std::string incident_id;  // "inc-0001", in start order
  IncidentKind kind = IncidentKind::kRetryLoop;
  std::string tenant;
  std::optional<std::string> feature;      // nullopt: tenant-wide
  std::optional<std::string> environment;  // nullopt: all environments
  std::optional<std::string> agent_run_id;  // runaway_agent only
  std::optional<std::string> model;         // premium_routing, unpriced_model
  int64_t start_ms = 0;  // inclusive
  int64_t end_ms = 0;    // exclusive
  // The multiplier on the affected key's cost rate (cost per call for
  // premium_routing). For kinds whose key did not exist before (new_feature,
  // debug_script_weekend on a new key) it is the key's expected USD per hour.
  double magnitude = 0;
  // Expected spend rate of the affected key(s) during the incident.
  double expected_cost_per_hour_usd = 0;
  std::string description;
};

// The label as one JSON object (no newline).
std::string IncidentLabelJson(const IncidentLabel& label);

}  // namespace burnrate::simulate
