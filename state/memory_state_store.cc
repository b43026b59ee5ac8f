#include "state/memory_state_store.h"

namespace burnrate {

absl::StatusOr<CheckpointOutcome> MemoryStateStore::Commit(const std::string& topic,
                                                           const PartitionCheckpoint& c) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  auto pos = t.positions.find(c.partition);
  if (pos != t.positions.end() && (!c.from || *c.from != pos->second)) return CheckpointOutcome::kStalePosition;
  for (const WindowDelta& d : c.deltas) {
    (d.is_model ? t.models : t.keys)[d.start][d.key].Merge(d.totals);
  }
  for (const auto& [minute, id] : c.event_ids) t.ids[c.partition][minute].insert(id);
  t.positions[c.partition] = c.next;
  int64_t& wm = t.watermarks[c.partition];
  wm = std::max(wm, c.watermark.value());
  return CheckpointOutcome::kApplied;
}

absl::StatusOr<std::optional<int64_t>> MemoryStateStore::Position(const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  const Topic& t = topics_[topic];
  auto it = t.positions.find(partition);
  if (it == t.positions.end()) return std::optional<int64_t>();
  return std::optional<int64_t>(it->second);
}

absl::StatusOr<std::vector<uint64_t>> MemoryStateStore::RecentEventIds(const std::string& topic, int32_t partition,
                                                                       EventTimeMs since) {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [minute, ids] : topics_[topic].ids[partition]) {
    if (minute + 60'000 <= since.value()) continue;
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> MemoryStateStore::Watermarks(const std::string& topic) {
  std::lock_guard lock(mu_);
  const Topic& t = topics_[topic];
  return std::vector<std::pair<int32_t, int64_t>>(t.watermarks.begin(), t.watermarks.end());
}

absl::StatusOr<std::vector<WindowStartMs>> MemoryStateStore::OpenWindows(const std::string& topic) {
  std::lock_guard lock(mu_);
  const Topic& t = topics_[topic];
  std::vector<WindowStartMs> out;
  for (const auto& [start, keys] : t.keys) {
    if (!t.closed_through || start > *t.closed_through) out.push_back(start);
  }
  return out;
}

absl::StatusOr<bool> MemoryStateStore::ClaimClose(const std::string& topic, WindowStartMs start) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  if (t.closed_through && *t.closed_through >= start) return false;
  t.closed_through = start;
  return true;
}

absl::StatusOr<std::optional<WindowStartMs>> MemoryStateStore::ClosedThrough(const std::string& topic) {
  std::lock_guard lock(mu_);
  return topics_[topic].closed_through;
}

absl::StatusOr<StoredWindow> MemoryStateStore::ReadWindow(const std::string& topic, WindowStartMs start) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  StoredWindow w;
  w.start = start;
  for (const auto& [k, totals] : t.keys[start]) w.keys.emplace_back(k, totals);
  for (const auto& [k, totals] : t.models[start]) w.models.emplace_back(k, totals);
  return w;
}

}  // namespace burnrate
