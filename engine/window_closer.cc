#include "engine/window_closer.h"

#include <algorithm>
#include <climits>
#include <optional>
#include <vector>

namespace burnrate {

absl::StatusOr<size_t> WindowCloser::CloseReady(int32_t partition_count) {
  const std::string& topic = config_.kafka.topic;
  auto progress = store_.Progress(topic);
  if (!progress.ok()) return progress.status();
  size_t closed = 0;
  if (static_cast<int32_t>(progress->size()) >= partition_count) {
    // The event time every partition has passed; idle partitions do not hold
    // it back, and when all are idle every open window may close.
    int64_t low = INT64_MAX;
    for (const auto& p : *progress) {
      if (!p.idle) low = std::min(low, p.watermark);
    }
    auto open = store_.OpenWindows(topic);
    if (!open.ok()) return open.status();
    const auto& w = config_.pipeline.windows;
    std::vector<WindowStartMs> ready;
    for (WindowStartMs start : *open) {
      if (low != INT64_MAX && start.value() + w.size_ms + w.allowed_lateness_ms > low) break;
      ready.push_back(start);
    }
    // Before reading them back: a partition the store has as idle may still
    // count an event for one of these windows, and its checkpoint must not
    // add to a window between our read and our claim (it is refused, and the
    // event counted again as late).
    if (!ready.empty()) {
      if (absl::Status s = store_.BeginClosing(topic, ready.back()); !s.ok()) return s;
    }
    // A window is marked closed only once it is judged and its rows are
    // delivered: a replica that dies half-way, or whose rows are refused,
    // leaves the window to the next attempt, which publishes it again (rows
    // are at least once, with the same content) and judges it again (the
    // detectors and budgets refuse a window they already applied). Claiming
    // first lost the window's judgement, and claiming before the rows were
    // delivered lost them when their delivery failed. One flush and one
    // claim serve a run of windows: a claim closes every window up to its
    // start.
    std::optional<WindowStartMs> last_done;
    size_t done = 0;
    const auto deliver_and_claim = [&]() -> absl::Status {
      if (!last_done) return absl::OkStatus();
      if (absl::Status s = sink_.Flush(); !s.ok()) return s;
      auto claimed = store_.ClaimClose(topic, *last_done);
      if (!claimed.ok()) return claimed.status();
      if (*claimed) closed += done;  // else another replica closed them meanwhile
      last_done.reset();
      done = 0;
      return absl::OkStatus();
    };
    for (WindowStartMs start : ready) {
      if (stop_requested_ && stop_requested_()) break;
      auto window = store_.ReadWindow(topic, start);
      if (!window.ok()) return window.status();
      std::vector<std::pair<std::string_view, const WindowTotals*>> keys, models;
      for (const auto& [k, t] : window->keys) keys.emplace_back(k, &t);
      for (const auto& [m, t] : window->models) models.emplace_back(m, &t);
      EmitWindowRecords(start, w.size_ms, std::move(keys), std::move(models),
                        [this](const WindowRecord& r) { sink_.Publish(r); });
      sink_.WindowDone(start, w.size_ms);
      last_done = start;
      if (++done >= kWindowsPerClaim) {
        if (absl::Status s = deliver_and_claim(); !s.ok()) return s;
      }
    }
    if (absl::Status s = deliver_and_claim(); !s.ok()) return s;
  }
  if (absl::Status s = RefreshClosedThrough(); !s.ok()) return s;
  return closed;
}

absl::Status WindowCloser::RefreshClosedThrough() {
  auto through = store_.ClosedThrough(config_.kafka.topic);
  if (!through.ok()) return through.status();
  if (*through) closed_through_ = *through;
  return absl::OkStatus();
}

}  // namespace burnrate
