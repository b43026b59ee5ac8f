#include "alerting/webhook/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alerting/http_client.h"
#include "core/concat.h"

namespace burnrate {

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string WebhookSignature(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  return Concat("v1=", HmacSha256Hex(secret, Concat(timestamp_s, ".", body)));
}

SinkResult WebhookSink::Deliver(const Alert& alert, const DeliveryContext& context) {
  const std::string body = AlertToJson(alert);
  const int64_t ts = context.now_ms / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"Idempotency-Key", context.idempotency_key},
      {"X-Burnrate-Timestamp", std::to_string(ts)},
  };
  if (!secret_.empty())
    headers.emplace_back("X-Burnrate-Signature", WebhookSignature(secret_.value, ts, body));
  return SinkResultFromHttp(http_.Post(url_.value, body, headers, timeout_ms_), "webhook");
}

}  // namespace burnrate
