#include "engine/run_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "core/concat.h"

namespace burnrate {

struct RunEngine::Partition {
  std::unique_ptr<EventPipeline> pipeline;
  std::unique_ptr<EventObserver> observer;  // survives reloads of the pipeline
  // The position the store holds (what the next checkpoint must start
  // from); nullopt when the store has never seen this partition. A stored
  // -1 means "reported, but no message yet".
  std::optional<int64_t> from;
  int64_t next = -1;          // the offset after the last message handled; -1: none since loading
  int64_t first_offset = -1;  // the first message handled since loading
  // Event ids the store reported as already counted elsewhere, with their
  // minute: treated as duplicates when the partition is read again.
  std::vector<std::pair<int64_t, uint64_t>> known_duplicates;
  // The messages behind the pending state, kept until it is durable so a
  // checkpoint refused for duplicates is redone from memory, not re-fetched.
  std::string buffered_bytes;
  std::vector<std::tuple<int64_t, size_t, size_t>> buffered;  // offset, begin, length
  // Drained from the pipeline but not yet accepted by the store.
  PartitionCheckpoint pending;
  int64_t pending_events = 0;
  int64_t last_message_ms = 0;
  bool reported = false;  // has committed at least once in this life
  bool idle_reported = false;
};

RunEngine::RunEngine(const Config& config, const PriceTable& prices, StateStore& store,
                     DeadLetterSink& dead_letters,
                     std::function<void(int32_t, int64_t)> on_source_position,
                     std::function<absl::Status()> flush_outputs, Clock clock)
    : config_(config),
      prices_(prices),
      store_(store),
      dead_letters_(dead_letters),
      on_source_position_(std::move(on_source_position)),
      flush_outputs_(std::move(flush_outputs)),
      clock_(std::move(clock)) {}

RunEngine::~RunEngine() = default;

absl::Status RunEngine::LoadPartition(int32_t partition, Partition& state) {
  const std::string& topic = config_.kafka.topic;
  auto position = store_.Position(topic, partition);
  if (!position.ok()) return position.status();
  auto progress = store_.Progress(topic);
  if (!progress.ok()) return progress.status();
  auto closed = store_.ClosedThrough(topic);
  if (!closed.ok()) return closed.status();
  std::optional<int64_t> watermark;
  for (const auto& p : *progress) {
    if (p.partition == partition) watermark = p.watermark;
  }
  // A replaced pipeline's counts are dropped with it: its messages are
  // counted again (recount) or by whoever holds the stored position.
  state.pipeline = std::make_unique<EventPipeline>(config_.pipeline, prices_, dead_letters_);
  state.pipeline->set_record_counted_ids(true);
  state.pipeline->set_observer(state.observer.get());
  if (watermark && *watermark > 0) state.pipeline->SeedWatermark(EventTimeMs(*watermark));
  for (const auto& [minute, id] : state.known_duplicates)
    state.pipeline->SeedDedup({id}, EventTimeMs(minute));
  if (*closed) state.pipeline->MarkClosedThrough(**closed);
  if (closed_through_) state.pipeline->MarkClosedThrough(*closed_through_);
  state.from = *position;
  state.next = -1;
  state.first_offset = -1;
  state.buffered_bytes.clear();
  state.buffered.clear();
  state.pending = PartitionCheckpoint{};
  state.pending_events = 0;
  state.last_message_ms = clock_();
  state.reported = false;
  state.idle_reported = false;
  spdlog::info("partition {}: state loaded at offset {} (watermark {})", partition,
               position->value_or(-1), watermark.value_or(0));
  return absl::OkStatus();
}

bool RunEngine::LoadPartitionRetrying(int32_t partition, Partition& state) {
  // Without its state a partition cannot be consumed correctly, so the
  // rebalance waits for the store (librdkafka keeps the group membership),
  // unless the process is stopping.
  int delay_ms = 200;
  for (;;) {
    const absl::Status s = LoadPartition(partition, state);
    store_healthy_ = s.ok();
    if (s.ok()) return true;
    if (stop_requested_ && stop_requested_()) return false;
    spdlog::warn("partition {}: cannot load state ({}); retrying in {} ms", partition,
                 std::string(s.message()), delay_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    delay_ms = std::min(delay_ms * 2, 5000);
  }
}

std::vector<std::optional<int64_t>> RunEngine::OnAssigned(const std::vector<int32_t>& partitions) {
  std::vector<std::optional<int64_t>> starts;
  for (int32_t p : partitions) {
    auto& state = partitions_[p];
    if (!state) {
      state = std::make_unique<Partition>();
      if (observer_factory_) state->observer = observer_factory_(p);
    }
    if (!LoadPartitionRetrying(p, *state)) {
      // Stopping with no state for this partition: Handle() ignores its
      // messages (nothing is counted or committed), and the next owner reads
      // them from the stored position.
      partitions_.erase(p);
      starts.push_back(std::nullopt);
      continue;
    }
    starts.push_back(state->from && *state->from >= 0 ? state->from : std::nullopt);
  }
  return starts;
}

void RunEngine::OnRevoked(const std::vector<int32_t>& partitions) {
  // Hand over cleanly: make what was counted durable. If that fails the
  // next owner replays from the stored position, which is just as exact.
  const absl::Status flushed = flush_outputs_();
  for (int32_t p : partitions) {
    auto it = partitions_.find(p);
    if (it == partitions_.end()) continue;
    if (flushed.ok()) {
      auto applied = CommitPartition(p, *it->second, clock_());
      if (!applied.ok())
        spdlog::warn("partition {}: state not saved on revoke ({})", p,
                     std::string(applied.status().message()));
    }
    retired_stats_ += it->second->pipeline->stats();
    retired_overflow_ += it->second->pipeline->windows().overflowed_events();
    partitions_.erase(it);
    spdlog::info("partition {}: revoked", p);
  }
}

void RunEngine::Handle(const SourceMessage& message) {
  auto it = partitions_.find(message.partition);
  if (it == partitions_.end()) return;  // not ours (any more): its owner reads it
  Partition& state = *it->second;
  if (state.next >= 0 && message.offset < state.next) return;  // delivered again after a seek
  state.buffered.emplace_back(message.offset, state.buffered_bytes.size(), message.payload.size());
  state.buffered_bytes.append(message.payload);
  Process(message.partition, state, message.offset, message.payload);
}

void RunEngine::Process(int32_t partition, Partition& state, int64_t offset,
                        std::string_view payload) {
  on_source_position_(partition, offset);
  const int64_t now = clock_();
  state.pipeline->Process(payload, EventTimeMs(now));
  if (state.first_offset < 0) state.first_offset = offset;
  state.next = offset + 1;
  state.last_message_ms = now;
  ++state.pending_events;
}

absl::Status RunEngine::Recount(int32_t partition, Partition& state) {
  // A fresh pipeline from the durable state, then the buffered messages
  // again; the known duplicates are now refused by its dedup filter.
  std::string bytes = std::move(state.buffered_bytes);
  auto messages = std::move(state.buffered);
  const int64_t last_message_ms = state.last_message_ms;
  if (absl::Status s = LoadPartition(partition, state); !s.ok()) return s;
  // The observer saw these messages already.
  state.pipeline->set_observer(nullptr);
  for (const auto& [offset, begin, length] : messages) {
    Process(partition, state, offset, std::string_view(bytes).substr(begin, length));
  }
  state.pipeline->set_observer(state.observer.get());
  state.buffered_bytes = std::move(bytes);
  state.buffered = std::move(messages);
  state.last_message_ms = last_message_ms;
  return absl::OkStatus();
}

absl::StatusOr<bool> RunEngine::CommitPartition(int32_t partition, Partition& state, int64_t now) {
  // A checkpoint refused for duplicates is redone at once from the buffered
  // messages; new duplicates can only appear if other partitions commit them
  // meanwhile, so a few rounds settle it.
  for (int attempt = 0;; ++attempt) {
    PartitionCheckpoint& c = state.pending;
    state.pipeline->Drain(
        [&c](WindowStartMs start, std::string_view key, bool is_model, const WindowTotals& t) {
          c.deltas.push_back({start, std::string(key), is_model, t});
        });
    auto& ids = state.pipeline->counted_ids();
    c.event_ids.insert(c.event_ids.end(), ids.begin(), ids.end());
    ids.clear();

    c.partition = partition;
    c.from = state.from;
    c.next = state.next >= 0 ? state.next : state.from.value_or(-1);
    const auto& windows = state.pipeline->windows();
    c.watermark = windows.has_watermark() ? windows.watermark() : EventTimeMs(0);
    // Idle means nothing more to read and nothing new for a while; a
    // partition that is merely slow (a stalled broker, a long checkpoint)
    // keeps holding windows open, or its events would turn up late.
    c.idle = CaughtUp(partition, state) && now - state.last_message_ms >= config_.idle_timeout_ms;
    const bool moved = !state.from || c.next != *state.from;
    if (state.reported && !moved && c.deltas.empty() && c.event_ids.empty() &&
        c.idle == state.idle_reported) {
      return true;  // nothing new to say
    }

    auto outcome = store_.Commit(config_.kafka.topic, c);
    const auto tell = [&](CommitResult result) {
      if (commit_listener_)
        commit_listener_(partition, result, state.observer.get(), c.watermark.value());
    };
    if (!outcome.ok()) {
      store_healthy_ = false;
      tell(CommitResult::kError);
      return outcome.status();
    }
    store_healthy_ = true;
    switch (outcome->kind) {
      case CheckpointOutcome::Kind::kApplied:
        tell(CommitResult::kApplied);
        state.from = c.next;
        state.known_duplicates.clear();
        state.buffered_bytes.clear();
        state.buffered.clear();
        state.idle_reported = c.idle;
        state.reported = true;
        state.pending_events = 0;
        c = PartitionCheckpoint{};
        return true;
      case CheckpointOutcome::Kind::kDuplicateEvents: {
        tell(CommitResult::kDuplicateEvents);
        const absl::flat_hash_set<uint64_t> dups(outcome->duplicates.begin(),
                                                 outcome->duplicates.end());
        for (const auto& [minute, id] : c.event_ids) {
          if (dups.contains(id)) state.known_duplicates.emplace_back(minute, id);
        }
        spdlog::info(
            "partition {}: {} events were already counted elsewhere; counting again without them",
            partition, dups.size());
        if (absl::Status s = Recount(partition, state); !s.ok()) return s;
        if (attempt < 5) continue;
        return false;  // still racing another partition: the next checkpoint retries
      }
      case CheckpointOutcome::Kind::kStalePosition:
        tell(CommitResult::kStalePosition);
        // Someone else applied these offsets (a zombie of this replica, or
        // the partition moved and came back). Drop what we hold and read
        // again from the store's position: counting on would count twice.
        spdlog::warn("partition {}: store position moved on; reloading state", partition);
        state.known_duplicates.clear();
        if (!LoadPartitionRetrying(partition, state)) return absl::CancelledError("stopping");
        if (seeker_ && state.from && *state.from >= 0) {
          if (auto s = seeker_(partition, *state.from); !s.ok()) return s;
        }
        return false;
    }
  }
}

bool RunEngine::CaughtUp(int32_t partition, const Partition& state) const {
  if (!log_bounds_) return false;
  const auto [low, high] = log_bounds_(partition);
  if (high < 0) return false;
  int64_t position = state.next;
  if (position < 0 && state.from && *state.from >= 0) position = *state.from;
  if (position < 0) return low == high;  // never read anything: caught up only if empty
  return position >= high;
}

absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> RunEngine::Checkpoint() {
  // Dead letters of the offsets about to become durable must be durable first.
  if (absl::Status s = flush_outputs_(); !s.ok()) return s;
  const int64_t now = clock_();
  std::vector<std::pair<int32_t, int64_t>> durable;
  for (auto& [p, state] : partitions_) {
    auto applied = CommitPartition(p, *state, now);
    if (!applied.ok()) return applied.status();
    if (*applied && state->from && *state->from >= 0) durable.emplace_back(p, *state->from);
  }
  return durable;
}

void RunEngine::MarkClosedThrough(WindowStartMs start) {
  if (closed_through_ && start <= *closed_through_) return;
  closed_through_ = start;
  for (auto& [p, state] : partitions_) state->pipeline->MarkClosedThrough(start);
}

int64_t RunEngine::pending_events() const {
  int64_t n = 0;
  for (const auto& [p, state] : partitions_) n += state->pending_events;
  return n;
}

PipelineStats RunEngine::TotalStats() const {
  PipelineStats total = retired_stats_;
  for (const auto& [p, state] : partitions_) total += state->pipeline->stats();
  return total;
}

uint64_t RunEngine::OverflowedEvents() const {
  uint64_t n = retired_overflow_;
  for (const auto& [p, state] : partitions_) n += state->pipeline->windows().overflowed_events();
  return n;
}

std::map<int32_t, int64_t> RunEngine::ConsumerLag() const {
  std::map<int32_t, int64_t> lag;
  for (const auto& [p, state] : partitions_) {
    const auto [low, high] = log_bounds_ ? log_bounds_(p) : std::pair<int64_t, int64_t>{-1, -1};
    if (high < 0) continue;
    int64_t position = state->next;
    if (position < 0 && state->from && *state->from >= 0) position = *state->from;
    if (position < 0) position = low;
    lag[p] = std::max<int64_t>(0, high - position);
  }
  return lag;
}

}  // namespace burnrate
