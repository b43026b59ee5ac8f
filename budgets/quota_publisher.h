// Sets quota decision inputs and publishes the effective decisions that
// change: the store (Redis key per tenant) first, then the sink (the
// compacted Kafka topic). Shared by the budget tracker, detector alerts, the
// admin override endpoint and the snapshot refresher.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "budgets/quota.h"

namespace burnrate {

using WallClock = std::function<int64_t()>;  // epoch milliseconds
WallClock SystemWallClock();

// Thread-safe (the store and the sink are). Owned jointly (shared_ptr) by
// whatever sets inputs: the tracker and the HTTP handlers.
class QuotaPublisher {
 public:
  // `sink` may be null (replay, tests without Kafka).
  QuotaPublisher(std::shared_ptr<QuotaStore> store, std::shared_ptr<QuotaSink> sink,
                 WallClock clock);

  // Sets or clears one input of `subject`; publishes the effective decision
  // when it changed. A sink failure is returned, but the store is already
  // updated (gateways reading Redis or the endpoint are not held back).
  absl::StatusOr<QuotaSignal> Set(const std::string& subject, QuotaStore::Part part,
                                  const std::optional<QuotaSignal>& value);
  // Recomputes every subject whose effective decision has expired (an
  // override or a detector throttle that ran out) and publishes the result.
  absl::Status RefreshExpired();

  QuotaStore& store() { return *store_; }
  int64_t now_ms() const { return clock_(); }

 private:
  std::shared_ptr<QuotaStore> store_;
  std::shared_ptr<QuotaSink> sink_;
  WallClock clock_;
};

}  // namespace burnrate
