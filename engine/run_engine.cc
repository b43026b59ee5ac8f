#include "engine/run_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <thread>

#include "core/concat.h"

namespace burnrate {

// A sealed checkpoint the committer has not reported on yet.
struct RunEngine::Batch {
  int64_t next = 0;
  int64_t events = 0;
  PipelineStats stats;  // of the messages behind it
  KeptMessages messages;
  size_t held_bytes = 0;  // of the held dead letters in its checkpoint
  std::vector<DurableAction> on_durable;
  // The observer state records in the checkpoint, carried on to the next
  // one if it is refused for duplicates.
  std::vector<std::string> observer_state;
  bool replace_observer_state = false;
};

// What a partition holds that is not durable yet, oldest first.
struct RunEngine::Undurable {
  std::vector<KeptMessages> buffers;
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
  // A replaced pipeline's counters would be lost with it, and the messages
  // it counted that were not durable are counted again by the next: so the
  // totals keep what earlier lives made durable, plus this life's pipeline.
  PipelineStats stats_of_earlier_lives;
  PipelineStats stats_applied;  // this life: of the checkpoints applied
  PipelineStats stats_at_seal;  // this life: the pipeline's, at the last seal
  PipelineStats stats() const {
    PipelineStats s = stats_of_earlier_lives;
    if (pipeline) s += pipeline->stats();
    return s;
  }
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
  KeptMessages open;
  int64_t open_events = 0;
  std::vector<DurableAction> open_actions;  // of refused checkpoints, for the next one
  std::vector<std::string> open_observer_state;  // likewise
  bool open_replace_observer_state = false;
  // Dead letters whose verdict only an applied checkpoint settles (copies
  // dropped on another partition's claim, `late`, out of the wall clock's
  // range), since the last seal: stored with the checkpoint, published once
  // it is applied.
  std::vector<std::pair<int64_t, std::string>> open_held_dead_letters;
  size_t open_held_bytes = 0;  // their records' bytes
  // Held dead letters of the offsets below these were published, flushed,
  // and told to the store (which then drops them); -1: none.
  int64_t held_published_below = -1;
  int64_t held_flushed_below = -1;
  int64_t held_drop_sealed = -1;
  // (offset, item) of the dead letters published for messages not yet
  // durable: counting them again after a refusal does not publish those
  // again (a malformed message stays malformed, a duplicate a duplicate).
  absl::flat_hash_set<std::pair<int64_t, int32_t>> dead_lettered;
  std::deque<Batch> in_flight;              // sealed, oldest first
  int64_t last_message_ms = 0;
  bool sealed_once = false;  // has sealed at least once in this life
  bool sealed_idle = false;

  int64_t pending_events() const {
    int64_t n = open_events;
    for (const Batch& b : in_flight) n += b.events;
    return n;
  }
  // The kept messages, and the held dead letters (each a copy of one).
  int64_t pending_bytes() const {
    size_t n = open.bytes() + open_held_bytes;
    for (const Batch& b : in_flight) n += b.messages.bytes() + b.held_bytes;
    return static_cast<int64_t>(n);
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
    open_held_dead_letters.clear();  // decided again when the messages are counted again
    open_held_bytes = 0;
    open_actions.clear();
    open_observer_state.clear();
    open_replace_observer_state = false;
    open_events = 0;
    return u;
  }
};

namespace {
// A held dead letter as stored: "<offset>:<item>,<reason>,<detail>:<message>".
// The offset makes copies of one message at different offsets distinct
// records. Records written before other reasons were held lack
// ",<reason>,<detail>": those are duplicates refused on another partition's
// claim. Reason names and details are fixed words without ':' or ','.
std::string EncodeHeldDeadLetter(int64_t offset, const Rejection& rejection, std::string_view message) {
  return Concat(offset, ":", rejection.item, ",", RejectReasonName(rejection.reason), ",",
                rejection.detail, ":", message);
}
bool DecodeHeldDeadLetter(std::string_view record, Rejection& rejection, std::string_view& message) {
  const size_t first = record.find(':');
  const size_t second = first == std::string_view::npos ? first : record.find(':', first + 1);
  if (second == std::string_view::npos) return false;
  const char* begin = record.data() + first + 1;
  const char* end = record.data() + second;
  auto [at, ec] = std::from_chars(begin, end, rejection.item);
  if (ec != std::errc()) return false;
  message = record.substr(second + 1);
  if (at == end) {
    rejection.reason = RejectReason::kDuplicate;
    rejection.detail = "event_id";
    return true;
  }
  if (*at != ',') return false;
  const std::string_view rest(at + 1, static_cast<size_t>(end - at - 1));
  const size_t comma = rest.find(',');
  if (comma == std::string_view::npos) return false;
  const std::string_view name = rest.substr(0, comma);
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    if (RejectReasonName(static_cast<RejectReason>(i)) == name) {
      rejection.reason = static_cast<RejectReason>(i);
      rejection.detail = rest.substr(comma + 1);
      return true;
    }
  }
  return false;
}

// How long a checkpoint that must finish (a stop, a revoke) waits for the
// store, and for the dead letters to be delivered.
constexpr std::chrono::seconds kCheckpointWait{30};
// How long a seal while consuming waits for the dead letters: the polling
// thread also serves rebalances and must not sit out a broker outage in
// here (a member that waited 30 s here lost its partitions and kept the
// group from settling). Not delivered in time: the state stays open and is
// sealed, bigger, next time.
constexpr std::chrono::milliseconds kSealFlushWait{500};
// The observer's stored records are replaced by one full record once those
// since the last full one outgrow twice its size and this much.
constexpr size_t kObserverCompactionBytes = 1 << 20;
}  // namespace

RunEngine::RunEngine(const Config& config, const PriceTable& prices, StateStore& store,
                     CheckpointCommitter& committer, DeadLetterSink& dead_letters,
                     std::function<void(int32_t, int64_t)> on_source_position,
                     FlushOutputs flush_outputs, Clock clock)
    : config_(config),
      prices_(prices),
      store_(store),
      committer_(committer),
      dead_letters_(dead_letters),
      on_source_position_(std::move(on_source_position)),
      flush_outputs_(std::move(flush_outputs)),
      clock_(std::move(clock)),
      claims_(config.pipeline.dedup_horizon_ms) {
  once_sink_.out = &dead_letters_;
}

void RunEngine::OnceDeadLetterSink::DeadLetter(std::string_view message,
                                               const Rejection& rejection) {
  if (dead_lettered->insert({offset, rejection.item}).second) out->DeadLetter(message, rejection);
}

void RunEngine::HeldDeadLetterSink::DeadLetter(std::string_view message,
                                               const Rejection& rejection) {
  held->emplace_back(offset, EncodeHeldDeadLetter(offset, rejection, message));
  *bytes += held->back().second.size();
}

void RunEngine::PublishHeldDeadLetters(int32_t partition,
                                       const std::vector<std::pair<int64_t, std::string>>& held) {
  for (const auto& [offset, record] : held) {
    Rejection rejection{RejectReason::kDuplicate, {}, -1};
    std::string_view message;
    if (!DecodeHeldDeadLetter(record, rejection, message)) {
      spdlog::error("partition {}: held dead letter at offset {} is corrupt; skipped", partition,
                    offset);
      continue;
    }
    on_source_position_(partition, offset);
    dead_letters_.DeadLetter(message, rejection);
  }
}

void RunEngine::NoteOutputsFlushed() {
  for (auto& [p, state] : partitions_) state->held_flushed_below = state->held_published_below;
}

RunEngine::~RunEngine() = default;

absl::Status RunEngine::LoadPartition(int32_t partition, Partition& state, bool take_over) {
  const std::string& topic = config_.kafka.topic;
  auto position = store_.Position(topic, partition);
  if (!position.ok()) return position.status();
  if (take_over && observer_factory_) {
    // Read right after the position: a checkpoint writes both at once.
    auto records = store_.ObserverState(topic, partition);
    if (!records.ok()) return records.status();
    RestoreObserver(partition, state, *records);
  }
  std::vector<std::pair<int64_t, std::string>> held;
  if (take_over) {
    // Dropped copies of applied checkpoints whose dead letters may not have
    // been published before the last owner stopped: publish them (again).
    auto stored = store_.HeldDeadLetters(topic, partition);
    if (!stored.ok()) return stored.status();
    held = *std::move(stored);
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
  state.stats_of_earlier_lives += state.stats_applied;
  state.stats_applied = PipelineStats{};
  state.stats_at_seal = PipelineStats{};
  state.pipeline = std::make_unique<EventPipeline>(config_.pipeline, prices_, once_sink_);
  state.pipeline->set_record_counted_ids(true);
  // Taking the partition over from the store: what it claimed before is
  // decided again by whoever counts those messages. A recount keeps the
  // claims: its durable events are still counted, and the messages counted
  // again find their own claims.
  if (take_over) claims_.Release(partition);
  state.pipeline->set_claims(&claims_, partition, &held_sink_);
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
  state.open.Clear();
  state.open_events = 0;
  state.open_actions.clear();
  state.open_observer_state.clear();
  state.open_replace_observer_state = false;
  state.open_held_dead_letters.clear();
  state.open_held_bytes = 0;
  state.held_drop_sealed = -1;  // a refused checkpoint may have carried it
  if (take_over) {
    state.dead_lettered.clear();  // read from the store's position on: all new
    PublishHeldDeadLetters(partition, held);
    state.held_published_below = position->value_or(-1);
    state.held_flushed_below = -1;
  }
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

bool RunEngine::LoadPartitionRetrying(int32_t partition, Partition& state, bool take_over) {
  // Without its state a partition cannot be consumed correctly, so the
  // rebalance waits for the store (librdkafka keeps the group membership),
  // unless the process is stopping.
  int delay_ms = 200;
  for (;;) {
    const absl::Status s = LoadPartition(partition, state, take_over);
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
      state->open = KeptMessages(message_blocks_);
    }
    if (!LoadPartitionRetrying(p, *state, /*take_over=*/true)) {
      // Stopping with no state for this partition: Handle() ignores its
      // messages (nothing is counted or committed), and the next owner reads
      // them from the stored position.
      partitions_.erase(p);
      starts.push_back(std::nullopt);
      continue;
    }
    const bool stored = state->durable && *state->durable >= 0;
    starts.push_back(stored ? state->durable : std::nullopt);
    if (stored) NoteToCommit(p, *state->durable);
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

void RunEngine::OnLost(const std::vector<int32_t>& partitions) {
  // No checkpoint: the group has moved on without this member (its session
  // timed out, or a commit or heartbeat met a newer generation), so the
  // partitions may have moved on, and waiting here for a broker that is
  // away keeps this member out of the group. What was counted and not
  // durable is counted again by the next owner from the stored position (a
  // checkpoint of ours already queued is refused if that owner got there
  // first).
  for (int32_t p : partitions) {
    auto it = partitions_.find(p);
    if (it == partitions_.end()) continue;
    spdlog::warn(
        "partition {}: lost (the group moved on without this replica: its session timed out, "
        "or the coordinator refused its generation); {} events not yet durable are left to its "
        "next owner",
        p, it->second->pending_events());
    Retire(it);
  }
}

void RunEngine::Retire(std::map<int32_t, std::unique_ptr<Partition>>::iterator it) {
  claims_.Release(it->first);
  to_commit_.erase(it->first);  // the partition's next owner commits it
  retired_stats_ += it->second->stats();
  retired_overflow_ += it->second->pipeline->windows().overflowed_events();
  partitions_.erase(it);
}

void RunEngine::Handle(const SourceMessage& message) {
  auto it = partitions_.find(message.partition);
  if (it == partitions_.end()) return;  // not ours (any more): its owner reads it
  Partition& state = *it->second;
  if (state.next >= 0) {
    if (message.offset < state.next) return;  // delivered again after a seek
  } else if (state.durable && *state.durable >= 0) {
    // The first message since the state was loaded. One below the stored
    // position is durable already (fetched for an earlier life of the
    // partition): counting it again would count it twice.
    if (message.offset < *state.durable) return;
    if (message.offset > *state.durable)
      NoteResumedPastPosition(message.partition, *state.durable, message.offset);
  }
  state.open.Add(message.offset, message.payload);
  Process(message.partition, state, message.offset, message.payload);
}

void RunEngine::NoteResumedPastPosition(int32_t partition, int64_t stored, int64_t offset) const {
  // The log has nothing between the stored position and the first message
  // read since the state was loaded. Where the log now starts past the
  // position, retention deleted events no replica counted (every replica
  // was down for longer than it); otherwise compaction or transaction
  // markers took the offsets, which is expected.
  const int64_t log_start = log_bounds_ ? log_bounds_(partition).first : -1;
  if (log_start > stored) {
    spdlog::warn(
        "partition {}: reading resumed at offset {}, {} past the stored position {}: the log now "
        "starts at {}, so retention deleted {} messages before they were counted",
        partition, offset, offset - stored, stored, log_start, log_start - stored);
  } else {
    spdlog::info(
        "partition {}: reading resumed at offset {}, {} past the stored position {} (offsets "
        "taken by compaction or transaction markers)",
        partition, offset, offset - stored, stored);
  }
}

void RunEngine::Process(int32_t partition, Partition& state, int64_t offset,
                        std::string_view payload) {
  on_source_position_(partition, offset);
  held_sink_.held = &state.open_held_dead_letters;
  held_sink_.bytes = &state.open_held_bytes;
  held_sink_.offset = offset;
  once_sink_.dead_lettered = &state.dead_lettered;
  once_sink_.offset = offset;
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
  if (!LoadPartitionRetrying(partition, state, /*take_over=*/false)) return false;
  if (state.durable != expected) {
    // Someone else applied offsets meanwhile: our messages may overlap
    // theirs, so read on from the store's position instead, with the
    // observer state saved with it.
    spdlog::warn("partition {}: store position moved on; reading from it", partition);
    if (!LoadPartitionRetrying(partition, state, /*take_over=*/true)) return false;
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
  for (KeptMessages& buffer : undurable.buffers) {
    buffer.ForEach([&](int64_t offset, std::string_view payload) {
      Process(partition, state, offset, payload);
    });
    state.open.Append(std::move(buffer));  // the same bytes, kept again without a copy
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
  c.held_dead_letters_published_below = state.held_flushed_below;
  if (state.sealed_once && !moved && c.deltas.empty() && c.event_ids.empty() &&
      c.idle == state.sealed_idle && state.open_held_dead_letters.empty() &&
      state.held_flushed_below <= state.held_drop_sealed) {
    return false;  // nothing new to say
  }

  Batch batch;
  batch.next = c.next;
  batch.events = state.open_events;
  batch.stats = state.pipeline->stats();
  batch.stats -= state.stats_at_seal;
  state.stats_at_seal = state.pipeline->stats();
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
  // Published once the checkpoint is applied: the committer hands them back
  // in its report (CommitReport::held_dead_letters).
  c.held_dead_letters = std::move(state.open_held_dead_letters);
  state.open_held_dead_letters.clear();
  batch.held_bytes = state.open_held_bytes;
  state.open_held_bytes = 0;
  state.held_drop_sealed = state.held_flushed_below;
  state.sealed_through = c.next;
  state.sealed_once = true;
  state.sealed_idle = c.idle;
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

bool RunEngine::ApplyReport(const CommitReport& report) {
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
    case CommitReport::Kind::kWindowClosed:
      Tell(report, CommitResult::kWindowClosed);
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
      state.stats_applied += done.stats;
      state.known_duplicates.clear();
      // Those copies stay dropped now: their dead letters go out (flushed
      // before the next seal, which tells the store to forget them).
      PublishHeldDeadLetters(partition, report.held_dead_letters);
      state.held_published_below = std::max(state.held_published_below, report.next);
      absl::erase_if(state.dead_lettered,
                     [&report](const auto& key) { return key.first < report.next; });
      for (const DurableAction& action : done.on_durable) action();
      NoteToCommit(partition, report.next);
      return true;
    }
    case CommitReport::Kind::kDuplicateEvents:
    case CommitReport::Kind::kWindowClosed:
      // A refused checkpoint is counted again at once from the kept messages
      // (with every later one of this life), and sealed again at once,
      // before new messages join it: new duplicates can only appear if other
      // partitions commit them meanwhile, and a window can only be refused
      // again if the closer moved on meanwhile, so this settles.
      if (report.kind == CommitReport::Kind::kDuplicateEvents) {
        state.known_duplicates.insert(state.known_duplicates.end(), report.duplicates.begin(),
                                      report.duplicates.end());
        spdlog::info(
            "partition {}: {} events were already counted elsewhere; counting again without them",
            partition, report.duplicates.size());
      } else {
        // The recount reads what is closed from the store: those events go late.
        spdlog::info("partition {}: events for a window closed meanwhile; counting again", partition);
      }
      if (!Recount(partition, state)) {
        Retire(it);
        return false;
      }
      // The dead letters of the recount go first, as in Seal().
      if (FlushOutputsUnlessLost(kSealFlushWait).ok()) {
        NoteOutputsFlushed();
        SealPartition(partition, state, clock_());
      }
      return false;
    case CommitReport::Kind::kStalePosition: {
      // Someone else applied these offsets (a zombie of this replica, or
      // the partition moved and came back). Drop what we hold and read
      // again from the store's position: counting on would count twice.
      spdlog::warn("partition {}: store position moved on; reloading state", partition);
      auto actions = std::move(state.TakeUndurable().actions);
      state.known_duplicates.clear();
      if (!LoadPartitionRetrying(partition, state, /*take_over=*/true)) {
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
  if (absl::Status s = FlushOutputsUnlessLost(kSealFlushWait); !s.ok()) return s;
  NoteOutputsFlushed();
  const int64_t now = clock_();
  for (auto& [p, state] : partitions_) {
    // A full queue leaves the partition's state open: it is sealed (bigger)
    // next time, and the polling thread's back-pressure limits it.
    if (!committer_.HasRoomFor(state->open_events)) continue;
    SealPartition(p, *state, now);
  }
  return absl::OkStatus();
}

absl::Status RunEngine::FlushOutputsUnlessLost(std::chrono::milliseconds timeout) {
  if (!outputs_lost_.ok()) return outputs_lost_;
  absl::Status s = flush_outputs_(timeout);
  if (absl::IsDataLoss(s)) {
    // Dead letters of state not yet durable were refused for good (a topic
    // not authorised or deleted, a record too large for it). Sealing later
    // state would make their offsets durable without them: from now on
    // nothing is, and the messages are read again by whoever reads the
    // partitions next.
    outputs_lost_ = s;
    spdlog::error(
        "dead letters could not be delivered ({}); no more state is made durable, so the "
        "messages since the last checkpoint are read again after a restart",
        std::string(s.message()));
  }
  return s;
}

void RunEngine::ApplyReports() {
  for (const CommitReport& report : committer_.TakeReports()) ApplyReport(report);
}

void RunEngine::NoteToCommit(int32_t partition, int64_t next) {
  if (next < 0) return;
  auto [it, inserted] = to_commit_.try_emplace(partition, next);
  if (!inserted) it->second = std::max(it->second, next);
}

std::vector<std::pair<int32_t, int64_t>> RunEngine::CollectCommits() {
  ApplyReports();
  std::vector<std::pair<int32_t, int64_t>> positions(to_commit_.begin(), to_commit_.end());
  to_commit_.clear();
  return positions;
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
    if (absl::Status s = FlushOutputsUnlessLost(kCheckpointWait); !s.ok()) return s;
    NoteOutputsFlushed();
    const int64_t now = clock_();
    for (auto& [p, state] : partitions_) SealPartition(p, *state, now);
    if (!committer_.WaitUntilIdle(kCheckpointWait)) {
      return absl::DeadlineExceededError("state store: checkpoint not applied in time");
    }
    ApplyReports();
    if (!commit_failure_.ok()) return commit_failure_;
    const bool settled = std::all_of(partitions_.begin(), partitions_.end(), [](const auto& entry) {
      return entry.second->pending_events() == 0;
    });
    if (settled) break;
  }
  // The held dead letters published by the last applies go out now; the
  // store forgets them with a later checkpoint. If this flush fails they
  // stay in the store and the next owner publishes them: the state itself
  // is durable, so the checkpoint has not failed.
  if (absl::Status s = FlushOutputsUnlessLost(kCheckpointWait); s.ok()) {
    NoteOutputsFlushed();
    // One more round tells the store to forget them, so that the
    // partitions' next owners (after a revoke or a stop) do not publish
    // them again.
    const int64_t now = clock_();
    bool sealed = false;
    for (auto& [p, state] : partitions_) sealed = SealPartition(p, *state, now) || sealed;
    if (sealed && committer_.WaitUntilIdle(kCheckpointWait)) ApplyReports();
  } else {
    spdlog::warn("held dead letters not flushed ({}); the partitions' next owners publish them",
                 std::string(s.message()));
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

int64_t RunEngine::pending_bytes() const {
  int64_t n = 0;
  for (const auto& [p, state] : partitions_) n += state->pending_bytes();
  return n;
}

int64_t RunEngine::unsealed_events() const {
  int64_t n = 0;
  for (const auto& [p, state] : partitions_) n += state->open_events;
  return n;
}

PipelineStats RunEngine::TotalStats() const {
  PipelineStats total = retired_stats_;
  for (const auto& [p, state] : partitions_) total += state->stats();
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
