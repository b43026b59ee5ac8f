#include "metrics/top_keys.h"

#include <algorithm>
#include <cmath>

namespace burnrate {

TopKeyTracker::TopKeyTracker(size_t slots, size_t candidates, int64_t half_life_ms)
    : slots_(slots), capacity_(std::max(candidates, slots)), half_life_ms_(half_life_ms) {}

void TopKeyTracker::Add(const std::string& key, double weight) {
  if (capacity_ == 0 || !(weight > 0)) return;
  total_ += weight;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    order_.erase({it->second.count, &it->first});
    it->second.count += weight;
    order_.emplace(it->second.count, &it->first);
    return;
  }
  Entry entry{weight, 0};
  if (entries_.size() >= capacity_) {
    // Space-Saving: the newcomer replaces the lightest candidate and inherits
    // its count as possible overestimate.
    const auto lightest = order_.begin();
    const std::string* lightest_key = lightest->second;
    entry = Entry{lightest->first + weight, lightest->first};
    order_.erase(lightest);
    entries_.erase(*lightest_key);
  }
  auto [inserted, ok] = entries_.emplace(key, entry);
  order_.emplace(inserted->second.count, &inserted->first);
}

void TopKeyTracker::AdvanceTo(int64_t time_ms) {
  if (!has_clock_) {
    has_clock_ = true;
    clock_ms_ = time_ms;
    return;
  }
  if (time_ms <= clock_ms_ || half_life_ms_ <= 0) return;
  const double factor =
      std::exp2(-static_cast<double>(time_ms - clock_ms_) / static_cast<double>(half_life_ms_));
  clock_ms_ = time_ms;
  total_ *= factor;
  // Scaling every count by the same factor keeps their order.
  Order scaled;
  for (auto& [key, e] : entries_) {
    e.count *= factor;
    e.error *= factor;
    scaled.emplace(e.count, &key);
  }
  order_.swap(scaled);
}

}  // namespace burnrate
