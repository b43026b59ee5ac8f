#include "engine/checkpoint_committer.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "core/thread_name.h"

namespace burnrate {

CheckpointCommitter::CheckpointCommitter(StateStore& store, std::string topic,
                                         CheckpointCommitterOptions options,
                                         std::function<bool()> stop_requested)
    : store_(store),
      topic_(std::move(topic)),
      options_(options),
      stop_requested_(std::move(stop_requested)),
      thread_([this] {
        NameThisThread("br-checkpoint");
        Run();
      }) {}

CheckpointCommitter::~CheckpointCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool CheckpointCommitter::HasRoomFor(int64_t events) const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_events_ == 0 || queued_events_ + events <= options_.max_queued_events;
}

void CheckpointCommitter::Submit(SealedCheckpoint checkpoint) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_events_ += checkpoint.events;
    queue_.push_back(std::move(checkpoint));
  }
  changed_.notify_all();
}

std::vector<CommitReport> CheckpointCommitter::TakeReports() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(reports_, {});
}

bool CheckpointCommitter::WaitForReport(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [this] { return !reports_.empty(); });
}

bool CheckpointCommitter::WaitUntilIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [this] { return queue_.empty() && !committing_; });
}

int64_t CheckpointCommitter::queued_events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_events_;
}

bool CheckpointCommitter::store_healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_healthy_;
}

void CheckpointCommitter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [this] { return shutting_down_ || !queue_.empty(); });
    if (shutting_down_) return;
    SealedCheckpoint sealed = std::move(queue_.front());
    queue_.pop_front();
    committing_ = true;
    CommitReport report = CommitOne(sealed, lock);
    queued_events_ -= sealed.events;
    committing_ = false;
    reports_.push_back(std::move(report));
    changed_.notify_all();
  }
}

CommitReport CheckpointCommitter::CommitOne(SealedCheckpoint& sealed,
                                            std::unique_lock<std::mutex>& lock) {
  const PartitionCheckpoint& c = sealed.checkpoint;
  CommitReport report;
  report.partition = c.partition;
  report.epoch = sealed.epoch;
  report.next = c.next;
  report.watermark_ms = c.watermark.value();
  const auto refused = refused_epoch_.find(c.partition);
  if (refused != refused_epoch_.end() && sealed.epoch <= refused->second) {
    report.kind = CommitReport::Kind::kSkipped;
    return report;
  }
  std::chrono::milliseconds delay = options_.retry_delay;
  for (;;) {
    lock.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    auto outcome = store_.Commit(topic_, c);
    report.store_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    lock.lock();
    if (outcome.ok()) {
      store_healthy_ = true;
      switch (outcome->kind) {
        case CheckpointOutcome::Kind::kApplied:
          report.kind = CommitReport::Kind::kApplied;
          report.held_dead_letters = std::move(sealed.checkpoint.held_dead_letters);
          return report;
        case CheckpointOutcome::Kind::kStalePosition:
          report.kind = CommitReport::Kind::kStalePosition;
          break;
        case CheckpointOutcome::Kind::kWindowClosed:
          report.kind = CommitReport::Kind::kWindowClosed;
          break;
        case CheckpointOutcome::Kind::kDuplicateEvents: {
          report.kind = CommitReport::Kind::kDuplicateEvents;
          const absl::flat_hash_set<uint64_t> dups(outcome->duplicates.begin(),
                                                   outcome->duplicates.end());
          for (const auto& [minute, id] : c.event_ids) {
            if (dups.contains(id)) report.duplicates.emplace_back(minute, id);
          }
          break;
        }
      }
      refused_epoch_[c.partition] = sealed.epoch;
      return report;
    }
    store_healthy_ = false;
    if (options_.on_store_error) {
      lock.unlock();
      options_.on_store_error(outcome.status());
      lock.lock();
    }
    if (shutting_down_ || (stop_requested_ && stop_requested_())) {
      report.kind = CommitReport::Kind::kFailed;
      report.error = outcome.status();
      refused_epoch_[c.partition] = sealed.epoch;
      return report;
    }
    changed_.wait_for(lock, delay, [this] { return shutting_down_; });
    delay = std::min(delay * 2, options_.max_retry_delay);
  }
}

}  // namespace burnrate
