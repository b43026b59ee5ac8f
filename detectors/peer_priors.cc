#include "detectors/peer_priors.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace burnrate {

void PeerPriors::Sample(const std::string& group, double usd_per_hour) {
  samples_[group].push_back(usd_per_hour);
}

void PeerPriors::EndWindow() {
  for (auto& [group, values] : samples_) {
    if (values.empty()) continue;
    const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), mid, values.end());
    const double median = *mid;
    auto [it, first] = priors_.try_emplace(group, median);
    if (!first) it->second += kWindowWeight * (median - it->second);
  }
  samples_.clear();
}

double PeerPriors::Get(const std::string& group) const {
  auto it = priors_.find(group);
  return it == priors_.end() ? 0 : it->second;
}

std::string PeerPriors::Encode() const {
  // Sorted, so equal priors encode to equal bytes.
  std::vector<std::pair<std::string, double>> sorted(priors_.begin(), priors_.end());
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [group, value] : sorted) {
    char buf[40];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);  // 17 digits: the double comes back exactly
    out += group;
    out += buf;
  }
  return out;
}

std::optional<PeerPriors> PeerPriors::Decode(std::string_view text) {
  PeerPriors p;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) return std::nullopt;
    double value = 0;
    const std::string_view number = line.substr(space + 1);
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || ptr != number.data() + number.size() || !(value >= 0)) return std::nullopt;
    p.priors_[std::string(line.substr(0, space))] = value;
  }
  return p;
}

}  // namespace burnrate
