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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/event.h"
#include "core/string_hash.h"
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

  // The two halves of Find, for callers that cache the first: the price
  // periods `model` resolves to (oldest first; empty when the name is
  // unknown), which do not depend on time, and the period among them in
  // force at `at`.
  std::span<const ModelPrice> PeriodsFor(std::string_view model) const;
  static const ModelPrice* PeriodAt(std::span<const ModelPrice> periods, EventTimeMs at);

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

// Remembers, per raw model string, what the string resolved to, so that the
// alias and pattern search runs once per distinct name rather than once per
// event. Each entry also keeps the period it last picked with the stretch of
// event time that period covers; an event outside that stretch (a price
// change, or an event from before it) picks the period again. Gives exactly
// what PriceTable::Find gives. Names beyond `max_entries` are not cached, so
// untrusted model strings cannot grow it without bound. Not thread-safe: one
// per pipeline; the table must outlive it.
class ModelPriceCache {
 public:
  explicit ModelPriceCache(const PriceTable& table, size_t max_entries = 1024)
      : table_(table), max_entries_(max_entries) {}

  const ModelPrice* Find(std::string_view model, EventTimeMs at) {
    return Find(HashedStringView(model), at);
  }
  // With the name's hash already computed (the window roll-up by model uses
  // the same one).
  const ModelPrice* Find(const HashedStringView& model, EventTimeMs at);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::span<const ModelPrice> periods;
    const ModelPrice* current = nullptr;  // the period in force in [from, until)
    int64_t from = 0;
    int64_t until = 0;
  };
  static void PickPeriod(Entry& entry, EventTimeMs at);

  const PriceTable& table_;
  size_t max_entries_;
  absl::flat_hash_map<std::string, Entry, StringViewHash, StringViewEq> entries_;
};

// The cost of one call at the given prices: uncached input, cache reads,
// cache writes and output (reasoning included), with the long-context tier
// and the batch share applied. Rounds to the nearest picodollar only when the
// batch share leaves a fraction.
Money ComputeCost(const CostEvent& event, const ModelPrice& price);

}  // namespace burnrate
