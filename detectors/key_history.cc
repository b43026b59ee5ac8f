#include "detectors/key_history.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace burnrate {
namespace {

constexpr uint8_t kEncodingVersion = 6;
constexpr int64_t kMinutesPerWeek = int64_t{kHoursPerWeek} * 60;

bool IsWeekend(int64_t epoch_hour) { return KeyHistory::HourOfWeek(epoch_hour) / 24 >= 5; }

double Median(std::vector<double>& v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid))) / 2;
  }
  return m;
}

// Hourly sums and per-minute call counts are kept as 16-bit floats (6-bit
// exponent, 10-bit mantissa: within 0.05% from 5e-10 to 4e9), in memory as
// in Redis. A history read back from Redis is then exactly the one saved,
// so `run` judges exactly as `replay` does, and the hourly rings take half
// the bytes of 32-bit floats.
uint16_t ToHalf(float v) {
  if (!(v > 0)) return 0;
  int e = 0;
  const double m = std::frexp(static_cast<double>(v), &e);  // v = m * 2^e, m in [0.5, 1)
  auto q = static_cast<int>(std::lround((2 * m - 1) * 1024));
  if (q == 1024) {
    q = 0;
    ++e;
  }
  const int stored = e + 31;  // v = (1 + q/1024) * 2^(stored - 32)
  if (stored < 1) return 0;
  if (stored > 63) return 0xffff;
  return static_cast<uint16_t>(stored << 10 | q);
}

float FromHalf(uint16_t h) {
  const int stored = h >> 10;
  if (stored == 0) return 0;
  return static_cast<float>(std::ldexp(1 + (h & 1023) / 1024.0, stored - 32));
}

float RoundHalf(double v) { return FromHalf(ToHalf(static_cast<float>(v))); }

template <size_t N>
void PutHalves(const std::array<float, N>& values, std::string& out) {
  for (float v : values) {
    const uint16_t h = ToHalf(v);
    out.push_back(static_cast<char>(h & 0xff));
    out.push_back(static_cast<char>(h >> 8));
  }
}

template <size_t N>
bool GetHalves(std::string_view& in, std::array<float, N>& values) {
  if (in.size() < 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    values[i] = FromHalf(static_cast<uint16_t>(static_cast<uint8_t>(in[2 * i]) | static_cast<uint8_t>(in[2 * i + 1]) << 8));
  }
  in.remove_prefix(2 * N);
  return true;
}

template <typename T>
void Put(const T& v, std::string& out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

template <typename T>
bool Get(std::string_view& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&v, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

}  // namespace

bool KeyHistory::AdvanceTo(int64_t minute) {
  if (first_minute_ < 0) {
    first_minute_ = minute;
    last_minute_ = minute;
    return true;
  }
  if (minute <= last_minute_) return false;
  if (minute - last_minute_ > kMinutesPerWeek + 60) {
    // Silent for over a week: every remembered hour is a zero now.
    hour_cost_.fill(0);
    hour_calls_.fill(0);
    week_ago_previous_hour_cost_ = week_ago_previous_hour_calls_ = 0;
    for (auto& c : hour_cache_) c.valid = false;
    minute_cost_.fill(0);
    minute_calls_.fill(0);
    current_hour_anomalous_ = false;
    last_minute_ = minute;
    return true;
  }
  for (int64_t m = last_minute_ + 1; m <= minute; ++m) {
    if (m % 60 == 0) CommitHour(m / 60 - 1);
    minute_cost_[static_cast<size_t>(m % kRecentMinutes)] = 0;
    minute_calls_[static_cast<size_t>(m % kRecentMinutes)] = 0;
    last_minute_ = m;
  }
  return true;
}

bool KeyHistory::ApplyWindow(int64_t window_start_ms, double cost_usd, int64_t calls) {
  if (window_start_ms <= last_window_ms_) return false;
  const int64_t minute = window_start_ms >= 0 ? window_start_ms / kMinuteMs : -1;
  if (minute < last_minute_) return false;
  AdvanceTo(minute);  // false when windows are shorter than a minute: same minute
  last_window_ms_ = window_start_ms;
  const auto slot = static_cast<size_t>(last_minute_ % kRecentMinutes);
  minute_cost_[slot] += static_cast<float>(cost_usd);
  minute_calls_[slot] = RoundHalf(static_cast<double>(minute_calls_[slot]) + static_cast<double>(calls));
  return true;
}

void KeyHistory::LearnNoise(double residual_15m, double residual_60m, double weight) {
  // Mean absolute residuals: a robust scale that a few bursts do not blow up
  // (the variables keep their names; they hold scales, not variances).
  noise_15m_ = static_cast<float>((1 - weight) * noise_15m_ + weight * std::abs(residual_15m));
  noise_60m_ = static_cast<float>((1 - weight) * noise_60m_ + weight * std::abs(residual_60m));
}

double KeyHistory::LearnedSigma(int minutes) const {
  // For normal noise the standard deviation is 1.25 mean absolute
  // deviations. Between the two learnt scales, and beyond them, noise grows
  // like the square root of the window.
  const double s15 = 1.25 * noise_15m_, s60 = 1.25 * noise_60m_;
  if (minutes <= 15) return s15 * std::sqrt(minutes / 15.0);
  if (minutes >= 60) return s60 * std::sqrt(minutes / 60.0);
  const double w = (minutes - 15) / 45.0;
  return (1 - w) * s15 * std::sqrt(minutes / 15.0) + w * s60 * std::sqrt(minutes / 60.0);
}

void KeyHistory::LearnPeakExcess(int scale, double excess_usd) {
  const int64_t day = last_minute_ / 1440;
  if (day != peak_day_) {
    // Days passed since the last lesson start from zero.
    for (int64_t d = std::max(peak_day_ + 1, day - 6); d <= day; ++d) {
      for (auto& peaks : daily_peak_excess_) peaks[static_cast<size_t>(d % 7)] = 0;
    }
    peak_day_ = day;
  }
  float& today = daily_peak_excess_[static_cast<size_t>(scale)][static_cast<size_t>(day % 7)];
  today = std::max(today, static_cast<float>(excess_usd));
}

double KeyHistory::UsualPeakExcess(int scale) const {
  const int64_t day = last_minute_ / 1440;
  double peak = 0;
  for (int64_t d = day - 6; d < day; ++d) {
    if (d < 0 || d > peak_day_ || d <= peak_day_ - 7) continue;  // not learnt (or stale)
    peak = std::max(peak, static_cast<double>(daily_peak_excess_[static_cast<size_t>(scale)][static_cast<size_t>(d % 7)]));
  }
  return peak;
}

double KeyHistory::MeanHourlyCost() const {
  double sum = 0;
  for (float v : hour_cost_) sum += v;
  return sum / kHoursPerWeek;
}

void KeyHistory::CommitHour(int64_t epoch_hour) {
  // The ring holds exactly this hour's minutes: each slot was cleared when
  // the clock passed it.
  double cost = 0, calls = 0;
  for (int i = 0; i < kRecentMinutes; ++i) {
    cost += minute_cost_[static_cast<size_t>(i)];
    calls += minute_calls_[static_cast<size_t>(i)];
  }
  if (current_hour_anomalous_) {
    double spread = 0, expected_calls = 0;
    int values = 0;
    const double expected = HourlyExpectation(epoch_hour, &spread, &values, &expected_calls);
    if (values > 0) {
      cost = std::min(cost, expected);
      calls = std::min(calls, expected_calls);
    }
    current_hour_anomalous_ = false;
  }
  const auto slot = static_cast<size_t>(HourOfWeek(epoch_hour));
  for (auto& c : hour_cache_) c.valid = false;
  // The slot held this hour a week ago: kept, so the previous hour can still
  // be compared with its own weekday (HourlyExpectation).
  week_ago_previous_hour_cost_ = hour_cost_[slot];
  week_ago_previous_hour_calls_ = hour_calls_[slot];
  hour_cost_[slot] = RoundHalf(cost);
  hour_calls_[slot] = RoundHalf(calls);
}

// The expected cost of `epoch_hour` (not yet committed) from the committed
// hours of the last 7 days that resemble it.
double KeyHistory::HourlyExpectation(int64_t epoch_hour, double* spread_rel, int* count, double* calls) const {
  const int64_t first_hour = first_minute_ / 60;
  const int64_t current_hour = last_minute_ / 60;
  const bool weekend = IsWeekend(epoch_hour);
  std::vector<double> costs, call_counts;
  costs.reserve(16);
  call_counts.reserve(16);
  const auto take = [&](int64_t h) {
    // Only committed hours whose slot has not been reused since.
    if (h < first_hour || h >= epoch_hour || h >= current_hour || h < current_hour - kHoursPerWeek) return;
    const auto slot = static_cast<size_t>(HourOfWeek(h));
    costs.push_back(hour_cost_[slot]);
    call_counts.push_back(hour_calls_[slot]);
  };
  // Same hour of day on the same kind of day; weekends are few, so their
  // neighbouring hours count too.
  for (int k = 1; k <= 7; ++k) {
    const int64_t h = epoch_hour - 24 * k;
    if (IsWeekend(h) != weekend) continue;
    take(h);
    if (weekend) {
      take(h - 1);
      take(h + 1);
    }
  }
  if (costs.empty()) {  // young key: the same hour on any day
    for (int k = 1; k <= 7; ++k) take(epoch_hour - 24 * k);
  }
  if (costs.empty()) {  // younger still: every hour it has
    for (int64_t h = epoch_hour - 1; h >= std::max(first_hour, epoch_hour - kHoursPerWeek + 1); --h) take(h);
  }
  *count = static_cast<int>(costs.size());
  if (costs.empty()) {
    *spread_rel = 0;
    *calls = 0;
    return 0;
  }
  const double median = Median(costs);
  std::vector<double> deviations;
  deviations.reserve(costs.size());
  for (double c : costs) deviations.push_back(std::abs(c - median));
  const double mad = Median(deviations);
  *spread_rel = median > 0 ? 1.4826 * mad / median : 1.0;
  *calls = Median(call_counts);
  // The weekday's own shape (Monday mornings): an hour that was busier than
  // its comparable hours a week ago is expected halfway up to that again.
  // Only up: a quiet hour last week says less than the median does.
  if (epoch_hour - kHoursPerWeek >= first_hour) {
    double week_ago_cost = -1, week_ago_calls = 0;
    if (epoch_hour >= current_hour) {  // its slot still holds last week
      week_ago_cost = hour_cost_[static_cast<size_t>(HourOfWeek(epoch_hour))];
      week_ago_calls = hour_calls_[static_cast<size_t>(HourOfWeek(epoch_hour))];
    } else if (epoch_hour == current_hour - 1) {  // committed this hour: kept aside
      week_ago_cost = week_ago_previous_hour_cost_;
      week_ago_calls = week_ago_previous_hour_calls_;
    }
    if (week_ago_cost > median) {
      *calls = std::max(*calls, (*calls + week_ago_calls) / 2);
      return (median + week_ago_cost) / 2;
    }
  }
  return median;
}

const KeyHistory::HourEstimate& KeyHistory::EstimateHour(int64_t epoch_hour) const {
  for (const auto& c : hour_cache_) {
    if (c.valid && c.hour == epoch_hour) return c;
  }
  HourEstimate& slot = hour_cache_[next_cache_slot_];
  next_cache_slot_ = (next_cache_slot_ + 1) % hour_cache_.size();
  slot.hour = epoch_hour;
  slot.cost = HourlyExpectation(epoch_hour, &slot.spread, &slot.values, &slot.calls);
  slot.valid = true;
  return slot;
}

Expectation KeyHistory::Expect(int minutes, double peer_prior_usd_per_hour) const {
  Expectation e;
  if (last_minute_ < 0) return e;
  minutes = std::clamp(minutes, 1, kRecentMinutes);
  const int64_t first = last_minute_ - minutes + 1;
  // An hour's estimate, leaning on what keys like this one usually spend
  // when the key has little history of its own.
  const auto hour_cost = [&](int64_t hour, double* calls, double* spread, int* values) {
    const HourEstimate& h = EstimateHour(hour);
    *calls = h.calls;
    *spread = h.spread;
    *values = h.values;
    if (h.values >= 3) return h.cost;
    *spread = std::max(h.spread, 1.0);
    return (h.cost * h.values + peer_prior_usd_per_hour) / (h.values + 1);
  };
  double spread_weighted = 0;
  int min_values = INT32_MAX;
  // Each minute expects the hourly level interpolated between the centres
  // of neighbouring hours, so a morning ramp within an hour is expected.
  for (int64_t m = first; m <= last_minute_; ++m) {
    const int64_t hour = m / 60;
    const double offset = static_cast<double>(m % 60) + 0.5;
    double calls = 0, spread = 0;
    int values = 0;
    double cost = hour_cost(hour, &calls, &spread, &values);
    const int64_t neighbour = offset < 30 ? hour - 1 : hour + 1;
    const double w = std::abs(offset - 30) / 60.0;
    double n_calls = 0, n_spread = 0;
    int n_values = 0;
    const double n_cost = hour_cost(neighbour, &n_calls, &n_spread, &n_values);
    if (n_values >= 3 && values >= 3) {
      cost = (1 - w) * cost + w * n_cost;
      calls = (1 - w) * calls + w * n_calls;
    }
    e.cost_usd += cost / 60.0;
    e.calls += calls / 60.0;
    spread_weighted += spread * cost / 60.0;
    min_values = std::min(min_values, values);
  }
  e.history_values = min_values == INT32_MAX ? 0 : min_values;
  const double cost_per_call = e.calls > 0 ? e.cost_usd / e.calls : e.cost_usd;
  // Compound Poisson: calls arrive at random and their costs vary (a
  // coefficient of variation near 1 is typical of token counts).
  const double poisson = cost_per_call * std::sqrt(2.0 * std::max(e.calls, 1.0));
  e.sigma_usd = std::sqrt(poisson * poisson + spread_weighted * spread_weighted);
  return e;
}

std::optional<KeyHistory::CostPerCall> KeyHistory::UsualCostPerCall(int min_calls_per_hour) const {
  if (last_minute_ < 0) return std::nullopt;
  const int64_t current_hour = last_minute_ / 60;
  const int64_t first_hour = first_minute_ / 60;
  std::vector<double> per_call;
  for (int64_t h = current_hour - 1; h >= std::max(first_hour, current_hour - kHoursPerWeek + 1); --h) {
    const auto slot = static_cast<size_t>(HourOfWeek(h));
    if (hour_calls_[slot] >= static_cast<float>(min_calls_per_hour)) {
      per_call.push_back(hour_cost_[slot] / hour_calls_[slot]);
    }
  }
  if (per_call.size() < 6) return std::nullopt;
  CostPerCall out;
  out.usual = Median(per_call);
  std::vector<double> deviations;
  deviations.reserve(per_call.size());
  for (double v : per_call) deviations.push_back(std::abs(v - out.usual));
  out.spread_rel = out.usual > 0 ? 1.4826 * Median(deviations) / out.usual : 0;
  return out;
}

double KeyHistory::RecentCost(int minutes) const {
  double sum = 0;
  for (int i = 0; i < std::min(minutes, kRecentMinutes); ++i) {
    sum += minute_cost_[static_cast<size_t>(((last_minute_ - i) % kRecentMinutes + kRecentMinutes) % kRecentMinutes)];
  }
  return sum;
}

double KeyHistory::RecentCalls(int minutes) const {
  double sum = 0;
  for (int i = 0; i < std::min(minutes, kRecentMinutes); ++i) {
    sum += minute_calls_[static_cast<size_t>(((last_minute_ - i) % kRecentMinutes + kRecentMinutes) % kRecentMinutes)];
  }
  return sum;
}

bool KeyHistory::any_firing() const {
  for (const auto& l : lifecycles_) {
    if (l.firing()) return true;
  }
  return false;
}

std::string KeyHistory::Encode() const {
  std::string out;
  out.reserve(1200);
  out.push_back(static_cast<char>(kEncodingVersion));
  Put(first_minute_, out);
  Put(last_minute_, out);
  Put(last_window_ms_, out);
  out.push_back(current_hour_anomalous_ ? 1 : 0);
  Put(noise_15m_, out);
  Put(noise_60m_, out);
  Put(peak_day_, out);
  Put(week_ago_previous_hour_cost_, out);
  Put(week_ago_previous_hour_calls_, out);
  for (const auto& peaks : daily_peak_excess_) {
    for (float v : peaks) Put(v, out);
  }
  PutHalves(hour_cost_, out);
  PutHalves(hour_calls_, out);
  for (float v : minute_cost_) Put(v, out);
  PutHalves(minute_calls_, out);
  for (const auto& l : lifecycles_) {
    Put(l.started_ms, out);
    Put(l.last_hold_ms, out);
    Put(l.peak_ratio, out);
  }
  return out;
}

std::optional<KeyHistory> KeyHistory::Decode(std::string_view in) {
  KeyHistory h;
  uint8_t version = 0, anomalous = 0;
  if (!Get(in, version) || version != kEncodingVersion) return std::nullopt;
  if (!Get(in, h.first_minute_) || !Get(in, h.last_minute_) || !Get(in, h.last_window_ms_) ||
      !Get(in, anomalous)) {
    return std::nullopt;
  }
  h.current_hour_anomalous_ = anomalous != 0;
  if (!Get(in, h.noise_15m_) || !Get(in, h.noise_60m_) || !Get(in, h.peak_day_) ||
      !Get(in, h.week_ago_previous_hour_cost_) || !Get(in, h.week_ago_previous_hour_calls_)) {
    return std::nullopt;
  }
  for (auto& peaks : h.daily_peak_excess_) {
    for (float& v : peaks) {
      if (!Get(in, v)) return std::nullopt;
    }
  }
  if (!GetHalves(in, h.hour_cost_) || !GetHalves(in, h.hour_calls_)) return std::nullopt;
  for (float& v : h.minute_cost_) {
    if (!Get(in, v)) return std::nullopt;
  }
  if (!GetHalves(in, h.minute_calls_)) return std::nullopt;
  for (auto& l : h.lifecycles_) {
    if (!Get(in, l.started_ms) || !Get(in, l.last_hold_ms) || !Get(in, l.peak_ratio)) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  return h;
}

}  // namespace burnrate
