#include "tests/support/wait.h"

#include <algorithm>
#include <iostream>
#include <thread>

namespace burnrate::testing {

std::chrono::milliseconds Scaled(std::chrono::milliseconds deadline) {
  return deadline * BURNRATE_TEST_TIMEOUT_SCALE;
}

bool WaitFor(const std::function<bool()>& predicate, std::chrono::milliseconds deadline,
             std::string_view description) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kPollInterval = std::chrono::milliseconds(20);
  const auto start = Clock::now();
  deadline = Scaled(deadline);
  const auto until = start + deadline;
  while (true) {
    if (predicate()) return true;
    const auto now = Clock::now();
    if (now >= until) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, until - now));
  }
  // The condition may have become true during the last interval.
  if (predicate()) return true;
  std::cerr << "[WaitFor] gave up after " << deadline.count() << " ms waiting for: " << description
            << "\n";
  return false;
}

}  // namespace burnrate::testing
