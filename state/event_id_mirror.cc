#include "state/event_id_mirror.h"

#include <cstring>

namespace burnrate {

size_t EventIdMirror::SyncedBytes(int64_t minute) const {
  const auto it = minutes_.find(minute);
  return it == minutes_.end() ? 0 : it->second.synced_bytes;
}

bool EventIdMirror::Apply(int64_t minute, size_t offset, std::string_view bytes) {
  if (bytes.size() % sizeof(uint64_t) != 0) return false;
  const size_t held = SyncedBytes(minute);
  if (offset != held && offset != 0) return false;
  Minute& m = minutes_[minute];
  if (offset < held) {  // the log shrank: start over from what it holds now
    m.ids.clear();
    m.synced_bytes = 0;
  }
  m.ids.reserve(m.ids.size() + bytes.size() / sizeof(uint64_t));
  for (size_t at = 0; at < bytes.size(); at += sizeof(uint64_t)) {
    uint64_t id;
    std::memcpy(&id, bytes.data() + at, sizeof id);
    m.ids.insert(id);
  }
  m.synced_bytes += bytes.size();
  return true;
}

bool EventIdMirror::Contains(int64_t minute, uint64_t id) const {
  const auto it = minutes_.find(minute);
  return it != minutes_.end() && it->second.ids.contains(id);
}

void EventIdMirror::Touch(int64_t minute, Clock::time_point now) {
  const auto it = minutes_.find(minute);
  if (it != minutes_.end()) it->second.last_used = now;
}

void EventIdMirror::ForgetUnusedSince(Clock::time_point cutoff) {
  absl::erase_if(minutes_, [cutoff](const auto& entry) { return entry.second.last_used < cutoff; });
}

size_t EventIdMirror::ids() const {
  size_t n = 0;
  for (const auto& [minute, m] : minutes_) n += m.ids.size();
  return n;
}

}  // namespace burnrate
