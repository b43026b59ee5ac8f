// An outbox in process memory: for the embedded mode (replay) and tests.
// Nothing survives the process, but within it the contract is the same as
// the Redis outbox's. Thread-safe (one mutex).
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "alerting/clock.h"
#include "alerting/outbox.h"

namespace burnrate {

class MemoryAlertOutbox : public AlertOutbox {
 public:
  // `clock` (borrowed; nullptr: the system clock) stamps Enqueue times.
  explicit MemoryAlertOutbox(const AlertClock* clock = nullptr);

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
  struct Delivery {
    PendingDelivery d;
    int64_t due_ms = 0;
  };
  void RemoveLocked(const std::string& id);

  SystemAlertClock system_clock_;
  const AlertClock* clock_;
  std::mutex mu_;
  std::map<std::string, std::pair<Alert, int64_t>> transitions_;  // key -> alert, enqueued
  std::deque<std::string> incoming_;
  std::map<std::string, Delivery> deliveries_;
  std::set<std::string> done_;
  std::set<std::string> firing_;
  std::vector<std::string> dead_;
  std::map<std::string, std::string> silences_;
};

}  // namespace burnrate
