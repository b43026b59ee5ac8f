// `new_spender`: a tenant or a (tenant, feature, environment) key never seen
// before spends above a floor: the feature nobody told finance about, a
// staging leak, a debug script left running. Nothing counts as new until the
// detectors have watched traffic for the learning period, so a fresh
// deployment does not call every key new.
#pragma once

#include "detectors/detector.h"
#include "detectors/detectors_config.h"

namespace burnrate {

// Stateless; thread-compatible.
class NewSpenderDetector final : public KeyDetector {
 public:
  explicit NewSpenderDetector(NewSpenderConfig config) : config_(config) {}
  std::string_view name() const override { return "new_spender"; }
  AlertKind kind() const override { return AlertKind::kNewSpender; }
  DetectorSlot slot() const override { return DetectorSlot::kNewSpender; }
  bool Applies(WindowScope scope) const override {
    return scope == WindowScope::kKey || scope == WindowScope::kTenant;
  }
  int64_t resolve_after_ms() const override { return config_.resolve_after_ms; }
  Judgement Judge(const KeyHistory& history, const KeyIdentity& key, const DetectionContext& context) const override;

 private:
  NewSpenderConfig config_;
};

}  // namespace burnrate
