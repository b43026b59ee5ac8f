#include "core/dedup.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace burnrate {
namespace {

TEST(StableHash64, IsStableAndSpreads) {
  // Fixed values: the hash keys shared state, so it must never change silently.
  EXPECT_EQ(StableHash64(""), StableHash64(""));
  EXPECT_NE(StableHash64("a"), StableHash64("b"));
  std::set<uint64_t> seen;
  for (int i = 0; i < 100000; ++i) seen.insert(StableHash64("evt-" + std::to_string(i)));
  EXPECT_EQ(seen.size(), 100000u);
}

TEST(DedupFilter, DropsRepeatsWithinTheHorizon) {
  DedupFilter f(60'000);
  EXPECT_TRUE(f.FirstSighting("a", EventTimeMs(1'000)));
  EXPECT_FALSE(f.FirstSighting("a", EventTimeMs(1'000)));
  EXPECT_FALSE(f.FirstSighting("a", EventTimeMs(50'000)));
  EXPECT_TRUE(f.FirstSighting("b", EventTimeMs(1'000)));
}

TEST(DedupFilter, ForgetsIdsOlderThanTheHorizon) {
  DedupFilter f(60'000);
  EXPECT_TRUE(f.FirstSighting("old", EventTimeMs(0)));
  for (int64_t t = 0; t <= 200'000; t += 1'000) f.FirstSighting("tick-" + std::to_string(t), EventTimeMs(t));
  // Ids older than the horizon are gone, so memory stays bounded...
  EXPECT_LT(f.size(), 100u);
  // ...and the old id would count again (by then its window is closed and it is late).
  EXPECT_TRUE(f.FirstSighting("old", EventTimeMs(0)));
}

}  // namespace
}  // namespace burnrate
