#include "consumers/commit_retries.h"

#include <gtest/gtest.h>

#include <chrono>
#include <utility>
#include <vector>

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using Offsets = std::vector<std::pair<int32_t, int64_t>>;

const auto kOwnsAll = [](int32_t) { return true; };

class CommitRetriesTest : public ::testing::Test {
 protected:
  CommitRetries::TimePoint t0_ = std::chrono::steady_clock::now();
  CommitRetries retries_;

  Offsets Take(CommitRetries::TimePoint at, Offsets offsets = {}) {
    retries_.TakeDue(at, kOwnsAll, offsets);
    return offsets;
  }
};

TEST_F(CommitRetriesTest, AFailedCommitIsSentAgainOnceTheDelayHasPassed) {
  retries_.Failed(2, 500, t0_);
  EXPECT_EQ(Take(t0_ + 100ms), Offsets{}) << "not within the delay: a rebalance is still going on";
  EXPECT_EQ(Take(t0_ + CommitRetries::kRetryDelay), (Offsets{{2, 500}}));
  EXPECT_EQ(Take(t0_ + 1h), Offsets{}) << "taken once; it comes back only if it fails again";
  EXPECT_EQ(retries_.pending(), 0u);
}

TEST_F(CommitRetriesTest, AnOffsetHeldBackWhileRejoiningGoesWithTheNextCommit) {
  retries_.Defer(0, 70);
  retries_.Defer(0, 80);
  EXPECT_EQ(Take(t0_), (Offsets{{0, 80}})) << "no delay: nothing failed";
  retries_.Failed(1, 5, t0_);
  retries_.Defer(2, 6);
  EXPECT_EQ(Take(t0_), Offsets{}) << "a failure delays what is held back with it";
  EXPECT_EQ(Take(t0_ + CommitRetries::kRetryDelay), (Offsets{{1, 5}, {2, 6}}));
}

TEST_F(CommitRetriesTest, TheLargerOffsetWinsPerPartition) {
  retries_.Failed(1, 300, t0_);
  retries_.Failed(1, 200, t0_);  // answers can come in any order
  retries_.Failed(3, 50, t0_);
  const auto later = t0_ + CommitRetries::kRetryDelay;
  EXPECT_EQ(Take(later, {{1, 250}, {0, 9}}), (Offsets{{1, 300}, {0, 9}, {3, 50}}));
  retries_.Failed(0, 40, later);
  EXPECT_EQ(Take(later + CommitRetries::kRetryDelay, {{0, 41}}), (Offsets{{0, 41}}))
      << "a newer position to commit already covers the failed one";
}

TEST_F(CommitRetriesTest, AFailureOlderThanAnAcknowledgedCommitIsNotSent) {
  retries_.Succeeded(4, 700);
  retries_.Failed(4, 650, t0_);  // its answer came late
  EXPECT_EQ(retries_.pending(), 0u);
  retries_.Failed(4, 800, t0_);
  retries_.Succeeded(4, 900);
  EXPECT_EQ(retries_.pending(), 0u) << "a later commit succeeded: the failed one is moot";
  EXPECT_EQ(Take(t0_ + 1h), Offsets{});
}

TEST_F(CommitRetriesTest, PartitionsThatMovedAwayAreLeftToTheirNextOwner) {
  retries_.Failed(1, 10, t0_);
  retries_.Failed(2, 20, t0_);
  retries_.Failed(3, 30, t0_);
  retries_.Forget(3);  // revoked or lost
  Offsets offsets;
  retries_.TakeDue(
      t0_ + CommitRetries::kRetryDelay, [](int32_t p) { return p != 2; }, offsets);
  EXPECT_EQ(offsets, (Offsets{{1, 10}}));
  EXPECT_EQ(retries_.pending(), 0u) << "one not owned at the retry is dropped, not kept for later";
}

}  // namespace
}  // namespace burnrate
