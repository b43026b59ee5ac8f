// RunEngine against the in-memory state store: replicas, partitions, seeks
// and clocks are simulated, so exactness rules can be checked without Kafka.
#include "engine/run_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/json_output.h"
#include "state/memory_state_store.h"
#include "tests/support/captured_log.h"

namespace burnrate {
namespace {

constexpr char kPrices[] = R"(version: "t"
compiled_on: "2026-11-01"
models:
  - model: m
    provider: test
    prices:
      - effective_from: "2020-01-01"
        input: 1.00
        output: 2.00
)";

constexpr int64_t kT0 = 1795365000000;  // 2026-11-22T16:30:00Z

std::string Event(const std::string& id, int64_t ts, const std::string& tenant, int input) {
  return R"({"event_id":")" + id + R"(","ts":)" + std::to_string(ts) + R"(,"tenant":")" + tenant +
         R"(","feature":"f","environment":"prod","model":"m","input_tokens":)" +
         std::to_string(input) + "}";
}

struct NoDeadLetters : DeadLetterSink {
  int count = 0;
  std::pair<int32_t, int64_t> source;                 // of the message being processed
  std::map<std::pair<int32_t, int64_t>, int> distinct;  // (partition, offset) -> times
  std::map<std::pair<int32_t, int64_t>, std::string> reasons;  // the last one given
  void DeadLetter(std::string_view, const Rejection& rejection) override {
    ++count;
    ++distinct[source];
    reasons[source] = std::string(RejectReasonName(rejection.reason)) + "/" + std::string(rejection.detail);
  }
};

struct CollectWindows : WindowRecordSink {
  std::map<std::string, std::string> rows;  // window/key -> row JSON
  int published = 0;
  void Publish(const WindowRecord& r) override {
    if (r.scope != WindowScope::kKey) return;
    std::string json;
    AppendWindowRecordJson(r, json);
    rows[std::to_string(r.start.value()) + "/" + std::string(r.tenant)] = json;
    ++published;
  }
  absl::Status Flush() override { return absl::OkStatus(); }
};

// One simulated replica: an engine plus read positions on its partitions.
struct Replica {
  Replica(const Config& config, const PriceTable& prices, StateStore& store, CollectWindows& out,
          int64_t& now)
      : committer(store, config.kafka.topic, CheckpointCommitterOptions{}),
        engine(
            config, prices, store, committer, dead,
            [this](int32_t p, int64_t o) {
              dead.source = {p, o};
            },
            [this](std::chrono::milliseconds timeout) {
              flush_timeouts.push_back(timeout);
              return flush_result;
            },
            [&now] { return now; }),
        closer(config, store, out) {
    engine.set_seeker([this](int32_t p, int64_t o) {
      cursor[p] = o;
      return absl::OkStatus();
    });
  }
  // Simulated logs: a partition's end is its message count.
  void SetLog(const std::vector<std::vector<std::string>>* log) {
    engine.set_log_bounds([log](int32_t p) {
      return std::pair<int64_t, int64_t>(0, static_cast<int64_t>((*log)[p].size()));
    });
  }
  void Assign(const std::vector<int32_t>& partitions) {
    const auto starts = engine.OnAssigned(partitions);
    for (size_t i = 0; i < partitions.size(); ++i) cursor[partitions[i]] = starts[i].value_or(0);
  }
  // Feeds up to n messages from each assigned partition.
  void Feed(const std::vector<std::vector<std::string>>& log, size_t n) {
    for (auto& [p, at] : cursor) {
      for (size_t k = 0; k < n && at < static_cast<int64_t>(log[p].size()); ++k, ++at) {
        engine.Handle({p, at, log[p][at]});
      }
    }
  }
  // Closes what every partition has passed and tells the engine, as the
  // closer thread of `burnrate run` does.
  absl::Status CloseWindows(int32_t partition_count) {
    auto closed = closer.CloseReady(partition_count);
    if (!closed.ok()) return closed.status();
    if (closer.closed_through()) engine.MarkClosedThrough(*closer.closed_through());
    return absl::OkStatus();
  }
  NoDeadLetters dead;
  absl::Status flush_result;                              // what flushing the outputs returns
  std::vector<std::chrono::milliseconds> flush_timeouts;  // how long each flush could wait
  CheckpointCommitter committer;
  RunEngine engine;
  WindowCloser closer;
  std::map<int32_t, int64_t> cursor;
};

class RunEngineTest : public ::testing::Test {
 protected:
  RunEngineTest() : prices_(*PriceTable::Parse(kPrices, "prices")) {
    config_.kafka.topic = "costs";
    config_.idle_timeout_ms = 5'000;
  }
  void CrashWithOnlyPartitionZeroDurable(int32_t claimer);

  // A first replica counts partition 0's first n messages, makes them
  // durable and hands the partition over (a revoke).
  void CountAndHandOver(const std::vector<std::vector<std::string>>& log, size_t n) {
    Replica first(config_, prices_, store_, out_, now_);
    first.SetLog(&log);
    first.Assign({0});
    first.Feed(log, n);
    ASSERT_TRUE(first.engine.Checkpoint().ok());
    first.engine.OnRevoked({0});
  }

  // One partition of n events of one tenant, all in one window.
  static std::vector<std::vector<std::string>> OneWindowLog(int n) {
    std::vector<std::vector<std::string>> log(1);
    for (int i = 0; i < n; ++i)
      log[0].push_back(Event("e" + std::to_string(i), kT0 + i * 100, "acme", 1));
    return log;
  }
  // A new replica takes partition 0 of `log` over: it resumes at `resume_at`
  // and the window ends with every event of the log counted once.
  void ExpectNextOwnerCountsTheRest(const std::vector<std::vector<std::string>>& log,
                                    int64_t resume_at, const std::string& why) {
    Replica next(config_, prices_, store_, out_, now_);
    next.SetLog(&log);
    next.Assign({0});
    EXPECT_EQ(next.cursor[0], resume_at) << why;
    next.Feed(log, log[0].size());
    now_ += 10'000;
    ASSERT_TRUE(next.engine.Checkpoint().ok());
    ASSERT_TRUE(next.CloseWindows(1).ok());
    ASSERT_EQ(out_.rows.size(), 1u);
    EXPECT_NE(out_.rows.begin()->second.find("\"events\":" + std::to_string(log[0].size()) + ","),
              std::string::npos)
        << out_.rows.begin()->second;
  }

  // Three windows a minute apart (kT0, +1 min, +2 min), one event each, on
  // partition 0: counted, durable and idle, so all three are ready to close.
  void MakeThreeWindowsDurable() {
    std::vector<std::vector<std::string>> log(1);
    for (int i = 0; i < 3; ++i)
      log[0].push_back(Event("w" + std::to_string(i), kT0 + i * 60'000, "acme", 1));
    Replica r(config_, prices_, store_, out_, now_);
    r.SetLog(&log);
    r.Assign({0});
    r.Feed(log, 3);
    now_ += 10'000;
    ASSERT_TRUE(r.engine.Checkpoint().ok());
    ASSERT_TRUE(r.engine.Checkpoint().ok());  // idle now
  }

  // Partition 0 of `log` counts "first" (kT0 + 1 s), is read to its end and
  // quiet until the store has it as idle; then "second" (kT0 + 2 s, the same
  // window) arrives and is counted, not yet checkpointed.
  void IdleThenOneMoreEvent(Replica& r, std::vector<std::vector<std::string>>& log) {
    log[0].push_back(Event("first", kT0 + 1'000, "acme", 1));
    r.SetLog(&log);
    r.Assign({0});
    r.Feed(log, 1);
    now_ += 10'000;  // longer than idle_timeout
    ASSERT_TRUE(r.engine.Checkpoint().ok());
    ASSERT_TRUE(r.engine.Checkpoint().ok());
    ASSERT_TRUE(store_.Progress("costs")->at(0).idle);
    log[0].push_back(Event("second", kT0 + 2'000, "acme", 1));  // the producer wakes up
    r.Feed(log, 1);
  }

  Config config_ = DefaultConfig();
  PriceTable prices_;
  MemoryStateStore store_;
  CollectWindows out_;
  int64_t now_ = kT0 + 3'600'000;
};

TEST_F(RunEngineTest, TwoReplicasWithCrossPartitionDuplicatesCountEachEventOnce) {
  // Four partitions; every 10th event is re-sent into the next partition.
  std::vector<std::vector<std::string>> log(4);
  int64_t expected_input = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string e =
        Event("e" + std::to_string(i), kT0 + i * 1000, "t" + std::to_string(i % 3), i);
    log[i % 4].push_back(e);
    expected_input += i;
    if (i % 10 == 0) log[(i + 1) % 4].push_back(e);
  }
  Replica a(config_, prices_, store_, out_, now_), b(config_, prices_, store_, out_, now_);
  a.SetLog(&log);
  b.SetLog(&log);
  a.Assign({0, 1});
  b.Assign({2, 3});
  // Until every partition is read to its end (re-reads after a refused
  // checkpoint take extra rounds); bounded so a bug cannot hang the test.
  const auto done = [&] {
    for (Replica* r : {&a, &b}) {
      for (const auto& [p, at] : r->cursor) {
        if (at < static_cast<int64_t>(log[p].size())) return false;
      }
    }
    return true;
  };
  for (int round = 0; round < 1000 && !done(); ++round) {
    a.Feed(log, 7);
    b.Feed(log, 5);
    now_ += 100;
    ASSERT_TRUE(a.engine.Checkpoint().ok());
    ASSERT_TRUE(b.engine.Checkpoint().ok());
  }
  ASSERT_TRUE(done());
  // Quiet: every partition goes idle, and every window closes.
  now_ += 10'000;
  ASSERT_TRUE(a.engine.Checkpoint().ok());
  ASSERT_TRUE(b.engine.Checkpoint().ok());
  ASSERT_TRUE(a.CloseWindows(4).ok());
  ASSERT_TRUE(b.CloseWindows(4).ok());

  int64_t events = 0, input = 0;
  for (const auto& [key, row] : out_.rows) {
    const auto events_at = row.find("\"events\":");
    events += std::stoll(row.substr(events_at + 9));
    const auto input_at = row.find("\"input_tokens\":");
    input += std::stoll(row.substr(input_at + 15));
  }
  EXPECT_EQ(events, 400) << "dead letters " << a.dead.count << " + " << b.dead.count;
  EXPECT_EQ(input, expected_input);
  EXPECT_EQ(out_.published, static_cast<int>(out_.rows.size()));  // each window published once
}

TEST_F(RunEngineTest, PipelinedCheckpointsWithCrossPartitionDuplicatesCountEachEventOnce) {
  // As `burnrate run` drives it: checkpoints sealed and handed to the
  // committer while consuming goes on, so several of a partition's are in
  // flight when one is refused for duplicates. Every 7th event is re-sent
  // into the next partition.
  std::vector<std::vector<std::string>> log(4);
  int64_t expected_input = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string e =
        Event("e" + std::to_string(i), kT0 + i * 100, "t" + std::to_string(i % 5), i);
    log[i % 4].push_back(e);
    expected_input += i;
    if (i % 7 == 0) log[(i + 1) % 4].push_back(e);
  }
  Replica a(config_, prices_, store_, out_, now_), b(config_, prices_, store_, out_, now_);
  a.SetLog(&log);
  b.SetLog(&log);
  std::map<RunEngine::CommitResult, int> results;
  for (Replica* r : {&a, &b}) {
    r->engine.set_commit_listener(
        [&results](int32_t, RunEngine::CommitResult result, double) { ++results[result]; });
  }
  a.Assign({0, 1});
  b.Assign({2, 3});
  std::map<int32_t, int64_t> durable;
  for (int round = 0; round < 400; ++round) {
    a.Feed(log, 5);
    b.Feed(log, 3);
    now_ += 10;
    for (Replica* r : {&a, &b}) {
      ASSERT_TRUE(r->engine.Seal().ok());
      for (const auto& [p, offset] : r->engine.CollectCommits()) {
        EXPECT_GE(offset, durable[p]) << "partition " << p << " went back";
        durable[p] = offset;
      }
    }
  }
  // Whatever is left (re-reads after refusals included), then quiet.
  for (int round = 0; round < 100; ++round) {
    a.Feed(log, 1000);
    b.Feed(log, 1000);
    ASSERT_TRUE(a.engine.Checkpoint().ok());
    ASSERT_TRUE(b.engine.Checkpoint().ok());
  }
  now_ += 10'000;
  ASSERT_TRUE(a.engine.Checkpoint().ok());
  ASSERT_TRUE(b.engine.Checkpoint().ok());
  EXPECT_EQ(a.engine.pending_events() + b.engine.pending_events(), 0);
  ASSERT_TRUE(a.CloseWindows(4).ok());

  int64_t events = 0, input = 0;
  for (const auto& [key, row] : out_.rows) {
    events += std::stoll(row.substr(row.find("\"events\":") + 9));
    input += std::stoll(row.substr(row.find("\"input_tokens\":") + 15));
  }
  EXPECT_EQ(events, 2000);
  EXPECT_EQ(input, expected_input);
  EXPECT_GT(results[RunEngine::CommitResult::kDuplicateEvents], 0);  // the case under test happened
  // The counters behind the metrics count each message once, although
  // refused checkpoints were counted again by fresh pipelines.
  const PipelineStats stats_a = a.engine.TotalStats(), stats_b = b.engine.TotalStats();
  size_t messages = 0;
  for (const auto& partition : log) messages += partition.size();
  EXPECT_EQ(stats_a.messages + stats_b.messages, messages);
  EXPECT_EQ(stats_a.events + stats_b.events, 2000u);
  // One dead letter per copy, none for a message that was counted in the
  // end, and none sent twice although messages were counted again.
  EXPECT_EQ(a.dead.distinct.size() + b.dead.distinct.size(), (2000u + 6) / 7);
  EXPECT_EQ(a.dead.count + b.dead.count, (2000 + 6) / 7);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(*store_.Position("costs", p), std::optional<int64_t>(log[p].size())) << p;
  }
}

TEST_F(RunEngineTest, AReplicaThatCrashedBeforeItsCheckpointLosesNothingAndCountsNothingTwice) {
  const auto log = OneWindowLog(100);
  {
    Replica first(config_, prices_, store_, out_, now_);
    first.SetLog(&log);
    first.Assign({0});
    first.Feed(log, 40);
    ASSERT_TRUE(first.engine.Checkpoint().ok());
    first.Feed(log, 30);  // counted in memory only: the crash below loses it
  }
  ExpectNextOwnerCountsTheRest(log, 40, "resumes where the durable state ends");
}

TEST_F(RunEngineTest, PendingBytesAreTheMessagesNotDurableYetAndTheirHeldDeadLetters) {
  // What `max_pending_bytes` bounds: the bytes of the messages kept to count
  // them again, from their arrival until their checkpoint is applied.
  const auto log = OneWindowLog(50);
  size_t first_30 = 0, all = 0;
  for (int i = 0; i < 50; ++i) (i < 30 ? first_30 : all) += log[0][i].size();
  all += first_30;
  Replica r(config_, prices_, store_, out_, now_);
  r.SetLog(&log);
  r.Assign({0});
  r.Feed(log, 30);
  EXPECT_EQ(r.engine.pending_bytes(), static_cast<int64_t>(first_30));
  ASSERT_TRUE(r.engine.Seal().ok());
  EXPECT_EQ(r.engine.pending_bytes(), static_cast<int64_t>(first_30)) << "sealed is not durable";
  r.Feed(log, 20);
  EXPECT_EQ(r.engine.pending_bytes(), static_cast<int64_t>(all));
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  EXPECT_EQ(r.engine.pending_bytes(), 0);

  // A dead letter held with its checkpoint (out of the wall clock's range)
  // is a second copy of its message until the checkpoint is applied.
  auto with_old = log;
  with_old[0].push_back(Event("old", kT0 - 40LL * 86'400'000, "acme", 1));
  r.SetLog(&with_old);
  r.Feed(with_old, 1);
  EXPECT_GE(r.engine.pending_bytes(), static_cast<int64_t>(2 * with_old[0].back().size()));
  ASSERT_TRUE(r.engine.Seal().ok());
  EXPECT_GE(r.engine.pending_bytes(), static_cast<int64_t>(2 * with_old[0].back().size()));
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  EXPECT_EQ(r.engine.pending_bytes(), 0);
}

TEST_F(RunEngineTest, ASealWaitsBrieflyForOutputsAndLeavesTheStateOpenWhenTheyAreLate) {
  // The broker is away: the dead letters cannot be delivered, so nothing may
  // become durable, and the polling thread must not sit in the flush.
  std::vector<std::vector<std::string>> log(1);
  for (int i = 0; i < 10; ++i)
    log[0].push_back(Event("e" + std::to_string(i), kT0 + i * 100, "acme", 1));
  log[0].push_back("not json");
  Replica r(config_, prices_, store_, out_, now_);
  r.SetLog(&log);
  r.Assign({0});
  r.Feed(log, 11);
  r.flush_result = absl::UnavailableError("broker away");
  EXPECT_FALSE(r.engine.Seal().ok());
  ASSERT_EQ(r.flush_timeouts.size(), 1u);
  EXPECT_LE(r.flush_timeouts[0], std::chrono::seconds(1)) << "a seal waits briefly";
  EXPECT_EQ(r.engine.unsealed_events(), 11) << "the state stays open";
  r.engine.WaitForCommits(std::chrono::milliseconds(50));
  EXPECT_TRUE(r.engine.CollectCommits().empty());

  // Back: the next seal takes it all.
  r.flush_result = absl::OkStatus();
  ASSERT_TRUE(r.engine.Seal().ok());
  EXPECT_EQ(r.engine.unsealed_events(), 0);
  std::vector<std::pair<int32_t, int64_t>> commits;
  for (int i = 0; i < 100 && commits.empty(); ++i) {
    r.engine.WaitForCommits(std::chrono::milliseconds(50));
    commits = r.engine.CollectCommits();
  }
  EXPECT_EQ(commits, (std::vector<std::pair<int32_t, int64_t>>{{0, 11}}));
  // A checkpoint that must finish (a stop, a revoke) waits long.
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  EXPECT_GE(r.flush_timeouts.back(), std::chrono::seconds(10));
}

TEST_F(RunEngineTest, ALostPartitionIsDroppedWithoutACheckpointAndItsNextOwnerCountsTheRest) {
  const auto log = OneWindowLog(100);
  Replica first(config_, prices_, store_, out_, now_);
  first.SetLog(&log);
  first.Assign({0});
  first.Feed(log, 40);
  ASSERT_TRUE(first.engine.Checkpoint().ok());
  first.Feed(log, 30);
  first.engine.OnLost({0});
  EXPECT_EQ(first.engine.partitions_owned(), 0);
  EXPECT_EQ(first.engine.pending_events(), 0) << "a lost partition's state is dropped";
  ASSERT_TRUE(first.engine.Checkpoint().ok());
  ExpectNextOwnerCountsTheRest(log, 40,
                               "nothing of the lost partition was made durable after loss");
}

TEST_F(RunEngineTest, ResumingPastTheStoredPositionIsLoggedOnceAndTheRestCounted) {
  // Every replica down for longer than the topic's retention: the log's
  // first offsets are gone when one comes back. What is left is counted,
  // and the loss is said once, with its size, not skipped in silence. A gap
  // inside the log (compaction, transaction markers) is said at info.
  const auto log = OneWindowLog(100);
  testing::CapturedLog captured;
  CountAndHandOver(log, 40);
  if (HasFatalFailure()) return;
  {
    Replica next(config_, prices_, store_, out_, now_);
    next.SetLog(&log);
    next.Assign({0});
    ASSERT_EQ(next.cursor[0], 40);
    next.engine.Handle({0, 40, log[0][40]});  // where the store says: nothing to say
    EXPECT_EQ(captured.Text().find("reading resumed"), std::string::npos) << captured.Text();
    ASSERT_TRUE(next.engine.Checkpoint().ok());
    next.engine.OnRevoked({0});
  }
  {
    Replica compacted(config_, prices_, store_, out_, now_);
    compacted.SetLog(&log);
    compacted.Assign({0});
    compacted.engine.Handle({0, 43, log[0][43]});  // 41 and 42 compacted away
    ASSERT_TRUE(compacted.engine.Checkpoint().ok());
    compacted.engine.OnRevoked({0});
  }
  EXPECT_NE(captured.Text().find("info partition 0: reading resumed at offset 43, 2 past the "
                                 "stored position 41 (offsets taken by compaction"),
            std::string::npos)
      << captured.Text();

  Replica late(config_, prices_, store_, out_, now_);
  late.SetLog(&log);
  late.Assign({0});
  ASSERT_EQ(late.cursor[0], 44);
  // Retention deleted offsets 44-48: the log starts at 49 now.
  late.engine.set_log_bounds([&log](int32_t) {
    return std::pair<int64_t, int64_t>(49, static_cast<int64_t>(log[0].size()));
  });
  late.cursor[0] = 49;
  late.Feed(log, log[0].size());
  now_ += 10'000;
  ASSERT_TRUE(late.engine.Checkpoint().ok());
  ASSERT_TRUE(late.CloseWindows(1).ok());
  const std::string text = captured.Text();
  const std::string warning =
      "warning partition 0: reading resumed at offset 49, 5 past the stored position 44: the log "
      "now starts at 49, so retention deleted 5 messages before they were counted";
  EXPECT_NE(text.find(warning), std::string::npos) << text;
  EXPECT_EQ(text.find("retention deleted"), text.rfind("retention deleted"))
      << "once, not per message";
  ASSERT_EQ(out_.rows.size(), 1u);
  // 40 + 2 (40 and 43) + 51 (49-99).
  EXPECT_NE(out_.rows.begin()->second.find("\"events\":93,"), std::string::npos)
      << out_.rows.begin()->second;
}

TEST_F(RunEngineTest, MessagesBelowTheStoredPositionAfterALoadAreNotCountedAgain) {
  // A message fetched for an earlier life of the partition that arrives
  // after the state was loaded again is durable already: it is dropped, not
  // counted twice (nor refused by the store and dead-lettered as a copy).
  const auto log = OneWindowLog(60);
  CountAndHandOver(log, 40);
  if (HasFatalFailure()) return;
  Replica next(config_, prices_, store_, out_, now_);
  next.SetLog(&log);
  next.Assign({0});
  ASSERT_EQ(next.cursor[0], 40);
  next.engine.Handle({0, 38, log[0][38]});
  next.engine.Handle({0, 39, log[0][39]});
  next.Feed(log, log[0].size());
  now_ += 10'000;
  ASSERT_TRUE(next.engine.Checkpoint().ok());
  EXPECT_EQ(next.dead.count, 0) << "dead-lettered as copies of themselves";
  ASSERT_TRUE(next.CloseWindows(1).ok());
  ASSERT_EQ(out_.rows.size(), 1u);
  EXPECT_NE(out_.rows.begin()->second.find("\"events\":60,"), std::string::npos)
      << out_.rows.begin()->second;
}

TEST_F(RunEngineTest, AnAssignedPartitionsStoredPositionIsCommittedWithoutNewMessages) {
  // A partition lost while the broker was away (its revoke could not
  // commit) and assigned again once everything was durable gets no new
  // message: the group's committed offset must still catch up with the
  // store, or its lag stays wrong until traffic resumes.
  std::vector<std::vector<std::string>> log(2);
  for (int i = 0; i < 60; ++i)
    log[0].push_back(Event("e" + std::to_string(i), kT0 + i * 100, "acme", 1));
  {
    Replica first(config_, prices_, store_, out_, now_);
    first.SetLog(&log);
    first.Assign({0, 1});
    first.Feed(log, 60);
    ASSERT_TRUE(first.engine.Checkpoint().ok());
    first.engine.OnRevoked({0, 1});
  }
  Replica second(config_, prices_, store_, out_, now_);
  second.SetLog(&log);
  second.Assign({0, 1});
  const auto commits = second.engine.CollectCommits();
  EXPECT_EQ(commits, (std::vector<std::pair<int32_t, int64_t>>{{0, 60}}))
      << "partition 1 was never read: nothing to commit for it";
  EXPECT_TRUE(second.engine.CollectCommits().empty()) << "each position is handed out once";

  // A partition revoked before its position was collected is its next
  // owner's to commit.
  second.engine.OnRevoked({0});
  second.Assign({0});
  second.engine.OnRevoked({0});
  EXPECT_TRUE(second.engine.CollectCommits().empty());
}

TEST_F(RunEngineTest, AStalledPartitionThatHasNotCaughtUpHoldsWindowsOpen) {
  // Partition 0 is read to its end; partition 1 has read only its first
  // message when everything stalls (a broker outage, say) for longer than
  // the idle timeout. Its windows must not close: its events would be late.
  std::vector<std::vector<std::string>> log(2);
  for (int i = 0; i < 50; ++i)
    log[0].push_back(Event("a" + std::to_string(i), kT0 + i * 60'000, "acme", 1));
  for (int i = 0; i < 50; ++i)
    log[1].push_back(Event("b" + std::to_string(i), kT0 + i * 60'000, "acme", 1));
  Replica r(config_, prices_, store_, out_, now_);
  r.SetLog(&log);
  r.Assign({0, 1});
  r.Feed(log, 1);
  r.cursor.erase(1);  // partition 1 read only its first message...
  r.Feed(log, 50);
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  now_ += 60'000;  // ...and a minute passes with nothing new
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  ASSERT_TRUE(r.CloseWindows(2).ok());
  EXPECT_TRUE(out_.rows.empty()) << out_.rows.size() << " windows closed early";
}

TEST_F(RunEngineTest, AZombieCheckpointIsRefused) {
  std::vector<std::vector<std::string>> log(1);
  for (int i = 0; i < 10; ++i) log[0].push_back(Event("e" + std::to_string(i), kT0 + i, "acme", 1));
  Replica zombie(config_, prices_, store_, out_, now_), owner(config_, prices_, store_, out_, now_);
  zombie.SetLog(&log);
  owner.SetLog(&log);
  zombie.Assign({0});
  owner.Assign({0});  // the partition moved while the zombie still held it
  zombie.Feed(log, 10);
  owner.Feed(log, 10);
  ASSERT_TRUE(owner.engine.Checkpoint().ok());
  ASSERT_TRUE(zombie.engine.Checkpoint().ok());  // refused inside, state reloaded
  EXPECT_EQ(zombie.cursor[0], 10);               // and it moved to the store's position
  now_ += 10'000;
  ASSERT_TRUE(owner.engine.Checkpoint().ok());
  ASSERT_TRUE(owner.CloseWindows(1).ok());
  ASSERT_EQ(out_.rows.size(), 1u);
  EXPECT_NE(out_.rows.begin()->second.find("\"events\":10,"), std::string::npos)
      << out_.rows.begin()->second;
}

// Sums the "events" of every published row.
int64_t EventsIn(const CollectWindows& out) {
  int64_t events = 0;
  for (const auto& [key, row] : out.rows)
    events += std::stoll(row.substr(row.find("\"events\":") + 9));
  return events;
}

TEST_F(RunEngineTest, AnEventCountedOnAnIdlePartitionAsItsWindowClosesGoesLateNotMissing) {
  // The only partition is idle in the store, so every window may close.
  // An event for the open window arrives, and the group's closer (another
  // replica's: this engine is not told) closes that window before the
  // checkpoint counting the event reaches the store. The checkpoint is
  // refused, and the event is dead-lettered as late: in Redis but in no
  // published row would be an event lost without a trace.
  std::vector<std::vector<std::string>> log(1);
  Replica r(config_, prices_, store_, out_, now_);
  ASSERT_NO_FATAL_FAILURE(IdleThenOneMoreEvent(r, log));
  WindowCloser elsewhere(config_, store_, out_);
  ASSERT_EQ(*elsewhere.CloseReady(1), 1u);
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  EXPECT_EQ(EventsIn(out_), 1);
  using Source = std::pair<int32_t, int64_t>;
  EXPECT_EQ(r.dead.reasons, (std::map<Source, std::string>{{{0, 1}, "late/window closed"}}));
  EXPECT_EQ(*store_.Position("costs", 0), std::optional<int64_t>(2));
  EXPECT_EQ(store_.ReadWindow("costs", WindowStartMs(kT0))->keys[0].second.events, 1)
      << "the refused checkpoint added nothing to the closed window";
}

TEST_F(RunEngineTest, NothingIsAddedToAWindowBetweenTheClosersReadAndItsClaim) {
  // The window is read back while a checkpoint with an event for it is
  // applied (the store's idle partition again): the checkpoint is refused
  // because the closer announced the close before reading.
  std::vector<std::vector<std::string>> log(1);
  Replica r(config_, prices_, store_, out_, now_);
  ASSERT_NO_FATAL_FAILURE(IdleThenOneMoreEvent(r, log));
  // A sink that commits the engine's checkpoint while the closer is half-way
  // through the window (after its rows are out, before its claim).
  struct CheckpointMidClose : CollectWindows {
    Replica* replica = nullptr;
    void WindowDone(WindowStartMs, int64_t) override { ASSERT_TRUE(replica->engine.Checkpoint().ok()); }
  } sink;
  sink.replica = &r;
  WindowCloser elsewhere(config_, store_, sink);
  ASSERT_EQ(*elsewhere.CloseReady(1), 1u);
  EXPECT_EQ(EventsIn(sink), 1);
  using Source = std::pair<int32_t, int64_t>;
  EXPECT_EQ(r.dead.reasons, (std::map<Source, std::string>{{{0, 1}, "late/window closed"}}));
}

TEST_F(RunEngineTest, AZombieLaggingTheNewOwnerPublishesNoLateDeadLetters) {
  // Events 15 s apart over five minutes. The owner counts them all and the
  // group closes the first three windows. The zombie, still reading the
  // partition from the start, finds those windows closed: to it the same
  // events look late, but its checkpoint is refused, so it must not have
  // dead-lettered them (the owner counted them).
  std::vector<std::vector<std::string>> log(1);
  for (int i = 0; i < 20; ++i)
    log[0].push_back(Event("e" + std::to_string(i), kT0 + i * 15'000, "acme", 1));
  Replica zombie(config_, prices_, store_, out_, now_), owner(config_, prices_, store_, out_, now_);
  zombie.SetLog(&log);
  owner.SetLog(&log);
  zombie.Assign({0});
  owner.Assign({0});
  owner.Feed(log, 20);
  ASSERT_TRUE(owner.engine.Checkpoint().ok());
  ASSERT_TRUE(owner.CloseWindows(1).ok());
  ASSERT_EQ(out_.rows.size(), 3u) << "windows ending at +1, +2 and +3 min are past the lateness";
  ASSERT_TRUE(zombie.CloseWindows(1).ok());  // its closer thread learns what is closed
  zombie.Feed(log, 20);
  ASSERT_TRUE(zombie.engine.Checkpoint().ok());  // refused inside, state reloaded
  EXPECT_EQ(zombie.cursor[0], 20);
  EXPECT_EQ(zombie.dead.count, 0) << "late dead letters from a life whose checkpoint was refused";
  EXPECT_EQ(owner.dead.count, 0);
  now_ += 10'000;
  ASSERT_TRUE(owner.engine.Checkpoint().ok());
  ASSERT_TRUE(owner.CloseWindows(1).ok());
  EXPECT_EQ(EventsIn(out_), 20);
}

TEST_F(RunEngineTest, ALateEventIsDeadLetteredOnceItsCheckpointIsAppliedEvenAcrossACrash) {
  // The third event belongs to a window its partition's watermark has
  // passed (end + allowed lateness): late. Its dead letter is held until the
  // checkpoint is applied; the replica crashes before it hears back, and the
  // next owner publishes it from the store, with its reason.
  std::vector<std::vector<std::string>> log(1);
  log[0].push_back(Event("a", kT0, "acme", 1));
  log[0].push_back(Event("b", kT0 + 200'000, "acme", 1));
  log[0].push_back(Event("late", kT0 + 1'000, "acme", 1));
  {
    Replica first(config_, prices_, store_, out_, now_);
    first.SetLog(&log);
    first.Assign({0});
    first.Feed(log, 3);
    ASSERT_TRUE(first.engine.Seal().ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (*store_.Position("costs", 0) != std::optional<int64_t>(3) &&
           std::chrono::steady_clock::now() < deadline)
      first.engine.WaitForCommits(std::chrono::milliseconds(10));
    ASSERT_EQ(*store_.Position("costs", 0), std::optional<int64_t>(3));
    EXPECT_EQ(first.dead.count, 0) << "held until the checkpoint that carries it is applied";
    ASSERT_EQ(store_.HeldDeadLetters("costs", 0)->size(), 1u);
  }  // the crash
  Replica second(config_, prices_, store_, out_, now_);
  second.SetLog(&log);
  second.Assign({0});
  EXPECT_EQ(second.cursor[0], 3);
  using Source = std::pair<int32_t, int64_t>;
  EXPECT_EQ(second.dead.distinct, (std::map<Source, int>{{{0, 2}, 1}}));
  EXPECT_EQ(second.dead.reasons, (std::map<Source, std::string>{{{0, 2}, "late/window closed"}}));
  now_ += 10'000;
  ASSERT_TRUE(second.engine.Checkpoint().ok());
  EXPECT_TRUE(store_.HeldDeadLetters("costs", 0)->empty()) << "published ones are dropped from the store";
}

TEST_F(RunEngineTest, HeldDeadLettersStoredByAnEarlierVersionArePublishedAsDuplicates) {
  // Records of the earlier layout, "<offset>:<item>:<message>", held only
  // copies dropped on another partition's claim.
  std::vector<std::vector<std::string>> log(1);
  log[0].push_back(Event("a", kT0, "acme", 1));
  PartitionCheckpoint c;
  c.partition = 0;
  c.next = 1;
  c.watermark = EventTimeMs(kT0);
  c.held_dead_letters = {{0, "0:-1:" + log[0][0]}};
  ASSERT_TRUE(store_.Commit("costs", c).ok());
  Replica next(config_, prices_, store_, out_, now_);
  next.SetLog(&log);
  next.Assign({0});
  using Source = std::pair<int32_t, int64_t>;
  EXPECT_EQ(next.dead.reasons, (std::map<Source, std::string>{{{0, 0}, "duplicate/event_id"}}));
}


TEST_F(RunEngineTest, OneReplicaDropsCopiesAcrossItsPartitionsWithoutAnyCheckpointRefused) {
  // Every 3rd event is re-sent into the next partition, all four held by
  // one replica: the copy is dropped when it arrives (the other partition
  // claimed the id), so no checkpoint is refused in the store for it.
  std::vector<std::vector<std::string>> log(4);
  for (int i = 0; i < 1200; ++i) {
    const std::string e =
        Event("e" + std::to_string(i), kT0 + i * 100, "t" + std::to_string(i % 5), 1);
    log[i % 4].push_back(e);
    if (i % 3 == 0) log[(i + 1) % 4].push_back(e);
  }
  Replica a(config_, prices_, store_, out_, now_);
  a.SetLog(&log);
  std::map<RunEngine::CommitResult, int> results;
  a.engine.set_commit_listener(
      [&results](int32_t, RunEngine::CommitResult result, double) { ++results[result]; });
  a.Assign({0, 1, 2, 3});
  for (int round = 0; round < 100; ++round) {
    a.Feed(log, 7);
    now_ += 10;
    ASSERT_TRUE(a.engine.Seal().ok());
    a.engine.CollectCommits();
  }
  now_ += 10'000;
  ASSERT_TRUE(a.engine.Checkpoint().ok());
  ASSERT_TRUE(a.CloseWindows(4).ok());
  EXPECT_EQ(EventsIn(out_), 1200);
  EXPECT_EQ(results[RunEngine::CommitResult::kDuplicateEvents], 0);
  EXPECT_GT(results[RunEngine::CommitResult::kApplied], 0);
  EXPECT_EQ(a.dead.distinct.size(), 400u);  // one dead letter per copy
}

// Delegates to another store, but never applies one partition's checkpoints.
struct StoreFailingOnePartition : StateStore {
  StateStore& inner;
  int32_t failing;
  StoreFailingOnePartition(StateStore& s, int32_t p) : inner(s), failing(p) {}
  absl::StatusOr<CheckpointOutcome> Commit(const std::string& topic,
                                           const PartitionCheckpoint& c) override {
    if (c.partition == failing) return absl::UnavailableError("partition held back by the test");
    return inner.Commit(topic, c);
  }
  absl::StatusOr<std::optional<int64_t>> Position(const std::string& t, int32_t p) override {
    return inner.Position(t, p);
  }
  absl::StatusOr<std::vector<std::string>> ObserverState(const std::string& t, int32_t p) override {
    return inner.ObserverState(t, p);
  }
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> HeldDeadLetters(const std::string& t,
                                                                               int32_t p) override {
    return inner.HeldDeadLetters(t, p);
  }
  absl::StatusOr<std::vector<PartitionProgress>> Progress(const std::string& t) override {
    return inner.Progress(t);
  }
  absl::StatusOr<std::vector<WindowStartMs>> OpenWindows(const std::string& t) override {
    return inner.OpenWindows(t);
  }
  absl::Status BeginClosing(const std::string& t, WindowStartMs s) override {
    return inner.BeginClosing(t, s);
  }
  absl::StatusOr<bool> ClaimClose(const std::string& t, WindowStartMs s) override {
    return inner.ClaimClose(t, s);
  }
  absl::StatusOr<std::optional<WindowStartMs>> ClosedThrough(const std::string& t) override {
    return inner.ClosedThrough(t);
  }
  absl::StatusOr<StoredWindow> ReadWindow(const std::string& t, WindowStartMs s) override {
    return inner.ReadWindow(t, s);
  }
  absl::Status Ping() override { return inner.Ping(); }
};

// One partition (the claimer) counts e100..e109 first; the other (the
// dropper) then reads copies of them and drops them. The store applies
// partition 0's checkpoint but never partition 1's, and the replica crashes
// before it hears back. The next owner must count e100..e109 exactly once
// and dead-letter exactly the copies it dropped in the end: a dead letter is
// never published for a copy that a later life counts.
void RunEngineTest::CrashWithOnlyPartitionZeroDurable(int32_t claimer) {
  const int32_t dropper = 1 - claimer;
  std::vector<std::vector<std::string>> log(2);
  for (int i = 0; i < 20; ++i)
    log[dropper].push_back(Event("e" + std::to_string(i), kT0 + i * 100, "acme", 1));
  for (int i = 100; i < 110; ++i)
    log[claimer].push_back(Event("e" + std::to_string(i), kT0 + i * 10, "acme", 1));
  for (int i = 100; i < 110; ++i) log[dropper].push_back(log[claimer][i - 100]);
  const int64_t end_of_zero = static_cast<int64_t>(log[0].size());
  {
    StoreFailingOnePartition holding_back(store_, /*failing=*/1);
    Replica first(config_, prices_, holding_back, out_, now_);
    first.SetLog(&log);
    first.Assign({0, 1});
    first.Feed(log, 20);  // the dropper: e0..e19; the claimer: e100..e109
    first.Feed(log, 20);  // the dropper: the copies, dropped; their dead letters held
    ASSERT_TRUE(first.engine.Seal().ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (*store_.Position("costs", 0) != std::optional<int64_t>(end_of_zero) &&
           std::chrono::steady_clock::now() < deadline)
      first.engine.WaitForCommits(std::chrono::milliseconds(10));
    ASSERT_EQ(*store_.Position("costs", 0), std::optional<int64_t>(end_of_zero));
    ASSERT_EQ(*store_.Position("costs", 1), std::nullopt);
    EXPECT_EQ(first.dead.count, 0) << "held until the checkpoint that drops the copies is applied";
  }  // the crash, before the engine heard of the applied checkpoint
  Replica second(config_, prices_, store_, out_, now_);
  second.SetLog(&log);
  second.Assign({0, 1});
  second.Feed(log, 100);
  now_ += 10'000;
  ASSERT_TRUE(second.engine.Checkpoint().ok());
  ASSERT_TRUE(second.CloseWindows(2).ok());
  EXPECT_EQ(EventsIn(out_), 30);
  std::map<std::pair<int32_t, int64_t>, int> copies;
  for (int64_t offset = 20; offset < 30; ++offset) copies[{dropper, offset}] = 1;
  EXPECT_EQ(second.dead.distinct, copies) << "one dead letter per copy";
  EXPECT_TRUE(store_.HeldDeadLetters("costs", dropper)->empty())
      << "published ones are dropped from the store";
}

TEST_F(RunEngineTest, CopiesDroppedOnAClaimThatNeverBecameDurableAreDeadLetteredOnceAfterACrash) {
  // The dropper's checkpoint is applied, the claimer's never is. The next
  // owner publishes the held dead letters from the store and counts the
  // originals from the claimer's partition.
  CrashWithOnlyPartitionZeroDurable(/*claimer=*/1);
}

TEST_F(RunEngineTest, CopiesDroppedInACheckpointThatNeverBecameDurableGetNoDeadLetterFromIt) {
  // The claimer's checkpoint is applied, the dropper's never is, so its held
  // dead letters are never published. The next owner drops the copies
  // again (the store has the ids) and dead-letters them itself.
  CrashWithOnlyPartitionZeroDurable(/*claimer=*/0);
}

}  // namespace
}  // namespace burnrate

namespace burnrate {
namespace {

// Counts the events it is shown, by event id.
struct CountingObserver : EventObserver {
  std::map<std::string, int>* seen;
  explicit CountingObserver(std::map<std::string, int>* s) : seen(s) {}
  void OnCounted(const CostEvent& event, Money, bool) override {
    ++(*seen)[std::string(event.event_id)];
  }
};

TEST_F(RunEngineTest, ObserversSeeEachMessageOnceEvenWhenACheckpointIsCountedAgain) {
  // Every 5th event is also sent into the next partition: checkpoints are
  // refused for duplicates and their messages counted again, which the
  // observers (the runaway detectors) must not see again.
  std::vector<std::vector<std::string>> log(2);
  for (int i = 0; i < 200; ++i) {
    const std::string e = Event("e" + std::to_string(i), kT0 + i * 1000, "acme", 1);
    log[i % 2].push_back(e);
    if (i % 5 == 0) log[(i + 1) % 2].push_back(e);
  }
  std::map<std::string, int> seen;
  std::map<RunEngine::CommitResult, int> results;
  int64_t last_watermark = 0;
  Replica a(config_, prices_, store_, out_, now_), b(config_, prices_, store_, out_, now_);
  for (Replica* r : {&a, &b}) {
    r->SetLog(&log);
    r->engine.set_observer_factory([&seen](int32_t) -> std::unique_ptr<EventObserver> {
      return std::make_unique<CountingObserver>(&seen);
    });
    r->engine.set_commit_listener(
        [&](int32_t, RunEngine::CommitResult result, double) { ++results[result]; });
    r->engine.set_seal_listener(
        [&](int32_t, EventObserver* observer, int64_t watermark) -> RunEngine::DurableAction {
          EXPECT_NE(observer, nullptr);
          return [&last_watermark, watermark] {
            last_watermark = std::max(last_watermark, watermark);
          };
        });
  }
  a.Assign({0});
  b.Assign({1});
  for (int round = 0; round < 200; ++round) {
    a.Feed(log, 3);
    b.Feed(log, 4);
    now_ += 100;
    ASSERT_TRUE(a.engine.Checkpoint().ok());
    ASSERT_TRUE(b.engine.Checkpoint().ok());
  }
  // Each message is observed once, when first counted: an event sent into
  // two partitions is shown to each partition's observer once (it was read
  // twice; the store refuses the second count), never again on a recount.
  EXPECT_EQ(seen.size(), 200u);
  for (const auto& [id, n] : seen) {
    const int copies = std::stoi(id.substr(1)) % 5 == 0 ? 2 : 1;
    EXPECT_EQ(n, copies) << id << " observed " << n << " times";
  }
  EXPECT_GT(results[RunEngine::CommitResult::kApplied], 0);
  EXPECT_GT(results[RunEngine::CommitResult::kDuplicateEvents], 0);  // the case under test happened
  EXPECT_EQ(last_watermark, kT0 + 199 * 1000);
}

// Records the order of rows and window ends.
struct OrderedSink : WindowRecordSink {
  std::vector<std::string> calls;
  void Publish(const WindowRecord& r) override {
    if (r.scope == WindowScope::kKey) calls.push_back("row " + std::to_string(r.start.value()));
  }
  void WindowDone(WindowStartMs start, int64_t size_ms) override {
    calls.push_back("done " + std::to_string(start.value()) + " " + std::to_string(size_ms));
  }
  absl::Status Flush() override {
    calls.push_back("flush");
    return flush_result;
  }
  absl::Status flush_result;
};

TEST_F(RunEngineTest, TheCloserEndsEachWindowAfterItsRowsAndStopsBetweenWindows) {
  ASSERT_NO_FATAL_FAILURE(MakeThreeWindowsDurable());

  OrderedSink sink;
  WindowCloser closer(config_, store_, sink);
  // A stop asked once two windows (a row and an end each) are done.
  closer.set_stop_requested([&sink] { return sink.calls.size() >= 4; });
  auto first = closer.CloseReady(1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 2u);  // stopped after the second window
  sink.calls.clear();
  closer.set_stop_requested(nullptr);
  auto rest = closer.CloseReady(1);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(*rest, 1u);  // the window left open is closed next time
  const std::string w2 = std::to_string(kT0 + 120'000);
  EXPECT_EQ(sink.calls,
            (std::vector<std::string>{"row " + w2, "done " + w2 + " 60000", "flush"}));
}

TEST_F(RunEngineTest, AWindowWhoseRowsAreNotDeliveredStaysOpenAndIsPublishedAgain) {
  ASSERT_NO_FATAL_FAILURE(MakeThreeWindowsDurable());

  OrderedSink sink;
  WindowCloser closer(config_, store_, sink);
  sink.flush_result = absl::DataLossError("window topic: not authorised");
  EXPECT_FALSE(closer.CloseReady(1).ok());
  // The windows' rows went out but were refused: none of them is closed.
  const std::string w0 = std::to_string(kT0);
  ASSERT_FALSE(sink.calls.empty());
  EXPECT_EQ(sink.calls.front(), "row " + w0);
  EXPECT_EQ(sink.calls.back(), "flush");
  EXPECT_EQ(store_.OpenWindows(config_.kafka.topic)->size(), 3u);

  sink.calls.clear();
  sink.flush_result = absl::OkStatus();
  auto closed = closer.CloseReady(1);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 3u);
  ASSERT_FALSE(sink.calls.empty());
  EXPECT_EQ(sink.calls[0], "row " + w0) << "published again";
}

TEST_F(RunEngineTest, DeadLettersRefusedForGoodStopAllFurtherCheckpoints) {
  // A dead-letter topic that refuses records for good: the state whose dead
  // letters were lost must not become durable, nor any later state.
  const auto log = OneWindowLog(20);
  Replica r(config_, prices_, store_, out_, now_);
  r.SetLog(&log);
  r.Assign({0});
  r.Feed(log, 10);
  ASSERT_TRUE(r.engine.Checkpoint().ok());
  (void)r.engine.CollectCommits();  // offset 10, committed
  r.Feed(log, 20);
  r.flush_result = absl::DataLossError("kafka: 1 messages could not be delivered");
  const absl::Status sealed = r.engine.Seal();
  EXPECT_TRUE(absl::IsDataLoss(sealed)) << sealed;
  // The producer reports a failure once; the engine remembers it.
  r.flush_result = absl::OkStatus();
  EXPECT_TRUE(absl::IsDataLoss(r.engine.Seal()));
  EXPECT_TRUE(absl::IsDataLoss(r.engine.Checkpoint().status()));
  r.engine.WaitForCommits(std::chrono::milliseconds(50));
  EXPECT_TRUE(r.engine.CollectCommits().empty());
  // After a restart the messages since the last checkpoint are read again.
  ExpectNextOwnerCountsTheRest(log, 10, "nothing past the last checkpoint is durable");
}

}  // namespace
}  // namespace burnrate

namespace burnrate {
namespace {

// Counts the events it is shown and saves the count as its state: a
// record is "F<total>" or "D<added>", padded so that the stored records
// soon grow past the size where the engine replaces them by a full one.
struct TallyObserver : EventObserver {
  int64_t total = 0;
  int64_t unsaved = 0;
  void OnCounted(const CostEvent&, Money, bool) override {
    ++total;
    ++unsaved;
  }
  bool SaveState(bool full, std::string& out) override {
    if (!full && unsaved == 0) return false;
    out += (full ? "F" : "D") + std::to_string(full ? total : unsaved);
    out.append(200'000, ' ');
    unsaved = 0;
    return true;
  }
  bool RestoreState(const std::vector<std::string>& records) override {
    int64_t t = 0;
    for (const std::string& r : records) {
      if (r.empty() || (r[0] != 'F' && r[0] != 'D')) return false;
      t = (r[0] == 'F' ? 0 : t) + std::stoll(r.substr(1));
    }
    total = t;
    unsaved = 0;
    return true;
  }
};

TEST_F(RunEngineTest, ObserverStateIsSavedWithEachCheckpointAndRestoredAfterACrash) {
  // Copies of every 5th event in the other partition make checkpoints
  // refused for duplicates (their observer records must go on to the next
  // checkpoint); a replica crashes with counted state not yet durable. Each
  // partition's observer must end up having counted every message of its
  // partition exactly once along the durable line: restored state plus
  // what the next life read again.
  std::vector<std::vector<std::string>> log(2);
  for (int i = 0; i < 400; ++i) {
    const std::string e = Event("e" + std::to_string(i), kT0 + i * 1000, "acme", 1);
    log[i % 2].push_back(e);
    if (i % 5 == 0) log[(i + 1) % 2].push_back(e);
  }
  std::map<int32_t, TallyObserver*> observers;  // the latest one made per partition
  std::map<RunEngine::CommitResult, int> results;
  const auto make_replica = [&] {
    auto r = std::make_unique<Replica>(config_, prices_, store_, out_, now_);
    r->SetLog(&log);
    r->engine.set_observer_factory([&observers](int32_t p) -> std::unique_ptr<EventObserver> {
      auto o = std::make_unique<TallyObserver>();
      observers[p] = o.get();
      return o;
    });
    r->engine.set_commit_listener(
        [&](int32_t, RunEngine::CommitResult result, double) { ++results[result]; });
    return r;
  };
  auto a = make_replica();
  auto b = make_replica();
  a->Assign({0});
  b->Assign({1});
  for (int round = 0; round < 30; ++round) {
    a->Feed(log, 3);
    b->Feed(log, 4);
    ASSERT_TRUE(a->engine.Checkpoint().ok());
    ASSERT_TRUE(b->engine.Checkpoint().ok());
  }
  a->Feed(log, 20);  // counted, never durable: lost in the crash
  a.reset();
  auto next = make_replica();
  next->Assign({0});
  EXPECT_EQ(observers[0]->total, 90);  // restored: the 30 checkpoints of 3 messages
  for (int round = 0; round < 100; ++round) {
    next->Feed(log, 5);
    b->Feed(log, 5);
    ASSERT_TRUE(next->engine.Checkpoint().ok());
    ASSERT_TRUE(b->engine.Checkpoint().ok());
  }
  ASSERT_EQ(next->cursor[0], static_cast<int64_t>(log[0].size()));
  EXPECT_EQ(observers[0]->total, static_cast<int64_t>(log[0].size()));
  EXPECT_EQ(observers[1]->total, static_cast<int64_t>(log[1].size()));
  EXPECT_GT(results[RunEngine::CommitResult::kDuplicateEvents], 0);  // the case under test happened

  // The stored records were replaced by full ones along the way, and still
  // restore to the same state.
  for (int32_t p : {0, 1}) {
    auto records = store_.ObserverState(config_.kafka.topic, p);
    ASSERT_TRUE(records.ok());
    EXPECT_LT(records->size(), 12u) << "partition " << p;
    TallyObserver restored;
    ASSERT_TRUE(restored.RestoreState(*records));
    EXPECT_EQ(restored.total, static_cast<int64_t>(log[p].size()));
  }
}

}  // namespace
}  // namespace burnrate
