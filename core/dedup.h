// Drops events whose event_id was already seen within a horizon of event time.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "core/types.h"

namespace burnrate {

// A stable 64-bit hash (FNV-1a followed by a 64-bit finaliser): the same on
// every run and every replica, so it can also key shared state in Redis.
uint64_t StableHash64(std::string_view s);

// Remembers event ids (by 64-bit hash) for `horizon_ms` of event time behind
// the largest time seen. Two distinct ids collide with probability about
// n^2 / 2^65 for n ids in the horizon (1e-7 at a million); such a pair would
// count as a duplicate. Not thread-safe.
class DedupFilter {
 public:
  explicit DedupFilter(int64_t horizon_ms) : horizon_ms_(horizon_ms) {}

  // True when `event_id` is new (and remembers it), false for a duplicate.
  bool FirstSighting(std::string_view event_id, EventTimeMs time) {
    return FirstSightingOfHash(StableHash64(event_id), time);
  }
  bool FirstSightingOfHash(uint64_t id_hash, EventTimeMs time);
  // Starts loading the slot `id_hash` belongs in. The table holds every id of
  // the horizon and outgrows the CPU caches, so a caller that has other work
  // to do before FirstSightingOfHash() hides most of that load behind it.
  void Prefetch(uint64_t id_hash) const { seen_.prefetch(id_hash); }
  // Remembers ids counted elsewhere (by a previous owner of a partition).
  void Remember(uint64_t id_hash, EventTimeMs time) { seen_.try_emplace(id_hash, time.value()); }
  size_t size() const { return seen_.size(); }

 private:
  void Expire();
  int64_t horizon_ms_;
  // Keys are already StableHash64 values, well mixed: hashing them again
  // would only cost time.
  struct AlreadyHashed {
    size_t operator()(uint64_t h) const noexcept { return h; }
  };
  absl::flat_hash_map<uint64_t, int64_t, AlreadyHashed> seen_;  // id hash -> event time
  int64_t max_time_ = INT64_MIN;
  int64_t last_expiry_ = INT64_MIN;
};

}  // namespace burnrate
