#include "engine/run_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>
#include <tuple>

#include "core/concat.h"

namespace burnrate {

// The messages behind counted state, kept until that state is durable so a
// checkpoint refused for duplicates is counted again from memory, not
// fetched again.
struct RunEngine::MessageBuffer {
  std::string bytes;
  std::vector<std::tuple<int64_t, size_t, size_t>> messages;  // offset, begin, length

  void Add(int64_t offset, std::string_view payload) {
    messages.emplace_back(offset, bytes.size(), payload.size());
    bytes.append(payload);
  }
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& [offset, begin, length] : messages)
      fn(offset, std::string_view(bytes).substr(begin, length));
  }
};

// A sealed checkpoint the committer has not reported on yet.
struct RunEngine::Batch {
  int64_t next = 0;
  int64_t events = 0;
  MessageBuffer messages;
  std::vector<DurableAction> on_durable;
  // The observer state records in the checkpoint, carried on to the next
  // one if it is refused for duplicates.
  std::vector<std::string> observer_state;
  bool replace_observer_state = false;
};

// What a partition holds that is not durable yet, oldest first.
struct RunEngine::Undurable {
  std::vector<MessageBuffer> buffers;
  std::vector<DurableAction> actions;
  std::vector<std::string> observer_state;
  bool replace_observer_state = false;
};

struct RunEngine::Partition {
  std::unique_ptr<EventPipeline> pipeline;
  // Survives recounts of the pipeline; rebuilt from the store whenever the
  // partition's state is loaded from it.
  std::unique_ptr<EventObserver> observer;
  size_t observer_bytes_since_full = 0;  // stored records since the last full one
  bool observer_full_next = false;       // the stored records are unusable: replace them
  uint64_t epoch = 0;  // this life of the pipeline; reports of earlier lives are ignored
  // The position the store holds, as far as this replica knows; nullopt
  // when the store has never seen this partition. A stored -1 means
  // "reported, but no message yet".
  std::optional<int64_t> durable;
  // Where the next checkpoint starts: the end of the last one sealed.
  std::optional<int64_t> sealed_through;
  int64_t next = -1;  // the offset after the last message handled; -1: none since loading
  // Event ids the store reported as already counted elsewhere, with their
  // minute: treated as duplicates when the partition is counted again.
  std::vector<std::pair<int64_t, uint64_t>> known_duplicates;
  // Counted since the last seal.
  MessageBuffer open;
  int64_t open_events = 0;
  std::vector<DurableAction> open_actions;  // of refused checkpoints, for the next one
  std::vector<std::string> open_observer_state;  // likewise
  bool open_replace_observer_state = false;
  std::deque<Batch> in_flight;              // sealed, oldest first
  int64_t last_message_ms = 0;
  bool sealed_once = false;  // has sealed at least once in this life
  bool sealed_idle = false;

  int64_t pending_events() const {
    int64_t n = open_events;
    for (const Batch& b : in_flight) n += b.events;
    return n;
  }
  // Hands over everything not yet durable.
  Undurable TakeUndurable() {
    Undurable u;
    const auto take_records = [&u](std::vector<std::string>& records, bool replace) {
      if (replace) u.observer_state.clear();  // a full record supersedes what came before
      u.replace_observer_state = u.replace_observer_state || replace;
      for (auto& r : records) u.observer_state.push_back(std::move(r));
    };
    for (Batch& b : in_flight) {
      u.buffers.push_back(std::move(b.messages));
      for (auto& a : b.on_durable) u.actions.push_back(std::move(a));
      take_records(b.observer_state, b.replace_observer_state);
    }
    u.buffers.push_back(std::move(open));
    for (auto& a : open_actions) u.actions.push_back(std::move(a));
    take_records(open_observer_state, open_replace_observer_state);
    in_flight.clear();
    open = MessageBuffer{};
    open_actions.clear();
    open_observer_state.clear();
    open_replace_observer_state = false;
    open_events = 0;
    return u;
  }
};

namespace {
// How long a checkpoint that must finish (a stop, a revoke) waits for the store.
constexpr std::chrono::seconds kCheckpointWait{30};
// The observer's stored records are replaced by one full record once those
// since the last full one outgrow twice its size and this much.
constexpr size_t kObserverCompactionBytes = 1 << 20;
}  // namespace

RunEngine::RunEngine(const Config& config, const PriceTable& prices, StateStore& store,
                     CheckpointCommitter& committer, DeadLetterSink& dead_letters,
                     std::function<void(int32_t, int64_t)> on_source_position,
                     std::function<absl::Status()> flush_outputs, Clock clock)
    : config_(config),
      prices_(prices),
      store_(store),
      committer_(committer),
      dead_letters_(dead_letters),
      on_source_position_(std::move(on_source_position)),
      flush_outputs_(std::move(flush_outputs)),
      clock_(std::move(clock)) {}

RunEngine::~RunEngine() = default;

absl::Status RunEngine::LoadPartition(int32_t partition, Partition& state, bool restore_observer) {
  const std::string& topic = config_.kafka.topic;
  auto position = store_.Position(topic, partition);
  if (!position.ok()) return position.status();
  if (restore_observer && observer_factory_) {
    // Read right after the position: a checkpoint writes both at once.
    auto records = store_.ObserverState(topic, partition);
    if (!records.ok()) return records.status();
    RestoreObserver(partition, state, *records);
  }
  auto progress = store_.Progress(topic);
  if (!progress.ok()) return progress.status();
  auto closed = store_.ClosedThrough(topic);
  if (!closed.ok()) return closed.status();
  std::optional<int64_t> watermark;
  for (const auto& p : *progress) {
    if (p.partition == partition) watermark = p.watermark;
  }
  // A replaced pipeline's counts are dropped with it: its messages are
  // counted again (recount) or by whoever holds the stored position. A new
  // epoch makes the committer's reports on its checkpoints stale.
  state.pipeline = std::make_unique<EventPipeline>(config_.pipeline, prices_, dead_letters_);
  state.pipeline->set_record_counted_ids(true);
  state.pipeline->set_observer(state.observer.get());
  if (watermark && *watermark > 0) state.pipeline->SeedWatermark(EventTimeMs(*watermark));
  for (const auto& [minute, id] : state.known_duplicates)
    state.pipeline->SeedDedup({id}, EventTimeMs(minute));
  if (*closed) state.pipeline->MarkClosedThrough(**closed);
  if (closed_through_) state.pipeline->MarkClosedThrough(*closed_through_);
  state.epoch = ++last_epoch_;
  state.durable = *position;
  state.sealed_through = *position;
  state.next = -1;
  state.open = MessageBuffer{};
  state.open_events = 0;
  state.open_actions.clear();
  state.open_observer_state.clear();
  state.open_replace_observer_state = false;
  state.in_flight.clear();
  state.last_message_ms = clock_();
  state.sealed_once = false;
  state.sealed_idle = false;
  spdlog::info("partition {}: state loaded at offset {} (watermark {})", partition,
               position->value_or(-1), watermark.value_or(0));
  return absl::OkStatus();
}

void RunEngine::RestoreObserver(int32_t partition, Partition& state, const std::vector<std::string>& records) {
  state.observer = observer_factory_(partition);
  state.observer_bytes_since_full = 0;
  state.observer_full_next = false;
  for (const std::string& r : records) state.observer_bytes_since_full += r.size();
  if (!state.observer->RestoreState(records)) {
    // Losing the detector's runs is better than not consuming: it counts
    // them afresh from here, and the next checkpoint replaces the records.
    spdlog::error("partition {}: the saved observer state ({} records) is corrupt; starting it afresh",
                  partition, records.size());
    state.observer = observer_factory_(partition);
    state.observer_full_next = true;
  }
}

bool RunEngine::LoadPartitionRetrying(int32_t partition, Partition& state, bool restore_observer) {
  // Without its state a partition cannot be consumed correctly, so the
  // rebalance waits for the store (librdkafka keeps the group membership),
  // unless the process is stopping.
  int delay_ms = 200;
  for (;;) {
    const absl::Status s = LoadPartition(partition, state, restore_observer);
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
    if (!state) state = std::make_unique<Partition>();
    if (!LoadPartitionRetrying(p, *state, /*restore_observer=*/true)) {
      // Stopping with no state for this partition: Handle() ignores its
      // messages (nothing is counted or committed), and the next owner reads
      // them from the stored position.
      partitions_.erase(p);
      starts.push_back(std::nullopt);
      continue;
    }
    starts.push_back(state->durable && *state->durable >= 0 ? state->durable : std::nullopt);
  }
  return starts;
}

void RunEngine::OnRevoked(const std::vector<int32_t>& partitions) {
  // Hand over cleanly: make what was counted durable. If that fails the
  // next owner replays from the stored position, which is just as exact (a
  // checkpoint of ours still queued is refused once the owner moved on).
  if (auto saved = Checkpoint(); !saved.ok()) {
    spdlog::warn("state not saved on revoke ({})", std::string(saved.status().message()));
  }
  for (int32_t p : partitions) {
    auto it = partitions_.find(p);
    if (it == partitions_.end()) continue;
    Retire(it);
    spdlog::info("partition {}: revoked", p);
  }
}

void RunEngine::Retire(std::map<int32_t, std::unique_ptr<Partition>>::iterator it) {
  retired_stats_ += it->second->pipeline->stats();
  retired_overflow_ += it->second->pipeline->windows().overflowed_events();
  partitions_.erase(it);
}

void RunEngine::Handle(const SourceMessage& message) {
  auto it = partitions_.find(message.partition);
  if (it == partitions_.end()) return;  // not ours (any more): its owner reads it
  Partition& state = *it->second;
  if (state.next >= 0 && message.offset < state.next) return;  // delivered again after a seek
  state.open.Add(message.offset, message.payload);
  Process(message.partition, state, message.offset, message.payload);
}

void RunEngine::Process(int32_t partition, Partition& state, int64_t offset,
                        std::string_view payload) {
  on_source_position_(partition, offset);
  const int64_t now = clock_();
  state.pipeline->Process(payload, EventTimeMs(now));
  state.next = offset + 1;
  state.last_message_ms = now;
  ++state.open_events;
}

bool RunEngine::Recount(int32_t partition, Partition& state) {
  // A fresh pipeline from the durable state, then every message not yet
  // durable again; the known duplicates are now refused by its dedup filter.
  const std::optional<int64_t> expected = state.durable;
  Undurable undurable = state.TakeUndurable();
  const int64_t last_message_ms = state.last_message_ms;
  if (!LoadPartitionRetrying(partition, state, /*restore_observer=*/false)) return false;
  if (state.durable != expected) {
    // Someone else applied offsets meanwhile: our messages may overlap
    // theirs, so read on from the store's position instead, with the
    // observer state saved with it.
    spdlog::warn("partition {}: store position moved on; reading from it", partition);
    if (!LoadPartitionRetrying(partition, state, /*restore_observer=*/true)) return false;
    state.open_actions = std::move(undurable.actions);
    if (seeker_ && state.durable && *state.durable >= 0) {
      if (auto s = seeker_(partition, *state.durable); !s.ok())
        spdlog::warn("partition {}: seek: {}", partition, std::string(s.message()));
    }
    return true;
  }
  state.open_actions = std::move(undurable.actions);
  // The observer saw these messages already; what it recorded of them goes
  // with the next checkpoint.
  state.open_observer_state = std::move(undurable.observer_state);
  state.open_replace_observer_state = undurable.replace_observer_state;
  state.pipeline->set_observer(nullptr);
  for (const MessageBuffer& buffer : undurable.buffers) {
    buffer.ForEach([&](int64_t offset, std::string_view payload) {
      state.open.Add(offset, payload);
      Process(partition, state, offset, payload);
    });
  }
  state.pipeline->set_observer(state.observer.get());
  state.last_message_ms = last_message_ms;
  return true;
}

bool RunEngine::SealPartition(int32_t partition, Partition& state, int64_t now) {
  PartitionCheckpoint c;
  state.pipeline->Drain(
      [&c](WindowStartMs start, std::string_view key, bool is_model, const WindowTotals& t) {
        c.deltas.push_back({start, std::string(key), is_model, t});
      });
  auto& ids = state.pipeline->counted_ids();
  c.event_ids.swap(ids);
  ids.clear();

  c.partition = partition;
  c.from = state.sealed_through;
  c.next = state.next >= 0 ? state.next : state.sealed_through.value_or(-1);
  const auto& windows = state.pipeline->windows();
  c.watermark = windows.has_watermark() ? windows.watermark() : EventTimeMs(0);
  // Idle means nothing more to read and nothing new for a while; a
  // partition that is merely slow (a stalled broker, a long checkpoint)
  // keeps holding windows open, or its events would turn up late.
  c.idle = CaughtUp(partition, state) && now - state.last_message_ms >= config_.idle_timeout_ms;
  const bool moved = !state.sealed_through || c.next != *state.sealed_through;
  if (state.sealed_once && !moved && c.deltas.empty() && c.event_ids.empty() &&
      c.idle == state.sealed_idle) {
    return false;  // nothing new to say
  }

  Batch batch;
  batch.next = c.next;
  batch.events = state.open_events;
  batch.messages = std::move(state.open);
  batch.on_durable = std::move(state.open_actions);
  if (seal_listener_) {
    if (DurableAction action = seal_listener_(partition, state.observer.get(), c.watermark.value()))
      batch.on_durable.push_back(std::move(action));
  }
  // After the listener: what it changed (runs resolved) is in this state.
  if (state.observer) SaveObserverState(state);
  c.observer_state = state.open_observer_state;
  c.replace_observer_state = state.open_replace_observer_state;
  batch.observer_state = std::move(state.open_observer_state);
  batch.replace_observer_state = state.open_replace_observer_state;
  state.open_observer_state.clear();
  state.open_replace_observer_state = false;
  state.sealed_through = c.next;
  state.sealed_once = true;
  state.sealed_idle = c.idle;
  state.open = MessageBuffer{};
  state.open_events = 0;
  state.open_actions.clear();
  committer_.Submit({state.epoch, batch.events, std::move(c)});
  state.in_flight.push_back(std::move(batch));
  return true;
}

void RunEngine::SaveObserverState(Partition& state) {
  const bool full = state.observer_full_next ||
                    state.observer_bytes_since_full > 2 * state.observer->StateBytes() + kObserverCompactionBytes;
  std::string record;
  if (!state.observer->SaveState(full, record)) return;
  if (full) {
    state.open_observer_state.clear();
    state.open_replace_observer_state = true;
    state.observer_bytes_since_full = 0;
    state.observer_full_next = false;
  }
  state.observer_bytes_since_full += record.size();
  state.open_observer_state.push_back(std::move(record));
}

bool RunEngine::ApplyReport(const CommitReport& report,
                            std::vector<std::pair<int32_t, int64_t>>& durable) {
  switch (report.kind) {
    case CommitReport::Kind::kApplied:
      Tell(report, CommitResult::kApplied);
      break;
    case CommitReport::Kind::kStalePosition:
      Tell(report, CommitResult::kStalePosition);
      break;
    case CommitReport::Kind::kDuplicateEvents:
      Tell(report, CommitResult::kDuplicateEvents);
      break;
    case CommitReport::Kind::kFailed:
      Tell(report, CommitResult::kError);
      break;
    case CommitReport::Kind::kSkipped:
      break;
  }
  auto it = partitions_.find(report.partition);
  if (it == partitions_.end()) return false;  // revoked meanwhile: the next owner replays
  Partition& state = *it->second;
  // Reports on an earlier life's checkpoints: that state was replaced.
  if (report.epoch != state.epoch || state.in_flight.empty()) return false;
  const int32_t partition = report.partition;

  switch (report.kind) {
    case CommitReport::Kind::kApplied: {
      Batch done = std::move(state.in_flight.front());
      state.in_flight.pop_front();
      state.durable = report.next;
      state.known_duplicates.clear();
      for (const DurableAction& action : done.on_durable) action();
      if (report.next >= 0) durable.emplace_back(partition, report.next);
      return true;
    }
    case CommitReport::Kind::kDuplicateEvents:
      // A checkpoint refused for duplicates is counted again at once from
      // the kept messages (with every later one of this life), and sealed
      // again at once, before new messages join it: new duplicates can only
      // appear if other partitions commit them meanwhile, so this settles.
      state.known_duplicates.insert(state.known_duplicates.end(), report.duplicates.begin(),
                                    report.duplicates.end());
      spdlog::info(
          "partition {}: {} events were already counted elsewhere; counting again without them",
          partition, report.duplicates.size());
      if (!Recount(partition, state)) {
        Retire(it);
        return false;
      }
      // The dead letters of the recount go first, as in Seal().
      if (flush_outputs_().ok()) SealPartition(partition, state, clock_());
      return false;
    case CommitReport::Kind::kStalePosition: {
      // Someone else applied these offsets (a zombie of this replica, or
      // the partition moved and came back). Drop what we hold and read
      // again from the store's position: counting on would count twice.
      spdlog::warn("partition {}: store position moved on; reloading state", partition);
      auto actions = std::move(state.TakeUndurable().actions);
      state.known_duplicates.clear();
      if (!LoadPartitionRetrying(partition, state, /*restore_observer=*/true)) {
        Retire(it);
        return false;
      }
      state.open_actions = std::move(actions);
      if (seeker_ && state.durable && *state.durable >= 0) {
        if (auto s = seeker_(partition, *state.durable); !s.ok())
          spdlog::warn("partition {}: seek: {}", partition, std::string(s.message()));
      }
      return false;
    }
    case CommitReport::Kind::kFailed:
      // Only when stopping: what is not durable is counted again by
      // whoever reads the partition next.
      commit_failure_ = report.error;
      spdlog::warn("partition {}: state not saved ({})", partition,
                   std::string(report.error.message()));
      Retire(it);
      return false;
    case CommitReport::Kind::kSkipped:
      return false;
  }
  return false;
}

absl::Status RunEngine::Seal() {
  // Dead letters of the offsets about to become durable must be durable first.
  if (absl::Status s = flush_outputs_(); !s.ok()) return s;
  const int64_t now = clock_();
  for (auto& [p, state] : partitions_) {
    // A full queue leaves the partition's state open: it is sealed (bigger)
    // next time, and the polling thread's back-pressure limits it.
    if (!committer_.HasRoomFor(state->open_events)) continue;
    SealPartition(p, *state, now);
  }
  return absl::OkStatus();
}

std::vector<std::pair<int32_t, int64_t>> RunEngine::CollectCommits() {
  std::vector<std::pair<int32_t, int64_t>> durable;
  for (const CommitReport& report : committer_.TakeReports()) ApplyReport(report, durable);
  return durable;
}

bool RunEngine::CaughtUp(int32_t partition, const Partition& state) const {
  if (!log_bounds_) return false;
  const auto [low, high] = log_bounds_(partition);
  if (high < 0) return false;
  int64_t position = state.next;
  if (position < 0 && state.durable && *state.durable >= 0) position = *state.durable;
  if (position < 0) return low == high;  // never read anything: caught up only if empty
  return position >= high;
}

absl::StatusOr<std::vector<std::pair<int32_t, int64_t>>> RunEngine::Checkpoint() {
  commit_failure_ = absl::OkStatus();
  // A refusal for duplicates leaves counted-again state to seal; new
  // duplicates appear only while other partitions race this one, so a few
  // rounds settle it (what is left waits for the next checkpoint).
  for (int round = 0; round < 6; ++round) {
    if (absl::Status s = flush_outputs_(); !s.ok()) return s;
    const int64_t now = clock_();
    for (auto& [p, state] : partitions_) SealPartition(p, *state, now);
    if (!committer_.WaitUntilIdle(kCheckpointWait)) {
      return absl::DeadlineExceededError("state store: checkpoint not applied in time");
    }
    CollectCommits();
    if (!commit_failure_.ok()) return commit_failure_;
    const bool settled = std::all_of(partitions_.begin(), partitions_.end(), [](const auto& entry) {
      return entry.second->pending_events() == 0;
    });
    if (settled) break;
  }
  std::vector<std::pair<int32_t, int64_t>> durable;
  for (const auto& [p, state] : partitions_) {
    if (state->pending_events() == 0 && state->in_flight.empty() && state->durable &&
        *state->durable >= 0)
      durable.emplace_back(p, *state->durable);
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
  for (const auto& [p, state] : partitions_) n += state->pending_events();
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
    if (position < 0 && state->durable && *state->durable >= 0) position = *state->durable;
    if (position < 0) position = low;
    lag[p] = std::max<int64_t>(0, high - position);
  }
  return lag;
}

}  // namespace burnrate
