// Drops events whose event_id was already seen within a horizon of event time.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "core/huge_page_allocator.h"
#include "core/types.h"

namespace burnrate {

// A stable 64-bit hash (FNV-1a followed by a 64-bit finaliser): the same on
// every run and every replica, so it can also key shared state in Redis.
uint64_t StableHash64(std::string_view s);

// Counted event ids are kept in groups by this much of their event time (a
// checkpoint carries each group's ids; the Redis store keeps one log per
// group, `…idlog:<group start>`).
inline constexpr int64_t kEventIdGroupMs = 60'000;

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
  // id hash -> event time; on huge pages once large (HugePageAllocator).
  absl::flat_hash_map<uint64_t, int64_t, AlreadyHashed, std::equal_to<uint64_t>,
                      HugePageAllocator<std::pair<const uint64_t, int64_t>>>
      seen_;
  int64_t max_time_ = INT64_MIN;
  int64_t last_expiry_ = INT64_MIN;
};

// Which partition counted each event id, for all the partitions one `run`
// replica holds, kept until every partition has read `horizon_ms` of event
// time past it (at most five horizons behind the newest event). A copy of an event in a second partition is then dropped before its
// checkpoint reaches the store, instead of that checkpoint being refused for
// it there and the partition counted again (RunEngine). Dropping is safe
// because the claiming partition counts the event: either its checkpoint
// becomes durable, or its messages are read and judged again, from its
// durable position by whoever takes it over (Release() is called when its
// state is dropped) or by itself after a refused checkpoint (keeping its
// claims: it counts the same messages again).
// Not thread-safe.
class ClaimTable {
 public:
  explicit ClaimTable(int64_t horizon_ms) : horizon_ms_(horizon_ms) {}

  enum class Claim : uint8_t {
    kNew,       // nobody had it: now `partition` does
    kOwn,       // `partition` had it already (its messages counted again)
    kElsewhere  // another partition counts it: a duplicate here
  };
  Claim Take(uint64_t id_hash, int32_t partition, EventTimeMs time);
  // Forgets every claim of `partition`: its state was dropped, and whatever
  // reads it next decides those events again.
  void Release(int32_t partition);
  void Prefetch(uint64_t id_hash) const { claims_.prefetch(id_hash); }
  size_t size() const { return claims_.size(); }

 private:
  void Expire();
  struct Entry {
    int64_t time;
    int32_t partition;
  };
  struct AlreadyHashed {
    size_t operator()(uint64_t h) const noexcept { return h; }
  };
  int64_t horizon_ms_;
  absl::flat_hash_map<uint64_t, Entry, AlreadyHashed, std::equal_to<uint64_t>,
                      HugePageAllocator<std::pair<const uint64_t, Entry>>>
      claims_;
  absl::flat_hash_map<int32_t, int64_t> partition_max_time_;  // the latest event time each claimed
  int64_t max_time_ = INT64_MIN;
  int64_t last_expiry_ = INT64_MIN;
};

}  // namespace burnrate
