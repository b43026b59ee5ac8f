#include "budgets/quota_publisher.h"

#include "core/time_format.h"

namespace burnrate {

WallClock SystemWallClock() { return WallClockMs; }

QuotaPublisher::QuotaPublisher(std::shared_ptr<QuotaStore> store, std::shared_ptr<QuotaSink> sink,
                               WallClock clock)
    : store_(std::move(store)),
      sink_(std::move(sink)),
      clock_(clock ? std::move(clock) : SystemWallClock()) {}

absl::StatusOr<QuotaSignal> QuotaPublisher::Set(const std::string& subject, QuotaStore::Part part,
                                                const std::optional<QuotaSignal>& value) {
  auto outcome = store_->SetPart(subject, part, value, clock_());
  if (!outcome.ok()) return outcome.status();
  if (outcome->changed && sink_) {
    if (auto s = sink_->Publish(outcome->effective); !s.ok()) return s;
  }
  return outcome->effective;
}

absl::Status QuotaPublisher::RefreshExpired() {
  auto effective = store_->Effective();
  if (!effective.ok()) return effective.status();
  const int64_t now = clock_();
  absl::Status first_error;
  for (const QuotaSignal& s : *effective) {
    if (s.expires_at_ms == 0 || s.expires_at_ms > now) continue;
    auto outcome = store_->Recompute(s.subject, now);
    if (!outcome.ok()) {
      first_error.Update(outcome.status());
      continue;
    }
    if (outcome->changed && sink_) first_error.Update(sink_->Publish(outcome->effective));
  }
  return first_error;
}

}  // namespace burnrate
