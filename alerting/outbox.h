// The durable outbox between alert producers (detectors, budgets) and the
// delivery service. Producers only call Enqueue, one cheap write; delivery
// happens on the service's own threads, so event processing never waits on
// a receiver. Everything the service needs to resume after a restart lives
// in the outbox: transitions not yet routed, one delivery per (transition,
// receiver) with its attempts and due time, "done" markers that make a
// second delivery of the same transition to the same receiver impossible,
// dead letters and silences.
//
// Implementations: RedisAlertOutbox (alerting/redis_outbox.h), durable and
// shared by replicas; MemoryAlertOutbox (alerting/memory_outbox.h) for the
// embedded mode and tests. Both are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/alert.h"

namespace burnrate {

// One transition on its way to one receiver.
struct PendingDelivery {
  std::string id;  // "<transition key>|<receiver>"
  std::string transition_key;
  std::string receiver;
  Alert alert;
  int attempts = 0;                // failed attempts so far
  int repeat = 0;                  // 0: the transition; n: the n-th reminder
  int64_t enqueued_ms = 0;         // give-up is measured from here
  int64_t repeat_interval_ms = 0;  // 0: no reminders
};

// Where one routed transition goes.
struct RouteTarget {
  std::string receiver;
  int64_t due_ms = 0;
  int64_t repeat_interval_ms = 0;
};

struct OutboxCounts {
  int64_t incoming = 0;   // enqueued, not routed yet
  int64_t pending = 0;    // deliveries of transitions not done yet
  int64_t reminders = 0;  // reminders scheduled for firing alerts
  int64_t dead_letters = 0;
  int64_t firing = 0;  // alerts whose last transition was `firing`
};

std::string DeliveryId(std::string_view transition_key, std::string_view receiver);

class AlertOutbox {
 public:
  virtual ~AlertOutbox() = default;

  // --- producer side ---
  // Records a transition for delivery. Idempotent per Alert::TransitionKey():
  // enqueuing the same transition again (a replay after a crash) is a no-op.
  virtual absl::Status Enqueue(const Alert& alert) = 0;

  // --- delivery side (AlertDeliveryService) ---
  // The oldest transitions not yet routed, with their enqueue times.
  virtual absl::StatusOr<std::vector<std::pair<Alert, int64_t>>> PeekIncoming(size_t max) = 0;
  // Atomically creates a delivery per target (unless one exists or was
  // completed) and takes the transition off the incoming list. With no
  // targets (silenced, or no receiver) it only takes it off the list.
  virtual absl::Status Route(const std::string& transition_key, int64_t enqueued_ms,
                             const std::vector<RouteTarget>& targets) = 0;
  // Claims up to `max` deliveries of `receiver` due at now_ms: they are not
  // handed out again before now_ms + lease_ms (so replicas sharing the
  // outbox do not send the same one), unless released.
  virtual absl::StatusOr<std::vector<PendingDelivery>> Claim(const std::string& receiver,
                                                             int64_t now_ms, int64_t lease_ms,
                                                             size_t max) = 0;
  // Makes a claimed delivery due at due_ms again; counts a failed attempt
  // when `failed`.
  virtual absl::Status Reschedule(const PendingDelivery& d, int64_t due_ms, bool failed) = 0;
  // Marks the delivery done (it is never delivered again); when
  // next_repeat_ms >= 0, schedules reminder number d.repeat + 1 then.
  virtual absl::Status Complete(const PendingDelivery& d, int64_t next_repeat_ms) = 0;
  // Gives up on the delivery: a dead-letter record, and done.
  virtual absl::Status DeadLetter(const PendingDelivery& d, std::string_view reason,
                                  int64_t now_ms) = 0;
  // Drops a pending delivery (a reminder of an alert that has resolved).
  virtual absl::Status Cancel(const std::string& delivery_id, const std::string& receiver) = 0;
  // -1: no such pending delivery; otherwise its repeat number.
  virtual absl::StatusOr<int> PendingRepeat(const std::string& delivery_id) = 0;
  // Whether the resolved transition of this alert has been enqueued.
  virtual absl::StatusOr<bool> IsResolved(const std::string& alert_id) = 0;
  virtual absl::StatusOr<OutboxCounts> Counts(const std::vector<std::string>& receivers) = 0;
  // The newest dead letters (JSON objects), newest last.
  virtual absl::StatusOr<std::vector<std::string>> DeadLetters(size_t max) = 0;

  // --- silences (id -> JSON as written by alerting/silences.h) ---
  virtual absl::Status PutSilence(const std::string& id, const std::string& json) = 0;
  virtual absl::StatusOr<bool> DeleteSilence(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Silences() = 0;
};
using AlertOutboxPtr = std::shared_ptr<AlertOutbox>;

// The dead-letter record: what was given up on and why.
std::string DeadLetterJson(const PendingDelivery& d, std::string_view reason, int64_t now_ms);

}  // namespace burnrate
