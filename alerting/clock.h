// Time for the alerting module, injectable so tests can simulate "a receiver
// down for ten minutes" without waiting ten minutes.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/time_format.h"

namespace burnrate {

// Wall-clock milliseconds since the epoch. Implementations are thread-safe.
class AlertClock {
 public:
  virtual ~AlertClock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemAlertClock : public AlertClock {
 public:
  int64_t NowMs() const override { return WallClockMs(); }
};

// A clock that moves only when told to; for tests. Thread-safe.
class ManualAlertClock : public AlertClock {
 public:
  explicit ManualAlertClock(int64_t start_ms) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }
  void Set(int64_t ms) { now_.store(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace burnrate
