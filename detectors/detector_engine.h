// Runs the key detectors over closed windows and owns each alert's life:
// a condition that triggers opens one incident with a stable id (firing),
// the incident holds while the detector's weaker "hold" condition is true,
// and resolves once it has been clear for the detector's resolve delay. A
// repeat later is a new incident with a new id.
//
// Judged keys: window keys (tenant, feature, environment), tenant roll-ups
// and models. A tenant roll-up alert is held back while one of the
// tenant's own keys already has an alert of the same kind: one incident,
// one page. Hours in which a key's spike or unit-cost alert fired are kept
// out of its baseline for the first day of the incident; after a day, the
// new level is learnt (a lasting change is not an incident forever).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/alert.h"
#include "core/window.h"
#include "detectors/detector.h"
#include "detectors/detectors_config.h"
#include "detectors/history_store.h"
#include "detectors/peer_priors.h"

namespace burnrate {

struct DetectorEngineStats {
  uint64_t windows_judged = 0;
  uint64_t keys_judged = 0;
  uint64_t windows_already_applied = 0;  // replays: refused, never learnt twice
  uint64_t alerts_fired = 0;
  uint64_t alerts_resolved = 0;
  uint64_t store_errors = 0;
};

// Not thread-safe: owned by the thread that closes windows.
class DetectorEngine {
 public:
  DetectorEngine(DetectorsConfig config, std::vector<KeyDetectorPtr> detectors, HistoryStore& store);

  // Rows of one closed window, in any order; EndWindow after the last.
  void Observe(const WindowRecord& row);
  // Makes a window's alert transitions durable (e.g. in the alert outbox,
  // which takes each transition once however often it is offered).
  using AlertsCommitter = std::function<absl::Status(const std::vector<Alert>&)>;
  // Judges every key of the window (and every key with a firing alert) and
  // returns the alert transitions. On a store error nothing is lost: the
  // error is returned and the window's rows are kept for the next call.
  // With a persistent store and `commit_alerts`, the transitions are
  // committed before the histories that record them are saved: an engine
  // that dies in between judges the window again from the old histories and
  // offers the same transitions again, where saving first would have lost
  // them (the window would be refused as already applied).
  absl::StatusOr<std::vector<Alert>> EndWindow(WindowStartMs start, int64_t size_ms,
                                               const AlertsCommitter& commit_alerts = nullptr);

  // Called for every window key judged with traffic, with what its baseline
  // expected it to spend in the window (for the spend-vs-baseline metrics).
  using BaselineListener = std::function<void(const KeyIdentity& key, double expected_usd_per_window)>;
  void set_baseline_listener(BaselineListener listener) { baseline_listener_ = std::move(listener); }

  const DetectorEngineStats& stats() const { return stats_; }
  size_t tracked_keys() const { return cache_.size(); }
  const PeerPriors& peer_priors() const { return peer_priors_; }

 private:
  struct Pending {
    KeyIdentity key;
    WindowTotals totals;
  };
  void Judge(const std::string& store_key, const KeyIdentity& key, KeyHistory& history,
             const WindowTotals* totals, const DetectionContext& base, std::vector<Alert>& out);
  Alert MakeAlert(const KeyDetector& detector, const KeyIdentity& key, const AlertLifecycle& lifecycle,
                  const Judgement& judgement, const DetectionContext& context) const;
  double PeerPrior(const KeyIdentity& key) const;
  void SamplePeers(const KeyIdentity& key, const KeyHistory& history);
  void EvictIdle(int64_t now_ms);

  DetectorsConfig config_;
  std::vector<KeyDetectorPtr> detectors_;
  HistoryStore& store_;
  absl::flat_hash_map<std::string, Pending> pending_;  // this window's rows by store key
  absl::flat_hash_map<std::string, KeyHistory> cache_;
  absl::flat_hash_set<std::string> firing_;  // store keys with a firing alert (memory mode)
  // Tenants with a key-level alert firing, this window.
  absl::flat_hash_set<std::string> tenants_alerting_;
  PeerPriors peer_priors_;
  int64_t watching_since_ms_ = INT64_MIN;
  DetectorEngineStats stats_;
  BaselineListener baseline_listener_;
};

// Creates the key detectors named in `config.enabled` (runaway excluded:
// it works per event). Unknown names are an error.
absl::StatusOr<std::vector<KeyDetectorPtr>> CreateKeyDetectors(const DetectorsConfig& config);
// The names CreateKeyDetectors and the runaway detector accept.
const std::vector<std::string>& KnownDetectorNames();

}  // namespace burnrate
