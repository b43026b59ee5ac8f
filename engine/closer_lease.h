// Which replica of a consumer group closes windows right now. Closing is
// claimed per window in the state store, so two replicas never publish the
// same window; but the detectors and budgets judge windows one after the
// other against histories in Redis (load, judge, save), so two replicas
// closing different windows at the same time would read the same history
// and overwrite each other's update. One replica therefore holds a lease and
// closes every window, in order; when it stops or dies the lease expires and
// another takes over.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "state/redis_client.h"

namespace burnrate {

// Not thread-safe: the window-closing thread owns it (with its own Redis
// connection).
class CloserLease {
 public:
  // `key` is the Redis key of the lease; `holder` names this process
  // (unique per replica); the lease lasts `ttl_ms` after each Hold().
  CloserLease(RedisConfig options, std::string key, std::string holder, int64_t ttl_ms);

  // Takes the lease if nobody holds it, or extends it if this replica does.
  // True while this replica holds it.
  absl::StatusOr<bool> Hold();
  // Gives the lease up at once if this replica holds it (a clean stop), so
  // another replica need not wait for it to expire.
  absl::Status Release();

  bool held() const { return held_; }
  const std::string& holder() const { return holder_; }

 private:
  RedisClient redis_;
  std::string key_;
  std::string holder_;
  int64_t ttl_ms_;
  bool held_ = false;
};

// A holder name unique to this process: host name, pid and start time.
std::string ThisProcessHolderName();

}  // namespace burnrate
