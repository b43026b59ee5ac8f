#include <gtest/gtest.h>

#include "config/config.h"

namespace burnrate {
namespace {

TEST(MetricsConfig, DefaultsWithoutASection) {
  auto c = ParseConfig("", "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics.top_keys, 200u);
  EXPECT_EQ(c->metrics.top_models, 50u);
  EXPECT_EQ(c->metrics.max_label_bytes, 64u);
  EXPECT_EQ(c->metrics.spend_half_life_ms, 3'600'000);
}

TEST(MetricsConfig, ReadsTheSection) {
  auto c = ParseConfig(
      "metrics:\n  top_keys: 500\n  top_models: 20\n  max_label_bytes: 32\n"
      "  spend_half_life: 6h\n",
      "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics.top_keys, 500u);
  EXPECT_EQ(c->metrics.top_models, 20u);
  EXPECT_EQ(c->metrics.max_label_bytes, 32u);
  EXPECT_EQ(c->metrics.spend_half_life_ms, 6 * 3'600'000);
  EXPECT_NE(ExplainConfig(*c).find("top 500"), std::string::npos);
}

TEST(MetricsConfig, RejectsTyposAndOutOfRangeValuesWithTheLine) {
  auto c = ParseConfig("metrics:\n  top_key: 10\n", "test.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("test.yaml:2: unknown key 'top_key'"), std::string::npos)
      << c.status();
  c = ParseConfig("metrics:\n  top_keys: 100000\n", "test.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("test.yaml:2: metrics.top_keys must be between 0 and 2000"),
            std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace burnrate
