// The outbox in Redis, so a restart or a receiver outage loses no alert and
// sends none twice. Keys, all under "<key_prefix>alerts:":
//   tx:<transition key>      "<enqueued ms>\n<stored alert>" (SET NX: Enqueue is idempotent)
//   incoming                 list of transition keys not yet routed
//   d:<delivery id>          hash: tkey, receiver, attempts, repeat, enqueued, repeat_ms
//   due:<receiver>           sorted set of delivery ids by due time (ms)
//   done:<delivery id>       marker: delivered or dead-lettered, never again
//   dead                     list of dead-letter records (JSON), newest last, capped
//   firing                   set of alert ids currently firing
//   reminders                set of delivery ids that are reminders (not counted as pending)
//   silences                 hash id -> silence JSON
// tx: and done: keys expire after give_up_after + 7 days.
//
// Thread-safe: one hiredis connection behind a mutex, reconnected after an
// error. Each state change is one Lua script, so it is atomic.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "alerting/clock.h"
#include "alerting/outbox.h"
#include "config/config.h"

struct redisContext;

namespace burnrate {

// Where the outbox lives.
struct AlertRedisOptions {
  RedisConfig redis;  // the outbox's keys are under redis.key_prefix + "alerts:"
  // How long tx: and done: markers are kept (give_up_after + 7 days).
  int64_t marker_ttl_ms = 8 * 86'400'000LL;
};

class RedisAlertOutbox : public AlertOutbox {
 public:
  // Connects (and fails) up front; `clock` is borrowed, nullptr: the system clock.
  static absl::StatusOr<std::unique_ptr<RedisAlertOutbox>> Connect(
      const AlertRedisOptions& options, const AlertClock* clock = nullptr);
  ~RedisAlertOutbox() override;

  absl::Status Enqueue(const Alert& alert) override;
  absl::StatusOr<std::vector<std::pair<Alert, int64_t>>> PeekIncoming(size_t max) override;
  absl::Status Route(const std::string& transition_key, int64_t enqueued_ms,
                     const std::vector<RouteTarget>& targets) override;
  absl::StatusOr<std::vector<PendingDelivery>> Claim(const std::string& receiver, int64_t now_ms,
                                                     int64_t lease_ms, size_t max) override;
  absl::Status Reschedule(const PendingDelivery& d, int64_t due_ms, bool failed) override;
  absl::Status Complete(const PendingDelivery& d, int64_t next_repeat_ms) override;
  absl::Status DeadLetter(const PendingDelivery& d, std::string_view reason,
                          int64_t now_ms) override;
  absl::Status Cancel(const std::string& delivery_id, const std::string& receiver) override;
  absl::StatusOr<int> PendingRepeat(const std::string& delivery_id) override;
  absl::StatusOr<bool> IsResolved(const std::string& alert_id) override;
  absl::StatusOr<OutboxCounts> Counts(const std::vector<std::string>& receivers) override;
  absl::StatusOr<std::vector<std::string>> DeadLetters(size_t max) override;
  absl::Status PutSilence(const std::string& id, const std::string& json) override;
  absl::StatusOr<bool> DeleteSilence(const std::string& id) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Silences() override;

 private:
  struct Reply;
  RedisAlertOutbox(AlertRedisOptions options, const AlertClock* clock);
  absl::Status ConnectLocked();
  // Runs one command (arguments binary-safe); errors as status.
  absl::StatusOr<std::unique_ptr<Reply>> CommandLocked(const std::vector<std::string>& args);

  AlertRedisOptions options_;
  std::string prefix_;
  SystemAlertClock system_clock_;
  const AlertClock* clock_;
  std::mutex mu_;
  redisContext* context_ = nullptr;
};

}  // namespace burnrate
