#include "detectors/unit_cost_shift/unit_cost_shift_detector.h"

#include <algorithm>
#include <cstdio>

#include "core/concat.h"

namespace burnrate {

Judgement UnitCostShiftDetector::Judge(const KeyHistory& history, const KeyIdentity& key,
                                       const DetectionContext& context) const {
  Judgement j;
  j.unit = "usd_per_call";
  const auto usual_cpc = history.UsualCostPerCall(3);
  if (!usual_cpc || usual_cpc->usual <= 0) return j;
  const double* usual = &usual_cpc->usual;
  // Keys whose cost per call swings from hour to hour (agents with long
  // contexts) need a bigger jump to say anything.
  const double needed_ratio = std::max(config_.min_ratio, 1.0 + 4.0 * usual_cpc->spread_rel);
  int minutes = 0;
  double calls = 0, cost = 0;
  for (int m : {15, 30, 60}) {
    minutes = m;
    calls = history.RecentCalls(m);
    cost = history.RecentCost(m);
    if (calls >= static_cast<double>(config_.min_calls)) break;
  }
  if (calls < static_cast<double>(config_.min_calls)) return j;
  const double per_call = cost / calls;
  const double ratio = per_call / *usual;
  const Expectation expected = history.Expect(minutes, context.peer_prior_usd_per_hour);
  // Steady traffic: the calls are within a factor of what this hour usually
  // sees (with a floor of a few calls, so quiet hours do not veto).
  const double expected_calls = std::max(expected.calls, static_cast<double>(config_.min_calls) / 2);
  const double call_change = calls >= expected_calls ? calls / expected_calls : expected_calls / calls;
  const double excess_per_hour = (cost - calls * *usual) * 60.0 / minutes;
  j.observed = per_call;
  j.expected = *usual;
  j.ratio = ratio;
  // Confirmed over the last hour too, when it holds enough calls: one
  // expensive batch of calls is not a routing change.
  const double hour_calls = history.RecentCalls(60);
  const bool confirmed = minutes == 60 || hour_calls < static_cast<double>(config_.min_calls) ||
                         (history.RecentCost(60) / hour_calls) / *usual >= needed_ratio * 0.8;
  j.trigger = ratio >= needed_ratio && confirmed && call_change <= config_.max_call_rate_change &&
              excess_per_hour >= config_.min_excess_usd_per_hour;
  j.hold = ratio >= config_.hold_ratio;
  j.severity = Severity::kWarning;
  char ratio_text[32];
  std::snprintf(ratio_text, sizeof ratio_text, "%.1fx", ratio);
  j.summary = Concat(key.DisplayName(), " pays ", FormatUsd(per_call), " per call over the last ", minutes,
                     " minutes, ", ratio_text, " its usual ", FormatUsd(*usual), " with ",
                     static_cast<int64_t>(calls), " calls (a routing or model change?)");
  j.details = {{"window_minutes", std::to_string(minutes)},
               {"calls", std::to_string(static_cast<int64_t>(calls))},
               {"expected_calls", std::to_string(static_cast<int64_t>(expected.calls))}};
  return j;
}

}  // namespace burnrate
