#include "detectors/spike/spike_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "core/concat.h"

namespace burnrate {
namespace {

int Minutes(int64_t ms) { return static_cast<int>(std::clamp<int64_t>(ms / kMinuteMs, 1, kRecentMinutes)); }

// A key that usually makes no calls at all is judged as if it made about
// one an hour: against a rate of zero, any call would be a miracle.
constexpr double kMinExpectedCallsPerMinute = 0.02;

// log P(X >= k) for X ~ Poisson(rate): how improbable k calls are at that
// rate. At or below the rate nothing is improbable (0, i.e. P = 1).
double LogPoissonTail(double k, double rate) {
  k = std::floor(k + 0.5);  // call counts are sums of 16-bit floats
  if (k <= rate) return 0;
  // The first term, then the rest of the series: each term is the last
  // times rate / i, below 1 from here on, so it converges geometrically.
  const double log_first = -rate + k * std::log(rate) - std::lgamma(k + 1);
  double sum = 1, term = 1;
  for (double i = k + 1; i < k + 100'000; ++i) {
    term *= rate / i;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return log_first + std::log(sum);
}

std::string Ratio(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fx", r);
  return buf;
}

}  // namespace

Judgement SpikeDetector::Judge(const KeyHistory& history, const KeyIdentity& key,
                               const DetectionContext& context) const {
  Judgement j;
  // A floor for the expectation: a key that usually spends nothing is judged
  // against a tenth of the dollar floor, not against zero.
  const auto floor_for = [&](int minutes) { return config_.min_excess_usd_per_hour * minutes / 60.0 * 0.1; };
  const double prior = context.peer_prior_usd_per_hour;
  // Whether each of the last `blocks` blocks of `block` minutes spent at
  // least `ratio` x its expectation.
  const auto every_block_above = [&](int block, int blocks, double ratio) {
    for (int b = 0; b < blocks; ++b) {
      // Block b ends b blocks before now: its cost is the difference of two sums.
      const double cost = history.RecentCost(block * (b + 1)) - history.RecentCost(block * b);
      const double expected =
          history.Expect(block * (b + 1), prior).cost_usd - (b == 0 ? 0 : history.Expect(block * b, prior).cost_usd);
      if (cost < ratio * std::max(expected, floor_for(block))) return false;
    }
    return true;
  };
  // How improbable the calls of the last `minutes` are for a key calling at
  // `rate_factor` x its expected rate (log of the Poisson tail).
  const auto log_calls_tail = [&](int minutes, const Expectation& expected, double rate_factor) {
    const double rate = rate_factor * std::max(expected.calls, kMinExpectedCallsPerMinute * minutes);
    return LogPoissonTail(history.RecentCalls(minutes), rate);
  };
  bool fired = false;
  std::string path;  // which test fired: "pair 1", "calls 2m", "plateau", "sustained", ...
  double fired_observed = 0, fired_expected = 0, fired_ratio = 0;
  int fired_minutes = 0;
  // What the alert reports: the window of the test that fired.
  const auto fire = [&](std::string which, double observed, double expected, double ratio, int minutes) {
    fired = true;
    path = std::move(which);
    fired_observed = observed;
    fired_expected = expected;
    fired_ratio = ratio;
    fired_minutes = minutes;
  };
  for (const auto& pair : config_.pairs) {
    const int short_minutes = Minutes(pair.short_ms), long_minutes = Minutes(pair.long_ms);
    const double short_observed = history.RecentCost(short_minutes);
    const double long_observed = history.RecentCost(long_minutes);
    const Expectation short_expected = history.Expect(short_minutes, context.peer_prior_usd_per_hour);
    const Expectation long_expected = history.Expect(long_minutes, context.peer_prior_usd_per_hour);
    const double short_ratio = short_observed / std::max(short_expected.cost_usd, floor_for(short_minutes));
    const double long_ratio = long_observed / std::max(long_expected.cost_usd, floor_for(long_minutes));
    // The floor applies to the rate of the rise itself (the short window):
    // averaged over the long window, a young rise would be diluted.
    const double excess_per_hour = (short_observed - short_expected.cost_usd) * 60.0 / short_minutes;
    // The noise is the larger of what call counts predict and what this
    // key has shown of itself.
    const double sigma = std::max(long_expected.sigma_usd, history.LearnedSigma(long_minutes));
    const double z = sigma > 0 ? (long_observed - long_expected.cost_usd) / sigma : INFINITY;
    // A key with fewer than 3 comparable past hours has no baseline to be a
    // spike against: new keys are new_spender's to judge.
    const bool has_baseline = long_expected.history_values >= 3;
    // The fast path pages on a young rise: it must also be unlike the
    // short bursts this key showed in the past week.
    // (The slower pairs average bursts away and need not.)
    const bool unlike_its_week = &pair != &config_.pairs.front() ||
                                 short_observed - short_expected.cost_usd >
                                     config_.sustained_peak_factor * history.UsualPeakExcess(0);
    const bool enough_calls = history.RecentCalls(short_minutes) >= static_cast<double>(config_.min_calls);
    if (has_baseline && enough_calls && unlike_its_week && short_ratio >= pair.short_ratio && long_ratio >= pair.long_ratio &&
        excess_per_hour >= config_.min_excess_usd_per_hour && z >= config_.min_z) {
      fire(Concat("pair ", &pair - &config_.pairs.front() + 1), long_observed, long_expected.cost_usd, long_ratio,
           long_minutes);
      break;
    }
  }
  for (size_t i = 0; i < config_.calls_windows_ms.size() && !fired; ++i) {
    // The calls path: more calls than chance allows even at a busy rate.
    // On a quiet key (a staging key, a few calls an hour) a leak is a
    // handful of calls in a minute or two; the spend over the long window
    // hardly moves yet, so the pairs wait for it.
    const int minutes = Minutes(config_.calls_windows_ms[i]);
    if (history.RecentCalls(minutes) < static_cast<double>(config_.min_calls)) continue;
    const Expectation expected = history.Expect(minutes, prior);
    const double observed = history.RecentCost(minutes);
    const double ratio = observed / std::max(expected.cost_usd, floor_for(minutes));
    const double excess_per_hour = (observed - expected.cost_usd) * 60.0 / minutes;
    if (expected.history_values >= 3 && ratio >= config_.calls_ratio &&
        excess_per_hour >= config_.calls_min_excess_usd_per_hour &&
        log_calls_tail(minutes, expected, config_.calls_rate_factor) < std::log(config_.calls_max_p)) {
      fire(Concat("calls ", minutes, "m"), observed, expected.cost_usd, ratio, minutes);
    }
  }
  if (!fired) {
    // The plateau path: a rise that has held for a quarter of an hour,
    // without waiting for it to lift the hour-long window.
    const int block = Minutes(config_.plateau_block_ms);
    const int minutes = std::min(block * config_.plateau_blocks, kRecentMinutes);
    const Expectation expected = history.Expect(minutes, prior);
    const double observed = history.RecentCost(minutes);
    const double ratio = observed / std::max(expected.cost_usd, floor_for(minutes));
    const double sigma = std::max(expected.sigma_usd, history.LearnedSigma(minutes));
    const double z = sigma > 0 ? (observed - expected.cost_usd) / sigma : INFINITY;
    const double excess_per_hour = (observed - expected.cost_usd) * 60.0 / minutes;
    if (expected.history_values >= 3 && ratio >= config_.plateau_ratio && z >= config_.min_z &&
        excess_per_hour >= config_.plateau_min_excess_usd_per_hour &&
        every_block_above(block, config_.plateau_blocks, config_.plateau_block_ratio) &&
        log_calls_tail(minutes, expected, config_.plateau_rate_factor) < std::log(config_.plateau_max_p)) {
      fire("plateau", observed, expected.cost_usd, ratio, minutes);
    }
  }
  if (!fired) {
    // The sustained path: smaller rises that last.
    const int block = Minutes(config_.sustained_block_ms);
    const int minutes = block * config_.sustained_blocks;
    const Expectation total_expected = history.Expect(minutes, context.peer_prior_usd_per_hour);
    const bool every_block = total_expected.history_values >= 3 &&
                             every_block_above(block, config_.sustained_blocks, config_.sustained_ratio);
    const double observed = history.RecentCost(minutes);
    const double sigma = std::max(total_expected.sigma_usd, history.LearnedSigma(minutes));
    const double z = sigma > 0 ? (observed - total_expected.cost_usd) / sigma : INFINITY;
    const double excess_per_hour = (observed - total_expected.cost_usd) * 60.0 / minutes;
    const bool unlike_its_week =
        observed - total_expected.cost_usd > config_.sustained_peak_factor * history.UsualPeakExcess(1);
    if (every_block && unlike_its_week && z >= config_.min_z &&
        excess_per_hour >= config_.sustained_min_excess_usd_per_hour) {
      fire("sustained", observed, total_expected.cost_usd,
           observed / std::max(total_expected.cost_usd, floor_for(minutes)), minutes);
    }
  }
  // Hysteresis: measured over 15 minutes whatever fired it.
  const int hold_minutes = 15;
  const double hold_observed = history.RecentCost(hold_minutes);
  const Expectation hold_expected = history.Expect(hold_minutes, context.peer_prior_usd_per_hour);
  const double hold_ratio = hold_observed / std::max(hold_expected.cost_usd, floor_for(hold_minutes));
  j.hold = hold_ratio >= config_.hold_ratio && (hold_observed - hold_expected.cost_usd) * 60.0 / hold_minutes >=
                                                  config_.sustained_min_excess_usd_per_hour / 2;

  if (fired) {
    j.trigger = true;
    j.observed = fired_observed;
    j.expected = fired_expected;
    j.ratio = fired_ratio;
  } else {
    j.observed = hold_observed;
    j.expected = hold_expected.cost_usd;
    j.ratio = hold_ratio;
    fired_minutes = hold_minutes;
  }
  const bool big = j.ratio >= config_.critical_ratio &&
                   (j.observed - j.expected) * 60.0 / fired_minutes >= 10 * config_.min_excess_usd_per_hour;
  j.severity = big ? Severity::kCritical : Severity::kWarning;
  j.summary = Concat(key.DisplayName(), " spent ", FormatUsd(j.observed), " in the last ", fired_minutes,
                     " minutes, ", Ratio(j.ratio), " its usual ", FormatUsd(j.expected), " for a ",
                     FormatWeekdayHour(context.window_start_ms));
  j.details = {{"window_minutes", std::to_string(fired_minutes)},
               {"path", path.empty() ? "hold" : path},
               {"history_hours", std::to_string(history.history_minutes() / 60)}};
  return j;
}

}  // namespace burnrate
