#include "metrics/labels.h"

#include <gtest/gtest.h>

namespace burnrate {
namespace {

TEST(SanitizeLabelValue, KeepsOrdinaryNames) {
  EXPECT_EQ(SanitizeLabelValue("acme-corp", 64), "acme-corp");
  EXPECT_EQ(SanitizeLabelValue("caf\xC3\xA9 \xE2\x82\xAC", 64), "caf\xC3\xA9 \xE2\x82\xAC");
}

TEST(SanitizeLabelValue, EmptyBecomesUnknown) { EXPECT_EQ(SanitizeLabelValue("", 64), "unknown"); }

TEST(SanitizeLabelValue, CutsAtLimitWithoutSplittingACharacter) {
  EXPECT_EQ(SanitizeLabelValue(std::string(100, 'x'), 64), std::string(64, 'x'));
  // 63 ASCII bytes then a 2-byte character: the character does not fit.
  const std::string value = std::string(63, 'a') + "\xC3\xA9";
  EXPECT_EQ(SanitizeLabelValue(value, 64), std::string(63, 'a'));
}

TEST(SanitizeLabelValue, ReplacesInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(SanitizeLabelValue("a\xFF"
                               "b",
                               64),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeLabelValue("\xC0\xAF", 64), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(SanitizeLabelValue("\xED\xA0\x80", 64),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");                            // surrogate
  EXPECT_EQ(SanitizeLabelValue("x\xE2\x82", 64), "x\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(SanitizeLabelValue("a\nb\tc\x7f", 64), "a?b?c?");
  // Quotes and backslashes are the serializer's job and pass through.
  EXPECT_EQ(SanitizeLabelValue("a\"b\\c", 64), "a\"b\\c");
}

}  // namespace
}  // namespace burnrate
