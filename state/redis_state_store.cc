#include "state/redis_state_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>

#include "core/concat.h"
#include "core/dedup.h"
#include "state/delta_codec.h"
#include "state/redis_client.h"

namespace burnrate {
namespace {

bool ParseInt(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Held dead letters are stored in chunks of up to about kHeldChunkBytes:
// one sorted-set member holds many records ('#', then per record
// "<offset> <length>\n<record>"), scored by its highest offset. One member
// per record cost Redis about 10 µs each, which a backlog of old events (all
// dead-lettered through the store) turned into seconds per checkpoint and
// hundreds of MB (docs/benchmarks.md). Members written before chunks hold
// one record, scored by its own offset, and start with a digit.
constexpr size_t kHeldChunkBytes = size_t{1} << 20;

std::vector<std::pair<int64_t, std::string>> PackHeldChunks(
    const std::vector<std::pair<int64_t, std::string>>& records) {
  std::vector<const std::pair<int64_t, std::string>*> sorted;
  sorted.reserve(records.size());
  for (const auto& r : records) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  std::vector<std::pair<int64_t, std::string>> chunks;
  for (const auto* r : sorted) {
    if (chunks.empty() || chunks.back().second.size() >= kHeldChunkBytes) chunks.emplace_back(0, "#");
    auto& [highest, chunk] = chunks.back();
    highest = r->first;  // ascending: the last record's offset
    chunk.append(Concat(r->first, " ", r->second.size(), "\n"));
    chunk.append(r->second);
  }
  return chunks;
}

// Appends the records of one stored member (a chunk, or one record of the
// earlier layout scored `score`) at or above `below`; false if it is corrupt.
bool UnpackHeldMember(std::string_view member, int64_t score, int64_t below,
                      std::vector<std::pair<int64_t, std::string>>& out) {
  if (member.empty() || member[0] != '#') {
    if (score >= below) out.emplace_back(score, std::string(member));
    return true;
  }
  member.remove_prefix(1);
  while (!member.empty()) {
    const size_t space = member.find(' ');
    const size_t newline = member.find('\n');
    int64_t offset = 0, length = 0;
    if (space == std::string_view::npos || newline == std::string_view::npos || newline < space ||
        !ParseInt(member.substr(0, space), offset) ||
        !ParseInt(member.substr(space + 1, newline - space - 1), length) || length < 0 ||
        static_cast<size_t>(length) > member.size() - newline - 1) {
      return false;
    }
    if (offset >= below) out.emplace_back(offset, std::string(member.substr(newline + 1, length)));
    member.remove_prefix(newline + 1 + length);
  }
  return true;
}

// KEYS are not declared: all of one topic's keys share a prefix and the
// store targets one Redis (or one Cluster slot via a {hash tag} in the prefix).
// ARGV: prefix, partition, from, next, watermark, ttl (windows' and id
// logs'; the closer drops id logs earlier, by event time), idle, the
// earliest window start among the deltas ('' if none), then the id
// groups (count; per group: minute, the bytes of its log the caller has
// checked against, the ids as one string of 8-byte hashes), the
// windows (count; per window: start, then one blob of packed deltas, see
// state/delta_codec.h), then the observer state (count, replace flag,
// records), then the held dead letters (published-below offset, count, then
// per chunk its highest offset and the chunk, see PackHeldChunks). Redis does
// no work per event id or per held dead letter: a length check and an APPEND
// per minute, one RPUSH per window, one sorted-set member per chunk; the
// counters are summed when a window is read back.
//
// Replies: {1, next} applied; {0, position} the position moved on;
// {2, ids} ids already in a set of the layout before the logs (until those
// expire); {3, {minute, offset, bytes, ...}} a log differs from the
// caller's copy: the bytes it lacks (offset 0: the log shrank, all of it);
// {4, bound} a delta is for a window at or before the one being closed.
// Nothing is changed unless the reply is {1, ...}.
constexpr char kCommitScript[] = R"lua(
local p = ARGV[1]
local part = ARGV[2]
local pos = redis.call('HGET', p .. 'pos', part)
if pos and pos ~= ARGV[3] then return {0, pos} end
-- A window being closed is read back and published: a delta for it now
-- would be counted in Redis and in no row. ('closing' is set before the
-- read; 'closed' alone covers state from before 'closing' existed.)
if ARGV[8] ~= '' then
  local bounds = redis.call('MGET', p .. 'closing', p .. 'closed')
  for k = 1, 2 do
    if bounds[k] and tonumber(bounds[k]) >= tonumber(ARGV[8]) then return {4, bounds[k]} end
  end
end
local ttl = tonumber(ARGV[6])
local i = 9
-- Event ids first. The caller found none of its ids in its copy of each
-- minute's log; if a log is no longer what that copy holds, another replica
-- appended since (or the log shrank), and the caller must check again.
local ng = tonumber(ARGV[i]); i = i + 1
local groups = {}
local behind = {}
for g = 1, ng do
  local minute = ARGV[i]
  local key = p .. 'idlog:' .. minute
  local checked = tonumber(ARGV[i + 1])
  local len = redis.call('STRLEN', key)
  if len > checked then
    behind[#behind + 1] = minute
    behind[#behind + 1] = checked
    behind[#behind + 1] = redis.call('GETRANGE', key, checked, len - 1)
  elseif len < checked then
    behind[#behind + 1] = minute
    behind[#behind + 1] = 0
    behind[#behind + 1] = redis.call('GET', key) or ''
  end
  groups[g] = {key, ARGV[i + 2], minute}
  i = i + 3
end
if #behind > 0 then return {3, behind} end
-- Sets of the earlier layout (one member per id) are still consulted until
-- they expire, so an upgrade within the dedup horizon counts nothing twice.
local dups = {}
for g = 1, ng do
  local old = p .. 'ids:' .. groups[g][3]
  if redis.call('EXISTS', old) == 1 then
    local ids = groups[g][2]
    for s = 1, #ids, 8000 do
      local batch = {}
      for o = s, math.min(s + 7999, #ids), 8 do batch[#batch + 1] = string.sub(ids, o, o + 7) end
      local found = redis.call('SMISMEMBER', old, unpack(batch))
      for k = 1, #found do
        if found[k] == 1 then dups[#dups + 1] = batch[k] end
      end
    end
  end
end
if #dups > 0 then return {2, dups} end
for g = 1, ng do
  redis.call('APPEND', groups[g][1], groups[g][2])
  redis.call('PEXPIRE', groups[g][1], ttl)
  redis.call('ZADD', p .. 'idlogs', groups[g][3], groups[g][3])
end
local nw = tonumber(ARGV[i]); i = i + 1
for w = 1, nw do
  local start = ARGV[i]
  local key = p .. 'win:' .. start
  redis.call('RPUSH', key, ARGV[i + 1])
  redis.call('ZADD', p .. 'windows', start, start)
  redis.call('PEXPIRE', key, ttl)
  i = i + 2
end
redis.call('HSET', p .. 'pos', part, ARGV[4])
local wm = redis.call('HGET', p .. 'wm', part)
if (not wm) or tonumber(wm) < tonumber(ARGV[5]) then redis.call('HSET', p .. 'wm', part, ARGV[5]) end
redis.call('HSET', p .. 'idle', part, ARGV[7])
local no = tonumber(ARGV[i])
if ARGV[i + 1] == '1' then redis.call('DEL', p .. 'obs:' .. part) end
if no > 0 then redis.call('RPUSH', p .. 'obs:' .. part, unpack(ARGV, i + 2, i + 1 + no)) end
i = i + 2 + no
local held = p .. 'held:' .. part
if ARGV[i] ~= '-1' then
  -- A chunk goes once all of it is below the bound; the bound itself hides
  -- the records below it in a chunk that straddles it.
  redis.call('ZREMRANGEBYSCORE', held, '-inf', '(' .. ARGV[i])
  redis.call('HSET', p .. 'heldbelow', part, ARGV[i])
end
local nh = tonumber(ARGV[i + 1])
-- (highest offset, chunk) pairs are ZADD's (score, member) pairs: one call per 500.
local last = i + 1 + 2 * nh
for s = i + 2, last, 1000 do redis.call('ZADD', held, unpack(ARGV, s, math.min(s + 999, last))) end
return {1, ARGV[4]}
)lua";

// ARGV: prefix, window start. Raises 'closing' to the start, never lowers it.
constexpr char kBeginClosingScript[] = R"lua(
local p = ARGV[1]
local closing = redis.call('GET', p .. 'closing')
if (not closing) or tonumber(closing) < tonumber(ARGV[2]) then
  redis.call('SET', p .. 'closing', ARGV[2])
end
return 1
)lua";

// Closing a window also drops the event-id logs of the minutes that ended a
// dedup horizon or more before it (ARGV[3], the latest such minute): an
// event of theirs is late on every partition from now on.
constexpr char kClaimScript[] = R"lua(
local p = ARGV[1]
local closed = redis.call('GET', p .. 'closed')
if closed and tonumber(closed) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', p .. 'closed', ARGV[2])
redis.call('ZREMRANGEBYSCORE', p .. 'windows', '-inf', ARGV[2])
local old = redis.call('ZRANGEBYSCORE', p .. 'idlogs', '-inf', ARGV[3])
for k = 1, #old do redis.call('DEL', p .. 'idlog:' .. old[k]) end
redis.call('ZREMRANGEBYSCORE', p .. 'idlogs', '-inf', ARGV[3])
return 1
)lua";

}  // namespace

struct RedisStateStore::Reply {
  redisReply* r;
  explicit Reply(redisReply* reply) : r(reply) {}
  ~Reply() { freeReplyObject(r); }
};

RedisStateStore::RedisStateStore(RedisStoreOptions options) : options_(std::move(options)) {}

RedisStateStore::~RedisStateStore() {
  if (context_) redisFree(context_);
}

RedisStoreOptions RedisStoreOptionsFrom(const Config& config) {
  RedisStoreOptions o;
  o.redis = config.redis;
  o.dedup_horizon_ms = config.pipeline.dedup_horizon_ms;
  // Every checkpoint uses the minutes its partition is writing, so a copy
  // outlives a few checkpoint intervals.
  o.id_log_copy_unused_ms = std::max<int64_t>(o.id_log_copy_unused_ms, 3 * config.checkpoint_interval_ms);
  return o;
}

absl::Status RedisStateStore::Connect() {
  if (context_) return absl::OkStatus();
  auto c = OpenRedisConnection(options_.redis);
  if (!c.ok()) return c.status();
  context_ = *c;
  // A new connection may be to a Redis that restarted and lost its last
  // writes: the copies of the event-id logs are rebuilt from what it holds.
  id_mirrors_.clear();
  commit_sha_.clear();
  claim_sha_.clear();
  if (!options_.client_name.empty()) {
    auto reply = Command({"CLIENT", "SETNAME", options_.client_name});
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisStateStore::Reply>> RedisStateStore::Command(
    const std::vector<std::string>& args) {
  if (auto s = Connect(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!raw) {
    // The connection is broken (timeout, reset): drop it; the next call reconnects.
    std::string why = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    return absl::UnavailableError(Concat("redis ", args[0], ": ", why));
  }
  auto reply = std::make_unique<Reply>(raw);
  if (raw->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(Concat("redis ", args[0], ": ", std::string(raw->str, raw->len)));
  }
  return reply;
}

absl::StatusOr<std::unique_ptr<RedisStateStore::Reply>> RedisStateStore::Script(const std::string& body,
                                                                                 std::string& sha,
                                                                                 std::vector<std::string> args) {
  if (auto s = Connect(); !s.ok()) return s;
  if (sha.empty()) {
    auto loaded = Command({"SCRIPT", "LOAD", body});
    if (!loaded.ok()) return loaded.status();
    sha.assign((*loaded)->r->str, (*loaded)->r->len);
  }
  args.insert(args.begin(), {"EVALSHA", sha, "0"});
  auto reply = Command(args);
  if (!reply.ok() && reply.status().message().find("NOSCRIPT") != absl::string_view::npos) {
    // Redis restarted and forgot the script: load it again once.
    sha.clear();
    auto loaded = Command({"SCRIPT", "LOAD", body});
    if (!loaded.ok()) return loaded.status();
    sha.assign((*loaded)->r->str, (*loaded)->r->len);
    args[1] = sha;
    reply = Command(args);
  }
  return reply;
}

std::string RedisStateStore::Key(const std::string& topic, std::string_view suffix) const {
  return Concat(options_.redis.key_prefix, topic, ":", suffix);
}

namespace {

// One minute's event ids of a checkpoint.
struct IdGroup {
  int64_t minute = 0;
  std::vector<uint64_t> ids;
  // The ids as the log stores them: their 8 raw bytes each, in order.
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(uint64_t)};
  }
};

// Grouped in one pass (a checkpoint holds hundreds of thousands of ids over a
// few minutes: sorting them all cost more than the rest of this function).
std::vector<IdGroup> GroupIdsByMinute(const std::vector<std::pair<int64_t, uint64_t>>& ids) {
  std::vector<IdGroup> groups;
  absl::flat_hash_map<int64_t, size_t> group_of;
  for (const auto& [minute, id] : ids) {
    const auto [it, added] = group_of.try_emplace(minute, groups.size());
    if (added) groups.push_back({minute, {}});
    groups[it->second].ids.push_back(id);
  }
  std::sort(groups.begin(), groups.end(), [](const IdGroup& a, const IdGroup& b) { return a.minute < b.minute; });
  return groups;
}

std::vector<uint64_t> CountedAlready(const EventIdMirror& mirror, const std::vector<IdGroup>& groups) {
  std::vector<uint64_t> counted;
  for (const IdGroup& g : groups) {
    for (uint64_t id : g.ids) {
      if (mirror.Contains(g.minute, id)) counted.push_back(id);
    }
  }
  return counted;
}

// How often a checkpoint is offered again because other replicas appended
// to the same logs in between; each round only fetches what they added.
constexpr int kMaxCommitRounds = 20;

}  // namespace

absl::StatusOr<CheckpointOutcome> RedisStateStore::Commit(const std::string& topic, const PartitionCheckpoint& c) {
  // Connect (and so, after a lost connection, forget the copies of the id
  // logs) before anything is read from them.
  if (auto s = Connect(); !s.ok()) return s;
  EventIdMirror& mirror = id_mirrors_[topic];
  const std::vector<IdGroup> groups = GroupIdsByMinute(c.event_ids);
  const auto now = EventIdMirror::Clock::now();
  const auto touch_and_trim = [&] {
    for (const IdGroup& g : groups) mirror.Touch(g.minute, now);
    mirror.ForgetUnusedSince(now - std::chrono::milliseconds(options_.id_log_copy_unused_ms));
  };

  // Ids the copy already holds were counted (the copy only ever holds what
  // applied checkpoints appended), unless the position moved on first.
  if (std::vector<uint64_t> counted = CountedAlready(mirror, groups); !counted.empty()) {
    touch_and_trim();
    auto position = Position(topic, c.partition);
    if (!position.ok()) return position.status();
    CheckpointOutcome outcome;
    if (*position != c.from) {
      outcome.kind = CheckpointOutcome::Kind::kStalePosition;
    } else {
      outcome.kind = CheckpointOutcome::Kind::kDuplicateEvents;
      outcome.duplicates = std::move(counted);
    }
    return outcome;
  }

  std::vector<std::string> args;
  args.reserve(16 + 3 * groups.size() + 2 * c.deltas.size() + c.observer_state.size());
  args.push_back(Key(topic, ""));
  args.push_back(std::to_string(c.partition));
  args.push_back(c.from ? std::to_string(*c.from) : "");
  args.push_back(std::to_string(c.next));
  args.push_back(std::to_string(c.watermark.value()));
  args.push_back(std::to_string(options_.window_retention_ms));
  args.push_back(c.idle ? "1" : "0");
  const size_t earliest_window_at = args.size();
  args.emplace_back();

  args.push_back(std::to_string(groups.size()));
  const size_t first_group_at = args.size();
  for (const IdGroup& g : groups) {
    args.push_back(std::to_string(g.minute));
    args.emplace_back();  // the bytes of the log checked against: set per round
    args.emplace_back(g.bytes());
  }

  // One blob of packed deltas per window.
  std::vector<const WindowDelta*> deltas;
  deltas.reserve(c.deltas.size());
  for (const auto& d : c.deltas) deltas.push_back(&d);
  std::sort(deltas.begin(), deltas.end(),
            [](const WindowDelta* a, const WindowDelta* b) { return a->start < b->start; });
  const size_t windows_at = args.size();
  args.emplace_back();
  size_t windows = 0;
  for (size_t i = 0; i < deltas.size();) {
    const WindowStartMs start = deltas[i]->start;
    args.push_back(std::to_string(start.value()));
    std::string blob;
    for (; i < deltas.size() && deltas[i]->start == start; ++i) {
      AppendDeltaRecord(deltas[i]->key, deltas[i]->is_model, deltas[i]->totals, blob);
    }
    args.push_back(std::move(blob));
    ++windows;
  }
  args[windows_at] = std::to_string(windows);
  if (!deltas.empty()) args[earliest_window_at] = std::to_string(deltas.front()->start.value());

  args.push_back(std::to_string(c.observer_state.size()));
  args.push_back(c.replace_observer_state ? "1" : "0");
  for (const std::string& record : c.observer_state) args.push_back(record);
  args.push_back(std::to_string(c.held_dead_letters_published_below));
  std::vector<std::pair<int64_t, std::string>> held_chunks = PackHeldChunks(c.held_dead_letters);
  args.push_back(std::to_string(held_chunks.size()));
  for (auto& [highest, chunk] : held_chunks) {
    args.push_back(std::to_string(highest));
    args.push_back(std::move(chunk));
  }

  for (int round = 0; round < kMaxCommitRounds; ++round) {
    for (size_t g = 0; g < groups.size(); ++g) {
      args[first_group_at + 3 * g + 1] = std::to_string(mirror.SyncedBytes(groups[g].minute));
    }
    auto reply = Script(kCommitScript, commit_sha_, args);
    if (!reply.ok()) return reply.status();
    const redisReply* r = (*reply)->r;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
      return absl::InternalError("redis commit: unexpected reply");
    }
    CheckpointOutcome outcome;
    switch (r->element[0]->integer) {
      case 1:
        for (const IdGroup& g : groups) mirror.Apply(g.minute, mirror.SyncedBytes(g.minute), g.bytes());
        touch_and_trim();
        return outcome;
      case 0:
        outcome.kind = CheckpointOutcome::Kind::kStalePosition;
        return outcome;
      case 4:
        outcome.kind = CheckpointOutcome::Kind::kWindowClosed;
        return outcome;
      case 2:
        outcome.kind = CheckpointOutcome::Kind::kDuplicateEvents;
        if (r->elements > 1 && r->element[1]->type == REDIS_REPLY_ARRAY) {
          for (size_t k = 0; k < r->element[1]->elements; ++k) {
            const redisReply* e = r->element[1]->element[k];
            uint64_t id;
            if (e->len != sizeof id) continue;
            std::memcpy(&id, e->str, sizeof id);
            outcome.duplicates.push_back(id);
          }
        }
        return outcome;
      case 3: {
        // The position held (the script checks it first): bring the copies
        // up to date, then look again.
        const redisReply* tails = r->elements > 1 ? r->element[1] : nullptr;
        if (tails == nullptr || tails->type != REDIS_REPLY_ARRAY || tails->elements % 3 != 0) {
          return absl::InternalError("redis commit: unexpected reply");
        }
        for (size_t k = 0; k < tails->elements; k += 3) {
          const redisReply* minute = tails->element[k];
          const redisReply* offset = tails->element[k + 1];
          const redisReply* bytes = tails->element[k + 2];
          int64_t m;
          if (minute->type != REDIS_REPLY_STRING || !ParseInt({minute->str, minute->len}, m) ||
              offset->type != REDIS_REPLY_INTEGER || bytes->type != REDIS_REPLY_STRING ||
              !mirror.Apply(m, static_cast<size_t>(offset->integer), {bytes->str, bytes->len})) {
            id_mirrors_.erase(topic);
            return absl::InternalError(Concat("redis commit: the event-id log of minute ",
                                              std::string_view(minute->str, minute->len),
                                              " does not continue the replica's copy"));
          }
        }
        if (std::vector<uint64_t> counted = CountedAlready(mirror, groups); !counted.empty()) {
          touch_and_trim();
          outcome.kind = CheckpointOutcome::Kind::kDuplicateEvents;
          outcome.duplicates = std::move(counted);
          return outcome;
        }
        break;
      }
      default:
        return absl::InternalError("redis commit: unexpected reply");
    }
  }
  return absl::UnavailableError(Concat("redis commit: the event-id logs changed under ", kMaxCommitRounds,
                                       " attempts in a row; will retry"));
}

absl::StatusOr<std::optional<int64_t>> RedisStateStore::Position(const std::string& topic, int32_t partition) {
  auto reply = Command({"HGET", Key(topic, "pos"), std::to_string(partition)});
  if (!reply.ok()) return reply.status();
  const redisReply* r = (*reply)->r;
  if (r->type == REDIS_REPLY_NIL) return std::optional<int64_t>();
  int64_t v;
  if (r->type != REDIS_REPLY_STRING || !ParseInt({r->str, r->len}, v)) {
    return absl::InternalError("redis position: not an integer");
  }
  return std::optional<int64_t>(v);
}

absl::StatusOr<std::vector<std::string>> RedisStateStore::ObserverState(const std::string& topic,
                                                                        int32_t partition) {
  auto reply = Command({"LRANGE", Key(topic, Concat("obs:", partition)), "0", "-1"});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> out;
  const redisReply* r = (*reply)->r;
  for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> RedisStateStore::HeldDeadLetters(
    const std::string& topic, int32_t partition) {
  // The bound first: one read before the chunks can only be lower than the
  // chunks' own, so a checkpoint applied in between makes this return records
  // already published (published again: dead letters are at least once),
  // never hide one that was not.
  int64_t below = -1;
  auto bound = Command({"HGET", Key(topic, "heldbelow"), std::to_string(partition)});
  if (!bound.ok()) return bound.status();
  if ((*bound)->r->type == REDIS_REPLY_STRING && !ParseInt({(*bound)->r->str, (*bound)->r->len}, below)) {
    return absl::InternalError("redis held dead letters: published-below bound is not an integer");
  }
  auto reply = Command({"ZRANGE", Key(topic, Concat("held:", partition)), "0", "-1", "WITHSCORES"});
  if (!reply.ok()) return reply.status();
  std::vector<std::pair<int64_t, std::string>> out;
  const redisReply* r = (*reply)->r;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    int64_t score;
    if (!ParseInt({r->element[i + 1]->str, r->element[i + 1]->len}, score)) {
      return absl::InternalError("redis held dead letters: offset is not an integer");
    }
    if (!UnpackHeldMember({r->element[i]->str, r->element[i]->len}, score, below, out)) {
      return absl::InternalError(
          Concat("redis held dead letters: a chunk scored ", score, " of partition ", partition, " is corrupt"));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

absl::StatusOr<std::vector<PartitionProgress>> RedisStateStore::Progress(const std::string& topic) {
  auto wm = Command({"HGETALL", Key(topic, "wm")});
  if (!wm.ok()) return wm.status();
  auto idle = Command({"HGETALL", Key(topic, "idle")});
  if (!idle.ok()) return idle.status();
  std::map<int32_t, PartitionProgress> by_partition;
  const auto each_pair = [](const redisReply* r, const auto& fn) {
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
      int64_t p, v;
      if (ParseInt({r->element[i]->str, r->element[i]->len}, p) &&
          ParseInt({r->element[i + 1]->str, r->element[i + 1]->len}, v)) {
        fn(static_cast<int32_t>(p), v);
      }
    }
  };
  each_pair((*wm)->r, [&](int32_t p, int64_t v) { by_partition[p] = {p, v, false}; });
  each_pair((*idle)->r, [&](int32_t p, int64_t v) {
    if (auto it = by_partition.find(p); it != by_partition.end()) it->second.idle = v != 0;
  });
  std::vector<PartitionProgress> out;
  for (const auto& [p, progress] : by_partition) out.push_back(progress);
  return out;
}

absl::StatusOr<std::vector<WindowStartMs>> RedisStateStore::OpenWindows(const std::string& topic) {
  auto reply = Command({"ZRANGE", Key(topic, "windows"), "0", "-1"});
  if (!reply.ok()) return reply.status();
  std::vector<WindowStartMs> out;
  const redisReply* r = (*reply)->r;
  for (size_t i = 0; i < r->elements; ++i) {
    int64_t v;
    if (ParseInt({r->element[i]->str, r->element[i]->len}, v)) out.emplace_back(v);
  }
  return out;
}

absl::Status RedisStateStore::BeginClosing(const std::string& topic, WindowStartMs start) {
  auto reply = Script(kBeginClosingScript, begin_closing_sha_, {Key(topic, ""), std::to_string(start.value())});
  return reply.status();
}

absl::StatusOr<bool> RedisStateStore::ClaimClose(const std::string& topic, WindowStartMs start) {
  const int64_t last_minute_to_drop = start.value() - options_.dedup_horizon_ms - kEventIdGroupMs;
  auto reply = Script(kClaimScript, claim_sha_,
                      {Key(topic, ""), std::to_string(start.value()), std::to_string(last_minute_to_drop)});
  if (!reply.ok()) return reply.status();
  return (*reply)->r->type == REDIS_REPLY_INTEGER && (*reply)->r->integer == 1;
}

absl::StatusOr<std::optional<WindowStartMs>> RedisStateStore::ClosedThrough(const std::string& topic) {
  auto reply = Command({"MGET", Key(topic, "closing"), Key(topic, "closed")});
  if (!reply.ok()) return reply.status();
  const redisReply* r = (*reply)->r;
  std::optional<WindowStartMs> through;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    int64_t v;
    if (e->type == REDIS_REPLY_STRING && ParseInt({e->str, e->len}, v) && (!through || v > through->value()))
      through = WindowStartMs(v);
  }
  return through;
}

absl::StatusOr<StoredWindow> RedisStateStore::ReadWindow(const std::string& topic, WindowStartMs start) {
  auto reply = Command({"LRANGE", Key(topic, Concat("win:", start.value())), "0", "-1"});
  if (!reply.ok()) return reply.status();
  absl::flat_hash_map<std::string, WindowTotals> keys, models;
  const redisReply* r = (*reply)->r;
  for (size_t i = 0; i < r->elements; ++i) {
    const bool ok = DecodeDeltaRecords(
        std::string_view(r->element[i]->str, r->element[i]->len),
        [&](std::string_view key, bool is_model, const WindowTotals& t) {
          (is_model ? models : keys)[std::string(key)].Merge(t);
        });
    if (!ok) return absl::DataLossError(Concat("redis window ", start.value(), ": a delta record is corrupt"));
  }
  StoredWindow w;
  w.start = start;
  w.keys.assign(keys.begin(), keys.end());
  w.models.assign(models.begin(), models.end());
  std::sort(w.keys.begin(), w.keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(w.models.begin(), w.models.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return w;
}

absl::Status RedisStateStore::Ping() {
  auto reply = Command({"PING"});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

}  // namespace burnrate
