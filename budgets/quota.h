// The quota signal a gateway reads per tenant, the state machine that
// tightens it progressively (ok -> warn -> throttle -> downgrade -> block)
// and the stores that hold and publish it. Key and value formats are in
// docs/quota.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "budgets/budgets_config.h"

namespace burnrate {

// Ordered by severity: a larger value is tighter.
enum class QuotaState : uint8_t { kOk, kWarn, kThrottle, kDowngrade, kBlock };
std::string_view QuotaStateName(QuotaState state);
std::optional<QuotaState> ParseQuotaState(std::string_view name);

// One tenant's decision (or one input to it: a budget, a detector alert, an
// operator pin). `subject` is the tenant, or "tenant/feature" for a
// tenant+feature budget's own signal.
struct QuotaSignal {
  std::string subject;
  QuotaState state = QuotaState::kOk;
  double rate_factor = 1.0;     // share of requests admitted while throttled
  std::string downgrade_model;  // while downgraded
  std::string reason;
  int64_t until_ms = 0;  // when it is expected to lift; 0 = not known
  int64_t updated_at_ms = 0;
  // Where it came from: "budget", "alert" or "override".
  std::string source;
  // Dropped from the effective decision once passed (0 = never). Budget
  // inputs never expire; they are reset when the next period arrives.
  int64_t expires_at_ms = 0;

  bool operator==(const QuotaSignal&) const = default;
};

std::string QuotaSignalToJson(const QuotaSignal& signal);
absl::StatusOr<QuotaSignal> QuotaSignalFromJson(std::string_view json);

// The effective decision from its inputs at `now_ms`: an unexpired operator
// pin wins; otherwise the tightest unexpired of budget and alert inputs;
// otherwise ok.
QuotaSignal CombineQuotaInputs(std::string_view subject, const std::optional<QuotaSignal>& budget,
                               const std::optional<QuotaSignal>& alert,
                               const std::optional<QuotaSignal>& override_pin, int64_t now_ms);

// The budget-driven state machine of one tenant under its tier's policy:
// escalates as soon as usage reaches a level, relaxes only below the level
// minus the hysteresis and after min_hold_ms. Plain value, copied freely.
struct QuotaMachine {
  QuotaState state = QuotaState::kOk;
  int64_t since_ms = 0;

  // Moves to the state `usage` (spend / amount, 1.0 = all of it) calls for at
  // `now_ms`; returns true when the state changed.
  bool Update(const QuotaTierPolicy& policy, double usage, int64_t now_ms);
};
// The state a usage level calls for, without hysteresis.
QuotaState StateForUsage(const QuotaTierPolicy& policy, double usage);
// Fills rate_factor / downgrade_model of `signal` for its state under `policy`.
void ApplyPolicyDetails(const QuotaTierPolicy& policy, QuotaSignal& signal);
const QuotaTierPolicy& PolicyForTenant(const QuotaConfig& config, std::string_view tenant);

// Where the decision inputs live and the effective decision is published.
// The Redis store (RedisQuotaStore) makes every replica agree; the memory
// store serves replay and tests. Implementations are thread-safe.
class QuotaStore {
 public:
  enum class Part : uint8_t { kBudget, kAlert, kOverride };
  virtual ~QuotaStore() = default;

  // Sets (or, with nullopt, clears) one input of `subject` and recomputes
  // its effective decision at now_ms, atomically. Returns the effective
  // decision and whether it changed.
  struct Outcome {
    QuotaSignal effective;
    bool changed = false;
  };
  virtual absl::StatusOr<Outcome> SetPart(const std::string& subject, Part part,
                                          const std::optional<QuotaSignal>& value,
                                          int64_t now_ms) = 0;
  // Recomputes `subject` at now_ms (expired inputs drop out).
  virtual absl::StatusOr<Outcome> Recompute(const std::string& subject, int64_t now_ms) = 0;
  // Every published effective decision.
  virtual absl::StatusOr<std::vector<QuotaSignal>> Effective() = 0;
  // Every operator pin currently stored (expired ones included until the
  // next recompute drops them).
  virtual absl::StatusOr<std::vector<QuotaSignal>> Overrides() = 0;
};
using QuotaStorePtr = std::unique_ptr<QuotaStore>;

// Receives every changed effective decision (the compacted Kafka topic).
class QuotaSink {
 public:
  virtual ~QuotaSink() = default;
  virtual absl::Status Publish(const QuotaSignal& effective) = 0;
};
using QuotaSinkPtr = std::unique_ptr<QuotaSink>;

class MemoryQuotaStore : public QuotaStore {
 public:
  MemoryQuotaStore();
  ~MemoryQuotaStore() override;
  absl::StatusOr<Outcome> SetPart(const std::string& subject, Part part,
                                  const std::optional<QuotaSignal>& value, int64_t now_ms) override;
  absl::StatusOr<Outcome> Recompute(const std::string& subject, int64_t now_ms) override;
  absl::StatusOr<std::vector<QuotaSignal>> Effective() override;
  absl::StatusOr<std::vector<QuotaSignal>> Overrides() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace burnrate
