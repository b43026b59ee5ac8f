#include "detectors/runaway/runaway_detector.h"

#include <algorithm>
#include <cstdio>

#include "core/concat.h"
#include "detectors/detector.h"

namespace burnrate {

namespace {

// Saved state: records of one format byte, 'F' (everything) or 'D' (what
// changed), then entries: 'U' run key and its fields (an upsert) or 'E' run
// key (forgotten). Integers are zig-zag varints.
constexpr char kStateFormat = '1';

void PutInt(int64_t v, std::string& out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<char>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

void PutString(std::string_view s, std::string& out) {
  PutInt(static_cast<int64_t>(s.size()), out);
  out.append(s);
}

bool GetInt(std::string_view& in, int64_t& v) {
  uint64_t z = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    z |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      v = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
      return true;
    }
  }
  return false;
}

bool GetString(std::string_view& in, std::string& s) {
  int64_t n;
  if (!GetInt(in, n) || n < 0 || static_cast<uint64_t>(n) > in.size()) return false;
  s.assign(in.substr(0, static_cast<size_t>(n)));
  in.remove_prefix(static_cast<size_t>(n));
  return true;
}

}  // namespace

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
  // Make room before inserting, so the run being counted is never the one evicted.
  if (static_cast<int64_t>(runs_.size()) >= config_.max_tracked_runs && !runs_.contains(scratch_)) Evict();
  auto [it, inserted] = runs_.try_emplace(scratch_);
  Run& run = it->second;
  const int64_t t = event.time.value();
  if (run.resolved) {
    // The id is busy again after its run resolved: a new run, as if the
    // resolved one had been forgotten already.
    run = Run{};
    inserted = true;
  }
  if (inserted) {
    run.tally.first_ms = t;
    run.tally.last_ms = t;
    run.tenant = event.tenant;
    run.feature = event.feature;
    run.environment = event.environment;
  }
  Tally& tally = run.tally;
  ++tally.calls;
  tally.tokens += event.tokens[TokenKind::kInput] + event.tokens[TokenKind::kOutput];
  tally.cost += cost;
  tally.first_ms = std::min(tally.first_ms, t);
  tally.last_ms = std::max(tally.last_ms, t);
  if (run.fired_ms == 0 && (tally.calls > config_.max_calls || tally.tokens > config_.max_tokens ||
                            tally.cost.dollars() > config_.max_cost_usd)) {
    run.fired_ms = t;
    run.at_fire = tally;
    pending_.push_back(MakeAlert(scratch_, run, tally));
  }
  MarkChanged(it->first, run);
}

void RunawayDetector::MarkChanged(const std::string& run_key, Run& run) {
  if (!checkpointed_ || run.change_mark == save_generation_) return;
  run.change_mark = save_generation_;
  changed_.push_back(run_key);
}

void RunawayDetector::Erase(absl::flat_hash_map<std::string, Run>::iterator it) {
  if (checkpointed_) erased_.push_back(it->first);
  runs_.erase(it);
}

Alert RunawayDetector::MakeAlert(const std::string& run_key, const Run& run, const Tally& tally) const {
  Alert a;
  a.kind = AlertKind::kRunaway;
  // A run id names one run: the alert id depends on it alone, so a replica
  // that takes the partition over after a crash decides the same incident,
  // which the outbox delivers once.
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
  if (tally.calls > config_.max_calls) {
    a.observed = static_cast<double>(tally.calls);
    a.baseline = static_cast<double>(config_.max_calls);
    a.unit = "calls";
  } else if (tally.tokens > config_.max_tokens) {
    a.observed = static_cast<double>(tally.tokens);
    a.baseline = static_cast<double>(config_.max_tokens);
    a.unit = "tokens";
  } else {
    a.observed = tally.cost.dollars();
    a.baseline = config_.max_cost_usd;
    a.unit = "usd";
  }
  a.ratio = a.observed / a.baseline;
  a.summary = Concat(run_key, " of ", run.tenant, "/", run.feature, "/", run.environment, " made ", tally.calls,
                     " calls, ", tally.tokens, " tokens, ", FormatUsd(tally.cost.dollars()), " in ",
                     (tally.last_ms - tally.first_ms) / 60'000, " minutes (limits: ", config_.max_calls, " calls, ",
                     config_.max_tokens, " tokens, ", FormatUsd(config_.max_cost_usd), ")");
  a.details = {{"calls", std::to_string(tally.calls)},
               {"tokens", std::to_string(tally.tokens)},
               {"cost_usd", FormatUsd(tally.cost.dollars())}};
  return a;
}

Alert RunawayDetector::MakeResolve(const std::string& run_key, const Run& run) const {
  Alert a = MakeAlert(run_key, run, run.tally);
  a.status = AlertStatus::kResolved;
  a.resolved_at_ms = run.tally.last_ms + config_.idle_after_ms;
  a.summary = Concat("resolved, idle for ", config_.idle_after_ms / 60'000, " minutes: ", a.summary);
  return a;
}

std::vector<Alert> RunawayDetector::TakeAlerts(int64_t now_ms) {
  ++takes_;
  for (auto it = runs_.begin(); it != runs_.end();) {
    Run& run = it->second;
    if (run.resolved) {
      if (run.resolved_take <= *confirmed_take_) {
        Erase(it++);
      } else {
        ++it;
      }
      continue;
    }
    if (now_ms - run.tally.last_ms < config_.idle_after_ms) {
      ++it;
      continue;
    }
    if (run.fired_ms != 0) {
      pending_.push_back(MakeResolve(it->first, run));
      if (checkpointed_) {
        run.resolved = true;
        run.resolved_take = takes_;
        MarkChanged(it->first, run);
        ++it;
        continue;
      }
    }
    Erase(it++);
  }
  std::vector<Alert> out;
  out.swap(pending_);
  return out;
}

std::function<void()> RunawayDetector::ConfirmDelivery() const {
  return [confirmed = confirmed_take_, take = takes_] { *confirmed = std::max(*confirmed, take); };
}

// Over the cap: forget the runs within bounds that have been quiet longest.
void RunawayDetector::Evict() {
  std::vector<int64_t> last;
  last.reserve(runs_.size());
  for (const auto& [_, r] : runs_) {
    if (r.fired_ms == 0) last.push_back(r.tally.last_ms);
  }
  if (last.empty()) return;
  const size_t drop = std::max<size_t>(1, runs_.size() / 10);
  std::nth_element(last.begin(), last.begin() + static_cast<ptrdiff_t>(std::min(drop, last.size() - 1)), last.end());
  const int64_t cutoff = last[std::min(drop, last.size() - 1)];
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second.fired_ms == 0 && it->second.tally.last_ms <= cutoff) {
      Erase(it++);
      ++evicted_;
    } else {
      ++it;
    }
  }
}

namespace {

void PutTally(int64_t calls, int64_t tokens, Money cost, int64_t first_ms, int64_t last_ms, std::string& out) {
  PutInt(calls, out);
  PutInt(tokens, out);
  PutInt(cost.picodollars(), out);
  PutInt(first_ms, out);
  PutInt(last_ms, out);
}

}  // namespace

bool RunawayDetector::SaveState(bool full, std::string& out) {
  if (!full && changed_.empty() && erased_.empty()) return false;
  const auto put_run = [&out](const std::string& key, const Run& r) {
    out.push_back('U');
    PutString(key, out);
    PutTally(r.tally.calls, r.tally.tokens, r.tally.cost, r.tally.first_ms, r.tally.last_ms, out);
    PutInt(r.fired_ms, out);
    if (r.fired_ms != 0) {
      PutTally(r.at_fire.calls, r.at_fire.tokens, r.at_fire.cost, r.at_fire.first_ms, r.at_fire.last_ms, out);
    }
    out.push_back(r.resolved ? '1' : '0');
    PutString(r.tenant, out);
    PutString(r.feature, out);
    PutString(r.environment, out);
  };
  out.push_back(kStateFormat);
  out.push_back(full ? 'F' : 'D');
  if (full) {
    for (const auto& [key, run] : runs_) put_run(key, run);
  } else {
    for (const std::string& key : erased_) {
      if (runs_.contains(key)) continue;  // forgotten, then busy again: saved below
      out.push_back('E');
      PutString(key, out);
    }
    for (const std::string& key : changed_) {
      auto it = runs_.find(key);
      if (it == runs_.end() || it->second.change_mark != save_generation_) continue;  // gone, or written
      put_run(key, it->second);
      it->second.change_mark = 0;
    }
  }
  changed_.clear();
  erased_.clear();
  ++save_generation_;
  return true;
}

bool RunawayDetector::RestoreState(const std::vector<std::string>& records) {
  absl::flat_hash_map<std::string, Run> runs;
  std::string key;
  const auto get_tally = [](std::string_view& in, Tally& t) {
    int64_t picos;
    if (!GetInt(in, t.calls) || !GetInt(in, t.tokens) || !GetInt(in, picos) || !GetInt(in, t.first_ms) ||
        !GetInt(in, t.last_ms))
      return false;
    t.cost = Money::FromPicodollars(picos);
    return true;
  };
  for (std::string_view in : records) {
    if (in.size() < 2 || in[0] != kStateFormat || (in[1] != 'F' && in[1] != 'D')) return false;
    if (in[1] == 'F') runs.clear();
    in.remove_prefix(2);
    while (!in.empty()) {
      const char op = in.front();
      in.remove_prefix(1);
      if ((op != 'U' && op != 'E') || !GetString(in, key)) return false;
      if (op == 'E') {
        runs.erase(key);
        continue;
      }
      Run r;
      if (!get_tally(in, r.tally) || !GetInt(in, r.fired_ms)) return false;
      if (r.fired_ms != 0 && !get_tally(in, r.at_fire)) return false;
      if (in.empty() || (in.front() != '0' && in.front() != '1')) return false;
      r.resolved = in.front() == '1';
      in.remove_prefix(1);
      if (!GetString(in, r.tenant) || !GetString(in, r.feature) || !GetString(in, r.environment)) return false;
      runs[key] = std::move(r);
    }
  }
  runs_ = std::move(runs);
  changed_.clear();
  erased_.clear();
  pending_.clear();
  // Offer again what these runs decided: the handing on may not have
  // happened before the state was saved (the outbox takes each transition
  // once). In key order, so every restore offers them alike.
  std::vector<const std::string*> fired;
  for (const auto& [k, run] : runs_) {
    if (run.fired_ms != 0) fired.push_back(&k);
  }
  std::sort(fired.begin(), fired.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* k : fired) {
    Run& run = runs_.at(*k);
    pending_.push_back(MakeAlert(*k, run, run.at_fire));
    if (run.resolved) {
      pending_.push_back(MakeResolve(*k, run));
      run.resolved_take = takes_ + 1;  // handed out by the next TakeAlerts
    }
  }
  return true;
}

size_t RunawayDetector::StateBytes() const {
  // A typical run: its key (~30 bytes), three short dimension names and a
  // dozen varints.
  return runs_.size() * 96;
}

}  // namespace burnrate
