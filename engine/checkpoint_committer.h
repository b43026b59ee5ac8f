// Commits sealed partition checkpoints to the state store on a thread of its
// own, so the polling thread keeps consuming while Redis applies them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "state/state_store.h"

namespace burnrate {

// One partition's checkpoint, sealed by the polling thread and handed over
// whole. `epoch` names the life of the partition's in-memory state that
// sealed it (a new one after every reload or recount), so that once one
// checkpoint of a life is refused, the rest of that life are not tried.
struct SealedCheckpoint {
  uint64_t epoch = 0;
  int64_t events = 0;  // messages behind it, for the queue bound
  PartitionCheckpoint checkpoint;
};

// What became of one sealed checkpoint.
struct CommitReport {
  enum class Kind : uint8_t {
    kApplied,
    kStalePosition,    // see CheckpointOutcome
    kDuplicateEvents,  // see CheckpointOutcome; `duplicates` lists them
    kWindowClosed,     // see CheckpointOutcome
    // Not tried: an earlier checkpoint of the same partition and epoch was
    // refused, so this one (starting where that one ends) cannot apply.
    kSkipped,
    // The store failed and a stop was requested before it answered.
    kFailed,
  };
  int32_t partition = 0;
  uint64_t epoch = 0;
  int64_t next = 0;  // the checkpoint's `next`
  int64_t watermark_ms = 0;
  Kind kind = Kind::kApplied;
  std::vector<std::pair<int64_t, uint64_t>> duplicates;  // (minute start ms, id hash)
  // kApplied only: the checkpoint's held dead letters, handed back to be
  // published (moved out of the checkpoint, so that they are kept only once).
  std::vector<std::pair<int64_t, std::string>> held_dead_letters;
  absl::Status error;                                    // kFailed only
  double store_seconds = 0;  // spent in the store's Commit (retries included)
};

struct CheckpointCommitterOptions {
  // Messages that may wait in the queue; HasRoomFor() says when it is full.
  int64_t max_queued_events = 2'000'000;
  // First wait after a store failure; doubles up to `max_retry_delay`.
  std::chrono::milliseconds retry_delay{200};
  std::chrono::milliseconds max_retry_delay{5000};
  // Told of every failed attempt, on the committer's thread (metrics, logs).
  std::function<void(const absl::Status&)> on_store_error;
};

// Owns a thread and a queue. Checkpoints are committed one at a time in the
// order submitted (so a partition's checkpoints reach the store in offset
// order); a store failure is retried with backoff until it answers or
// `stop_requested` says to give up. Reports come back in the same order.
// Thread-safe; `store` is used only by the committer's thread.
class CheckpointCommitter {
 public:
  CheckpointCommitter(StateStore& store, std::string topic, CheckpointCommitterOptions options,
                      std::function<bool()> stop_requested = nullptr);
  ~CheckpointCommitter();  // abandons what is still queued (not durable, so not lost)

  CheckpointCommitter(const CheckpointCommitter&) = delete;
  CheckpointCommitter& operator=(const CheckpointCommitter&) = delete;

  // Whether a checkpoint of `events` messages fits. An empty queue takes any
  // size, so one large checkpoint can never be stuck.
  bool HasRoomFor(int64_t events) const;
  // Never blocks: the caller checks HasRoomFor() first when it cares.
  void Submit(SealedCheckpoint checkpoint);
  // Reports ready so far, oldest first.
  std::vector<CommitReport> TakeReports();

  // Waits until a report is ready to take, up to `timeout`.
  bool WaitForReport(std::chrono::milliseconds timeout) const;
  // Waits until everything submitted has been reported, up to `timeout`.
  bool WaitUntilIdle(std::chrono::milliseconds timeout) const;

  int64_t queued_events() const;
  // False after a store failure, until the store answers again.
  bool store_healthy() const;

 private:
  void Run();
  CommitReport CommitOne(SealedCheckpoint& sealed, std::unique_lock<std::mutex>& lock);

  StateStore& store_;
  const std::string topic_;
  const CheckpointCommitterOptions options_;
  const std::function<bool()> stop_requested_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // queue, reports or shutdown
  std::deque<SealedCheckpoint> queue_;
  int64_t queued_events_ = 0;
  bool committing_ = false;  // the thread holds one checkpoint outside the queue
  std::vector<CommitReport> reports_;
  std::map<int32_t, uint64_t> refused_epoch_;  // partition -> latest epoch refused
  bool store_healthy_ = true;
  bool shutting_down_ = false;
  std::thread thread_;
};

}  // namespace burnrate
