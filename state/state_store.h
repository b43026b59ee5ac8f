// Where run mode keeps what must survive a crash, a restart or a rebalance:
// each partition's applied position, the window totals the partitions added
// up together, partition watermarks, and recent event ids for dedup.
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
  // Stable hashes of the event ids counted, by the minute of their event
  // time, so a replica that takes the partition over still drops their
  // duplicates.
  std::vector<std::pair<int64_t, uint64_t>> event_ids;  // (minute start ms, id hash)
};

enum class CheckpointOutcome : uint8_t {
  kApplied,
  // The store's position differs from `from`: another replica (or an
  // earlier life of this one) applied these offsets already. Nothing was
  // changed; the caller must drop its state for the partition and reload.
  kStalePosition,
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
  // Event ids recorded for a partition with event time >= since (for dedup).
  virtual absl::StatusOr<std::vector<uint64_t>> RecentEventIds(const std::string& topic, int32_t partition,
                                                               EventTimeMs since) = 0;
  // Watermark of every partition that has committed, by partition.
  virtual absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> Watermarks(const std::string& topic) = 0;
  // Window starts that hold totals and have not been closed yet, ascending.
  virtual absl::StatusOr<std::vector<WindowStartMs>> OpenWindows(const std::string& topic) = 0;
  // Marks `start` closed if no one has; true when this caller won the claim
  // and must emit the window.
  virtual absl::StatusOr<bool> ClaimClose(const std::string& topic, WindowStartMs start) = 0;
  // The latest window start claimed closed, if any.
  virtual absl::StatusOr<std::optional<WindowStartMs>> ClosedThrough(const std::string& topic) = 0;
  virtual absl::StatusOr<StoredWindow> ReadWindow(const std::string& topic, WindowStartMs start) = 0;
  virtual absl::Status Ping() = 0;
};
using StateStorePtr = std::unique_ptr<StateStore>;

}  // namespace burnrate
