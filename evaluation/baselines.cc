#include "evaluation/baselines.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/concat.h"

namespace burnrate {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kResolveAfter = 15 * kMinute;

// Alert bookkeeping shared by both baselines: one open alert per key.
class Lifecycles {
 public:
  void Update(const std::string& key, const BaselineRow& row_key, bool condition, int64_t now_ms,
              const std::string& kind) {
    Open& o = open_[key];
    if (condition) {
      if (o.fired_ms == 0) {
        o.fired_ms = now_ms;
        o.alert_index = alerts_.size();
        ScoredAlert a;
        a.alert_id = Concat(kind, ":", key, ":", now_ms);
        a.kind = kind;
        a.tenant = row_key.tenant;
        a.feature = row_key.feature;
        a.environment = row_key.environment;
        a.fired_ms = now_ms;
        alerts_.push_back(std::move(a));
      }
      o.last_true_ms = now_ms;
    } else if (o.fired_ms != 0 && now_ms - o.last_true_ms >= kResolveAfter) {
      pending_resolves_.emplace_back(o.alert_index, now_ms);
      o = Open{};
    }
  }
  bool IsOpen(const std::string& key) const {
    auto it = open_.find(key);
    return it != open_.end() && it->second.fired_ms != 0;
  }
  std::vector<ScoredAlert> Take() {
    for (auto [index, when] : pending_resolves_) alerts_[index].resolved_ms = when;
    pending_resolves_.clear();
    // Alerts stay in the list until the end: resolves refer to them by index.
    return alerts_;
  }

 private:
  struct Open {
    int64_t fired_ms = 0;
    int64_t last_true_ms = 0;
    size_t alert_index = 0;
  };
  absl::flat_hash_map<std::string, Open> open_;
  std::vector<ScoredAlert> alerts_;
  std::vector<std::pair<size_t, int64_t>> pending_resolves_;
};

struct KeyState {
  BaselineRow identity;
  int64_t last_minute = -1;
  std::array<double, 15> ring{};  // per-minute spend, last 15 minutes
  double learnt_max_15m = 0;
  double mean = 0, variance = 0;
  bool seen_in_warmup = false;
  double pending_minute_cost = 0;
};

std::string KeyOf(const BaselineRow& r) { return Concat(r.tenant, "/", r.feature, "/", r.environment); }

// Moves a key's minute ring to `minute`, zeroing the minutes it skipped.
void Advance(KeyState& k, int64_t minute) {
  if (k.last_minute < 0) k.last_minute = minute - 1;
  const int64_t gap = std::min<int64_t>(minute - k.last_minute, 15);
  for (int64_t i = 1; i <= gap; ++i) k.ring[static_cast<size_t>((k.last_minute + i) % 15)] = 0;
  k.last_minute = std::max(k.last_minute, minute);
}

double Sum15(const KeyState& k) {
  double s = 0;
  for (double v : k.ring) s += v;
  return s;
}

class StaticThreshold final : public BaselineDetector {
 public:
  StaticThreshold(int64_t warmup_end_ms, double factor) : warmup_end_ms_(warmup_end_ms), factor_(factor) {}
  std::string name() const override { return Concat("static threshold (", factor_, "x warm-up max 15m)"); }
  void Observe(const BaselineRow& row) override {
    auto& k = keys_[KeyOf(row)];
    if (k.last_minute < 0) k.identity = row;
    k.pending_minute_cost += row.cost_usd;
    touched_.insert(KeyOf(row));
  }
  void EndWindow(int64_t start, int64_t size) override {
    const int64_t minute = start / kMinute;
    const int64_t now = start + size;
    const bool warm = start < warmup_end_ms_;
    if (!warm && !median_ready_) ComputeMedian();
    for (const auto& name : touched_) {
      KeyState& k = keys_[name];
      Advance(k, minute);
      k.ring[static_cast<size_t>(minute % 15)] += k.pending_minute_cost;
      k.pending_minute_cost = 0;
      if (warm) {
        k.seen_in_warmup = true;
        k.learnt_max_15m = std::max(k.learnt_max_15m, Sum15(k));
        continue;
      }
      const double threshold = k.seen_in_warmup ? k.learnt_max_15m : median_threshold_;
      life_.Update(name, k.identity, Sum15(k) > factor_ * threshold, now, "static");
    }
    // Open alerts must be able to resolve when their key goes quiet.
    if (!warm) {
      for (auto& [name, k] : keys_) {
        if (touched_.contains(name) || !life_.IsOpen(name)) continue;
        Advance(k, minute);
        const double threshold = k.seen_in_warmup ? k.learnt_max_15m : median_threshold_;
        life_.Update(name, k.identity, Sum15(k) > factor_ * threshold, now, "static");
      }
    }
    touched_.clear();
  }
  std::vector<ScoredAlert> TakeAlerts() override { return life_.Take(); }

 private:
  void ComputeMedian() {
    std::vector<double> v;
    for (const auto& [_, k] : keys_) {
      if (k.seen_in_warmup) v.push_back(k.learnt_max_15m);
    }
    median_threshold_ = v.empty() ? 0 : Percentile(v, 0.5);
    median_ready_ = true;
  }

  int64_t warmup_end_ms_;
  double factor_;
  bool median_ready_ = false;
  double median_threshold_ = 0;
  absl::flat_hash_map<std::string, KeyState> keys_;
  absl::flat_hash_set<std::string> touched_;
  Lifecycles life_;
};

class Ewma final : public BaselineDetector {
 public:
  Ewma(int64_t warmup_end_ms, double alpha, double sigmas)
      : warmup_end_ms_(warmup_end_ms), alpha_(alpha), sigmas_(sigmas) {}
  std::string name() const override { return Concat("EWMA (alpha ", alpha_, ", ", sigmas_, " sigma)"); }
  void Observe(const BaselineRow& row) override {
    auto& k = keys_[KeyOf(row)];
    if (k.last_minute < 0) k.identity = row;
    k.pending_minute_cost += row.cost_usd;
    touched_.insert(KeyOf(row));
  }
  void EndWindow(int64_t start, int64_t size) override {
    const int64_t minute = start / kMinute;
    const int64_t now = start + size;
    for (const auto& name : touched_) {
      KeyState& k = keys_[name];
      const bool fresh = k.last_minute < 0;
      // Minutes without spend are zeros in the series.
      const int64_t gap = fresh ? 0 : std::min<int64_t>(minute - k.last_minute - 1, 24 * 60);
      for (int64_t i = 0; i < gap; ++i) Update(k, 0);
      k.last_minute = minute;
      const double x = k.pending_minute_cost;
      k.pending_minute_cost = 0;
      const bool alarming = !fresh && x > k.mean + sigmas_ * std::sqrt(k.variance);
      if (start >= warmup_end_ms_) life_.Update(name, k.identity, alarming, now, "ewma");
      Update(k, x);
    }
    if (start >= warmup_end_ms_) {
      for (auto& [name, k] : keys_) {
        if (touched_.contains(name) || !life_.IsOpen(name)) continue;
        life_.Update(name, k.identity, false, now, "ewma");
      }
    }
    touched_.clear();
  }
  std::vector<ScoredAlert> TakeAlerts() override { return life_.Take(); }

 private:
  void Update(KeyState& k, double x) {
    const double diff = x - k.mean;
    k.mean += alpha_ * diff;
    k.variance = (1 - alpha_) * (k.variance + alpha_ * diff * diff);
  }

  int64_t warmup_end_ms_;
  double alpha_, sigmas_;
  absl::flat_hash_map<std::string, KeyState> keys_;
  absl::flat_hash_set<std::string> touched_;
  Lifecycles life_;
};

}  // namespace

std::unique_ptr<BaselineDetector> MakeStaticThreshold(int64_t warmup_end_ms, double factor) {
  return std::make_unique<StaticThreshold>(warmup_end_ms, factor);
}

std::unique_ptr<BaselineDetector> MakeEwma(int64_t warmup_end_ms, double alpha, double sigmas) {
  return std::make_unique<Ewma>(warmup_end_ms, alpha, sigmas);
}

}  // namespace burnrate
