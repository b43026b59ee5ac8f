// An in-memory StateStore: for tests and for single-process use. Same
// semantics as the Redis store, nothing survives the process.
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "state/state_store.h"

namespace burnrate {

// Thread-safe (one mutex), so several simulated replicas can share one.
class MemoryStateStore : public StateStore {
 public:
  absl::StatusOr<CheckpointOutcome> Commit(const std::string& topic, const PartitionCheckpoint& c) override;
  absl::StatusOr<std::optional<int64_t>> Position(const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<std::string>> ObserverState(const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> HeldDeadLetters(
      const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<PartitionProgress>> Progress(const std::string& topic) override;
  absl::StatusOr<std::vector<WindowStartMs>> OpenWindows(const std::string& topic) override;
  absl::Status BeginClosing(const std::string& topic, WindowStartMs start) override;
  absl::StatusOr<bool> ClaimClose(const std::string& topic, WindowStartMs start) override;
  absl::StatusOr<std::optional<WindowStartMs>> ClosedThrough(const std::string& topic) override;
  absl::StatusOr<StoredWindow> ReadWindow(const std::string& topic, WindowStartMs start) override;
  absl::Status Ping() override { return absl::OkStatus(); }

 private:
  struct Topic {
    std::map<int32_t, int64_t> positions;
    std::map<int32_t, int64_t> watermarks;
    std::map<int32_t, bool> idle;
    std::map<int32_t, std::vector<std::string>> observer_state;
    std::map<int32_t, std::map<std::string, int64_t>>
        held_dead_letters;                      // record -> offset, as a Redis sorted set
    std::map<int64_t, std::set<uint64_t>> ids;  // minute -> ids counted, all partitions
    std::map<WindowStartMs, std::map<std::string, WindowTotals>> keys;
    std::map<WindowStartMs, std::map<std::string, WindowTotals>> models;
    std::optional<WindowStartMs> closed_through;
    std::optional<WindowStartMs> closing_through;  // BeginClosing
  };
  // The later of the closing and closed bounds, as the Redis store reads them.
  static std::optional<WindowStartMs> NoDeltasThrough(const Topic& t);
  std::mutex mu_;
  std::map<std::string, Topic> topics_;
};

}  // namespace burnrate
