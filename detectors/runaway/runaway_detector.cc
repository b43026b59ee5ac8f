#include "detectors/runaway/runaway_detector.h"

#include <algorithm>
#include <cstdio>

#include "core/concat.h"
#include "core/dedup.h"
#include "detectors/detector.h"

namespace burnrate {

namespace {

// Saved state: records of one format byte, 'F' (everything) or 'D' (what
// changed), then entries: 'U', the run's hash (8 bytes, little-endian), its
// tally, and '1' plus what it fired with or '0' (an upsert); or 'E' and the
// hash (forgotten). Other integers are zig-zag varints.
constexpr char kStateFormat = '2';

void PutInt(int64_t v, std::string& out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<char>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

void PutHash(uint64_t h, std::string& out) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(h >> (8 * i)));
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

bool GetHash(std::string_view& in, uint64_t& h) {
  if (in.size() < 8) return false;
  h = 0;
  for (int i = 0; i < 8; ++i) h |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  in.remove_prefix(8);
  return true;
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
  const uint64_t hash = StableHash64(scratch_);
  // Make room before inserting, so the run being counted is never the one evicted.
  if (static_cast<int64_t>(runs_.size()) >= config_.max_tracked_runs && !runs_.contains(hash)) Evict();
  auto [it, inserted] = runs_.try_emplace(hash);
  Run& run = it->second;
  const int64_t t = event.time.value();
  if (run.fired && run.fired->resolved) {
    // The id is busy again after its run resolved: a new run, as if the
    // resolved one had been forgotten already.
    run = Run{};
    inserted = true;
  }
  Tally& tally = run.tally;
  if (inserted) tally.first_ms = tally.last_ms = t;
  ++tally.calls;
  tally.tokens += event.tokens[TokenKind::kInput] + event.tokens[TokenKind::kOutput];
  tally.cost += cost;
  tally.first_ms = std::min(tally.first_ms, t);
  tally.last_ms = std::max(tally.last_ms, t);
  if (!run.fired && (tally.calls > config_.max_calls || tally.tokens > config_.max_tokens ||
                     tally.cost.dollars() > config_.max_cost_usd)) {
    run.fired = std::make_unique<Fired>();
    Fired& f = *run.fired;
    f.key = scratch_;
    f.tenant = event.tenant;
    f.feature = event.feature;
    f.environment = event.environment;
    f.at_fire = tally;
    f.fired_ms = t;
    pending_.push_back(MakeAlert(f, tally));
  }
  MarkChanged(hash, run);
}

void RunawayDetector::MarkChanged(uint64_t hash, Run& run) {
  if (!checkpointed_ || run.change_mark == save_generation_) return;
  run.change_mark = save_generation_;
  changed_.push_back(hash);
}

void RunawayDetector::Erase(RunMap::iterator it) {
  if (checkpointed_) erased_.push_back(it->first);
  runs_.erase(it);
}

Alert RunawayDetector::MakeAlert(const Fired& fired, const Tally& tally) const {
  Alert a;
  a.kind = AlertKind::kRunaway;
  // A run id names one run: the alert id depends on it alone, so a replica
  // that takes the partition over after a crash decides the same incident,
  // which the outbox delivers once.
  a.alert_id = MakeAlertId(a.kind, fired.key, 0);
  a.severity = Severity::kCritical;
  a.tenant = fired.tenant;
  a.feature = fired.feature;
  a.environment = fired.environment;
  a.subject = fired.key;
  a.window_size_ms = window_size_ms_;
  a.window_start_ms = fired.fired_ms - ((fired.fired_ms % window_size_ms_) + window_size_ms_) % window_size_ms_;
  a.started_at_ms = fired.fired_ms;
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
  a.summary = Concat(fired.key, " of ", fired.tenant, "/", fired.feature, "/", fired.environment, " made ",
                     tally.calls, " calls, ", tally.tokens, " tokens, ", FormatUsd(tally.cost.dollars()), " in ",
                     (tally.last_ms - tally.first_ms) / 60'000, " minutes (limits: ", config_.max_calls, " calls, ",
                     config_.max_tokens, " tokens, ", FormatUsd(config_.max_cost_usd), ")");
  a.details = {{"calls", std::to_string(tally.calls)},
               {"tokens", std::to_string(tally.tokens)},
               {"cost_usd", FormatUsd(tally.cost.dollars())}};
  return a;
}

Alert RunawayDetector::MakeResolve(const Fired& fired, const Tally& tally) const {
  Alert a = MakeAlert(fired, tally);
  a.status = AlertStatus::kResolved;
  a.resolved_at_ms = tally.last_ms + config_.idle_after_ms;
  a.summary = Concat("resolved, idle for ", config_.idle_after_ms / 60'000, " minutes: ", a.summary);
  return a;
}

std::vector<Alert> RunawayDetector::TakeAlerts(int64_t now_ms) {
  ++takes_;
  for (auto it = runs_.begin(); it != runs_.end();) {
    Run& run = it->second;
    if (run.fired && run.fired->resolved) {
      if (run.fired->resolved_take <= *confirmed_take_) {
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
    if (run.fired) {
      pending_.push_back(MakeResolve(*run.fired, run.tally));
      if (checkpointed_) {
        run.fired->resolved = true;
        run.fired->resolved_take = takes_;
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
    if (!r.fired) last.push_back(r.tally.last_ms);
  }
  if (last.empty()) return;
  const size_t drop = std::max<size_t>(1, runs_.size() / 10);
  std::nth_element(last.begin(), last.begin() + static_cast<ptrdiff_t>(std::min(drop, last.size() - 1)), last.end());
  const int64_t cutoff = last[std::min(drop, last.size() - 1)];
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (!it->second.fired && it->second.tally.last_ms <= cutoff) {
      Erase(it++);
      ++evicted_;
    } else {
      ++it;
    }
  }
}

bool RunawayDetector::SaveState(bool full, std::string& out) {
  if (!full && changed_.empty() && erased_.empty()) return false;
  const auto put_tally = [&out](const Tally& t) {
    for (int64_t v : {t.calls, t.tokens, t.cost.picodollars(), t.first_ms, t.last_ms}) PutInt(v, out);
  };
  const auto put_run = [&](uint64_t hash, const Run& r) {
    out.push_back('U');
    PutHash(hash, out);
    put_tally(r.tally);
    if (!r.fired) {
      out.push_back('0');
      return;
    }
    const Fired& f = *r.fired;
    out.push_back('1');
    PutString(f.key, out);
    PutString(f.tenant, out);
    PutString(f.feature, out);
    PutString(f.environment, out);
    put_tally(f.at_fire);
    PutInt(f.fired_ms, out);
    out.push_back(f.resolved ? '1' : '0');
  };
  out.push_back(kStateFormat);
  out.push_back(full ? 'F' : 'D');
  if (full) {
    for (const auto& [hash, run] : runs_) put_run(hash, run);
  } else {
    for (uint64_t hash : erased_) {
      if (runs_.contains(hash)) continue;  // forgotten, then busy again: saved below
      out.push_back('E');
      PutHash(hash, out);
    }
    for (uint64_t hash : changed_) {
      auto it = runs_.find(hash);
      if (it == runs_.end() || it->second.change_mark != save_generation_) continue;  // gone, or written
      put_run(hash, it->second);
      it->second.change_mark = 0;
    }
  }
  changed_.clear();
  erased_.clear();
  ++save_generation_;
  return true;
}

bool RunawayDetector::RestoreState(const std::vector<std::string>& records) {
  RunMap runs;
  const auto get_tally = [](std::string_view& in, Tally& t) {
    int64_t picos;
    if (!GetInt(in, t.calls) || !GetInt(in, t.tokens) || !GetInt(in, picos) || !GetInt(in, t.first_ms) ||
        !GetInt(in, t.last_ms))
      return false;
    t.cost = Money::FromPicodollars(picos);
    return true;
  };
  const auto get_flag = [](std::string_view& in, bool& flag) {
    if (in.empty() || (in.front() != '0' && in.front() != '1')) return false;
    flag = in.front() == '1';
    in.remove_prefix(1);
    return true;
  };
  for (std::string_view in : records) {
    if (in.size() < 2 || in[0] != kStateFormat || (in[1] != 'F' && in[1] != 'D')) return false;
    if (in[1] == 'F') runs.clear();
    in.remove_prefix(2);
    while (!in.empty()) {
      const char op = in.front();
      in.remove_prefix(1);
      uint64_t hash;
      if ((op != 'U' && op != 'E') || !GetHash(in, hash)) return false;
      if (op == 'E') {
        runs.erase(hash);
        continue;
      }
      Run r;
      bool fired;
      if (!get_tally(in, r.tally) || !get_flag(in, fired)) return false;
      if (fired) {
        auto f = std::make_unique<Fired>();
        if (!GetString(in, f->key) || !GetString(in, f->tenant) || !GetString(in, f->feature) ||
            !GetString(in, f->environment) || !get_tally(in, f->at_fire) || !GetInt(in, f->fired_ms) ||
            !get_flag(in, f->resolved))
          return false;
        r.fired = std::move(f);
      }
      runs[hash] = std::move(r);
    }
  }
  runs_ = std::move(runs);
  changed_.clear();
  erased_.clear();
  pending_.clear();
  // Offer again what these runs decided: the handing on may not have
  // happened before the state was saved (the outbox takes each transition
  // once). In key order, so every restore offers them alike.
  std::vector<Run*> fired;
  for (auto& [_, run] : runs_) {
    if (run.fired) fired.push_back(&run);
  }
  std::sort(fired.begin(), fired.end(), [](const Run* a, const Run* b) { return a->fired->key < b->fired->key; });
  for (Run* run : fired) {
    Fired& f = *run->fired;
    pending_.push_back(MakeAlert(f, f.at_fire));
    if (f.resolved) {
      pending_.push_back(MakeResolve(f, run->tally));
      f.resolved_take = takes_ + 1;  // handed out by the next TakeAlerts
    }
  }
  return true;
}

size_t RunawayDetector::StateBytes() const {
  // A run within bounds: its hash, a tag and five varints.
  return runs_.size() * 32;
}

}  // namespace burnrate
