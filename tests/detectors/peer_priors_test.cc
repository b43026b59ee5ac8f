#include "detectors/peer_priors.h"

#include <gtest/gtest.h>

namespace burnrate {
namespace {

TEST(PeerPriorsTest, FirstWindowSetsTheMedianThenEachWindowMovesItAStep) {
  PeerPriors p;
  EXPECT_EQ(p.Get("env:prod"), 0);
  for (double v : {1.0, 100.0, 3.0}) p.Sample("env:prod", v);
  p.EndWindow();
  EXPECT_EQ(p.Get("env:prod"), 3.0);  // the median: one big key does not drag it
  p.Sample("env:prod", 63.0);
  p.EndWindow();
  EXPECT_DOUBLE_EQ(p.Get("env:prod"), 3.0 + PeerPriors::kWindowWeight * 60.0);
  // A window without samples of a group leaves it alone.
  p.Sample("tenant", 5.0);
  p.EndWindow();
  EXPECT_DOUBLE_EQ(p.Get("env:prod"), 3.0 + PeerPriors::kWindowWeight * 60.0);
  EXPECT_EQ(p.Get("tenant"), 5.0);
}

TEST(PeerPriorsTest, EncodingRoundTripsExactly) {
  PeerPriors p;
  p.Sample("env:staging", 0.1);
  p.Sample("tenant", 1.0 / 3);
  p.EndWindow();
  p.Sample("env:staging", 0.7);
  p.EndWindow();
  auto back = PeerPriors::Decode(p.Encode());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Get("env:staging"), p.Get("env:staging"));
  EXPECT_EQ(back->Get("tenant"), p.Get("tenant"));
  EXPECT_EQ(back->Encode(), p.Encode());
}

TEST(PeerPriorsTest, DecodeRefusesWhatItDidNotWrite) {
  EXPECT_TRUE(PeerPriors::Decode("").has_value());
  EXPECT_FALSE(PeerPriors::Decode("env:prod 1.5").has_value());      // no newline
  EXPECT_FALSE(PeerPriors::Decode("env:prod one\n").has_value());
  EXPECT_FALSE(PeerPriors::Decode("env:prod -2\n").has_value());
  EXPECT_FALSE(PeerPriors::Decode("1.5\n").has_value());              // no group
}

}  // namespace
}  // namespace burnrate
