// The heart of `burnrate run`: per-partition pipelines over a consumer
// group's partitions, checkpoints to the state store, and window closing
// across all replicas of the group.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "consumers/source.h"
#include "core/pipeline.h"
#include "core/pricing.h"
#include "engine/checkpoint_committer.h"
#include "engine/kept_messages.h"
#include "engine/window_closer.h"
#include "state/state_store.h"

namespace burnrate {

// Not thread-safe: driven by the one polling thread (the source calls the
// PartitionListener methods from inside its Poll()). Checkpoints are
// committed by `committer` on its own thread.
//
// Exactness: Seal() drains each partition's pipeline into a checkpoint of
// the offsets read since the previous one (after flushing dead letters) and
// queues it; the committer applies each in one atomic store operation that
// is refused if the stored position moved (see StateStore). A partition's
// checkpoints form a chain ([a, b), [b, c), ...), applied in order. The
// messages behind a checkpoint are kept until it is applied: a refusal for
// duplicates counts them again from the durable state, a refusal for a
// moved position reloads. Only positions that are durable are returned for
// the Kafka commit.
class RunEngine : public PartitionListener {
 public:
  using Clock = std::function<int64_t()>;  // wall clock, epoch ms
  using Seeker = std::function<absl::Status(int32_t partition, int64_t offset)>;
  // Delivers everything published so far, waiting at most `timeout`.
  using FlushOutputs = std::function<absl::Status(std::chrono::milliseconds timeout)>;

  // `dead_letters` receives refused input; `on_source_position` is told the
  // partition and offset of each message before it is processed (the Kafka
  // dead-letter sink keys records by it); `flush_outputs` makes dead letters
  // durable and runs before every checkpoint (briefly while consuming, see
  // Seal()).
  // `store` is read on the polling thread (partition loads); `committer`
  // writes checkpoints to a store connection of its own.
  RunEngine(const Config& config, const PriceTable& prices, StateStore& store,
            CheckpointCommitter& committer, DeadLetterSink& dead_letters,
            std::function<void(int32_t, int64_t)> on_source_position, FlushOutputs flush_outputs,
            Clock clock);
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
  // whenever a partition's state is loaded from the store (assigned, or the
  // store's position moved on), restored from the state saved with that
  // position (EventObserver::SaveState: every checkpoint carries what the
  // observer changed), and dropped when the partition is revoked. Messages
  // counted again after a checkpoint was refused for duplicates are not
  // shown to the observer a second time.
  using ObserverFactory = std::function<std::unique_ptr<EventObserver>(int32_t partition)>;
  void set_observer_factory(ObserverFactory factory) { observer_factory_ = std::move(factory); }

  // What one partition checkpoint came to (metrics).
  enum class CommitResult : uint8_t { kApplied, kStalePosition, kDuplicateEvents, kWindowClosed, kError };
  // Told, on the polling thread, of every partition checkpoint the store
  // answered (or failed), with the time the store took.
  using CommitListener =
      std::function<void(int32_t partition, CommitResult result, double store_seconds)>;
  void set_commit_listener(CommitListener listener) { commit_listener_ = std::move(listener); }

  // Called when a partition checkpoint is sealed, with the partition's
  // observer (nullptr without a factory) and its event time watermark (epoch
  // ms, 0 before any event): every event the observer has seen so far is in
  // this checkpoint or an earlier one. The action it returns (may be empty)
  // runs once that checkpoint is applied, i.e. once those events are
  // durable (draining the runaway detector's alerts). If the checkpoint is
  // refused, its action moves on to the partition's next checkpoint.
  using DurableAction = std::function<void()>;
  using SealListener =
      std::function<DurableAction(int32_t partition, EventObserver* observer, int64_t watermark_ms)>;
  void set_seal_listener(SealListener listener) { seal_listener_ = std::move(listener); }

  std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) override;
  void OnRevoked(const std::vector<int32_t>& partitions) override;
  void OnLost(const std::vector<int32_t>& partitions) override;

  void Handle(const SourceMessage& message);

  // Seals every partition with something new into a checkpoint for the
  // committer (flushing dead letters first, through `flush_outputs`), as
  // far as the committer's queue has room. Never waits for the store, and
  // for the dead letters only briefly: an error when they are not
  // delivered in time (the state stays open for the next seal). When the
  // flush reports messages refused for good (absl::DataLoss), this and
  // every later Seal() and Checkpoint() fail with that status and make
  // nothing durable: the process should stop (see `burnrate run`).
  absl::Status Seal();
  // Takes the committer's reports: advances durable positions, counts again
  // or reloads partitions whose checkpoint was refused. Returns the
  // positions to commit to Kafka: those that became durable since the last
  // call, and those partitions were assigned at (so that the group's
  // committed offset catches up with the store after a rebalance even when
  // no new message arrives, e.g. after an assignment lost while the broker
  // was away).
  std::vector<std::pair<int32_t, int64_t>> CollectCommits();
  // Waits up to `timeout` for the committer to report something (the
  // polling thread's back-pressure when the queue is full).
  void WaitForCommits(std::chrono::milliseconds timeout) { committer_.WaitForReport(timeout); }

  // Makes every partition's pending state durable and waits for it (a stop,
  // a revoke, tests). Returns the positions now durable, to commit to Kafka.
  // On a store failure (or no answer in time) the error is returned; what
  // was not applied is counted again by whoever reads the partition next.
  absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> Checkpoint();

  // Windows up to `start` were closed (see WindowCloser): events for them
  // are late from now on.
  void MarkClosedThrough(WindowStartMs start);

  // Events counted in memory but not yet durable (sealed or not).
  int64_t pending_events() const;
  // Of those, the ones not sealed into a checkpoint yet.
  int64_t unsealed_events() const;
  // The bytes of the messages behind the pending events, kept to count them
  // again after a refused checkpoint, and of their held dead letters.
  int64_t pending_bytes() const;
  // Whether the last store operations (loads here, commits on the
  // committer's thread) succeeded.
  bool store_healthy() const { return store_healthy_ && committer_.store_healthy(); }
  PipelineStats TotalStats() const;
  // Events counted under the overflow key since start-up (all partitions
  // this replica held).
  uint64_t OverflowedEvents() const;
  // Messages between each owned partition's position and its log end
  // (from the log bounds); partitions whose end is unknown are left out.
  std::map<int32_t, int64_t> ConsumerLag() const;
  size_t partitions_owned() const { return partitions_.size(); }

 private:
  struct Batch;
  struct Partition;
  struct Undurable;
  // flush_outputs_, unless outputs were lost before (see outputs_lost_).
  absl::Status FlushOutputsUnlessLost(std::chrono::milliseconds timeout);
  // Loads the partition's durable state: position and watermark. With
  // `take_over` (assigned, or the store's position moved on: not a recount
  // of this replica's own messages) also a new observer rebuilt from the
  // state saved with it, the stored held dead letters published, and the
  // partition's claims released.
  absl::Status LoadPartition(int32_t partition, Partition& state, bool take_over);
  // False only when stop_requested() said so before the load succeeded.
  bool LoadPartitionRetrying(int32_t partition, Partition& state, bool take_over);
  void RestoreObserver(int32_t partition, Partition& state, const std::vector<std::string>& records);
  // Adds what the observer changed to the partition's open checkpoint (all
  // of its state, replacing the stored records, when they have grown long).
  void SaveObserverState(Partition& state);
  // Seals what the partition counted since its last checkpoint; false when
  // there was nothing new to say.
  bool SealPartition(int32_t partition, Partition& state, int64_t now);
  // Applies the committer's reports so far (see CollectCommits).
  void ApplyReports();
  // Applies one report; returns false when the partition's state was
  // dropped or replaced (counted again or reloaded).
  bool ApplyReport(const CommitReport& report);
  // Notes a durable position for the next CollectCommits.
  void NoteToCommit(int32_t partition, int64_t next);
  void Process(int32_t partition, Partition& state, int64_t offset, std::string_view payload);
  // Logs a first message after a load that is past the stored position.
  void NoteResumedPastPosition(int32_t partition, int64_t stored, int64_t offset) const;
  // Counts every message not yet durable again, from the durable state.
  // False when stopping prevented reloading (the partition is dropped).
  bool Recount(int32_t partition, Partition& state);
  bool CaughtUp(int32_t partition, const Partition& state) const;
  // Drops a partition's state, keeping its counters for the totals.
  void Retire(std::map<int32_t, std::unique_ptr<Partition>>::iterator it);
  // Dead letters that only the life whose checkpoint is applied may publish
  // (copies dropped on another partition's claim, late events, events out
  // of the wall clock's range) go here first, into the partition's open
  // checkpoint: see PartitionCheckpoint::held_dead_letters.
  struct HeldDeadLetterSink : DeadLetterSink {
    std::vector<std::pair<int64_t, std::string>>* held = nullptr;
    size_t* bytes = nullptr;  // of what is in `held`
    int64_t offset = -1;
    void DeadLetter(std::string_view message, const Rejection& rejection) override;
  };
  // Everything the pipelines refuse goes through here: a message counted
  // again after a refusal is not dead-lettered a second time.
  struct OnceDeadLetterSink : DeadLetterSink {
    DeadLetterSink* out = nullptr;
    absl::flat_hash_set<std::pair<int64_t, int32_t>>* dead_lettered = nullptr;
    int64_t offset = -1;
    void DeadLetter(std::string_view message, const Rejection& rejection) override;
  };
  void PublishHeldDeadLetters(int32_t partition,
                              const std::vector<std::pair<int64_t, std::string>>& held);
  // Outputs were just flushed: what was published so far is durable.
  void NoteOutputsFlushed();
  void Tell(const CommitReport& report, CommitResult result) const {
    if (commit_listener_) commit_listener_(report.partition, result, report.store_seconds);
  }

  const Config& config_;
  const PriceTable& prices_;
  StateStore& store_;
  CheckpointCommitter& committer_;
  DeadLetterSink& dead_letters_;
  std::function<void(int32_t, int64_t)> on_source_position_;
  FlushOutputs flush_outputs_;
  Clock clock_;
  Seeker seeker_;
  LogBounds log_bounds_;
  std::function<bool()> stop_requested_;
  ObserverFactory observer_factory_;
  CommitListener commit_listener_;
  SealListener seal_listener_;
  // Event ids counted by each partition held here: a copy in another of
  // them is dropped at once instead of refusing a checkpoint in the store.
  ClaimTable claims_;
  HeldDeadLetterSink held_sink_;
  OnceDeadLetterSink once_sink_;
  BlockPool message_blocks_;  // for the partitions' kept messages: declared before them
  uint64_t last_epoch_ = 0;  // of any partition's state; each load takes a new one
  std::map<int32_t, std::unique_ptr<Partition>> partitions_;
  std::map<int32_t, int64_t> to_commit_;  // next offsets, for CollectCommits
  std::optional<WindowStartMs> closed_through_;
  PipelineStats retired_stats_;  // of partitions this replica no longer holds
  uint64_t retired_overflow_ = 0;
  bool store_healthy_ = true;
  absl::Status commit_failure_;  // of the checkpoint being made durable by Checkpoint()
  // Set for good when flushing the outputs reports messages refused for
  // good (DataLoss): every later seal and checkpoint then fails with it.
  absl::Status outputs_lost_;
};

}  // namespace burnrate
