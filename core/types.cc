#include "core/types.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace burnrate {

Money Money::FromDollars(double dollars) {
  // Producers' reported costs are untrusted input: NaN has no meaningful
  // amount, and llround on a value outside int64 is undefined, so both are
  // handled before rounding instead of trusting the caller to have checked.
  if (std::isnan(dollars)) return Money();
  // A double product cannot hold odd picodollar counts above about $9,000
  // (2^53 picos); x86-64's long double has an 11-bit wider mantissa, so the
  // product stays within a fraction of a picodollar of the exact one.
  const long double picos =
      std::roundl(static_cast<long double>(dollars) * static_cast<long double>(kPicosPerDollar));
  constexpr long double kTwoTo63 = 9223372036854775808.0L;
  if (picos >= kTwoTo63) return Money(std::numeric_limits<int64_t>::max());
  if (picos < -kTwoTo63) return Money(std::numeric_limits<int64_t>::min());
  return Money(static_cast<int64_t>(picos));
}

}  // namespace burnrate
