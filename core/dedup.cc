#include "core/dedup.h"

#include <algorithm>
#include <cstring>

namespace burnrate {

uint64_t StableHash64(std::string_view s) {
  // Eight bytes at a time, each word mixed in by multiply-xorshift; defined
  // by this code alone (no library, no per-process seed), so it is the same
  // on every replica.
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = 0xcbf29ce484222325ull ^ (s.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  // The last 0-7 bytes as a little-endian word padded with zeros, read with
  // fixed-size loads (a variable-length memcpy is a library call).
  const size_t rest = s.size() - i;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + i);
  uint64_t tail = 0;
  if (rest >= 4) {
    uint32_t head, last;
    std::memcpy(&head, p, 4);
    std::memcpy(&last, p + rest - 4, 4);
    // The two loads overlap when rest < 8; overlapping bytes are equal, so OR is exact.
    tail = head | static_cast<uint64_t>(last) << (8 * (rest - 4));
  } else if (rest > 0) {
    tail = p[0];
    if (rest > 1) tail |= static_cast<uint64_t>(p[1]) << 8;
    if (rest > 2) tail |= static_cast<uint64_t>(p[2]) << 16;
  }
  h = (h ^ tail) * kMul;
  // Murmur3's 64-bit finaliser spreads every input bit over the result.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

bool DedupFilter::FirstSightingOfHash(uint64_t id_hash, EventTimeMs time) {
  const int64_t t = time.value();
  if (t > max_time_) {
    max_time_ = t;
    // Sweeping costs O(size); doing it every quarter horizon keeps it amortised.
    if (last_expiry_ == INT64_MIN) last_expiry_ = t;
    if (t - last_expiry_ >= horizon_ms_ / 4) Expire();
  }
  return seen_.try_emplace(id_hash, t).second;
}

void DedupFilter::Expire() {
  const int64_t cutoff = max_time_ - horizon_ms_;
  absl::erase_if(seen_, [cutoff](const auto& entry) { return entry.second < cutoff; });
  last_expiry_ = max_time_;
}

ClaimTable::Claim ClaimTable::Take(uint64_t id_hash, int32_t partition, EventTimeMs time) {
  const int64_t t = time.value();
  if (auto [it, inserted] = partition_max_time_.try_emplace(partition, t);
      !inserted && t > it->second)
    it->second = t;
  if (t > max_time_) {
    max_time_ = t;
    if (last_expiry_ == INT64_MIN) last_expiry_ = t;
    if (t - last_expiry_ >= horizon_ms_ / 4) Expire();
  }
  const auto [it, inserted] = claims_.try_emplace(id_hash, Entry{t, partition});
  if (inserted) return Claim::kNew;
  return it->second.partition == partition ? Claim::kOwn : Claim::kElsewhere;
}

void ClaimTable::Release(int32_t partition) {
  partition_max_time_.erase(partition);
  absl::erase_if(claims_,
                 [partition](const auto& entry) { return entry.second.partition == partition; });
}

void ClaimTable::Expire() {
  // A claim is needed until every partition has read past it by the
  // horizon: partitions drained from a backlog can be minutes of event time
  // apart. A partition further behind than kMaxSpread horizons no longer
  // holds the others' claims (memory stays bounded); a copy it then reads is
  // caught by the store instead.
  constexpr int64_t kMaxSpread = 4;
  int64_t slowest = max_time_;
  for (const auto& [partition, time] : partition_max_time_) slowest = std::min(slowest, time);
  const int64_t cutoff = std::max(slowest, max_time_ - kMaxSpread * horizon_ms_) - horizon_ms_;
  absl::erase_if(claims_, [cutoff](const auto& entry) { return entry.second.time < cutoff; });
  last_expiry_ = max_time_;
}

}  // namespace burnrate
