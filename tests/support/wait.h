// Waiting on conditions, so tests never sleep and hope.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace burnrate::testing {

// Evaluates predicate every 20 ms until it returns true (returns true) or
// deadline has passed (returns false, after one last evaluation, and prints
// description to stderr so the log says what was being waited for).
// Typical use: ASSERT_TRUE(WaitFor([&] { return ...; }, 10s, "engine ready"));
bool WaitFor(const std::function<bool()>& predicate, std::chrono::milliseconds deadline,
             std::string_view description);

}  // namespace burnrate::testing
