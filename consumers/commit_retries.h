// Which asynchronous offset commits to send again. A commit that meets a
// rebalance (the group's generation moved on while it was in flight) or an
// absent coordinator fails, and nothing else would send that offset again
// until the partition's position moves: a partition that has gone quiet
// would show lag in the group for as long as it stays quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

namespace burnrate {

// Not thread-safe: librdkafka serves the commit results on the polling
// thread (inside its poll), which also makes the commits.
class CommitRetries {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // How long after a failure the offset is sent again: long enough for a
  // rebalance to finish, and to keep a broker outage from logging a failed
  // commit every checkpoint interval.
  static constexpr std::chrono::milliseconds kRetryDelay{2'000};

  // The broker's answer for one partition's commit.
  void Failed(int32_t partition, int64_t next_offset, TimePoint now);
  // Not sent now (the member is rejoining its group): sent with the next
  // TakeDue that finds it due.
  void Defer(int32_t partition, int64_t next_offset);
  void Succeeded(int32_t partition, int64_t next_offset);
  // The partition moved to another member, which commits it from now on.
  void Forget(int32_t partition);

  // Adds the failed offsets that are due, of partitions `owned` still says
  // are this member's, to `offsets` (per partition the larger offset wins);
  // they are no longer pending until they fail again.
  void TakeDue(TimePoint now, const std::function<bool(int32_t)>& owned,
               std::vector<std::pair<int32_t, int64_t>>& offsets);
  size_t pending() const { return failed_.size(); }

 private:
  std::map<int32_t, int64_t> failed_;        // the largest failed or deferred offset per partition
  std::map<int32_t, int64_t> acknowledged_;  // the largest committed one
  TimePoint due_{};
};

}  // namespace burnrate
