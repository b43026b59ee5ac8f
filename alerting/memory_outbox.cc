#include "alerting/memory_outbox.h"

#include <algorithm>

#include "core/concat.h"

namespace burnrate {

MemoryAlertOutbox::MemoryAlertOutbox(const AlertClock* clock)
    : clock_(clock ? clock : &system_clock_) {}

absl::Status MemoryAlertOutbox::Enqueue(const Alert& alert) {
  const int64_t now = clock_->NowMs();
  std::lock_guard lock(mu_);
  const std::string key = alert.TransitionKey();
  if (!transitions_.emplace(key, std::make_pair(alert, now)).second) return absl::OkStatus();
  incoming_.push_back(key);
  if (alert.status == AlertStatus::kFiring)
    firing_.insert(alert.alert_id);
  else
    firing_.erase(alert.alert_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<Alert, int64_t>>> MemoryAlertOutbox::PeekIncoming(size_t max) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<Alert, int64_t>> out;
  for (const auto& key : incoming_) {
    if (out.size() >= max) break;
    out.push_back(transitions_.at(key));
  }
  return out;
}

absl::Status MemoryAlertOutbox::Route(const std::string& transition_key, int64_t enqueued_ms,
                                      const std::vector<RouteTarget>& targets) {
  std::lock_guard lock(mu_);
  auto t = transitions_.find(transition_key);
  if (t != transitions_.end()) {
    for (const auto& target : targets) {
      const std::string id = DeliveryId(transition_key, target.receiver);
      if (done_.count(id) || deliveries_.count(id)) continue;
      Delivery& d = deliveries_[id];
      d.d.id = id;
      d.d.transition_key = transition_key;
      d.d.receiver = target.receiver;
      d.d.alert = t->second.first;
      d.d.enqueued_ms = enqueued_ms;
      d.d.repeat_interval_ms = target.repeat_interval_ms;
      d.due_ms = target.due_ms;
    }
  }
  incoming_.erase(std::remove(incoming_.begin(), incoming_.end(), transition_key), incoming_.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PendingDelivery>> MemoryAlertOutbox::Claim(const std::string& receiver,
                                                                      int64_t now_ms,
                                                                      int64_t lease_ms,
                                                                      size_t max) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<int64_t, Delivery*>> due;
  for (auto& [id, d] : deliveries_) {
    if (d.d.receiver == receiver && d.due_ms <= now_ms) due.emplace_back(d.due_ms, &d);
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->d.id < b.second->d.id;
  });
  std::vector<PendingDelivery> out;
  for (auto& [due_ms, d] : due) {
    if (out.size() >= max) break;
    d->due_ms = now_ms + lease_ms;
    out.push_back(d->d);
  }
  return out;
}

absl::Status MemoryAlertOutbox::Reschedule(const PendingDelivery& pd, int64_t due_ms, bool failed) {
  std::lock_guard lock(mu_);
  auto it = deliveries_.find(pd.id);
  if (it == deliveries_.end()) return absl::OkStatus();
  it->second.due_ms = due_ms;
  if (failed) ++it->second.d.attempts;
  return absl::OkStatus();
}

void MemoryAlertOutbox::RemoveLocked(const std::string& id) {
  deliveries_.erase(id);
  done_.insert(id);
}

absl::Status MemoryAlertOutbox::Complete(const PendingDelivery& pd, int64_t next_repeat_ms) {
  std::lock_guard lock(mu_);
  if (next_repeat_ms < 0) {
    RemoveLocked(pd.id);
    return absl::OkStatus();
  }
  done_.insert(pd.id);
  Delivery& d = deliveries_[pd.id];
  d.d = pd;
  d.d.attempts = 0;
  d.d.repeat = pd.repeat + 1;
  d.d.enqueued_ms = next_repeat_ms;
  d.due_ms = next_repeat_ms;
  return absl::OkStatus();
}

absl::Status MemoryAlertOutbox::DeadLetter(const PendingDelivery& d, std::string_view reason,
                                           int64_t now_ms) {
  std::lock_guard lock(mu_);
  dead_.push_back(DeadLetterJson(d, reason, now_ms));
  RemoveLocked(d.id);
  return absl::OkStatus();
}

absl::Status MemoryAlertOutbox::Cancel(const std::string& delivery_id,
                                       const std::string& receiver) {
  (void)receiver;
  std::lock_guard lock(mu_);
  deliveries_.erase(delivery_id);
  return absl::OkStatus();
}

absl::StatusOr<int> MemoryAlertOutbox::PendingRepeat(const std::string& delivery_id) {
  std::lock_guard lock(mu_);
  auto it = deliveries_.find(delivery_id);
  return it == deliveries_.end() ? -1 : it->second.d.repeat;
}

absl::StatusOr<bool> MemoryAlertOutbox::IsResolved(const std::string& alert_id) {
  std::lock_guard lock(mu_);
  return transitions_.count(Concat(alert_id, ":resolved")) > 0;
}

absl::StatusOr<OutboxCounts> MemoryAlertOutbox::Counts(const std::vector<std::string>& receivers) {
  (void)receivers;
  std::lock_guard lock(mu_);
  OutboxCounts c;
  c.incoming = static_cast<int64_t>(incoming_.size());
  for (const auto& [id, d] : deliveries_) (d.d.repeat > 0 ? c.reminders : c.pending) += 1;
  c.dead_letters = static_cast<int64_t>(dead_.size());
  c.firing = static_cast<int64_t>(firing_.size());
  return c;
}

absl::StatusOr<std::vector<std::string>> MemoryAlertOutbox::DeadLetters(size_t max) {
  std::lock_guard lock(mu_);
  const size_t n = std::min(max, dead_.size());
  return std::vector<std::string>(dead_.end() - static_cast<std::ptrdiff_t>(n), dead_.end());
}

absl::Status MemoryAlertOutbox::PutSilence(const std::string& id, const std::string& json) {
  std::lock_guard lock(mu_);
  silences_[id] = json;
  return absl::OkStatus();
}

absl::StatusOr<bool> MemoryAlertOutbox::DeleteSilence(const std::string& id) {
  std::lock_guard lock(mu_);
  return silences_.erase(id) > 0;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> MemoryAlertOutbox::Silences() {
  std::lock_guard lock(mu_);
  return std::vector<std::pair<std::string, std::string>>(silences_.begin(), silences_.end());
}

}  // namespace burnrate
