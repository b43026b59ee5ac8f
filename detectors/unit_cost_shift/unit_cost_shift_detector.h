// `unit_cost_shift`: cost per call jumps while the call rate stays steady,
// the signature of a routing change that sent a feature to a premium model.
// Judged over the shortest recent window (15, 30 or 60 minutes) that holds
// enough calls to say anything.
#pragma once

#include "detectors/detector.h"
#include "detectors/detectors_config.h"

namespace burnrate {

// Stateless; thread-compatible.
class UnitCostShiftDetector final : public KeyDetector {
 public:
  explicit UnitCostShiftDetector(UnitCostShiftConfig config) : config_(config) {}
  std::string_view name() const override { return "unit_cost_shift"; }
  AlertKind kind() const override { return AlertKind::kUnitCostShift; }
  DetectorSlot slot() const override { return DetectorSlot::kUnitCostShift; }
  bool Applies(WindowScope scope) const override { return scope == WindowScope::kKey; }
  int64_t resolve_after_ms() const override { return config_.resolve_after_ms; }
  Judgement Judge(const KeyHistory& history, const KeyIdentity& key, const DetectionContext& context) const override;

 private:
  UnitCostShiftConfig config_;
};

}  // namespace burnrate
