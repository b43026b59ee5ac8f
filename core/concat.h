// Concat(a, b, ...): joins strings, string views, characters and numbers into
// a std::string. Debian's Abseil is built with its own string_view type, so
// absl::StrCat does not take std::string_view; messages here use this instead.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace burnrate {
namespace concat_internal {

inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <typename T>
  requires std::is_arithmetic_v<T> && (!std::is_same_v<T, char>) && (!std::is_same_v<T, bool>)
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
inline void Append(std::string& out, bool b) { out.append(b ? "true" : "false"); }

}  // namespace concat_internal

template <typename... Args>
std::string Concat(const Args&... args) {
  std::string out;
  (concat_internal::Append(out, args), ...);
  return out;
}

// Joins `items` with `separator`.
template <typename Range>
std::string JoinStrings(const Range& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out.append(separator);
    first = false;
    out.append(std::string_view(item));
  }
  return out;
}

}  // namespace burnrate
