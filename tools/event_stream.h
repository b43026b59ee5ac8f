// Deterministic synthetic cost-event streams for exactness tests and
// benchmarks (not the product's `burnrate simulate`, which models incidents).
//
// The stream comes with the totals it must produce, computed here from first
// principles and deliberately without burnrate's decoder, price table or
// windows: an oracle that shared their code would share their bugs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace burnrate::testgen {

enum class Format : uint8_t {
  kMixed,  // both of the below, line by line
  kFlat,   // burnrate's flat schema (tenant, input_tokens, layers, ...)
  kOtel,   // flat objects under OpenTelemetry GenAI attribute names
};

struct StreamOptions {
  // Lines written, duplicates and malformed lines included.
  uint64_t events = 1'000'000;
  // Distinct (tenant, feature, environment) keys; popularity is Zipf-like.
  uint64_t keys = 10'000;
  uint64_t seed = 1;
  int64_t start_ms = 1'793'577'600'000;  // 2026-11-02T00:00:00Z
  // Lines per second of event time; 0 spreads the stream over 30 minutes.
  double rate = 0;
  // Each event's ts is moved back by up to this much. Keep it (plus any
  // reordering a test adds) below the engine's allowed lateness, or events
  // become late and the expected totals no longer hold.
  int64_t disorder_ms = 30'000;
  // Exact re-sends of a recently accepted line, at most
  // max_duplicate_delay_ms of event time after the original.
  double duplicate_fraction = 0.01;
  int64_t max_duplicate_delay_ms = 5'000;
  double malformed_fraction = 0.01;
  // Accepted events whose model the price table does not know (or that name
  // no model at all): counted as unpriced, tokens still summed.
  double unknown_model_fraction = 0.001;
  // Accepted events without an environment: counted under "unknown".
  double missing_dimension_fraction = 0.001;
  Format format = Format::kMixed;
  int64_t window_ms = 60'000;
  // Off for benchmarks, which only want the lines.
  bool track_expected = true;
};

enum class LineKind : uint8_t { kAccepted, kDuplicate, kMalformed };

// The ways a malformed line is broken; each must be refused by the engine.
enum class MalformedKind : uint8_t {
  kBrokenJson,         // truncated, unquoted key, trailing bytes, not JSON
  kWrongType,          // a known field with a value of the wrong JSON type
  kNegativeTokens,     // a negative token count
  kMissingEventId,     // no event_id
  kInvalidUtf8,        // bytes that are not UTF-8 inside a string
  kInconsistentParts,  // cache tokens above input, or reasoning above output
  kAncientTimestamp,   // a ts in 1990
};
inline constexpr size_t kMalformedKindCount = 7;
std::string_view MalformedKindName(MalformedKind kind);

struct StreamSummary {
  uint64_t lines = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t malformed = 0;
  uint64_t unpriced = 0;
  uint64_t missing_dimension = 0;
  uint64_t bytes = 0;  // of all lines, without newlines
  std::array<uint64_t, kMalformedKindCount> malformed_by_kind{};
};

// Produces the lines of one stream in order. Not thread-safe.
class EventStream {
 public:
  explicit EventStream(StreamOptions options);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  bool done() const;
  // Appends the next line, without a newline, to `out`.
  LineKind Next(std::string& out);

  // The price table (docs/pricing.md format) the stream must be priced with.
  std::string PriceTableYaml() const;
  // One JSON line per (window, key) of the accepted events so far, sorted by
  // window start then key bytes, each ending in a newline; then a summary
  // line {"summary":{...}}. Needs track_expected.
  std::string ExpectedJsonl() const;
  std::string SummaryJson() const;
  const StreamSummary& summary() const;
  const StreamOptions& options() const;
  // Event time covered by the lines, in milliseconds.
  int64_t span_ms() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace burnrate::testgen
