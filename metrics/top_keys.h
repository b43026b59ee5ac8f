// Chooses which keys of an unbounded stream (tenants, models) deserve a
// Prometheus label set of their own, so that /metrics stays small however
// many distinct names the events carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace burnrate {

// A weighted Space-Saving sketch (Metwally et al.) over spend, with
// exponential decay in event time, plus a fixed number of slots.
//
// The sketch follows at most `candidates` keys in bounded memory; any key
// whose decayed spend exceeds total/candidates is guaranteed to be among
// them, with an estimate that overcounts by at most `error`. At each
// Promote() call, candidates whose spend is certainly above that noise floor
// (estimate minus error >= total/candidates) get a free slot, heaviest first.
// A slot, once given, is kept for the life of the process: a counter that
// lost its label set would look like a reset (or simply vanish) to
// Prometheus.
//
// So a stream of many equal small spenders promotes nobody (everything stays
// in "other") instead of handing the slots to whoever came first, and a key
// that starts spending heavily later still gets a slot while slots are free.
// Once all slots are taken, newcomers stay in "other".
//
// Not thread-safe; SpendProbe guards it.
class TopKeyTracker {
 public:
  TopKeyTracker(size_t slots, size_t candidates, int64_t half_life_ms);

  // Adds `weight` (>= 0) to `key`.
  void Add(const std::string& key, double weight);
  // Ages every weight by the time elapsed from the previous call (event time,
  // epoch ms); the first call only sets the clock. Time going backwards is
  // ignored.
  void AdvanceTo(int64_t time_ms);
  // Gives free slots to the candidates that qualify (see above) and calls
  // `on_promoted(key)` for each, heaviest first.
  template <typename F>
  void Promote(F&& on_promoted);

  bool HasSlot(const std::string& key) const { return slotted_.contains(key); }
  size_t slots_used() const { return slotted_.size(); }
  size_t candidates() const { return entries_.size(); }
  double total() const { return total_; }

 private:
  struct Entry {
    double count = 0;
    double error = 0;
  };
  // (count, key), lightest first; equal counts by key, so the outcome does
  // not depend on addresses.
  struct ByCount {
    bool operator()(const std::pair<double, const std::string*>& a,
                    const std::pair<double, const std::string*>& b) const {
      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
    }
  };
  using Order = std::set<std::pair<double, const std::string*>, ByCount>;

  size_t slots_;
  size_t capacity_;
  int64_t half_life_ms_;
  int64_t clock_ms_ = 0;
  bool has_clock_ = false;
  double total_ = 0;
  // Node-based map: Order points at its keys, which must not move.
  std::unordered_map<std::string, Entry> entries_;
  Order order_;
  std::unordered_set<std::string> slotted_;
};

template <typename F>
void TopKeyTracker::Promote(F&& on_promoted) {
  if (slotted_.size() >= slots_ || total_ <= 0) return;
  const double threshold = total_ / static_cast<double>(capacity_);
  for (auto it = order_.rbegin(); it != order_.rend() && slotted_.size() < slots_; ++it) {
    const std::string& key = *it->second;
    const Entry& e = entries_.at(key);
    if (e.count < threshold) break;  // sorted: nobody after this qualifies
    if (e.count - e.error < threshold || slotted_.contains(key)) continue;
    slotted_.insert(key);
    on_promoted(key);
  }
}

}  // namespace burnrate
