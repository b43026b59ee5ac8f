// Hashing and equality for std::string_view keys in Abseil maps on the hot
// path. Debian's Abseil has its own absl::string_view, so
// absl::Hash<std::string_view> falls back to std::hash (byte at a time);
// this routes through Abseil's string hash instead.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace burnrate {

inline size_t HashStringView(std::string_view s) noexcept {
  return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
}

// A string with its hash computed once, for a name that is looked up in
// several maps per event (the model: price cache, then the window roll-up).
struct HashedStringView {
  HashedStringView() = default;
  explicit HashedStringView(std::string_view s) : text(s), hash(HashStringView(s)) {}
  operator std::string_view() const { return text; }  // for equality
  std::string_view text;
  size_t hash = 0;
};

// Transparent: maps keyed by std::string or std::string_view also take a
// HashedStringView, and then do not hash again.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return HashStringView(s); }
  size_t operator()(const HashedStringView& s) const noexcept { return s.hash; }
};

// Equality without a libc call for short keys (compared in 8-byte words).
struct StringViewEq {
  using is_transparent = void;
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
