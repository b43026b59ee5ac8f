// Decodes cost events from JSON: the flat schema, the same facts under
// OpenTelemetry GenAI attribute names, and OTLP/JSON trace exports as the
// OpenTelemetry Collector's Kafka exporter writes them (docs/events.md).
//
// This is the hot path: simdjson On-Demand, no exceptions, no allocation per
// event once the decoder has warmed up.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace burnrate {

// Why an input was not counted. Every rejection is counted by reason and
// dead-lettered with the original bytes; none is dropped silently.
enum class RejectReason : uint8_t {
  kOversized,            // message larger than the configured maximum
  kMalformedJson,        // not JSON, or not an object at the top
  kInvalidUtf8,          // bytes that are not UTF-8
  kWrongType,            // a known field with a value of the wrong JSON type
  kMissingField,         // event_id or ts absent
  kFieldTooLong,         // a string field longer than the configured maximum
  kInvalidTokenCount,    // negative, absurd, or parts larger than their whole
  kInvalidCost,          // a reported cost_usd that is negative, not finite, or absurd
  kInvalidTimestamp,     // a ts that is neither RFC 3339 nor epoch milliseconds
  kTimestampOutOfRange,  // too far in the future or the past
  kDuplicate,            // an event_id already seen within the dedup horizon
  kLate,                 // its window had already closed
};
inline constexpr size_t kRejectReasonCount = 12;
std::string_view RejectReasonName(RejectReason reason);

struct Rejection {
  RejectReason reason;
  std::string_view detail;  // a static description, e.g. the offending field
  int32_t item = -1;        // the span's index within an OTLP message, else -1
};

struct DecoderOptions {
  size_t max_message_bytes = 1 << 20;
  size_t max_field_bytes = 256;
  // A token count above this is taken for a bug in the producer, not a call.
  int64_t max_tokens = 10'000'000;
  // Likewise a reported cost_usd above this (US dollars per call).
  double max_cost_usd = 10'000;
  // Attribute keys that also carry a dimension, besides "tenant", "feature"
  // and "environment" themselves (e.g. "tenant.id" on an OTel span).
  std::vector<std::string> tenant_keys = {"tenant.id", "tenant_id"};
  std::vector<std::string> feature_keys = {"feature.name", "app.feature"};
  std::vector<std::string> environment_keys = {"deployment.environment.name",
                                                "deployment.environment"};
};

// Not thread-safe: each pipeline thread owns one decoder (it owns the parser
// and the buffers the decoded events point into).
class EventDecoder {
 public:
  explicit EventDecoder(DecoderOptions options = {});
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Decodes one message: a single event, or an OTLP export holding many.
  // Appends what it decoded to `events` and what it refused to `rejections`;
  // both are cleared first. Views in `events` stay valid until the next call.
  // OTLP spans without GenAI usage attributes are not cost events: they are
  // skipped and counted in skipped_spans().
  void Decode(std::string_view message, std::vector<CostEvent>& events,
              std::vector<Rejection>& rejections);

  uint64_t skipped_spans() const { return skipped_spans_; }
  const DecoderOptions& options() const { return options_; }

 private:
  struct Impl;
  DecoderOptions options_;
  std::unique_ptr<Impl> impl_;
  uint64_t skipped_spans_ = 0;
};

}  // namespace burnrate
