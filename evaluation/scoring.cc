#include "evaluation/scoring.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {
namespace {

std::optional<std::string> OptionalString(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

int64_t TimeField(const nlohmann::json& j, const char* ms_name, const char* text_name) {
  if (auto it = j.find(ms_name); it != j.end() && it->is_number()) return it->get<int64_t>();
  if (auto it = j.find(text_name); it != j.end() && it->is_string()) {
    if (auto t = ParseRfc3339Ms(it->get<std::string>())) return *t;
  }
  return 0;
}

bool SameOrUnset(const std::optional<std::string>& label, const std::string& alert_value) {
  // A tenant-wide incident matches alerts on any of its keys; a roll-up
  // alert (empty dimension) matches an incident on one of its keys.
  return !label || alert_value.empty() || *label == alert_value;
}

}  // namespace

bool Matches(const ScoredAlert& a, const Incident& inc, const ScoringOptions& options) {
  if (a.fired_ms < inc.start_ms || a.fired_ms > inc.end_ms + options.grace_ms) return false;
  if (!options.match_any_kind &&
      std::find(inc.expected_alerts.begin(), inc.expected_alerts.end(), a.kind) == inc.expected_alerts.end()) {
    return false;
  }
  if (!a.model.empty() && a.tenant.empty()) {  // a model-wide alert (unpriced)
    return inc.model && *inc.model == a.model;
  }
  return a.tenant == inc.tenant && SameOrUnset(inc.feature, a.feature) && SameOrUnset(inc.environment, a.environment);
}

std::optional<DelayTarget> DelayTargetOf(const Incident& inc, int64_t window_ms) {
  if ((inc.kind == "retry_loop" || inc.kind == "staging_leak") && inc.magnitude >= 10) {
    return DelayTarget{"spike >= 10x (2 windows)", 2 * static_cast<double>(window_ms) / 1000.0};
  }
  if (inc.kind == "tenant_scripting") return DelayTarget{"plateau 3-5x (15 min)", 15 * 60};
  if (inc.kind == "premium_routing") return DelayTarget{"unit-cost shift (60 min)", 60 * 60};
  if (inc.kind == "new_feature") return DelayTarget{"new spender (5 min)", 5 * 60};
  return std::nullopt;
}

Score ScoreAlerts(const std::vector<Incident>& incidents, const std::vector<ScoredAlert>& alerts,
                  const ScoringOptions& options) {
  Score s;
  std::vector<const Incident*> scored_incidents;
  for (const auto& inc : incidents) {
    if (inc.start_ms >= options.warmup_end_ms && inc.start_ms < options.end_ms) scored_incidents.push_back(&inc);
  }
  std::vector<const ScoredAlert*> scored_alerts;
  for (const auto& a : alerts) {
    if (a.fired_ms >= options.warmup_end_ms && a.fired_ms <= options.end_ms) scored_alerts.push_back(&a);
  }
  s.alerts = static_cast<int>(scored_alerts.size());
  s.incidents = static_cast<int>(scored_incidents.size());
  // Precision: an alert about an incident's key during the incident is
  // true whatever detector raised it (a runaway agent also spikes its key).
  ScoringOptions any_kind = options;
  any_kind.match_any_kind = true;
  for (const ScoredAlert* a : scored_alerts) {
    bool matched = false;
    for (const Incident* inc : scored_incidents) matched |= Matches(*a, *inc, any_kind);
    if (matched) {
      ++s.true_alerts;
    } else {
      s.false_alert_ids.push_back(a->alert_id);
    }
  }
  for (const Incident* inc : scored_incidents) {
    KindFigures& k = s.by_kind[inc->kind];
    ++k.incidents;
    const std::optional<DelayTarget> target = DelayTargetOf(*inc, options.window_ms);
    KindFigures* t = nullptr;
    if (target) {
      t = &s.by_delay_target[target->name];
      ++t->incidents;
      s.delay_target_s[target->name] = target->max_median_s;
    }
    const ScoredAlert* first = nullptr;
    for (const ScoredAlert* a : scored_alerts) {
      if (Matches(*a, *inc, options) && (!first || a->fired_ms < first->fired_ms)) first = a;
    }
    if (!first) {
      s.missed.push_back(inc->id);
      continue;
    }
    ++s.detected;
    ++k.detected;
    k.delays_s.push_back(static_cast<double>(first->fired_ms - inc->start_ms) / 1000.0);
    if (t) {
      ++t->detected;
      t->delays_s.push_back(k.delays_s.back());
    }
    if (first->resolved_ms) k.resolve_s.push_back(static_cast<double>(*first->resolved_ms - inc->end_ms) / 1000.0);
  }
  s.precision = s.alerts ? static_cast<double>(s.true_alerts) / s.alerts : 1.0;
  s.recall = s.incidents ? static_cast<double>(s.detected) / s.incidents : 1.0;
  s.key_days = options.key_count * static_cast<double>(options.end_ms - options.warmup_end_ms) / 86'400'000.0;
  s.false_alerts_per_1000_key_days =
      s.key_days > 0 ? static_cast<double>(s.alerts - s.true_alerts) * 1000.0 / s.key_days : 0;
  return s;
}

absl::StatusOr<std::vector<Incident>> ReadIncidents(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(Concat("cannot read labels ", path));
  std::vector<Incident> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      Incident inc;
      inc.id = j.value("incident_id", Concat("line-", n));
      inc.kind = j.at("kind").get<std::string>();
      if (auto it = j.find("expected_alerts"); it != j.end() && it->is_array()) {
        for (const auto& k : *it) inc.expected_alerts.push_back(k.get<std::string>());
      }
      inc.tenant = OptionalString(j, "tenant").value_or("");
      inc.feature = OptionalString(j, "feature");
      inc.environment = OptionalString(j, "environment");
      inc.agent_run_id = OptionalString(j, "agent_run_id");
      inc.model = OptionalString(j, "model");
      inc.start_ms = TimeField(j, "start_ms", "start");
      inc.end_ms = TimeField(j, "end_ms", "end");
      if (auto it = j.find("magnitude"); it != j.end() && it->is_number()) inc.magnitude = it->get<double>();
      out.push_back(std::move(inc));
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(Concat(path, ":", n, ": ", e.what()));
    }
  }
  return out;
}

absl::StatusOr<std::vector<ScoredAlert>> ReadAlerts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(Concat("cannot read alerts ", path));
  std::vector<ScoredAlert> out;
  std::map<std::string, size_t> by_id;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      const std::string id = j.at("alert_id").get<std::string>();
      const std::string status = j.at("status").get<std::string>();
      if (status == "resolved") {
        if (auto it = by_id.find(id); it != by_id.end()) {
          out[it->second].resolved_ms = TimeField(j, "resolved_at_ms", "resolved_at");
        }
        continue;
      }
      ScoredAlert a;
      a.alert_id = id;
      a.kind = j.at("kind").get<std::string>();
      a.tenant = j.value("tenant", "");
      a.feature = j.value("feature", "");
      a.environment = j.value("environment", "");
      a.model = j.value("model", "");
      a.fired_ms = TimeField(j, "started_at_ms", "started_at");
      by_id[id] = out.size();
      out.push_back(std::move(a));
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(Concat(path, ":", n, ": ", e.what()));
    }
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double rank = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace burnrate
