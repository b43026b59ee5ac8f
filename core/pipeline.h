// The per-event path shared by `burnrate replay` and `burnrate run`:
// decode → check time bounds → drop duplicates → price → aggregate.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decode.h"
#include "core/dedup.h"
#include "core/event.h"
#include "core/pricing.h"
#include "core/window.h"

namespace burnrate {

struct PipelineOptions {
  DecoderOptions decoder;
  WindowOptions windows;
  // Event ids are remembered this long (event time); keep it at least
  // window size + allowed lateness, so any duplicate that is not late is caught.
  int64_t dedup_horizon_ms = 10 * 60'000;
  // Bounds on event time relative to the reference time (wall clock in `run`,
  // the watermark in `replay`).
  int64_t max_future_ms = 10 * 60'000;
  int64_t max_past_ms = 7 * 24 * 3'600'000LL;
  // Events later than this (epoch ms) are refused whatever the reference
  // time: replay sets it to its own start plus max_future, so one event from
  // a clock set years ahead cannot drag the watermark (and every later
  // event's bounds) with it.
  int64_t not_after_ms = INT64_MAX;
  // Use an event's own cost_usd instead of the price table when present.
  bool trust_reported_cost = false;
};

// Counters a pipeline keeps; read by metrics and by the end-of-replay summary.
struct PipelineStats {
  uint64_t messages = 0;
  uint64_t events = 0;  // accepted into windows
  uint64_t unpriced_events = 0;
  uint64_t missing_dimension_events = 0;
  std::array<uint64_t, kRejectReasonCount> rejected{};

  uint64_t total_rejected() const;
  PipelineStats& operator+=(const PipelineStats& other);
  PipelineStats& operator-=(const PipelineStats& other);  // `other` must be part of this
};

// Receives everything that was not counted, with the message it came from.
// Implementations: a JSONL file (replay), a Kafka dead-letter topic (run).
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual void DeadLetter(std::string_view message, const Rejection& rejection) = 0;
};

// Sees every event the pipeline counted (after dedup, pricing and the
// lateness check), for per-event detectors such as runaway agent runs. Runs
// on the pipeline's thread; the event's views are valid only during the call.
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void OnCounted(const CostEvent& event, Money cost, bool priced) = 0;

  // `run` keeps an observer's state with each partition checkpoint, so a
  // restart or the partition's next owner carries on from the durable
  // state instead of from nothing. SaveState appends to `out` one record of
  // what changed since its last call (all of the state when `full`) and
  // returns false when there is nothing to record; RestoreState replaces
  // the state with the one the records describe, applied oldest first.
  // Stateless observers keep the defaults.
  virtual bool SaveState(bool /*full*/, std::string& /*out*/) { return false; }
  virtual bool RestoreState(const std::vector<std::string>& /*records*/) { return true; }
  // Roughly how many bytes a full record would take now (when to compact).
  virtual size_t StateBytes() const { return 0; }
};

// Not thread-safe: one pipeline per consuming thread (or per partition).
class EventPipeline {
 public:
  EventPipeline(PipelineOptions options, const PriceTable& prices, DeadLetterSink& dead_letters);

  // Processes one message. `reference_time` is "now" for the time bounds;
  // without one the watermark serves (replay: event time drives everything).
  void Process(std::string_view message, std::optional<EventTimeMs> reference_time = std::nullopt);

  size_t CloseReady(const WindowAggregator::RecordSink& sink) { return windows_.CloseReady(sink); }
  size_t CloseAll(const WindowAggregator::RecordSink& sink) { return windows_.CloseAll(sink); }

  // Run mode. Drain hands over what was counted since the last call (see
  // WindowAggregator::Drain); with recording on, counted_ids() lists the
  // event ids (stable hash, with the start of their kEventIdGroupMs) counted
  // since it was last cleared, so a checkpoint can persist them for dedup.
  void Drain(const WindowAggregator::DeltaSink& sink) { windows_.Drain(sink); }
  void set_record_counted_ids(bool on) { record_counted_ids_ = on; }
  std::vector<std::pair<int64_t, uint64_t>>& counted_ids() { return counted_ids_; }
  // Takes over a partition: its watermark and the ids already counted.
  void SeedWatermark(EventTimeMs watermark) { windows_.SeedWatermark(watermark); }
  void MarkClosedThrough(WindowStartMs start) { windows_.MarkClosedThrough(start); }
  void SeedDedup(const std::vector<uint64_t>& id_hashes, EventTimeMs time) {
    for (uint64_t h : id_hashes) dedup_.Remember(h, time);
  }

  // Run mode: event ids are also claimed for `partition` in `claims`
  // (shared by the pipelines of one replica's partitions; not owned), and an
  // event another partition claimed is refused as a duplicate.
  //
  // Dead letters whose verdict depends on more than the message and the
  // partition's own history go to `held` (not owned), which the engine keeps
  // until the checkpoint carrying them is applied: a copy refused on another
  // partition's claim, an event late for a window the group closed, an event
  // out of range of the wall clock. Another life of the partition (a zombie
  // that lags its new owner, a recount after a refused checkpoint) can judge
  // those differently, so only the life whose checkpoint is applied may
  // publish them. The rest (malformed input, a copy of an event earlier in
  // the same partition) are judged the same by every life and go out at once.
  void set_claims(ClaimTable* claims, int32_t partition, DeadLetterSink* held) {
    claims_ = claims;
    claim_partition_ = partition;
    held_dead_letters_ = held;
  }

  // Optional; not owned. Null (the default) costs one branch per event.
  void set_observer(EventObserver* observer) { observer_ = observer; }

  const PipelineStats& stats() const { return stats_; }
  const WindowAggregator& windows() const { return windows_; }
  const EventDecoder& decoder() const { return decoder_; }

 private:
  void Reject(std::string_view message, const Rejection& rejection) {
    Reject(message, rejection, dead_letters_);
  }
  void Reject(std::string_view message, const Rejection& rejection, DeadLetterSink& sink);
  // Where a verdict that another life of the partition may judge differently
  // goes (see set_claims).
  DeadLetterSink& settled_on_apply() { return held_dead_letters_ ? *held_dead_letters_ : dead_letters_; }

  PipelineOptions options_;
  const PriceTable& prices_;
  // What each model string resolved to in prices_, so that aliases and
  // patterns are searched once per distinct name.
  ModelPriceCache model_prices_;
  DeadLetterSink& dead_letters_;
  EventDecoder decoder_;
  DedupFilter dedup_;
  WindowAggregator windows_;
  PipelineStats stats_;
  std::vector<CostEvent> events_;
  std::vector<Rejection> rejections_;
  bool record_counted_ids_ = false;
  EventObserver* observer_ = nullptr;
  ClaimTable* claims_ = nullptr;
  int32_t claim_partition_ = -1;
  DeadLetterSink* held_dead_letters_ = nullptr;
  std::vector<std::pair<int64_t, uint64_t>> counted_ids_;
};

}  // namespace burnrate
