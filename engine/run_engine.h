// The heart of `burnrate run`: per-partition pipelines over a consumer
// group's partitions, checkpoints to the state store, and window closing
// across all replicas of the group.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "consumers/source.h"
#include "core/pipeline.h"
#include "core/pricing.h"
#include "engine/window_closer.h"
#include "state/state_store.h"

namespace burnrate {

// Not thread-safe: driven by the one polling thread (the source calls the
// PartitionListener methods from inside its Poll()).
//
// Exactness: each partition's pipeline holds only what it counted since its
// last checkpoint. Checkpoint() first flushes dead letters, then commits each
// partition's deltas together with its new position in one atomic store
// operation that is refused if the stored position moved (see StateStore).
// Only positions that are durable are returned for the Kafka commit.
class RunEngine : public PartitionListener {
 public:
  using Clock = std::function<int64_t()>;  // wall clock, epoch ms
  using Seeker = std::function<absl::Status(int32_t partition, int64_t offset)>;

  // `dead_letters` receives refused input; `on_source_position` is told the
  // partition and offset of each message before it is processed (the Kafka
  // dead-letter sink keys records by it); `flush_outputs` makes dead letters
  // durable and runs before every checkpoint.
  RunEngine(const Config& config, const PriceTable& prices, StateStore& store,
            DeadLetterSink& dead_letters, std::function<void(int32_t, int64_t)> on_source_position,
            std::function<absl::Status()> flush_outputs, Clock clock);
  ~RunEngine() override;

  void set_seeker(Seeker seeker) { seeker_ = std::move(seeker); }
  // Where a partition's log starts and ends right now ({-1, -1} if unknown):
  // a partition counts as idle only once it has read up to the end.
  using LogBounds = std::function<std::pair<int64_t, int64_t>(int32_t partition)>;
  void set_log_bounds(LogBounds bounds) { log_bounds_ = std::move(bounds); }
  // Asked while waiting for the state store (e.g. to load a partition
  // during a rebalance): true makes the engine give up instead of waiting on.
  void set_stop_requested(std::function<bool()> stop) { stop_requested_ = std::move(stop); }

  // Per-partition observers of counted events (the runaway detector): made
  // when a partition is assigned, kept across reloads of its state and
  // dropped when it is revoked. Messages counted again after a checkpoint
  // was refused for duplicates are not shown to the observer a second time.
  using ObserverFactory = std::function<std::unique_ptr<EventObserver>(int32_t partition)>;
  void set_observer_factory(ObserverFactory factory) { observer_factory_ = std::move(factory); }

  // What one partition checkpoint came to (metrics; draining observers).
  enum class CommitResult : uint8_t { kApplied, kStalePosition, kDuplicateEvents, kError };
  // Told of every partition checkpoint the store answered (or failed),
  // with the partition's observer (nullptr without a factory) and its event
  // time watermark (epoch ms, 0 before any event). After kApplied every
  // event the observer saw up to here is durable.
  using CommitListener = std::function<void(int32_t partition, CommitResult result,
                                            EventObserver* observer, int64_t watermark_ms)>;
  void set_commit_listener(CommitListener listener) { commit_listener_ = std::move(listener); }

  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) override;
  void OnRevoked(const std::vector<int32_t>& partitions) override;

  void Handle(const SourceMessage& message);

  // Makes every partition's pending state durable (flushing dead letters
  // first, through `flush_outputs`). Returns the positions now durable, to
  // commit to Kafka. On a store failure the state stays pending for the
  // next attempt and the error is returned.
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> Checkpoint();

  // Windows up to `start` were closed (see WindowCloser): events for them
  // are late from now on.
  void MarkClosedThrough(WindowStartMs start);

  // Events counted in memory but not yet durable.
  int64_t pending_events() const;
  // Whether the last store operation succeeded.
  bool store_healthy() const { return store_healthy_; }
  PipelineStats TotalStats() const;
  // Events counted under the overflow key since start-up (all partitions
  // this replica held).
  uint64_t OverflowedEvents() const;
  // Messages between each owned partition's position and its log end
  // (from the log bounds); partitions whose end is unknown are left out.
  std::map<int32_t, int64_t> ConsumerLag() const;
  size_t partitions_owned() const { return partitions_.size(); }

 private:
  struct Partition;
  absl::Status LoadPartition(int32_t partition, Partition& state);
  // False only when stop_requested() said so before the load succeeded.
  bool LoadPartitionRetrying(int32_t partition, Partition& state);
  absl::StatusOr<bool> CommitPartition(int32_t partition, Partition& state, int64_t now);
  void Process(int32_t partition, Partition& state, int64_t offset, std::string_view payload);
  absl::Status Recount(int32_t partition, Partition& state);
  bool CaughtUp(int32_t partition, const Partition& state) const;

  const Config& config_;
  const PriceTable& prices_;
  StateStore& store_;
  DeadLetterSink& dead_letters_;
  std::function<void(int32_t, int64_t)> on_source_position_;
  std::function<absl::Status()> flush_outputs_;
  Clock clock_;
  Seeker seeker_;
  LogBounds log_bounds_;
  std::function<bool()> stop_requested_;
  ObserverFactory observer_factory_;
  CommitListener commit_listener_;
  std::map<int32_t, std::unique_ptr<Partition>> partitions_;
  std::optional<WindowStartMs> closed_through_;
  PipelineStats retired_stats_;  // of partitions this replica no longer holds
  uint64_t retired_overflow_ = 0;
  bool store_healthy_ = true;
};

}  // namespace burnrate
