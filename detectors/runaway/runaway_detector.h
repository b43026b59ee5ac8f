// `runaway`: one agent run (agent_run_id) or one logical request
// (correlation_id) goes beyond call, token or cost bounds: a retry loop
// without backoff, an agent stuck calling a tool. Works per event, on the
// pipeline's thread, in event time: a run resolves once it has been idle.
//
// In `run` mode each partition has its own detector, so a run is judged on
// the events of its partition: key messages by tenant (the recommended
// keying) and a run is seen whole.
#pragma once

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

  void OnCounted(const CostEvent& event, Money cost, bool priced) override;
  // Resolves and forgets runs idle as of `now_ms` (event time) and hands
  // over every transition decided since the last call.
  std::vector<Alert> TakeAlerts(int64_t now_ms);

  size_t tracked_runs() const { return runs_.size(); }
  uint64_t evicted_runs() const { return evicted_; }

 private:
  struct Run {
    int64_t calls = 0;
    int64_t tokens = 0;
    Money cost;
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    int64_t fired_ms = 0;  // 0 while within bounds
    std::string tenant, feature, environment;
  };
  void Track(std::string_view kind, std::string_view id, const CostEvent& event, Money cost);
  Alert MakeAlert(const std::string& run_key, const Run& run) const;
  void Evict();

  RunawayConfig config_;
  int64_t window_size_ms_;
  absl::flat_hash_map<std::string, Run> runs_;  // "agent_run_id=<id>" / "correlation_id=<id>"
  std::vector<Alert> pending_;
  std::string scratch_;
  uint64_t evicted_ = 0;
};

}  // namespace burnrate
