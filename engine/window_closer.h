// Closes windows for a whole consumer group: when every partition of the
// topic has moved past a window (or gone idle), the replica holding the
// closer lease reads its totals back, publishes its rows, has it judged
// (WindowDone), and only then marks it closed in the state store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/window.h"
#include "state/state_store.h"

namespace burnrate {

// Where closed windows go (the windows topic in production, a map in tests).
class WindowRecordSink {
 public:
  virtual ~WindowRecordSink() = default;
  virtual void Publish(const WindowRecord& record) = 0;
  // Every row of the window starting at `start` has been published (rows of
  // one window always come together, before the next window's). Runs before
  // the next window is read, so a sink may take its time here (the
  // detectors judge the window; on a Redis failure they retry until done).
  virtual void WindowDone(WindowStartMs start, int64_t size_ms) {
    (void)start;
    (void)size_ms;
  }
  // Everything published so far is durable.
  virtual absl::Status Flush() = 0;
};

// Not thread-safe; `burnrate run` gives it a thread, a state-store
// connection and a producer of its own, so closing never holds up consuming.
class WindowCloser {
 public:
  WindowCloser(const Config& config, StateStore& store, WindowRecordSink& sink)
      : config_(config), store_(store), sink_(sink) {}

  // Asked between windows: true ends CloseReady early (a stop during a long
  // catch-up); the windows left stay open for whoever closes next.
  void set_stop_requested(std::function<bool()> stop) { stop_requested_ = std::move(stop); }

  // Closes every window that all `partition_count` partitions have moved
  // past. Returns how many this replica closed.
  absl::StatusOr<size_t> CloseReady(int32_t partition_count);
  // Reads how far the group has closed windows, without closing any (a
  // replica that does not hold the closer lease still needs to know).
  absl::Status RefreshClosedThrough();
  // The latest window closed by any replica, as of the last CloseReady or
  // RefreshClosedThrough.
  std::optional<WindowStartMs> closed_through() const { return closed_through_; }

 private:
  // Windows published before their rows are flushed and they are claimed
  // closed together: what a refused flush makes the next round publish again.
  static constexpr size_t kWindowsPerClaim = 64;
  const Config& config_;
  StateStore& store_;
  WindowRecordSink& sink_;
  std::optional<WindowStartMs> closed_through_;
  std::function<bool()> stop_requested_;
};

}  // namespace burnrate
