// Scores alerts against labelled incidents (the labels `burnrate simulate`
// writes): precision and recall per incident, detection delay and time to
// resolve per incident kind, and false alerts per 1,000 key-days. Used by
// `burnrate evaluate` for burnrate's own alerts and for the simple
// baselines it runs beside them (baselines.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace burnrate {

struct Incident {
  std::string id;
  std::string kind;  // retry_loop, runaway_agent, tenant_scripting, ...
  std::vector<std::string> expected_alerts;
  std::string tenant;
  std::optional<std::string> feature, environment, agent_run_id, model;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  double magnitude = 0;
};

// One firing transition (with its resolve time, when it resolved).
struct ScoredAlert {
  std::string alert_id;
  std::string kind;
  std::string tenant, feature, environment, model;
  int64_t fired_ms = 0;  // started_at
  std::optional<int64_t> resolved_ms;
};

struct ScoringOptions {
  int64_t warmup_end_ms = 0;  // alerts and incidents before this are not scored
  int64_t end_ms = 0;
  double key_count = 0;       // distinct window keys, for false alerts per key-day
  // An alert up to this long after an incident's end still belongs to it.
  int64_t grace_ms = 30 * 60'000;
  // Baselines have no kinds: any alert on the right key and time matches.
  bool match_any_kind = false;
  int64_t window_ms = 60'000;  // the closed windows' size, for delay targets counted in windows
};

struct KindFigures {
  int incidents = 0;
  int detected = 0;
  std::vector<double> delays_s;    // first matching alert − incident start
  std::vector<double> resolve_s;   // matching alert's resolve − incident end
};

struct Score {
  int alerts = 0;
  int true_alerts = 0;
  int incidents = 0;
  int detected = 0;
  double precision = 0;
  double recall = 0;
  double key_days = 0;
  double false_alerts_per_1000_key_days = 0;
  std::map<std::string, KindFigures> by_kind;  // by incident kind
  // By the delay target that applies (DelayTargetOf); incidents with none are left out.
  std::map<std::string, KindFigures> by_delay_target;
  std::map<std::string, double> delay_target_s;  // each target's bound on the median delay
  std::vector<std::string> missed;             // incident ids
  std::vector<std::string> false_alert_ids;
};

// The detection-delay targets of docs/detection.md, by the shape of the
// incident: a rise of 10x or more (retry loops, staging leaks) within two
// windows, a 3-5x plateau (tenant scripting) within 15 minutes, a unit-cost
// shift (premium routing) within an hour, a new spender within 5 minutes.
struct DelayTarget {
  std::string name;
  double max_median_s = 0;
};
std::optional<DelayTarget> DelayTargetOf(const Incident& incident, int64_t window_ms);

Score ScoreAlerts(const std::vector<Incident>& incidents, const std::vector<ScoredAlert>& alerts,
                  const ScoringOptions& options);

// Whether an alert is about the incident's key and time (and kind).
bool Matches(const ScoredAlert& alert, const Incident& incident, const ScoringOptions& options);

// Reads labels (JSON Lines) and alert transitions (JSON Lines, as
// AlertToJson writes them; firing and resolved rows are paired by id).
absl::StatusOr<std::vector<Incident>> ReadIncidents(const std::string& path);
absl::StatusOr<std::vector<ScoredAlert>> ReadAlerts(const std::string& path);

double Percentile(std::vector<double> values, double p);

}  // namespace burnrate
