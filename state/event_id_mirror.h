// A replica's copy of the event-id logs the Redis store keeps: per minute of
// event time, one string of 8-byte id hashes that every replica's
// checkpoints append to. The checkpoint script only compares lengths and
// appends; whether an id was counted already is decided here, in the
// replica, against this copy (docs/state.md explains why that is exact).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace burnrate {

class EventIdMirror {
 public:
  using Clock = std::chrono::steady_clock;

  // Bytes of the minute's log this copy holds: the length the script must
  // still find for the copy to be complete.
  size_t SyncedBytes(int64_t minute) const;

  // Takes in the log bytes of `minute` from `offset` on. An offset equal to
  // SyncedBytes extends the copy; offset 0 below it means the log shrank
  // (expired, or the store lost writes) and the copy is rebuilt from
  // `bytes`. False, with the copy unchanged, for any other offset or for
  // bytes that are not whole ids.
  bool Apply(int64_t minute, size_t offset, std::string_view bytes);

  bool Contains(int64_t minute, uint64_t id) const;

  // A checkpoint used the minute at `now`.
  void Touch(int64_t minute, Clock::time_point now);
  // Forgets the minutes no checkpoint used since `cutoff`: a minute needed
  // again is fetched whole from the store, so this only trades memory for
  // a later download. Keeps the copy to the minutes the replica's
  // partitions still write, not the whole dedup horizon.
  void ForgetUnusedSince(Clock::time_point cutoff);

  size_t minutes() const { return minutes_.size(); }
  size_t ids() const;

 private:
  struct Minute {
    size_t synced_bytes = 0;
    absl::flat_hash_set<uint64_t> ids;
    Clock::time_point last_used{};
  };
  absl::flat_hash_map<int64_t, Minute> minutes_;
};

}  // namespace burnrate
