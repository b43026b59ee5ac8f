// Prices LLM calls from a versioned, effective-dated price table.
//
// The table lives in its own YAML file (docs/pricing.md describes the format;
// core/prices/default.yaml is the shipped one, compiled into the binary). Each
// model has one or more price periods, each effective from a date; an event is
// priced with the period in force at its event time. Names resolve through
// exact names, aliases, and patterns for dated or versioned model names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/event.h"
#include "core/types.h"

namespace burnrate {

// List prices per token, in whole picodollars (USD 3.00 per million tokens is
// 3,000,000 picodollars per token).
struct TokenPrices {
  int64_t input = 0;
  int64_t output = 0;  // reasoning tokens are output tokens and priced as such
  int64_t cache_read = 0;
  int64_t cache_write = 0;
};

// One model's prices for one period.
struct ModelPrice {
  std::string model;     // canonical name
  std::string provider;  // e.g. "anthropic", "openai", "google"
  EventTimeMs effective_from{0};  // inclusive; the period ends where the next begins
  TokenPrices prices;
  // Some models charge more for the whole call once the prompt is long. When
  // long_context_threshold > 0 and input tokens exceed it, long_context applies.
  int64_t long_context_threshold = 0;
  TokenPrices long_context;
  // Price of a batch-tier call (service_tier "batch") as a share of list
  // price, in basis points: 5000 is half price.
  int32_t batch_basis_points = 10000;
};

// An immutable price table. Thread-safe: share one between pipelines.
class PriceTable {
 public:
  // Parses a table; errors name `source_name`, the line and the reason.
  static absl::StatusOr<PriceTable> Parse(std::string_view yaml_text, std::string_view source_name);
  static absl::StatusOr<PriceTable> LoadFile(const std::string& path);
  // The table shipped with this build (core/prices/default.yaml).
  static const PriceTable& Default();

  // The price period of `model` in force at `at`, or nullptr when the model
  // is unknown or `at` is before its first period. Resolution order: exact
  // name, alias, then patterns. Allocation-free.
  const ModelPrice* Find(std::string_view model, EventTimeMs at) const;

  // The table's own version string and the date its prices were compiled.
  const std::string& version() const { return version_; }
  const std::string& compiled_on() const { return compiled_on_; }
  size_t model_count() const { return by_model_.size(); }

 private:
  struct Pattern;
  std::string version_;
  std::string compiled_on_;
  // Canonical name -> its periods, sorted by effective_from.
  absl::flat_hash_map<std::string, std::vector<ModelPrice>> by_model_;
  absl::flat_hash_map<std::string, std::string> aliases_;
  std::vector<std::shared_ptr<const Pattern>> patterns_;
};

// The cost of one call at the given prices: uncached input, cache reads,
// cache writes and output (reasoning included), with the long-context tier
// and the batch share applied. Rounds to the nearest picodollar only when the
// batch share leaves a fraction.
Money ComputeCost(const CostEvent& event, const ModelPrice& price);

}  // namespace burnrate
