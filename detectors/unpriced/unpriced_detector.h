// `unpriced`: traffic for a model the price table does not know. Its cost is
// unknown, not zero, so someone must add the model to the price table.
// Judged on the model roll-up rows of each window.
#pragma once

#include "detectors/detector.h"
#include "detectors/detectors_config.h"

namespace burnrate {

// Stateless; thread-compatible.
class UnpricedDetector final : public KeyDetector {
 public:
  explicit UnpricedDetector(UnpricedConfig config) : config_(config) {}
  std::string_view name() const override { return "unpriced"; }
  AlertKind kind() const override { return AlertKind::kUnpriced; }
  DetectorSlot slot() const override { return DetectorSlot::kUnpriced; }
  bool Applies(WindowScope scope) const override { return scope == WindowScope::kModel; }
  int64_t resolve_after_ms() const override { return config_.resolve_after_ms; }
  Judgement Judge(const KeyHistory& history, const KeyIdentity& key, const DetectionContext& context) const override;

 private:
  UnpricedConfig config_;
};

}  // namespace burnrate
