// Spend metrics with bounded cardinality: burnrate_cost_usd_total,
// burnrate_tokens_total, burnrate_llm_calls_total,
// burnrate_model_cost_usd_total, burnrate_window_cost_usd and
// burnrate_baseline_cost_usd (docs/metrics.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/event.h"
#include "core/types.h"
#include "core/window.h"
#include "metrics/metrics_config.h"
#include "metrics/top_keys.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace burnrate {

// Fed with the rows of closed windows, never per event. Each
// (tenant, feature, environment) key and each model either has a label set
// of its own (at most config.top_keys / top_models of them, chosen by
// TopKeyTracker and kept for the life of the process so counters stay
// monotonic) or is summed under "other". A newly chosen key's series starts
// with the next window it appears in; what it spent before stays in
// "other". So the sum over all label sets is always the whole spend fed in.
//
// Label values are cut to config.max_label_bytes and made valid UTF-8
// (SanitizeLabelValue); keys that become equal after that share a label set.
//
// In `burnrate run` each window is closed by one replica, so each replica's
// spend series cover the windows it closed: sum them across replicas.
//
// Thread-safe (one mutex); Record is meant for the window-closing thread.
class SpendProbe {
 public:
  SpendProbe(prometheus::Registry& registry, const MetricsConfig& config);
  ~SpendProbe();

  // One row of a closed window. Rows of scope kKey and kModel are used, the
  // roll-ups are ignored. Rows of one window come together; a row of a later
  // window first ends the previous one (that is when keys are promoted and
  // burnrate_window_cost_usd is reset).
  void Record(const WindowRecord& record);

  // The expected spend per window of a key (from the detectors' baseline);
  // exposed only for keys that have a label set of their own.
  void SetBaseline(std::string_view tenant, std::string_view feature, std::string_view environment,
                   Money expected_per_window);

  size_t tracked_keys() const;
  size_t tracked_models() const;

 private:
  struct KeySeries;
  KeySeries& SeriesFor(const std::string& packed);
  prometheus::Counter& ModelCounter(const std::string& model);
  void EndWindow();

  const MetricsConfig config_;
  mutable std::mutex mu_;
  prometheus::Family<prometheus::Counter>* cost_;
  prometheus::Family<prometheus::Counter>* tokens_;
  prometheus::Family<prometheus::Counter>* calls_;
  prometheus::Family<prometheus::Counter>* model_cost_;
  prometheus::Family<prometheus::Gauge>* baseline_;
  prometheus::Family<prometheus::Gauge>* window_cost_;
  TopKeyTracker keys_;
  TopKeyTracker models_;
  // Packed sanitized key (PackKey) -> its series; "other" under kOtherKey.
  std::unordered_map<std::string, std::unique_ptr<KeySeries>> series_;
  std::unordered_map<std::string, prometheus::Counter*> model_series_;
  bool has_window_ = false;
  WindowStartMs window_{0};
  std::string scratch_;
};

}  // namespace burnrate
