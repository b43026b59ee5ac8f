// Strong types for domain values that are easy to mix up: event time vs window
// start, money vs token counts, Kafka partition vs offset.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace burnrate {

// A value of type T that only converts to and from T explicitly. Tag makes
// two NamedTypes over the same T distinct.
template <typename T, typename Tag>
class NamedType {
 public:
  using ValueType = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;

 private:
  T value_{};
};

// Milliseconds since the Unix epoch at which an LLM call happened.
using EventTimeMs = NamedType<int64_t, struct EventTimeTag>;
// Milliseconds since the Unix epoch at which a tumbling window starts.
using WindowStartMs = NamedType<int64_t, struct WindowStartTag>;
using KafkaPartition = NamedType<int32_t, struct KafkaPartitionTag>;
using KafkaOffset = NamedType<int64_t, struct KafkaOffsetTag>;

// An amount of US dollars held exactly as an integer count of picodollars
// (1e-12 USD). Per-token list prices are whole picodollars (a price quoted
// per million tokens with up to six decimals), so sums of costs are exact and
// replaying events in any order gives bit-identical totals. int64 holds up to
// about 9.2 million USD, far above what one window of one key spends; sums
// saturate there instead of wrapping, so a flood of absurd reported costs
// shows as an absurd figure, never as a negative one. Costs are never
// negative, so a saturated sum is the same in any order.
class Money {
 public:
  static constexpr int64_t kPicosPerDollar = 1'000'000'000'000;

  constexpr Money() = default;
  static constexpr Money FromPicodollars(int64_t picos) { return Money(picos); }
  // Rounds to the nearest picodollar.
  static Money FromDollars(double dollars);

  constexpr int64_t picodollars() const { return picos_; }
  double dollars() const { return static_cast<double>(picos_) / kPicosPerDollar; }

  constexpr Money& operator+=(Money other) {
    if (__builtin_add_overflow(picos_, other.picos_, &picos_)) picos_ = Saturated(other.picos_ > 0);
    return *this;
  }
  constexpr Money& operator-=(Money other) {
    if (__builtin_sub_overflow(picos_, other.picos_, &picos_)) picos_ = Saturated(other.picos_ < 0);
    return *this;
  }
  friend constexpr Money operator+(Money a, Money b) { return a += b; }
  friend constexpr Money operator-(Money a, Money b) { return a -= b; }
  constexpr auto operator<=>(const Money&) const = default;

 private:
  constexpr explicit Money(int64_t picos) : picos_(picos) {}
  static constexpr int64_t Saturated(bool up) {
    return up ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  int64_t picos_ = 0;
};

}  // namespace burnrate

template <typename T, typename Tag>
struct std::hash<burnrate::NamedType<T, Tag>> {
  size_t operator()(const burnrate::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
