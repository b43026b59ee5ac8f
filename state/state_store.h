// Where run mode keeps what must survive a crash, a restart or a rebalance:
// each partition's applied position, the window totals the partitions added
// up together, partition watermarks, recent event ids for dedup, and the
// state of each partition's event observer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/types.h"
#include "core/window.h"

namespace burnrate {

// One window's counters for one key (or one model), as a delta to add.
struct WindowDelta {
  WindowStartMs start{0};
  // The packed (tenant, feature, environment) key (see PackKey), or for a
  // model roll-up the model name.
  std::string key;
  bool is_model = false;
  WindowTotals totals;
};

// Everything one partition produced from the messages in [from, next).
struct PartitionCheckpoint {
  int32_t partition = 0;
  // The position the store must hold for this checkpoint to apply: the
  // offset of the first message the deltas include. nullopt on the very
  // first checkpoint of a partition the store has never seen.
  std::optional<int64_t> from;
  int64_t next = 0;  // the offset after the last message included
  EventTimeMs watermark{0};
  std::vector<WindowDelta> deltas;
  // Stable hashes of the event ids counted, with the minute of their event
  // time. The store keeps them for the dedup horizon across all partitions:
  // a duplicate is caught however the producer keyed it.
  std::vector<std::pair<int64_t, uint64_t>> event_ids;  // (minute start ms, id hash)
  // No message for a while: the partition does not hold windows open.
  bool idle = false;
  // What the partition's event observer (the runaway detector) changed in
  // its state, as records appended to those the store holds for the
  // partition (see EventObserver::SaveState); with `replace_observer_state`
  // they replace them (a full record first). Applied with the rest, so the
  // stored observer state always matches the stored position.
  std::vector<std::string> observer_state;
  bool replace_observer_state = false;
  // Dead letters whose verdict another life of the partition could reach
  // differently (EventPipeline::set_claims): copies dropped on another
  // partition's claim that was not durable yet (ClaimTable), events late for
  // windows the group closed, events out of range of the wall clock. The
  // verdict is only settled once this checkpoint is applied, so they are
  // stored with it, published after it, and forgotten by a later checkpoint
  // (below). Pairs of (offset, record); the store keeps them ordered by
  // offset.
  std::vector<std::pair<int64_t, std::string>> held_dead_letters;
  // Held dead letters below this offset have been published: the store
  // drops them. -1: nothing to drop.
  int64_t held_dead_letters_published_below = -1;
};

// What the store knows of one partition's progress.
struct PartitionProgress {
  int32_t partition = 0;
  int64_t watermark = 0;
  bool idle = false;
};

struct CheckpointOutcome {
  enum class Kind : uint8_t {
    kApplied,
    // The store's position differs from `from`: another replica (or an
    // earlier life of this one) applied these offsets already. Nothing was
    // changed; the caller must drop its state for the partition and reload.
    kStalePosition,
    // Some event ids were already counted (by another partition, or before
    // a restart). Nothing was changed; `duplicates` lists them, and the
    // caller re-reads the partition from `from` treating them as duplicates.
    kDuplicateEvents,
    // A delta is for a window already claimed closed (its rows are out):
    // a partition the store had as idle counted an event before it learned
    // of the close. Nothing was changed; the caller re-reads the partition
    // from `from`, now knowing what is closed, so such events go late.
    kWindowClosed,
  };
  Kind kind = Kind::kApplied;
  std::vector<uint64_t> duplicates;
};

// A window's totals read back from the store.
struct StoredWindow {
  WindowStartMs start{0};
  std::vector<std::pair<std::string, WindowTotals>> keys;    // packed key -> totals
  std::vector<std::pair<std::string, WindowTotals>> models;  // model -> totals
};

// Thread-compatible: one store per consuming thread (the Redis one holds a
// connection). Expected failures (store down, timeouts) are returned as
// statuses; the caller keeps its state and retries.
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Applies the checkpoint atomically and idempotently.
  virtual absl::StatusOr<CheckpointOutcome> Commit(const std::string& topic,
                                                   const PartitionCheckpoint& checkpoint) = 0;
  // The position applied for a partition, if any.
  virtual absl::StatusOr<std::optional<int64_t>> Position(const std::string& topic, int32_t partition) = 0;
  // The observer state records stored for a partition, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> ObserverState(const std::string& topic, int32_t partition) = 0;
  // The held dead letters stored for a partition and not yet dropped, by
  // offset (see PartitionCheckpoint::held_dead_letters).
  virtual absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> HeldDeadLetters(
      const std::string& topic, int32_t partition) = 0;
  // Progress of every partition that has committed, by partition.
  virtual absl::StatusOr<std::vector<PartitionProgress>> Progress(const std::string& topic) = 0;
  // Window starts that hold totals and have not been closed yet, ascending.
  virtual absl::StatusOr<std::vector<WindowStartMs>> OpenWindows(const std::string& topic) = 0;
  // From now on a checkpoint with a delta for a window at or before `start`
  // is refused (kWindowClosed): the closer calls this before it reads those
  // windows back, so nothing can be added to them between the read and the
  // claim. Never moves back.
  virtual absl::Status BeginClosing(const std::string& topic, WindowStartMs start) = 0;
  // Marks `start` closed if no one has; true when this caller won the claim
  // and must emit the window.
  virtual absl::StatusOr<bool> ClaimClose(const std::string& topic, WindowStartMs start) = 0;
  // The latest window start no checkpoint may add to any more (claimed
  // closed, or being closed since BeginClosing), if any: events for it are late.
  virtual absl::StatusOr<std::optional<WindowStartMs>> ClosedThrough(const std::string& topic) = 0;
  virtual absl::StatusOr<StoredWindow> ReadWindow(const std::string& topic, WindowStartMs start) = 0;
  virtual absl::Status Ping() = 0;
};
using StateStorePtr = std::unique_ptr<StateStore>;

}  // namespace burnrate
