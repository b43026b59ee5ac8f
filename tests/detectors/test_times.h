// Event times the detector tests lay their streams out from.
#pragma once

#include <cstdint>

namespace burnrate::testing {

inline constexpr int64_t kMonday = 1'772'409'600'000;  // 2026-03-02T00:00:00Z
inline constexpr int64_t kHour = 3'600'000;

}  // namespace burnrate::testing
