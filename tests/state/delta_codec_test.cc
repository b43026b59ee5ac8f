#include "state/delta_codec.h"

#include <gtest/gtest.h>

#include <limits>

namespace burnrate {
namespace {

TEST(DeltaCodec, RoundTripsKeysModelsAndExtremeCounters) {
  WindowTotals a;
  a.events = 3;
  a.tokens[TokenKind::kInput] = 1'234'567;
  a.tokens[Layer::kMemory] = 1;
  a.cost = Money::FromPicodollars(std::numeric_limits<int64_t>::max());
  WindowTotals b;
  b.unpriced_events = 1;
  b.cost = Money::FromPicodollars(-5);  // deltas may be negative in principle
  std::string blob;
  std::string binary_key("\x00\x01k\xff", 4);
  AppendDeltaRecord(binary_key, false, a, blob);
  AppendDeltaRecord("gpt-4o", true, b, blob);
  AppendDeltaRecord("empty", false, WindowTotals{}, blob);

  std::vector<std::tuple<std::string, bool, WindowTotals>> got;
  ASSERT_TRUE(DecodeDeltaRecords(blob, [&](std::string_view k, bool m, const WindowTotals& t) {
    got.emplace_back(std::string(k), m, t);
  }));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(std::get<0>(got[0]), binary_key);
  EXPECT_FALSE(std::get<1>(got[0]));
  EXPECT_EQ(std::get<2>(got[0]), a);
  EXPECT_EQ(std::get<0>(got[1]), "gpt-4o");
  EXPECT_TRUE(std::get<1>(got[1]));
  EXPECT_EQ(std::get<2>(got[1]), b);
  EXPECT_EQ(std::get<2>(got[2]), WindowTotals{});
}

TEST(DeltaCodec, RefusesTruncatedOrForeignBytes) {
  WindowTotals a;
  a.events = 300;
  std::string blob;
  AppendDeltaRecord("key", false, a, blob);
  const auto ignore = [](std::string_view, bool, const WindowTotals&) {};
  for (size_t cut = 1; cut < blob.size(); ++cut) {
    EXPECT_FALSE(DecodeDeltaRecords(std::string_view(blob).substr(0, cut), ignore)) << cut;
  }
  EXPECT_FALSE(DecodeDeltaRecords("x", ignore));
  EXPECT_TRUE(DecodeDeltaRecords("", ignore));
}

}  // namespace
}  // namespace burnrate
