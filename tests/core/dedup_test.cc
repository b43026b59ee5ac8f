#include "core/dedup.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <string_view>

namespace burnrate {
namespace {

// The definition of StableHash64 as first written (the tail read with one
// memcpy), kept here to pin the values of the optimised one.
uint64_t ReferenceStableHash64(std::string_view s) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = 0xcbf29ce484222325ull ^ (s.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * kMul;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

TEST(StableHash64, KeepsItsValuesForEveryTailLength) {
  const std::string text = "evt-\xff\x80-0123456789abcdef-ABCDEFGHIJ";
  for (size_t n = 0; n <= text.size(); ++n) {
    const std::string_view s(text.data(), n);
    EXPECT_EQ(StableHash64(s), ReferenceStableHash64(s)) << "length " << n;
  }
}

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

using Claim = ClaimTable::Claim;

TEST(ClaimTable, AnIdBelongsToTheFirstPartitionThatClaimsIt) {
  ClaimTable claims(60'000);
  EXPECT_EQ(claims.Take(1, /*partition=*/0, EventTimeMs(1'000)), Claim::kNew);
  EXPECT_EQ(claims.Take(1, 0, EventTimeMs(1'000)), Claim::kOwn)
      << "counted again by its own partition";
  EXPECT_EQ(claims.Take(1, 1, EventTimeMs(1'000)), Claim::kElsewhere)
      << "a copy in another partition";
}

TEST(ClaimTable, ReleasingAPartitionFreesOnlyItsClaims) {
  ClaimTable claims(60'000);
  ASSERT_EQ(claims.Take(1, 0, EventTimeMs(1'000)), Claim::kNew);
  ASSERT_EQ(claims.Take(2, 1, EventTimeMs(1'000)), Claim::kNew);
  claims.Release(0);
  EXPECT_EQ(claims.Take(1, 1, EventTimeMs(1'000)), Claim::kNew);
  EXPECT_EQ(claims.Take(2, 0, EventTimeMs(1'000)), Claim::kElsewhere);
}

TEST(ClaimTable, KeepsClaimsUntilTheSlowestPartitionHasPassedThem) {
  ClaimTable claims(60'000);
  ASSERT_EQ(claims.Take(7, 0, EventTimeMs(0)), Claim::kNew);
  // Partition 1 races ahead by two horizons; partition 0 stays at t=0, so a
  // copy of id 7 can still arrive there... or in partition 2, which starts late.
  for (int64_t t = 0; t <= 120'000; t += 1'000) claims.Take(1'000 + t, 1, EventTimeMs(t));
  EXPECT_EQ(claims.Take(7, 2, EventTimeMs(0)), Claim::kElsewhere);
  // Once partitions 0 and 2 have moved on by the horizon too, it expires.
  for (int64_t t = 0; t <= 120'000; t += 1'000) {
    claims.Take(500'000 + t, 0, EventTimeMs(t));
    claims.Take(700'000 + t, 2, EventTimeMs(t));
  }
  for (int64_t t = 121'000; t <= 200'000; t += 1'000) claims.Take(1'000 + t, 1, EventTimeMs(t));
  EXPECT_EQ(claims.Take(7, 3, EventTimeMs(0)), Claim::kNew);
}

TEST(ClaimTable, APartitionFarBehindNoLongerHoldsEveryClaim) {
  ClaimTable claims(60'000);
  ASSERT_EQ(claims.Take(7, 0, EventTimeMs(0)), Claim::kNew);  // partition 0 then stalls
  for (int64_t t = 0; t <= 600'000; t += 1'000) claims.Take(1'000 + t, 1, EventTimeMs(t));
  // Memory stays bounded: five horizons behind the latest time at most.
  EXPECT_LT(claims.size(), 5u * 60 + 20);
  EXPECT_EQ(claims.Take(7, 2, EventTimeMs(0)), Claim::kNew);
}

}  // namespace
}  // namespace burnrate
