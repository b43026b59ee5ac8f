// `runaway`: one agent run (agent_run_id) or one logical request
// (correlation_id) goes beyond call, token or cost bounds: a retry loop
// without backoff, an agent stuck calling a tool. Works per event, on the
// pipeline's thread, in event time: a run resolves once it has been idle.
//
// In `run` mode each partition has its own detector, so a run is judged on
// the events of its partition: key messages by tenant (the recommended
// keying) and a run is seen whole. Its runs are saved with the partition's
// checkpoints (SaveState), so a restart or the partition's next owner
// carries each run on with its counts, and judges it as replay would.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/alert.h"
#include "core/pipeline.h"
#include "detectors/detectors_config.h"

namespace burnrate {

// Not thread-safe: one per pipeline.
class RunawayDetector final : public EventObserver {
 public:
  RunawayDetector(RunawayConfig config, int64_t window_size_ms);

  // `run` mode: record what changes for SaveState, and keep a resolved run
  // (saved as resolved) until the callback from ConfirmDelivery says its
  // resolve was handed on, so a crash in between cannot lose the resolve: a
  // restored detector offers it again (the alert outbox takes it once).
  void KeepStateForCheckpoints() { checkpointed_ = true; }

  void OnCounted(const CostEvent& event, Money cost, bool priced) override;
  // Resolves runs idle as of `now_ms` (event time) and hands over every
  // transition decided since the last call.
  std::vector<Alert> TakeAlerts(int64_t now_ms);
  // To call once the alerts taken so far have been handed on; safe to call
  // after this detector is gone.
  std::function<void()> ConfirmDelivery() const;

  bool SaveState(bool full, std::string& out) override;
  // After a restore the transitions of runs beyond their bounds are offered
  // again (firing, and resolved where the resolve was not confirmed), with
  // the figures they were first decided with.
  bool RestoreState(const std::vector<std::string>& records) override;
  size_t StateBytes() const override;

  size_t tracked_runs() const { return runs_.size(); }
  uint64_t evicted_runs() const { return evicted_; }

 private:
  struct Tally {
    int64_t calls = 0;
    int64_t tokens = 0;
    Money cost;
    int64_t first_ms = 0;
    int64_t last_ms = 0;
  };
  // What only a run past a bound needs: most runs never get here, so a run
  // within bounds holds no strings and costs no allocation.
  struct Fired {
    std::string key;  // "agent_run_id=<id>" / "correlation_id=<id>"
    std::string tenant, feature, environment;  // of the event that crossed the bound
    Tally at_fire;                              // the tally then
    int64_t fired_ms = 0;
    bool resolved = false;       // resolve decided, not yet confirmed handed on
    uint64_t resolved_take = 0;  // the TakeAlerts call that handed the resolve out
  };
  struct Run {
    Tally tally;
    uint64_t change_mark = 0;  // == save_generation_ when changed since the last save
    std::unique_ptr<Fired> fired;
  };
  // Runs are keyed by a 64-bit hash of their key: two runs in a million
  // share one with a probability of about 3e-8, and would be counted as one.
  using RunMap = absl::flat_hash_map<uint64_t, Run>;

  void Track(std::string_view kind, std::string_view id, const CostEvent& event, Money cost);
  Alert MakeAlert(const Fired& fired, const Tally& tally) const;
  Alert MakeResolve(const Fired& fired, const Tally& tally) const;
  void MarkChanged(uint64_t hash, Run& run);
  void Erase(RunMap::iterator it);
  void Evict();

  RunawayConfig config_;
  int64_t window_size_ms_;
  RunMap runs_;
  std::vector<Alert> pending_;
  std::string scratch_;
  uint64_t evicted_ = 0;

  bool checkpointed_ = false;
  uint64_t takes_ = 0;  // TakeAlerts calls so far
  std::shared_ptr<uint64_t> confirmed_take_ = std::make_shared<uint64_t>(0);
  uint64_t save_generation_ = 1;
  std::vector<uint64_t> changed_;  // runs changed since the last save (may repeat)
  std::vector<uint64_t> erased_;   // runs forgotten since the last save
};

}  // namespace burnrate
