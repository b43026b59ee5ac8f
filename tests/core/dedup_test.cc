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

}  // namespace
}  // namespace burnrate
