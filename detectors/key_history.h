// What the detectors remember about one key (a tenant/feature/environment
// window key, a tenant roll-up or a model): 7 days of hourly spend and calls
// by hour of the week, the last 60 minutes minute by minute, when the key
// was first seen, and the lifecycle of each detector's alert on it.
//
// Hours that were judged anomalous are stored as what was expected, so one
// incident does not teach the baseline that incidents are normal. The
// encoded form is about 1.2 KB (see Encode), which is what Redis holds;
// it decodes to exactly the history that was encoded.
#pragma once

#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace burnrate {

inline constexpr int kHoursPerWeek = 168;
inline constexpr int kRecentMinutes = 60;
inline constexpr int64_t kMinuteMs = 60'000;

// Which detector a lifecycle slot belongs to.
enum class DetectorSlot : uint8_t { kSpike, kUnitCostShift, kNewSpender, kUnpriced };
inline constexpr size_t kDetectorSlots = 4;

// One alert's life on one key: firing since started_ms (0 when quiet).
struct AlertLifecycle {
  int64_t started_ms = 0;
  int64_t last_hold_ms = 0;  // last time the condition still held
  float peak_ratio = 0;
  bool firing() const { return started_ms != 0; }
};

// What to expect of a key over some minutes, with how noisy it is.
struct Expectation {
  double cost_usd = 0;
  double calls = 0;
  // Standard deviation of cost over the same minutes (Poisson noise of the
  // calls plus the spread between comparable past hours).
  double sigma_usd = 0;
  int history_values = 0;  // how many past hours the estimate stands on
};

// Not thread-safe; owned by the detector engine's cache.
class KeyHistory {
 public:
  // Moves the clock to `minute` (epoch minutes), folding finished hours
  // into the hourly ring; minutes with no data count as zero. Returns false
  // (and changes nothing) when `minute` is not after the last applied one.
  bool AdvanceTo(int64_t minute);
  // Adds one window's totals to its minute, once: a window at or before the
  // last one applied is refused (false), so a replayed window never counts twice.
  bool ApplyWindow(int64_t window_start_ms, double cost_usd, int64_t calls);

  // Sums of the last `minutes` minutes, ending with the current one.
  double RecentCost(int minutes) const;
  double RecentCalls(int minutes) const;

  // Expected cost and calls over the `minutes` minutes ending with the
  // current minute, from comparable hours of the last 7 days (same hour of
  // day; weekdays against weekdays, weekends against weekends). With less
  // than a week of history, what there is, blended with `peer_prior_usd_per_hour`.
  Expectation Expect(int minutes, double peer_prior_usd_per_hour) const;
  // The key's usual cost per call (median over past hours with enough calls)
  // and how much it varies from hour to hour (robust relative spread);
  // nullopt without enough history.
  struct CostPerCall {
    double usual = 0;
    double spread_rel = 0;
  };
  std::optional<CostPerCall> UsualCostPerCall(int min_calls_per_hour) const;

  // The key's own noise: how far its spend over 15 and 60 minutes usually
  // strays from expectation (an exponentially weighted mean absolute residual,
  // learnt while no alert fires). Bursty keys (agents, batch jobs) stray
  // far more than call-count noise predicts, and must not page for it.
  void LearnNoise(double residual_15m, double residual_60m, double weight);
  // The learnt standard deviation for a window of `minutes` (0 before any learning).
  double LearnedSigma(int minutes) const;

  // The largest excess (spend above expectation over `minutes`) the key
  // showed on each of the last days while behaving: a rise is only
  // suspicious when it is unlike anything the key did in the past week.
  // Two scales: [0] a short window (the fast path's), [1] the sustained one.
  void LearnPeakExcess(int scale, double excess_usd);
  // The largest daily peak of the previous 6 days (today excluded, so an
  // incident that builds up cannot raise its own bar); 0 without history.
  double UsualPeakExcess(int scale) const;

  // Marks the current hour anomalous: it will be learnt as expected.
  void MarkCurrentHourAnomalous() { current_hour_anomalous_ = true; }

  int64_t first_minute() const { return first_minute_; }
  int64_t last_minute() const { return last_minute_; }
  int64_t history_minutes() const { return first_minute_ < 0 ? 0 : last_minute_ - first_minute_; }
  AlertLifecycle& lifecycle(DetectorSlot slot) { return lifecycles_[static_cast<size_t>(slot)]; }
  const AlertLifecycle& lifecycle(DetectorSlot slot) const { return lifecycles_[static_cast<size_t>(slot)]; }
  bool any_firing() const;
  // Mean hourly spend over the remembered week (a peer's typical spend).
  double MeanHourlyCost() const;

  // Compact binary form for the state store; Decode rejects anything that
  // is not a complete encoding of this version.
  std::string Encode() const;
  static std::optional<KeyHistory> Decode(std::string_view bytes);

  // Hour of the week (0 = Monday 00:00 UTC) of an epoch hour.
  static int HourOfWeek(int64_t epoch_hour) { return static_cast<int>((epoch_hour + 72) % kHoursPerWeek); }

 private:
  // One hour's estimate from its comparable past hours, cached: detectors
  // ask for the same few hours many times per window.
  struct HourEstimate {
    int64_t hour = 0;
    double cost = 0, calls = 0, spread = 0;
    int values = 0;
    bool valid = false;
  };
  const HourEstimate& EstimateHour(int64_t epoch_hour) const;
  void CommitHour(int64_t epoch_hour);
  double HourlyExpectation(int64_t epoch_hour, double* spread_rel, int* values, double* calls) const;

  int64_t first_minute_ = -1;
  int64_t last_minute_ = -1;
  int64_t last_window_ms_ = INT64_MIN;
  bool current_hour_anomalous_ = false;
  float noise_15m_ = 0;  // mean absolute residual over 15 minutes
  float noise_60m_ = 0;  // ... and over 60
  int64_t peak_day_ = -1;
  std::array<std::array<float, 7>, 2> daily_peak_excess_{};  // [scale][epoch day % 7]
  // The previous hour as it was a week ago (its slot now holds this week's).
  float week_ago_previous_hour_cost_ = 0;
  float week_ago_previous_hour_calls_ = 0;
  std::array<float, kHoursPerWeek> hour_cost_{};
  std::array<float, kHoursPerWeek> hour_calls_{};
  std::array<float, kRecentMinutes> minute_cost_{};
  std::array<float, kRecentMinutes> minute_calls_{};
  std::array<AlertLifecycle, kDetectorSlots> lifecycles_{};
  mutable std::array<HourEstimate, 4> hour_cache_{};
  mutable size_t next_cache_slot_ = 0;
};

}  // namespace burnrate
