#include "metrics/spend_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "metrics/labels.h"

namespace burnrate {
namespace {

constexpr std::string_view kOther = "other";
constexpr std::array<const char*, kTokenKindCount> kKindLabels = {"input", "output", "cache_read",
                                                                  "cache_write", "reasoning"};
// The sketch follows this many candidates per slot: enough that a key with a
// 1/slots share of spend is always among them, with a small error bound.
constexpr size_t kCandidatesPerSlot = 4;

}  // namespace

struct SpendProbe::KeySeries {
  prometheus::Counter* cost = nullptr;
  prometheus::Counter* calls = nullptr;
  std::array<prometheus::Counter*, kTokenKindCount> tokens{};
  prometheus::Gauge* window_cost = nullptr;
  prometheus::Gauge* baseline = nullptr;  // created on first SetBaseline
  prometheus::Labels labels;
};

SpendProbe::SpendProbe(prometheus::Registry& r, const MetricsConfig& config)
    : config_(config),
      keys_(config.top_keys, config.top_keys * kCandidatesPerSlot, config.spend_half_life_ms),
      models_(config.top_models, config.top_models * kCandidatesPerSlot,
              config.spend_half_life_ms) {
  cost_ = &prometheus::BuildCounter()
               .Name("burnrate_cost_usd_total")
               .Help(
                   "Spend in US dollars from closed windows; the top keys by spend have "
                   "their own label set, the rest is summed under \"other\".")
               .Register(r);
  tokens_ = &prometheus::BuildCounter()
                 .Name("burnrate_tokens_total")
                 .Help(
                     "Tokens from closed windows by kind (input, output, cache_read, "
                     "cache_write, reasoning); top keys, rest under \"other\".")
                 .Register(r);
  calls_ = &prometheus::BuildCounter()
                .Name("burnrate_llm_calls_total")
                .Help("LLM calls (events) from closed windows; top keys, rest under \"other\".")
                .Register(r);
  model_cost_ = &prometheus::BuildCounter()
                     .Name("burnrate_model_cost_usd_total")
                     .Help(
                         "Spend in US dollars by model; the top models by spend, the rest "
                         "under model=\"other\".")
                     .Register(r);
  baseline_ = &prometheus::BuildGauge()
                   .Name("burnrate_baseline_cost_usd")
                   .Help("Expected spend per window (the baseline) of the tracked keys.")
                   .Register(r);
  window_cost_ = &prometheus::BuildGauge()
                      .Name("burnrate_window_cost_usd")
                      .Help(
                          "Spend in the last window this replica closed, per tracked key "
                          "(and \"other\").")
                      .Register(r);
}

SpendProbe::~SpendProbe() = default;

SpendProbe::KeySeries& SpendProbe::SeriesFor(const std::string& packed) {
  auto it = series_.find(packed);
  if (it != series_.end()) return *it->second;
  std::string_view tenant = kOther, feature = kOther, environment = kOther;
  if (!packed.empty()) UnpackKey(packed, tenant, feature, environment);
  auto s = std::make_unique<KeySeries>();
  s->labels = {{"tenant", std::string(tenant)},
               {"feature", std::string(feature)},
               {"environment", std::string(environment)}};
  s->cost = &cost_->Add(s->labels);
  s->calls = &calls_->Add(s->labels);
  for (size_t k = 0; k < kTokenKindCount; ++k) {
    prometheus::Labels l = s->labels;
    l.emplace("kind", kKindLabels[k]);
    s->tokens[k] = &tokens_->Add(l);
  }
  s->window_cost = &window_cost_->Add(s->labels);
  return *series_.emplace(packed, std::move(s)).first->second;
}

prometheus::Counter& SpendProbe::ModelCounter(const std::string& model) {
  auto it = model_series_.find(model);
  if (it != model_series_.end()) return *it->second;
  auto& c = model_cost_->Add({{"model", model.empty() ? std::string(kOther) : model}});
  model_series_.emplace(model, &c);
  return c;
}

void SpendProbe::EndWindow() {
  // Promotion happens between windows, from everything seen so far, so a
  // window's rows never change label sets halfway and the first window's
  // arrival order does not decide who gets a slot.
  keys_.Promote([&](const std::string& packed) { SeriesFor(packed); });
  models_.Promote([&](const std::string& model) { ModelCounter(model); });
  for (auto& [packed, s] : series_) s->window_cost->Set(0);
}

void SpendProbe::Record(const WindowRecord& record) {
  if (record.totals == nullptr) return;
  if (record.scope != WindowScope::kKey && record.scope != WindowScope::kModel) return;
  std::lock_guard lock(mu_);
  if (!has_window_ || record.start > window_) {
    if (has_window_) EndWindow();
    has_window_ = true;
    window_ = record.start;
    keys_.AdvanceTo(record.start.value());
    models_.AdvanceTo(record.start.value());
  }
  const WindowTotals& t = *record.totals;
  const double dollars = t.cost.dollars();
  if (record.scope == WindowScope::kModel) {
    std::string model = SanitizeLabelValue(record.model, config_.max_label_bytes);
    models_.Add(model, dollars);
    ModelCounter(models_.HasSlot(model) ? model : std::string()).Increment(dollars);
    return;
  }
  PackKey(SanitizeLabelValue(record.tenant, config_.max_label_bytes),
          SanitizeLabelValue(record.feature, config_.max_label_bytes),
          SanitizeLabelValue(record.environment, config_.max_label_bytes), scratch_);
  keys_.Add(scratch_, dollars);
  KeySeries& s = SeriesFor(keys_.HasSlot(scratch_) ? scratch_ : std::string());
  s.cost->Increment(dollars);
  s.calls->Increment(static_cast<double>(t.events));
  for (size_t k = 0; k < kTokenKindCount; ++k) {
    s.tokens[k]->Increment(static_cast<double>(t.tokens.by_kind[k]));
  }
  s.window_cost->Increment(dollars);
}

void SpendProbe::SetBaseline(std::string_view tenant, std::string_view feature,
                             std::string_view environment, Money expected_per_window) {
  std::lock_guard lock(mu_);
  std::string packed;
  PackKey(SanitizeLabelValue(tenant, config_.max_label_bytes),
          SanitizeLabelValue(feature, config_.max_label_bytes),
          SanitizeLabelValue(environment, config_.max_label_bytes), packed);
  if (!keys_.HasSlot(packed)) return;
  KeySeries& s = SeriesFor(packed);
  if (s.baseline == nullptr) s.baseline = &baseline_->Add(s.labels);
  s.baseline->Set(expected_per_window.dollars());
}

size_t SpendProbe::tracked_keys() const {
  std::lock_guard lock(mu_);
  return keys_.slots_used();
}

size_t SpendProbe::tracked_models() const {
  std::lock_guard lock(mu_);
  return models_.slots_used();
}

}  // namespace burnrate
