#include "detectors/unpriced/unpriced_detector.h"

#include "core/concat.h"

namespace burnrate {

Judgement UnpricedDetector::Judge(const KeyHistory&, const KeyIdentity& key, const DetectionContext& context) const {
  Judgement j;
  j.unit = "events";
  const int64_t unpriced = context.window ? context.window->unpriced_events : 0;
  j.observed = static_cast<double>(unpriced);
  j.expected = 0;
  j.ratio = 0;
  j.trigger = unpriced >= config_.min_events;
  j.hold = unpriced > 0;
  j.severity = Severity::kWarning;
  j.summary = Concat("model ", key.model, " is not in the price table: ", unpriced,
                     " calls in the last window have no cost; add it to the price table");
  return j;
}

}  // namespace burnrate
