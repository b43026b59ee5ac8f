#include "alerting/outbox.h"

#include <nlohmann/json.hpp>

#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {

std::string DeliveryId(std::string_view transition_key, std::string_view receiver) {
  return Concat(transition_key, "|", receiver);
}

std::string DeadLetterJson(const PendingDelivery& d, std::string_view reason, int64_t now_ms) {
  nlohmann::json j = {{"delivery_id", d.id},
                      {"receiver", d.receiver},
                      {"idempotency_key", d.transition_key},
                      {"repeat", d.repeat},
                      {"attempts", d.attempts + 1},
                      {"reason", reason},
                      {"enqueued_at", FormatRfc3339Ms(d.enqueued_ms)},
                      {"dead_lettered_at", FormatRfc3339Ms(now_ms)},
                      {"alert", nlohmann::json::parse(AlertToJson(d.alert), nullptr, false)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace burnrate
