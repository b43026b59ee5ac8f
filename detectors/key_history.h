// What the detectors remember about one key (a tenant/feature/environment
// window key, a tenant roll-up or a model): 7 days of hourly spend and calls
// by hour of the week, the last 60 minutes minute by minute, when the key
// was first seen, and the lifecycle of each detector's alert on it.
//
// Hours that were judged anomalous are stored as what was expected, so one
// incident does not teach the baseline that incidents are normal. The
// encoded form is about 1.2 KB (see Encode), which is what Redis holds.
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
  // The key's usual cost per call (median over past hours with enough calls);
  // nullopt without enough history.
  std::optional<double> UsualCostPerCall(int min_calls_per_hour) const;

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
  void CommitHour(int64_t epoch_hour);
  double HourlyExpectation(int64_t epoch_hour, double* spread_rel, int* values, double* calls) const;

  int64_t first_minute_ = -1;
  int64_t last_minute_ = -1;
  int64_t last_window_ms_ = INT64_MIN;
  bool current_hour_anomalous_ = false;
  std::array<float, kHoursPerWeek> hour_cost_{};
  std::array<float, kHoursPerWeek> hour_calls_{};
  std::array<float, kRecentMinutes> minute_cost_{};
  std::array<float, kRecentMinutes> minute_calls_{};
  std::array<AlertLifecycle, kDetectorSlots> lifecycles_{};
};

}  // namespace burnrate
