// The detector interface. A key detector judges one key (a window key, a
// tenant roll-up or a model) at the close of each window, from the key's
// history; the detector engine owns the alert lifecycle around it (firing
// with a stable id, hysteresis, one resolve), so detectors stay small and
// stateless. The runaway detector works per event instead (runaway/).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/alert.h"
#include "core/window.h"
#include "detectors/key_history.h"

namespace burnrate {

// What a key is: its scope and dimensions (empty where a roll-up sums).
struct KeyIdentity {
  WindowScope scope = WindowScope::kKey;
  std::string tenant;
  std::string feature;
  std::string environment;
  std::string model;

  // "tenant/feature/environment", "tenant" or "model:<name>", for people.
  std::string DisplayName() const;
  // Unambiguous and stable: the state store's key for this key's history.
  std::string StoreKey() const;
  static std::optional<KeyIdentity> FromStoreKey(std::string_view store_key);
};

struct DetectionContext {
  int64_t window_start_ms = 0;
  int64_t window_size_ms = 0;
  int64_t now_ms = 0;  // the end of the window being judged
  // When the detectors first saw any traffic: nothing is "new" before they
  // have watched for a while.
  int64_t watching_since_ms = 0;
  // What keys like this one usually spend per hour (warm-up prior).
  double peer_prior_usd_per_hour = 0;
  // This window's totals for the key; null when it had no traffic.
  const WindowTotals* window = nullptr;
};

struct Judgement {
  bool trigger = false;  // start an incident, if none is firing
  bool hold = false;     // keep a firing incident open (hysteresis)
  double observed = 0;
  double expected = 0;
  double ratio = 0;
  std::string unit = "usd";
  Severity severity = Severity::kWarning;
  std::string summary;
  std::vector<std::pair<std::string, std::string>> details;
};

class KeyDetector {
 public:
  virtual ~KeyDetector() = default;
  virtual std::string_view name() const = 0;
  virtual AlertKind kind() const = 0;
  virtual DetectorSlot slot() const = 0;
  virtual bool Applies(WindowScope scope) const = 0;
  // How long the condition must stay clear before the alert resolves.
  virtual int64_t resolve_after_ms() const = 0;
  virtual Judgement Judge(const KeyHistory& history, const KeyIdentity& key,
                          const DetectionContext& context) const = 0;
};
using KeyDetectorPtr = std::unique_ptr<KeyDetector>;

// Money for people: "$41.20", "$0.0042".
std::string FormatUsd(double usd);
// "Tuesday 10:00 UTC" for an epoch time.
std::string FormatWeekdayHour(int64_t epoch_ms);

}  // namespace burnrate
