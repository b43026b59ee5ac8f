#include "consumers/commit_retries.h"

#include <algorithm>

namespace burnrate {

void CommitRetries::Failed(int32_t partition, int64_t next_offset, TimePoint now) {
  if (auto it = acknowledged_.find(partition);
      it != acknowledged_.end() && it->second >= next_offset)
    return;  // a later commit got there first: sending this one would move the group back
  auto [it, fresh] = failed_.emplace(partition, next_offset);
  if (!fresh) it->second = std::max(it->second, next_offset);
  due_ = now + kRetryDelay;
}

void CommitRetries::Defer(int32_t partition, int64_t next_offset) {
  auto [it, fresh] = failed_.emplace(partition, next_offset);
  if (!fresh) it->second = std::max(it->second, next_offset);
}

void CommitRetries::Succeeded(int32_t partition, int64_t next_offset) {
  int64_t& acknowledged = acknowledged_[partition];
  acknowledged = std::max(acknowledged, next_offset);
  if (auto it = failed_.find(partition); it != failed_.end() && it->second <= acknowledged)
    failed_.erase(it);
}

void CommitRetries::Forget(int32_t partition) {
  failed_.erase(partition);
  acknowledged_.erase(partition);
}

void CommitRetries::TakeDue(TimePoint now, const std::function<bool(int32_t)>& owned,
                            std::vector<std::pair<int32_t, int64_t>>& offsets) {
  if (failed_.empty() || now < due_) return;
  for (const auto& [partition, offset] : failed_) {
    if (!owned(partition)) continue;
    auto it = std::find_if(offsets.begin(), offsets.end(),
                           [p = partition](const auto& o) { return o.first == p; });
    if (it == offsets.end()) {
      offsets.emplace_back(partition, offset);
    } else {
      it->second = std::max(it->second, offset);
    }
  }
  failed_.clear();
}

}  // namespace burnrate
