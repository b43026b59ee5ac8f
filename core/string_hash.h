// Hashing for std::string_view keys in Abseil maps. Debian's Abseil has its
// own absl::string_view, so absl::Hash<std::string_view> falls back to
// std::hash (a byte-at-a-time hash); this routes through Abseil's fast string
// hash instead.
#pragma once

#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace burnrate {

struct StringViewHash {
  size_t operator()(std::string_view s) const noexcept {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

}  // namespace burnrate
