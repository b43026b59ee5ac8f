#include "detectors/runaway/runaway_detector.h"

#include <algorithm>
#include <cstdio>

#include "core/concat.h"
#include "detectors/detector.h"

namespace burnrate {

RunawayDetector::RunawayDetector(RunawayConfig config, int64_t window_size_ms)
    : config_(config), window_size_ms_(window_size_ms) {}

void RunawayDetector::OnCounted(const CostEvent& event, Money cost, bool) {
  if (!event.agent_run_id.empty()) Track("agent_run_id", event.agent_run_id, event, cost);
  if (!event.correlation_id.empty()) Track("correlation_id", event.correlation_id, event, cost);
}

void RunawayDetector::Track(std::string_view kind, std::string_view id, const CostEvent& event, Money cost) {
  scratch_.assign(kind);
  scratch_ += '=';
  scratch_.append(id);
  auto [it, inserted] = runs_.try_emplace(scratch_);
  Run& run = it->second;
  const int64_t t = event.time.value();
  if (inserted) {
    run.first_ms = t;
    run.tenant = event.tenant;
    run.feature = event.feature;
    run.environment = event.environment;
    if (static_cast<int64_t>(runs_.size()) > config_.max_tracked_runs) Evict();
  }
  ++run.calls;
  run.tokens += event.tokens[TokenKind::kInput] + event.tokens[TokenKind::kOutput];
  run.cost += cost;
  run.first_ms = std::min(run.first_ms, t);
  run.last_ms = std::max(run.last_ms, t);
  if (run.fired_ms == 0 && (run.calls > config_.max_calls || run.tokens > config_.max_tokens ||
                            run.cost.dollars() > config_.max_cost_usd)) {
    run.fired_ms = t;
    pending_.push_back(MakeAlert(scratch_, run));
  }
}

Alert RunawayDetector::MakeAlert(const std::string& run_key, const Run& run) const {
  Alert a;
  a.kind = AlertKind::kRunaway;
  // A run id names one run: the alert id depends on it alone, so a replica
  // that takes the partition over after a crash (and sees the run from the
  // last checkpoint on) decides the same incident, which the outbox delivers once.
  a.alert_id = MakeAlertId(a.kind, run_key, 0);
  a.severity = Severity::kCritical;
  a.tenant = run.tenant;
  a.feature = run.feature;
  a.environment = run.environment;
  a.subject = run_key;
  a.window_size_ms = window_size_ms_;
  a.window_start_ms = run.fired_ms - ((run.fired_ms % window_size_ms_) + window_size_ms_) % window_size_ms_;
  a.started_at_ms = run.fired_ms;
  // Report the bound that was crossed, as observed against limit.
  if (run.calls > config_.max_calls) {
    a.observed = static_cast<double>(run.calls);
    a.baseline = static_cast<double>(config_.max_calls);
    a.unit = "calls";
  } else if (run.tokens > config_.max_tokens) {
    a.observed = static_cast<double>(run.tokens);
    a.baseline = static_cast<double>(config_.max_tokens);
    a.unit = "tokens";
  } else {
    a.observed = run.cost.dollars();
    a.baseline = config_.max_cost_usd;
    a.unit = "usd";
  }
  a.ratio = a.observed / a.baseline;
  a.summary = Concat(run_key, " of ", run.tenant, "/", run.feature, "/", run.environment, " made ", run.calls,
                     " calls, ", run.tokens, " tokens, ", FormatUsd(run.cost.dollars()), " in ",
                     (run.last_ms - run.first_ms) / 60'000, " minutes (limits: ", config_.max_calls, " calls, ",
                     config_.max_tokens, " tokens, ", FormatUsd(config_.max_cost_usd), ")");
  a.details = {{"calls", std::to_string(run.calls)},
               {"tokens", std::to_string(run.tokens)},
               {"cost_usd", FormatUsd(run.cost.dollars())}};
  return a;
}

std::vector<Alert> RunawayDetector::TakeAlerts(int64_t now_ms) {
  for (auto it = runs_.begin(); it != runs_.end();) {
    Run& run = it->second;
    if (now_ms - run.last_ms < config_.idle_after_ms) {
      ++it;
      continue;
    }
    if (run.fired_ms != 0) {
      Alert a = MakeAlert(it->first, run);
      a.status = AlertStatus::kResolved;
      a.resolved_at_ms = run.last_ms + config_.idle_after_ms;
      a.summary = Concat("resolved, idle for ", config_.idle_after_ms / 60'000, " minutes: ", a.summary);
      pending_.push_back(std::move(a));
    }
    runs_.erase(it++);
  }
  std::vector<Alert> out;
  out.swap(pending_);
  return out;
}

// Over the cap: forget the runs within bounds that have been quiet longest.
void RunawayDetector::Evict() {
  std::vector<int64_t> last;
  last.reserve(runs_.size());
  for (const auto& [_, r] : runs_) {
    if (r.fired_ms == 0) last.push_back(r.last_ms);
  }
  if (last.empty()) return;
  const size_t drop = std::max<size_t>(1, runs_.size() / 10);
  std::nth_element(last.begin(), last.begin() + static_cast<ptrdiff_t>(std::min(drop, last.size() - 1)), last.end());
  const int64_t cutoff = last[std::min(drop, last.size() - 1)];
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second.fired_ms == 0 && it->second.last_ms <= cutoff) {
      runs_.erase(it++);
      ++evicted_;
    } else {
      ++it;
    }
  }
}

}  // namespace burnrate
