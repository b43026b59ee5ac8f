// The interface every alert receiver type implements (alerting/slack/,
// alerting/pagerduty/, ...). A sink turns one alert transition into its
// receiver's native format and sends it once; it reports ok, retry (with an
// optional Retry-After) or fatal, Fluent Bit's output contract. Retries,
// backoff, rate limits and dead-lettering belong to the delivery service
// (alerting/delivery_service.h), so sinks stay small.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/alert.h"

namespace burnrate {

struct SinkResult {
  enum class Outcome : uint8_t { kOk, kRetry, kFatal };
  Outcome outcome = Outcome::kOk;
  // With kRetry: the receiver asked to wait this long (429 Retry-After);
  // -1 when it did not say.
  int64_t retry_after_ms = -1;
  // Why it failed, safe to log: never a URL, key or secret.
  std::string error;

  static SinkResult Ok() { return {}; }
  static SinkResult Retry(std::string error, int64_t retry_after_ms = -1) {
    return {Outcome::kRetry, retry_after_ms, std::move(error)};
  }
  static SinkResult Fatal(std::string error) { return {Outcome::kFatal, -1, std::move(error)}; }
  bool ok() const { return outcome == Outcome::kOk; }
};

std::string_view SinkOutcomeName(SinkResult::Outcome outcome);

// What the delivery service knows about this send beyond the alert.
struct DeliveryContext {
  int64_t now_ms = 0;
  // 0 for the transition itself; n for the n-th reminder of a still-firing
  // alert (route repeat_interval, Alertmanager resend).
  int repeat = 0;
  // Alert::TransitionKey(), with ":repeat:<n>" appended for reminders.
  std::string idempotency_key;
};

// Not required to be thread-safe: the delivery service calls one sink from
// one thread at a time.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual SinkResult Deliver(const Alert& alert, const DeliveryContext& context) = 0;
};
using AlertSinkPtr = std::unique_ptr<AlertSink>;

}  // namespace burnrate
