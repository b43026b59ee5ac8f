// A generic webhook: the alert JSON (AlertToJson) as the body, signed with
// HMAC-SHA256 over "<timestamp>.<body>" so the receiver can check it came
// from us and is fresh, and an Idempotency-Key header per transition.
//
// Headers: X-Burnrate-Timestamp: <unix seconds>
//          X-Burnrate-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//          Idempotency-Key: <Alert::TransitionKey()>
#pragma once

#include <string>
#include <string_view>

#include "alerting/http_client.h"
#include "alerting/sink.h"
#include "config/secret.h"

namespace burnrate {

// Lower-case hex HMAC-SHA256 of message under key.
std::string HmacSha256Hex(std::string_view key, std::string_view message);
// "v1=" + HmacSha256Hex(secret, "<timestamp>.<body>").
std::string WebhookSignature(std::string_view secret, int64_t timestamp_s, std::string_view body);

// One webhook URL. Not thread-safe.
class WebhookSink : public AlertSink {
 public:
  WebhookSink(Secret url, Secret hmac_secret, int64_t timeout_ms)
      : url_(std::move(url)), secret_(std::move(hmac_secret)), timeout_ms_(timeout_ms) {}
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  Secret url_;
  Secret secret_;
  int64_t timeout_ms_;
  HttpClient http_;
};

}  // namespace burnrate
