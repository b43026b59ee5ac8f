// What established keys of a kind typically spend: the prior a young key's
// baseline leans on (its environment's keys for a window key, all tenants
// for a tenant roll-up).
//
// Learnt from the windows themselves, so that replay and run (and any
// replica that takes over) hold the same priors: after each window, the
// median hourly spend of the established keys that had traffic in it moves
// each group's prior a step (an exponentially weighted mean over about an
// hour of windows). The state is a few numbers, saved with the histories.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace burnrate {

class PeerPriors {
 public:
  // One established key's typical hourly spend, seen in this window.
  void Sample(const std::string& group, double usd_per_hour);
  // Folds this window's samples into the priors and forgets them.
  void EndWindow();
  // The group's prior in USD per hour; 0 before anything was learnt.
  double Get(const std::string& group) const;

  // Text form for the state store ("<group> <value>" lines, values exact).
  std::string Encode() const;
  static std::optional<PeerPriors> Decode(std::string_view text);

  // Weight of one window's median (about the last 60 windows count).
  static constexpr double kWindowWeight = 1.0 / 60;

 private:
  absl::flat_hash_map<std::string, double> priors_;
  absl::flat_hash_map<std::string, std::vector<double>> samples_;
};

}  // namespace burnrate
