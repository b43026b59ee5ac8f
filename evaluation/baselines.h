// The simple detectors burnrate is compared with in `burnrate evaluate`,
// run over the same closed-window rows: a static threshold per key and an
// EWMA with a 3-sigma band. Both open an alert when their condition holds
// and resolve it after 15 quiet minutes, like burnrate's own lifecycle, so
// the comparison is about the judgement, not about alert bookkeeping.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "evaluation/scoring.h"

namespace burnrate {

struct BaselineRow {
  std::string tenant, feature, environment;
  int64_t window_start_ms = 0;
  int64_t window_size_ms = 60'000;
  double cost_usd = 0;
};

// Not thread-safe.
class BaselineDetector {
 public:
  virtual ~BaselineDetector() = default;
  virtual std::string name() const = 0;
  // Rows of one window, then EndWindow; windows in time order.
  virtual void Observe(const BaselineRow& row) = 0;
  virtual void EndWindow(int64_t window_start_ms, int64_t window_size_ms) = 0;
  virtual std::vector<ScoredAlert> TakeAlerts() = 0;
};

// Learns each key's largest 15-minute spend during the warm-up and alerts
// when a later 15 minutes exceed `factor` times it (keys first seen after
// the warm-up use the median of the learnt thresholds).
std::unique_ptr<BaselineDetector> MakeStaticThreshold(int64_t warmup_end_ms, double factor);
// Per key, an exponentially weighted mean and variance of per-minute spend
// (alpha); alerts when a minute exceeds mean + sigmas * stddev.
std::unique_ptr<BaselineDetector> MakeEwma(int64_t warmup_end_ms, double alpha, double sigmas);

}  // namespace burnrate
