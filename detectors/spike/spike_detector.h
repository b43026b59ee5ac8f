// `spike`: a key spends far more than it usually does at this hour of the
// week. Each window pair (short, long) must exceed both its ratios; the long
// window must also be a robust outlier (z-score) and the extra spend must
// clear a dollar floor, so one noisy minute or a cents-sized key never pages.
#pragma once

#include "detectors/detector.h"
#include "detectors/detectors_config.h"

namespace burnrate {

// Stateless; thread-compatible.
class SpikeDetector final : public KeyDetector {
 public:
  explicit SpikeDetector(SpikeConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "spike"; }
  AlertKind kind() const override { return AlertKind::kSpike; }
  DetectorSlot slot() const override { return DetectorSlot::kSpike; }
  bool Applies(WindowScope scope) const override {
    return scope == WindowScope::kKey || scope == WindowScope::kTenant;
  }
  int64_t resolve_after_ms() const override { return config_.resolve_after_ms; }
  Judgement Judge(const KeyHistory& history, const KeyIdentity& key, const DetectionContext& context) const override;

 private:
  SpikeConfig config_;
};

}  // namespace burnrate
