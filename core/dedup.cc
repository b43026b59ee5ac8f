#include "core/dedup.h"

namespace burnrate {

uint64_t StableHash64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  // FNV-1a alone mixes the last bytes poorly; a murmur-style finaliser fixes that.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

bool DedupFilter::FirstSighting(std::string_view event_id, EventTimeMs time) {
  const int64_t t = time.value();
  if (t > max_time_) {
    max_time_ = t;
    // Sweeping costs O(size); doing it every quarter horizon keeps it amortised.
    if (last_expiry_ == INT64_MIN) last_expiry_ = t;
    if (t - last_expiry_ >= horizon_ms_ / 4) Expire();
  }
  return seen_.try_emplace(StableHash64(event_id), t).second;
}

void DedupFilter::Expire() {
  const int64_t cutoff = max_time_ - horizon_ms_;
  absl::erase_if(seen_, [cutoff](const auto& entry) { return entry.second < cutoff; });
  last_expiry_ = max_time_;
}

}  // namespace burnrate
