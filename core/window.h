// Tumbling event-time windows keyed by (tenant, feature, environment), with
// roll-ups by tenant, feature, environment and model computed as windows close.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/event.h"
#include "core/string_hash.h"
#include "core/types.h"

namespace burnrate {

// What a window knows about one key. Plain sums, so merging partial totals
// from several partitions or replicas in any order gives the same result.
struct WindowTotals {
  int64_t events = 0;
  // Events whose model the price table does not know: their tokens are
  // counted, their cost is not (it is unknown, not zero).
  int64_t unpriced_events = 0;
  TokenCounts tokens;
  Money cost;

  void Add(const CostEvent& event, Money event_cost, bool priced);
  void Merge(const WindowTotals& other);
  bool operator==(const WindowTotals&) const = default;
};

// Which slice of a window a record describes.
enum class WindowScope : uint8_t { kKey, kTenant, kFeature, kEnvironment, kModel };
std::string_view WindowScopeName(WindowScope scope);

// One row of a closed window. Dimensions that a roll-up sums over are empty.
// Views point into the aggregator and are valid only during the callback.
struct WindowRecord {
  WindowScope scope = WindowScope::kKey;
  WindowStartMs start{0};
  int64_t size_ms = 0;
  std::string_view tenant;
  std::string_view feature;
  std::string_view environment;
  std::string_view model;
  const WindowTotals* totals = nullptr;
};

struct WindowOptions {
  int64_t size_ms = 60'000;
  // How long after a window's end events for it are still accepted.
  int64_t allowed_lateness_ms = 60'000;
  // Keys beyond this many in one window are counted under the overflow key
  // (tenant/feature/environment "__overflow__"), so memory stays bounded and
  // the spend is still in the totals.
  size_t max_keys_per_window = 2'000'000;
};

inline constexpr std::string_view kOverflowDimension = "__overflow__";

// Floor of t to the window grid (correct for times before 1970 too).
inline WindowStartMs WindowStartFor(EventTimeMs t, int64_t size_ms) {
  const int64_t v = t.value();
  const int64_t r = ((v % size_ms) + size_ms) % size_ms;
  return WindowStartMs(v - r);
}

// Aggregates priced events of one ordered stream (one replay input, or one
// partition) into open windows and closes them as the watermark passes
// end + allowed lateness. The watermark is the largest event time seen.
// Not thread-safe; owned by one pipeline.
class WindowAggregator {
 public:
  enum class AddResult : uint8_t { kAdded, kLate };
  using RecordSink = std::function<void(const WindowRecord&)>;

  explicit WindowAggregator(WindowOptions options);
  ~WindowAggregator();

  AddResult Add(const CostEvent& event, Money cost, bool priced) {
    return Add(event, HashedStringView(event.model), cost, priced);
  }
  // The same, with the model name already hashed by the caller.
  AddResult Add(const CostEvent& event, const HashedStringView& model, Money cost, bool priced) {
    const WindowStartMs start = WindowOf(event.time);
    if (IsLate(start)) return AddResult::kLate;
    AddToWindow(start, event, model, cost, priced);
    return AddResult::kAdded;
  }
  // Add() in two steps, for a caller with checks of its own in between.
  WindowStartMs WindowOf(EventTimeMs time) const { return WindowStartFor(time, options_.size_ms); }
  // Events of the window starting at `start` are late when it was closed
  // (here, or globally in run mode) or its end + allowed lateness is at or
  // behind the watermark: decided by event time alone, so the outcome does
  // not depend on when CloseReady() ran.
  bool IsLate(WindowStartMs start) const {
    return start <= closed_through_ ||
           (has_watermark_ && start.value() + options_.size_ms + options_.allowed_lateness_ms <= watermark_.value());
  }
  // Counts an event of window `start`, which IsLate() has passed.
  void AddToWindow(WindowStartMs start, const CostEvent& event, const HashedStringView& model, Money cost,
                   bool priced);

  // Emits every window whose end + allowed lateness <= watermark: first its
  // key rows (sorted by key, so output is deterministic), then the roll-ups.
  // Returns the number of windows closed.
  size_t CloseReady(const RecordSink& sink);
  // Emits every open window (end of a replay).
  size_t CloseAll(const RecordSink& sink);

  // Run mode keeps only what a partition added since its last checkpoint:
  // Drain hands every open window's key and model totals to `sink` and
  // forgets them without marking anything closed (windows close globally,
  // from the state store).
  using DeltaSink = std::function<void(WindowStartMs start, std::string_view key_or_model,
                                       bool is_model, const WindowTotals& totals)>;
  void Drain(const DeltaSink& sink);
  // Starts the watermark where a previous owner of the partition left it, so
  // lateness is judged the same after a takeover.
  void SeedWatermark(EventTimeMs watermark);
  // Windows at or before `start` were closed elsewhere (globally, in run
  // mode): events for them are late from now on.
  void MarkClosedThrough(WindowStartMs start) { closed_through_ = std::max(closed_through_, start); }

  EventTimeMs watermark() const { return watermark_; }
  bool has_watermark() const { return has_watermark_; }
  size_t open_windows() const { return windows_.size(); }
  size_t open_keys() const;
  uint64_t overflowed_events() const { return overflowed_events_; }
  const WindowOptions& options() const { return options_; }

 private:
  struct Window;
  void CloseWindow(Window& window, const RecordSink& sink);
  Window& WindowAt(WindowStartMs start);

  WindowOptions options_;
  std::map<WindowStartMs, std::unique_ptr<Window>> windows_;
  // The window the previous event went to: consecutive events nearly always
  // share one. Reset whenever a window is erased.
  Window* last_window_ = nullptr;
  EventTimeMs watermark_{0};
  bool has_watermark_ = false;
  // Windows at or before this start have been emitted; events for them are late.
  WindowStartMs closed_through_{INT64_MIN};
  uint64_t overflowed_events_ = 0;
};

// Emits one closed window: the key rows sorted by key (packed keys, see
// PackKey), then roll-ups by tenant, feature and environment derived from
// them, then the model rows. Used by replay's aggregator and by run mode,
// which reads closed windows back from the state store.
void EmitWindowRecords(WindowStartMs start, int64_t size_ms,
                       std::vector<std::pair<std::string_view, const WindowTotals*>> keys,
                       std::vector<std::pair<std::string_view, const WindowTotals*>> models,
                       const std::function<void(const WindowRecord&)>& sink);

// Packs (tenant, feature, environment) into one unambiguous byte string:
// each part is preceded by its length as two bytes.
void PackKey(std::string_view tenant, std::string_view feature, std::string_view environment,
             std::string& out);
// The inverse; false when `packed` is not a packed key.
bool UnpackKey(std::string_view packed, std::string_view& tenant, std::string_view& feature,
               std::string_view& environment);

}  // namespace burnrate
