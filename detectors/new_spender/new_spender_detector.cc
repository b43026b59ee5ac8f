#include "detectors/new_spender/new_spender_detector.h"

#include <algorithm>

#include "core/concat.h"

namespace burnrate {

Judgement NewSpenderDetector::Judge(const KeyHistory& history, const KeyIdentity& key,
                                    const DetectionContext& context) const {
  Judgement j;
  const int64_t first_seen_ms = history.first_minute() * kMinuteMs;
  const bool watched_long_enough = first_seen_ms >= context.watching_since_ms + config_.learning_period_ms;
  const bool still_new = context.now_ms - first_seen_ms <= config_.new_for_ms;
  const int minutes = 15;
  const double cost = history.RecentCost(minutes);
  const double calls = history.RecentCalls(minutes);
  // The rate over the last 15 minutes, or since the key appeared if later.
  const int64_t age_minutes = std::max<int64_t>(1, history.history_minutes() + 1);
  const double per_hour = cost * 60.0 / static_cast<double>(std::min<int64_t>(minutes, age_minutes));
  j.observed = per_hour;
  j.expected = config_.min_usd_per_hour;
  j.ratio = per_hour / config_.min_usd_per_hour;
  j.unit = "usd_per_hour";
  j.trigger = watched_long_enough && still_new && per_hour >= config_.min_usd_per_hour &&
              calls >= static_cast<double>(config_.min_calls);
  j.hold = cost * 60.0 / minutes >= config_.min_usd_per_hour / 2;
  j.severity = Severity::kWarning;
  j.summary = Concat("new spender: ", key.DisplayName(), ", first seen ",
                     (context.now_ms - first_seen_ms) / kMinuteMs, " minutes ago, spends ", FormatUsd(per_hour),
                     "/hour (floor ", FormatUsd(config_.min_usd_per_hour), "/hour)");
  j.details = {{"first_seen_minutes_ago", std::to_string((context.now_ms - first_seen_ms) / kMinuteMs)}};
  return j;
}

}  // namespace burnrate
