// The cost event: one LLM call, as decoded from a Kafka message or a line of a
// replay file (see docs/events.md for the accepted wire formats).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/types.h"

namespace burnrate {

// Token counts by kind. Input includes cache reads and writes and output
// includes reasoning (OpenTelemetry GenAI semantics), so the parts overlap.
enum class TokenKind : uint8_t { kInput, kOutput, kCacheRead, kCacheWrite, kReasoning };
inline constexpr size_t kTokenKindCount = 5;
inline constexpr std::array<std::string_view, kTokenKindCount> kTokenKindNames = {
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens"};

// Where the tokens of a call came from; kept apart so a team can see whether
// spend grows in prompts, tool results, memory or responses.
enum class Layer : uint8_t { kPrompt, kTool, kMemory, kResponse };
inline constexpr size_t kLayerCount = 4;
inline constexpr std::array<std::string_view, kLayerCount> kLayerNames = {"prompt", "tool",
                                                                          "memory", "response"};

struct TokenCounts {
  std::array<int64_t, kTokenKindCount> by_kind{};
  std::array<int64_t, kLayerCount> by_layer{};

  int64_t& operator[](TokenKind k) { return by_kind[static_cast<size_t>(k)]; }
  int64_t operator[](TokenKind k) const { return by_kind[static_cast<size_t>(k)]; }
  int64_t& operator[](Layer l) { return by_layer[static_cast<size_t>(l)]; }
  int64_t operator[](Layer l) const { return by_layer[static_cast<size_t>(l)]; }
  bool operator==(const TokenCounts&) const = default;
};

// The fields of one decoded event. String fields are views into the decoder's
// buffers: valid until the decoder decodes its next message. Copy what must
// live longer.
struct CostEvent {
  std::string_view event_id;
  EventTimeMs time;
  // The window key. The decoder puts "unknown" where a dimension was missing.
  std::string_view tenant;
  std::string_view feature;
  std::string_view environment;
  // Optional attribution.
  std::string_view team;
  std::string_view user_id;
  std::string_view agent_run_id;
  std::string_view workflow_step;
  std::string_view request_origin;
  std::string_view correlation_id;
  std::string_view provider;
  std::string_view model;
  std::string_view service_tier;

  TokenCounts tokens;
  // The producer's own figure, used only where config trusts it.
  bool has_reported_cost = false;
  double reported_cost_usd = 0;
  // Bit i set: dimension i (tenant, feature, environment) was missing.
  uint8_t missing_dimensions = 0;
};

inline constexpr std::string_view kUnknownDimension = "unknown";

}  // namespace burnrate
