#include "detectors/detector_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/concat.h"
#include "detectors/new_spender/new_spender_detector.h"
#include "detectors/spike/spike_detector.h"
#include "detectors/unit_cost_shift/unit_cost_shift_detector.h"
#include "detectors/unpriced/unpriced_detector.h"

namespace burnrate {
namespace {

// An incident is kept out of learning for its first day only.
constexpr int64_t kMaxUnlearnedIncidentMs = 24 * 3'600'000LL;
// Weight of one window in a key's learnt noise (about the last 200 windows
// in which the key had traffic).
constexpr double kNoiseLearningWeight = 0.005;

bool Judged(WindowScope scope) {
  return scope == WindowScope::kKey || scope == WindowScope::kTenant || scope == WindowScope::kModel;
}

// A young key's prior: what established keys of its environment (window
// keys) or all tenants (tenant roll-ups) typically spend (PeerPriors).
std::string PeerGroup(const KeyIdentity& key) {
  return key.scope == WindowScope::kTenant ? "tenant" : "env:" + key.environment;
}

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

const std::vector<std::string>& KnownDetectorNames() {
  static const std::vector<std::string> names = {"spike", "unit_cost_shift", "new_spender", "runaway", "unpriced"};
  return names;
}

absl::StatusOr<std::vector<KeyDetectorPtr>> CreateKeyDetectors(const DetectorsConfig& config) {
  std::vector<KeyDetectorPtr> out;
  for (const auto& name : config.enabled) {
    if (name == "spike") {
      out.push_back(std::make_unique<SpikeDetector>(config.spike));
    } else if (name == "unit_cost_shift") {
      out.push_back(std::make_unique<UnitCostShiftDetector>(config.unit_cost_shift));
    } else if (name == "new_spender") {
      out.push_back(std::make_unique<NewSpenderDetector>(config.new_spender));
    } else if (name == "unpriced") {
      out.push_back(std::make_unique<UnpricedDetector>(config.unpriced));
    } else if (name != "runaway") {
      return absl::InvalidArgumentError(
          Concat("unknown detector '", name, "' (known: ", JoinStrings(KnownDetectorNames(), ", "), ")"));
    }
  }
  return out;
}

DetectorEngine::DetectorEngine(DetectorsConfig config, std::vector<KeyDetectorPtr> detectors, HistoryStore& store)
    : config_(std::move(config)), detectors_(std::move(detectors)), store_(store) {}

void DetectorEngine::Observe(const WindowRecord& row) {
  if (!Judged(row.scope) || row.totals == nullptr) return;
  KeyIdentity key;
  key.scope = row.scope;
  key.tenant = row.tenant;
  key.feature = row.feature;
  key.environment = row.environment;
  key.model = row.model;
  std::string store_key = key.StoreKey();
  auto [it, inserted] = pending_.try_emplace(std::move(store_key));
  if (inserted) it->second.key = std::move(key);
  it->second.totals.Merge(*row.totals);
}

absl::StatusOr<std::vector<Alert>> DetectorEngine::EndWindow(WindowStartMs start, int64_t size_ms,
                                                             const AlertsCommitter& commit_alerts) {
  std::vector<Alert> alerts;
  const int64_t now_ms = start.value() + size_ms;
  const int64_t minute = start.value() / kMinuteMs;

  auto since = store_.WatchingSince(start.value());
  if (!since.ok()) {
    ++stats_.store_errors;
    return since.status();
  }
  watching_since_ms_ = *since;

  // Which keys to judge: this window's, plus every key with a firing alert
  // (an incident must be able to resolve when its traffic stops).
  std::vector<std::string> keys;
  keys.reserve(pending_.size());
  for (const auto& [k, _] : pending_) keys.push_back(k);
  if (store_.persistent()) {
    auto firing = store_.FiringKeys();
    if (!firing.ok()) {
      ++stats_.store_errors;
      return firing.status();
    }
    for (auto& k : *firing) {
      if (!pending_.contains(k)) keys.push_back(std::move(k));
    }
    cache_.clear();
    // Another replica may have judged the last window: its priors are the ones to go on from.
    auto priors = store_.LoadPeerPriors();
    if (!priors.ok()) {
      ++stats_.store_errors;
      return priors.status();
    }
    peer_priors_ = PeerPriors();
    if (*priors) {
      if (auto decoded = PeerPriors::Decode(**priors)) peer_priors_ = std::move(*decoded);
    }
    auto blobs = store_.Load(keys);
    if (!blobs.ok()) {
      ++stats_.store_errors;
      return blobs.status();
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      KeyHistory h;
      if ((*blobs)[i]) {
        if (auto decoded = KeyHistory::Decode(*(*blobs)[i])) h = std::move(*decoded);
      }
      cache_.emplace(keys[i], std::move(h));
    }
  } else {
    for (const auto& k : firing_) {
      if (!pending_.contains(k)) keys.push_back(k);
    }
  }
  // A window judged again after a failed commit or save counts once.
  const DetectorEngineStats stats_before = stats_;

  // Keys first, then tenant roll-ups (held back where a key already
  // alerted), then models.
  std::vector<std::pair<int, size_t>> order;
  order.reserve(keys.size());
  std::vector<std::optional<KeyIdentity>> identities(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto p = pending_.find(keys[i]);
    identities[i] = p != pending_.end() ? std::optional<KeyIdentity>(p->second.key) : KeyIdentity::FromStoreKey(keys[i]);
    if (!identities[i]) continue;
    const int rank = identities[i]->scope == WindowScope::kKey ? 0 : identities[i]->scope == WindowScope::kTenant ? 1 : 2;
    order.emplace_back(rank, i);
  }
  std::sort(order.begin(), order.end());

  tenants_alerting_.clear();
  DetectionContext base;
  base.window_start_ms = start.value();
  base.window_size_ms = size_ms;
  base.now_ms = now_ms;
  base.watching_since_ms = watching_since_ms_;
  std::vector<std::pair<std::string, std::string>> to_save;
  std::vector<std::string> now_firing, now_quiet;
  for (const auto& [rank, i] : order) {
    const std::string& store_key = keys[i];
    KeyHistory& history = cache_[store_key];
    auto p = pending_.find(store_key);
    const WindowTotals* totals = p != pending_.end() ? &p->second.totals : nullptr;
    const bool was_firing = history.any_firing();
    if (totals) {
      if (!history.ApplyWindow(start.value(), totals->cost.dollars(), totals->events)) {
        ++stats_.windows_already_applied;
        continue;
      }
    } else if (!history.AdvanceTo(minute)) {
      continue;
    }
    Judge(store_key, *identities[i], history, totals, base, alerts);
    if (totals) SamplePeers(*identities[i], history);
    const bool firing = history.any_firing();
    if (firing && !was_firing) now_firing.push_back(store_key);
    if (!firing && was_firing) now_quiet.push_back(store_key);
    if (!store_.persistent() && firing) firing_.insert(store_key);
    if (store_.persistent()) to_save.emplace_back(store_key, history.Encode());
  }
  // In key order, not the order the keys were judged in (a hash map's): a
  // window's alerts come out the same on every run, so outputs can be diffed.
  std::sort(alerts.begin(), alerts.end(), [](const Alert& a, const Alert& b) {
    return std::tie(a.tenant, a.feature, a.environment, a.model, a.subject, a.kind, a.status) <
           std::tie(b.tenant, b.feature, b.environment, b.model, b.subject, b.kind, b.status);
  });
  if (commit_alerts) {
    if (absl::Status s = commit_alerts(alerts); !s.ok()) {
      // Nothing saved: the next call judges the window again from the stored histories.
      if (store_.persistent()) cache_.clear();
      stats_ = stats_before;
      return s;
    }
  }
  peer_priors_.EndWindow();
  if (store_.persistent()) {
    if (auto s = store_.Save(to_save, config_.history_ttl_ms, now_firing, now_quiet, peer_priors_.Encode());
        !s.ok()) {
      stats_ = stats_before;
      ++stats_.store_errors;
      // Nothing was learnt for good: the rows stay, the caller retries.
      return s;
    }
    cache_.clear();
  } else {
    for (const auto& k : now_quiet) firing_.erase(k);
    if (minute % 60 == 0) EvictIdle(now_ms);
  }
  pending_.clear();
  ++stats_.windows_judged;
  return alerts;
}

void DetectorEngine::Judge(const std::string&, const KeyIdentity& key, KeyHistory& history,
                           const WindowTotals* totals, const DetectionContext& base, std::vector<Alert>& out) {
  ++stats_.keys_judged;
  DetectionContext context = base;
  context.window = totals;
  context.peer_prior_usd_per_hour = PeerPrior(key);
  if (baseline_listener_ && key.scope == WindowScope::kKey && totals != nullptr) {
    const int minutes = static_cast<int>(std::max<int64_t>(1, context.window_size_ms / kMinuteMs));
    baseline_listener_(key, history.Expect(minutes, context.peer_prior_usd_per_hour).cost_usd);
  }
  // Learn how noisy the key is while it behaves (no spike firing).
  if (key.scope != WindowScope::kModel && totals != nullptr &&
      !history.lifecycle(DetectorSlot::kSpike).firing()) {
    const double e15 = history.Expect(15, context.peer_prior_usd_per_hour).cost_usd;
    const double r15 = history.RecentCost(15) - e15;
    const double r60 = history.RecentCost(60) - history.Expect(60, context.peer_prior_usd_per_hour).cost_usd;
    // A rise building up to an alert is not noise to learn.
    if (r15 <= e15) history.LearnNoise(r15, r60, kNoiseLearningWeight);
    const int sustained = static_cast<int>(config_.spike.sustained_block_ms / kMinuteMs) * config_.spike.sustained_blocks;
    history.LearnPeakExcess(1, history.RecentCost(sustained) -
                                   history.Expect(sustained, context.peer_prior_usd_per_hour).cost_usd);
    const int fast = static_cast<int>(config_.spike.pairs.front().short_ms / kMinuteMs);
    history.LearnPeakExcess(0, history.RecentCost(fast) - history.Expect(fast, context.peer_prior_usd_per_hour).cost_usd);
  }
  for (const auto& detector : detectors_) {
    if (!detector->Applies(key.scope)) continue;
    AlertLifecycle& lifecycle = history.lifecycle(detector->slot());
    // Cheap exit: quiet keys with no traffic this window cannot trigger.
    if (!lifecycle.firing() && totals == nullptr) continue;
    Judgement j = detector->Judge(history, key, context);
    if (!lifecycle.firing()) {
      if (!j.trigger) continue;
      if (key.scope == WindowScope::kTenant) {
        // One incident, one page: a tenant whose own key already alerts
        // (of any kind) gets no roll-up alert on top.
        if (tenants_alerting_.contains(key.tenant)) continue;
      }
      lifecycle.started_ms = context.now_ms;
      lifecycle.last_hold_ms = context.now_ms;
      lifecycle.peak_ratio = static_cast<float>(j.ratio);
      out.push_back(MakeAlert(*detector, key, lifecycle, j, context));
      ++stats_.alerts_fired;
    } else if (j.trigger || j.hold) {
      lifecycle.last_hold_ms = context.now_ms;
      lifecycle.peak_ratio = std::max(lifecycle.peak_ratio, static_cast<float>(j.ratio));
    } else if (context.now_ms - lifecycle.last_hold_ms >= detector->resolve_after_ms()) {
      Alert a = MakeAlert(*detector, key, lifecycle, j, context);
      a.status = AlertStatus::kResolved;
      a.resolved_at_ms = context.now_ms;
      a.summary = Concat("resolved after ", (context.now_ms - lifecycle.started_ms) / kMinuteMs,
                         " minutes: ", j.summary);
      out.push_back(std::move(a));
      ++stats_.alerts_resolved;
      lifecycle = AlertLifecycle{};
      continue;
    }
    if (key.scope == WindowScope::kKey) tenants_alerting_.insert(key.tenant);
    const bool learns_as_anomaly = detector->slot() == DetectorSlot::kSpike ||
                                   detector->slot() == DetectorSlot::kUnitCostShift;
    // A key still learning its week has no baseline to protect: what it
    // shows in its first days is what it is.
    const bool has_a_week = history.history_minutes() >= int64_t{kHoursPerWeek} * 60;
    if (learns_as_anomaly && has_a_week && context.now_ms - lifecycle.started_ms < kMaxUnlearnedIncidentMs) {
      history.MarkCurrentHourAnomalous();
    }
  }
}

Alert DetectorEngine::MakeAlert(const KeyDetector& detector, const KeyIdentity& key, const AlertLifecycle& lifecycle,
                                const Judgement& j, const DetectionContext& context) const {
  Alert a;
  a.kind = detector.kind();
  a.alert_id = MakeAlertId(a.kind, key.StoreKey(), lifecycle.started_ms);
  a.status = AlertStatus::kFiring;
  a.severity = j.severity;
  a.tenant = key.tenant;
  a.feature = key.feature;
  a.environment = key.environment;
  a.model = key.model;
  a.window_start_ms = context.window_start_ms;
  a.window_size_ms = context.window_size_ms;
  a.observed = j.observed;
  a.baseline = j.expected;
  a.ratio = j.ratio;
  a.unit = j.unit;
  a.started_at_ms = lifecycle.started_ms;
  a.summary = j.summary;
  a.details = j.details;
  a.details.emplace_back("detector", std::string(detector.name()));
  a.details.emplace_back("peak_ratio", FormatNumber(std::max<double>(lifecycle.peak_ratio, j.ratio)));
  return a;
}

void DetectorEngine::SamplePeers(const KeyIdentity& key, const KeyHistory& history) {
  if (key.scope != WindowScope::kKey && key.scope != WindowScope::kTenant) return;
  if (history.history_minutes() < 3 * 1440) return;  // not established yet
  peer_priors_.Sample(PeerGroup(key), history.MeanHourlyCost());
}

double DetectorEngine::PeerPrior(const KeyIdentity& key) const { return peer_priors_.Get(PeerGroup(key)); }

void DetectorEngine::EvictIdle(int64_t now_ms) {
  const int64_t oldest_minute = (now_ms - config_.history_ttl_ms) / kMinuteMs;
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.last_minute() < oldest_minute && !it->second.any_firing()) {
      cache_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace burnrate
