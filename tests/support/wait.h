// Waiting on conditions, so tests never sleep and hope.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace burnrate::testing {

// A deadline as this build's tests wait it: multiplied by the cmake setting
// BURNRATE_TEST_TIMEOUT_SCALE (4 under scripts/test --sanitize, where every
// process runs several times slower). WaitFor and ChildProcess::Wait apply
// it themselves.
std::chrono::milliseconds Scaled(std::chrono::milliseconds deadline);

// Evaluates predicate every 20 ms until it returns true (returns true) or
// deadline (scaled) has passed (returns false, after one last evaluation, and prints
// description to stderr so the log says what was being waited for).
// Typical use: ASSERT_TRUE(WaitFor([&] { return ...; }, 10s, "engine ready"));
bool WaitFor(const std::function<bool()>& predicate, std::chrono::milliseconds deadline,
             std::string_view description);

}  // namespace burnrate::testing
