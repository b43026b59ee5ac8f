// CheckpointCommitter against the in-memory store, and against a store that
// can be held (to fill the queue) or made to fail.
#include "engine/checkpoint_committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "state/memory_state_store.h"

namespace burnrate {
namespace {

constexpr char kTopic[] = "costs";
constexpr std::chrono::seconds kWait{10};  // only reached if the committer hangs

SealedCheckpoint Sealed(uint64_t epoch, int32_t partition, std::optional<int64_t> from,
                        int64_t next,
                        std::vector<std::pair<int64_t, uint64_t>> ids = {}) {
  SealedCheckpoint s;
  s.epoch = epoch;
  s.events = next - from.value_or(0);
  s.checkpoint.partition = partition;
  s.checkpoint.from = from;
  s.checkpoint.next = next;
  s.checkpoint.event_ids = std::move(ids);
  return s;
}

std::vector<CommitReport::Kind> Kinds(const std::vector<CommitReport>& reports) {
  std::vector<CommitReport::Kind> kinds;
  for (const auto& r : reports) kinds.push_back(r.kind);
  return kinds;
}

// The in-memory store behind a gate (Commit waits while it is closed) that
// can also fail a given number of commits.
class GatedStore : public MemoryStateStore {
 public:
  absl::StatusOr<CheckpointOutcome> Commit(const std::string& topic,
                                           const PartitionCheckpoint& c) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --waiting_;
      if (failures_ > 0) {
        --failures_;
        return absl::UnavailableError("store down");
      }
    }
    return MemoryStateStore::Commit(topic, c);
  }
  void SetOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = open;
    changed_.notify_all();
  }
  void FailNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_ = n;
  }
  // Blocks until a commit is waiting at the closed gate.
  void AwaitCommitAtGate() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;
  int failures_ = 0;
  int waiting_ = 0;
};

TEST(CheckpointCommitterTest, CommitsAChainOfCheckpointsInTheOrderSubmitted) {
  MemoryStateStore store;
  CheckpointCommitter committer(store, kTopic, {});
  committer.Submit(Sealed(1, 0, std::nullopt, 10));
  committer.Submit(Sealed(1, 1, std::nullopt, 5));
  committer.Submit(Sealed(1, 0, 10, 20));
  committer.Submit(Sealed(1, 0, 20, 30));
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  const auto reports = committer.TakeReports();
  ASSERT_EQ(reports.size(), 4u);
  for (const auto& r : reports) EXPECT_EQ(r.kind, CommitReport::Kind::kApplied);
  EXPECT_EQ(reports[0].next, 10);
  EXPECT_EQ(reports[1].partition, 1);
  EXPECT_EQ(reports[2].next, 20);
  EXPECT_EQ(reports[3].next, 30);
  EXPECT_EQ(*store.Position(kTopic, 0), std::optional<int64_t>(30));
  EXPECT_EQ(*store.Position(kTopic, 1), std::optional<int64_t>(5));
  EXPECT_TRUE(committer.TakeReports().empty());
  EXPECT_EQ(committer.queued_events(), 0);
}

TEST(CheckpointCommitterTest, AfterARefusalTheRestOfThatEpochIsSkippedAndTheNextEpochApplies) {
  MemoryStateStore store;
  ASSERT_TRUE(store.Commit(kTopic, Sealed(0, 0, std::nullopt, 10).checkpoint).ok());
  CheckpointCommitter committer(store, kTopic, {});
  committer.Submit(Sealed(1, 0, 0, 15));   // the store holds 10: refused
  committer.Submit(Sealed(1, 0, 15, 20));  // builds on the refused one
  committer.Submit(Sealed(1, 1, std::nullopt, 3));  // another partition goes on
  committer.Submit(Sealed(2, 0, 10, 20));  // reloaded from the store
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  EXPECT_EQ(Kinds(committer.TakeReports()),
            (std::vector<CommitReport::Kind>{
                CommitReport::Kind::kStalePosition, CommitReport::Kind::kSkipped,
                CommitReport::Kind::kApplied, CommitReport::Kind::kApplied}));
  EXPECT_EQ(*store.Position(kTopic, 0), std::optional<int64_t>(20));
}

TEST(CheckpointCommitterTest, ReportsDuplicatesWithTheirMinute) {
  MemoryStateStore store;
  CheckpointCommitter committer(store, kTopic, {});
  committer.Submit(Sealed(1, 0, std::nullopt, 2, {{60'000, 7}, {60'000, 8}}));
  committer.Submit(Sealed(1, 1, std::nullopt, 2, {{120'000, 9}, {60'000, 8}}));
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  const auto reports = committer.TakeReports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].kind, CommitReport::Kind::kApplied);
  EXPECT_EQ(reports[1].kind, CommitReport::Kind::kDuplicateEvents);
  EXPECT_EQ(reports[1].duplicates, (std::vector<std::pair<int64_t, uint64_t>>{{60'000, 8}}));
  EXPECT_EQ(*store.Position(kTopic, 1), std::nullopt);  // nothing of it applied
}

TEST(CheckpointCommitterTest, TheQueueIsFullAtItsBoundButAlwaysTakesOneCheckpoint) {
  GatedStore store;
  CheckpointCommitterOptions options;
  options.max_queued_events = 100;
  CheckpointCommitter committer(store, kTopic, options);
  EXPECT_TRUE(committer.HasRoomFor(1'000));  // empty: any size fits
  store.SetOpen(false);
  committer.Submit(Sealed(1, 0, std::nullopt, 60));
  store.AwaitCommitAtGate();
  // Still held while the store works on it.
  EXPECT_EQ(committer.queued_events(), 60);
  EXPECT_TRUE(committer.HasRoomFor(40));
  EXPECT_FALSE(committer.HasRoomFor(41));
  committer.Submit(Sealed(1, 0, 60, 100));
  EXPECT_FALSE(committer.HasRoomFor(1));
  EXPECT_FALSE(committer.WaitForReport(std::chrono::milliseconds(1)));
  store.SetOpen(true);
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  EXPECT_TRUE(committer.HasRoomFor(1'000));
  EXPECT_EQ(committer.TakeReports().size(), 2u);
  EXPECT_EQ(*store.Position(kTopic, 0), std::optional<int64_t>(100));
}

TEST(CheckpointCommitterTest, RetriesAFailingStoreUntilItAnswers) {
  GatedStore store;
  store.FailNext(3);
  CheckpointCommitterOptions options;
  options.retry_delay = std::chrono::milliseconds(1);
  std::atomic<int> errors{0};
  options.on_store_error = [&errors](const absl::Status&) { ++errors; };
  CheckpointCommitter committer(store, kTopic, options);
  committer.Submit(Sealed(1, 0, std::nullopt, 10));
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  EXPECT_EQ(Kinds(committer.TakeReports()),
            std::vector<CommitReport::Kind>{CommitReport::Kind::kApplied});
  EXPECT_EQ(errors.load(), 3);
  EXPECT_TRUE(committer.store_healthy());
}

TEST(CheckpointCommitterTest, GivesUpOnAFailingStoreWhenStopping) {
  GatedStore store;
  store.FailNext(1);
  CheckpointCommitter committer(store, kTopic, {}, [] { return true; });
  committer.Submit(Sealed(1, 0, std::nullopt, 10));
  committer.Submit(Sealed(1, 0, 10, 20));
  ASSERT_TRUE(committer.WaitUntilIdle(kWait));
  const auto reports = committer.TakeReports();
  EXPECT_EQ(Kinds(reports), (std::vector<CommitReport::Kind>{CommitReport::Kind::kFailed,
                                                             CommitReport::Kind::kSkipped}));
  EXPECT_FALSE(reports[0].error.ok());
  EXPECT_FALSE(committer.store_healthy());
  EXPECT_EQ(*store.Position(kTopic, 0), std::nullopt);
}

}  // namespace
}  // namespace burnrate
