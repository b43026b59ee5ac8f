#include "state/memory_state_store.h"

#include <algorithm>

namespace burnrate {

absl::StatusOr<CheckpointOutcome> MemoryStateStore::Commit(const std::string& topic,
                                                           const PartitionCheckpoint& c) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  auto pos = t.positions.find(c.partition);
  if (pos != t.positions.end() && (!c.from || *c.from != pos->second)) {
    return CheckpointOutcome{CheckpointOutcome::Kind::kStalePosition, {}};
  }
  const std::optional<WindowStartMs> closing = NoDeltasThrough(t);
  for (const WindowDelta& d : c.deltas) {
    if (closing && d.start <= *closing) return CheckpointOutcome{CheckpointOutcome::Kind::kWindowClosed, {}};
  }
  CheckpointOutcome dup{CheckpointOutcome::Kind::kDuplicateEvents, {}};
  for (const auto& [minute, id] : c.event_ids) {
    auto it = t.ids.find(minute);
    if (it != t.ids.end() && it->second.count(id)) dup.duplicates.push_back(id);
  }
  if (!dup.duplicates.empty()) return dup;
  for (const WindowDelta& d : c.deltas) {
    (d.is_model ? t.models : t.keys)[d.start][d.key].Merge(d.totals);
  }
  for (const auto& [minute, id] : c.event_ids) t.ids[minute].insert(id);
  t.positions[c.partition] = c.next;
  int64_t& wm = t.watermarks[c.partition];
  wm = std::max(wm, c.watermark.value());
  t.idle[c.partition] = c.idle;
  std::vector<std::string>& observer = t.observer_state[c.partition];
  if (c.replace_observer_state) observer.clear();
  observer.insert(observer.end(), c.observer_state.begin(), c.observer_state.end());
  auto& held = t.held_dead_letters[c.partition];
  std::erase_if(
      held, [&c](const auto& entry) { return entry.second < c.held_dead_letters_published_below; });
  for (const auto& [offset, record] : c.held_dead_letters) held[record] = offset;
  return CheckpointOutcome{};
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> MemoryStateStore::HeldDeadLetters(
    const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<int64_t, std::string>> out;
  for (const auto& [record, offset] : topics_[topic].held_dead_letters[partition])
    out.emplace_back(offset, record);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryStateStore::ObserverState(const std::string& topic,
                                                                         int32_t partition) {
  std::lock_guard lock(mu_);
  return topics_[topic].observer_state[partition];
}

absl::StatusOr<std::optional<int64_t>> MemoryStateStore::Position(const std::string& topic, int32_t partition) {
  std::lock_guard lock(mu_);
  const Topic& t = topics_[topic];
  auto it = t.positions.find(partition);
  if (it == t.positions.end()) return std::optional<int64_t>();
  return std::optional<int64_t>(it->second);
}

absl::StatusOr<std::vector<PartitionProgress>> MemoryStateStore::Progress(const std::string& topic) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  std::vector<PartitionProgress> out;
  for (const auto& [p, wm] : t.watermarks) out.push_back({p, wm, t.idle[p]});
  return out;
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

absl::Status MemoryStateStore::BeginClosing(const std::string& topic, WindowStartMs start) {
  std::lock_guard lock(mu_);
  Topic& t = topics_[topic];
  if (!t.closing_through || *t.closing_through < start) t.closing_through = start;
  return absl::OkStatus();
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
  return NoDeltasThrough(topics_[topic]);
}

std::optional<WindowStartMs> MemoryStateStore::NoDeltasThrough(const Topic& t) {
  if (!t.closing_through) return t.closed_through;
  if (!t.closed_through) return t.closing_through;
  return std::max(*t.closing_through, *t.closed_through);
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
