// QuotaStore in Redis: every replica reads and writes the same inputs and
// publishes the same effective decision, the key gateways read in one GET.
// Layout (docs/quota.md), P = redis.key_prefix, Q = quota.redis_key_prefix:
//   P Q <subject>                      effective decision, JSON (gateways GET this)
//   P quota-internal:parts:<subject>   hash budget|alert|override -> input JSON
//   P quota-internal:subjects          set of subjects with a decision
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "budgets/quota.h"
#include "config/config.h"
#include "state/redis_client.h"

namespace burnrate {

// Thread-safe (one connection behind a mutex; admin calls and the window
// closer share it rarely). Each update is an optimistic transaction
// (WATCH/MULTI/EXEC), so concurrent writers on other replicas never lose an
// input.
class RedisQuotaStore : public QuotaStore {
 public:
  RedisQuotaStore(RedisConfig options, std::string quota_key_prefix);
  ~RedisQuotaStore() override;

  absl::StatusOr<Outcome> SetPart(const std::string& subject, Part part,
                                  const std::optional<QuotaSignal>& value, int64_t now_ms) override;
  absl::StatusOr<Outcome> Recompute(const std::string& subject, int64_t now_ms) override;
  absl::StatusOr<std::vector<QuotaSignal>> Effective() override;
  absl::StatusOr<std::vector<QuotaSignal>> Overrides() override;

  // The key a gateway reads for `subject`.
  std::string DecisionKey(const std::string& subject) const;

 private:
  absl::StatusOr<Outcome> Update(const std::string& subject, std::optional<Part> part,
                                 const std::optional<QuotaSignal>& value, int64_t now_ms);

  std::mutex mu_;
  std::string key_prefix_;  // RedisConfig::key_prefix
  RedisClient redis_;
  std::string quota_prefix_;
};

}  // namespace burnrate
