#include "core/time_format.h"

#include <gtest/gtest.h>

namespace burnrate {
namespace {

TEST(TimeFormat, ParsesUtcWithAndWithoutFraction) {
  EXPECT_EQ(ParseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22T16:30:00Z"), 1795365000000);
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22T16:30:00.5Z"), 1795365000500);
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22T16:30:00.123456789Z"), 1795365000123);
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22 16:30:00Z"), 1795365000000);
}

TEST(TimeFormat, AppliesOffsets) {
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22T17:30:00+01:00"), ParseRfc3339Ms("2026-11-22T16:30:00Z"));
  EXPECT_EQ(ParseRfc3339Ms("2026-11-22T11:00:00-05:30"), ParseRfc3339Ms("2026-11-22T16:30:00Z"));
}

TEST(TimeFormat, RejectsWhatIsNotRfc3339) {
  for (const char* bad : {"", "2026-11-22", "2026-11-22T16:30:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-22T24:00:00Z",
                          "2026-11-22T16:30:00.Z", "2026-11-22T16:30:00Zjunk", "20x6-11-22T16:30:00Z",
                          "2026-11-22T16:30:00+1:00"}) {
    EXPECT_FALSE(ParseRfc3339Ms(bad).has_value()) << bad;
  }
  EXPECT_TRUE(ParseRfc3339Ms("2024-02-29T00:00:00Z").has_value());
}

TEST(TimeFormat, FormatsRoundTrip) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1795365000123), "2026-11-22T16:30:00.123Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t t = 946684800000; t < 4102444800000; t += 7919LL * 3600 * 1000 + 12345) {
    EXPECT_EQ(ParseRfc3339Ms(FormatRfc3339Ms(t)), t);
  }
}

}  // namespace
}  // namespace burnrate
