// Hashing and equality for std::string_view keys in Abseil maps on the hot
// path. Debian's Abseil has its own absl::string_view, so
// absl::Hash<std::string_view> falls back to std::hash (byte at a time);
// this routes through Abseil's string hash instead.
#pragma once

#include <cstring>
#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace burnrate {

struct StringViewHash {
  size_t operator()(std::string_view s) const noexcept {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

// Equality without a libc call for short keys (compared in 8-byte words).
struct StringViewEq {
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    if (a.size() != b.size()) return false;
    const size_t n = a.size();
    if (n < 8) {
      for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
      }
      return true;
    }
    uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a.data() + n - 8, 8);
    std::memcpy(&y, b.data() + n - 8, 8);
    return x == y;
  }
};

}  // namespace burnrate
