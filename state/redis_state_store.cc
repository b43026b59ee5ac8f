#include "state/redis_state_store.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>
#include <map>

#include "core/concat.h"
#include "state/delta_codec.h"

namespace burnrate {
namespace {

bool ParseInt(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// KEYS are not declared: all of one topic's keys share a prefix and the
// store targets one Redis (or one Cluster slot via a {hash tag} in the prefix).
// ARGV: prefix, partition, from, next, watermark, window ttl, id ttl, idle,
// then the id groups (count; per group: minute, n, ids...) and the windows
// (count; per window: start, then one blob of packed deltas, see
// state/delta_codec.h), then the observer state (count, replace flag,
// records), then the held dead letters (published-below offset, count, then
// offset and record each). Redis does a bulk operation per id group and one RPUSH per
// window; the counters are summed when a window is read back.
constexpr char kCommitScript[] = R"lua(
local p = ARGV[1]
local part = ARGV[2]
local pos = redis.call('HGET', p .. 'pos', part)
if pos and pos ~= ARGV[3] then return {0, pos} end
local window_ttl = tonumber(ARGV[6])
local ids_ttl = tonumber(ARGV[7])
local chunk = 1000
local i = 9
-- Event ids first: one already counted (by any partition) makes the whole
-- checkpoint a no-op; the caller counts again treating those ids as duplicates.
local ng = tonumber(ARGV[i]); i = i + 1
local groups = {}
local dups = {}
for g = 1, ng do
  local key = p .. 'ids:' .. ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local first = i + 2
  groups[g] = {key, first, n}
  for s = first, first + n - 1, chunk do
    local e = math.min(s + chunk - 1, first + n - 1)
    local found = redis.call('SMISMEMBER', key, unpack(ARGV, s, e))
    for k = 1, #found do
      if found[k] == 1 then dups[#dups + 1] = ARGV[s + k - 1] end
    end
  end
  i = first + n
end
if #dups > 0 then return {2, dups} end
for g = 1, ng do
  local key, first, n = groups[g][1], groups[g][2], groups[g][3]
  for s = first, first + n - 1, chunk do
    redis.call('SADD', key, unpack(ARGV, s, math.min(s + chunk - 1, first + n - 1)))
  end
  redis.call('PEXPIRE', key, ids_ttl)
end
local nw = tonumber(ARGV[i]); i = i + 1
for w = 1, nw do
  local start = ARGV[i]
  local key = p .. 'win:' .. start
  redis.call('RPUSH', key, ARGV[i + 1])
  redis.call('ZADD', p .. 'windows', start, start)
  redis.call('PEXPIRE', key, window_ttl)
  i = i + 2
end
redis.call('HSET', p .. 'pos', part, ARGV[4])
local wm = redis.call('HGET', p .. 'wm', part)
if (not wm) or tonumber(wm) < tonumber(ARGV[5]) then redis.call('HSET', p .. 'wm', part, ARGV[5]) end
redis.call('HSET', p .. 'idle', part, ARGV[8])
local no = tonumber(ARGV[i])
if ARGV[i + 1] == '1' then redis.call('DEL', p .. 'obs:' .. part) end
if no > 0 then redis.call('RPUSH', p .. 'obs:' .. part, unpack(ARGV, i + 2, i + 1 + no)) end
i = i + 2 + no
local held = p .. 'held:' .. part
if ARGV[i] ~= '-1' then redis.call('ZREMRANGEBYSCORE', held, '-inf', '(' .. ARGV[i]) end
local nh = tonumber(ARGV[i + 1])
-- (offset, record) pairs are ZADD's (score, member) pairs: one call per 500.
local last = i + 1 + 2 * nh
for s = i + 2, last, 1000 do redis.call('ZADD', held, unpack(ARGV, s, math.min(s + 999, last))) end
return {1, ARGV[4]}
)lua";

constexpr char kClaimScript[] = R"lua(
local p = ARGV[1]
local closed = redis.call('GET', p .. 'closed')
if closed and tonumber(closed) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', p .. 'closed', ARGV[2])
redis.call('ZREMRANGEBYSCORE', p .. 'windows', '-inf', ARGV[2])
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
  o.host = config.redis.host;
  o.port = config.redis.port;
  o.password = config.redis.password.value;
  o.key_prefix = config.redis.key_prefix;
  o.timeout_ms = config.redis.timeout_ms;
  o.event_id_retention_ms = config.pipeline.dedup_horizon_ms + config.pipeline.windows.size_ms;
  return o;
}

absl::Status RedisStateStore::Connect() {
  if (context_) return absl::OkStatus();
  timeval tv{options_.timeout_ms / 1000, (options_.timeout_ms % 1000) * 1000};
  redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return absl::UnavailableError(Concat("redis ", options_.host, ":", options_.port, ": ", why));
  }
  redisSetTimeout(c, tv);
  context_ = c;
  commit_sha_.clear();
  claim_sha_.clear();
  if (!options_.password.empty()) {
    auto reply = Command({"AUTH", options_.password});
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
  return Concat(options_.key_prefix, topic, ":", suffix);
}

absl::StatusOr<CheckpointOutcome> RedisStateStore::Commit(const std::string& topic, const PartitionCheckpoint& c) {
  std::vector<std::string> args;
  args.reserve(16 + c.deltas.size() * 12 + c.event_ids.size());
  args.push_back(Key(topic, ""));
  args.push_back(std::to_string(c.partition));
  args.push_back(c.from ? std::to_string(*c.from) : "");
  args.push_back(std::to_string(c.next));
  args.push_back(std::to_string(c.watermark.value()));
  args.push_back(std::to_string(options_.window_retention_ms));
  args.push_back(std::to_string(options_.event_id_retention_ms));
  args.push_back(c.idle ? "1" : "0");

  // Event ids grouped by minute.
  std::vector<std::pair<int64_t, uint64_t>> ids = c.event_ids;
  std::sort(ids.begin(), ids.end());
  const size_t groups_at = args.size();
  args.emplace_back();
  size_t groups = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j].first == ids[i].first) ++j;
    args.push_back(std::to_string(ids[i].first));
    args.push_back(std::to_string(j - i));
    // Ids travel as their 8 raw bytes: no allocation per id here (they fit
    // the small-string buffer) and less for Redis to store and compare.
    for (size_t k = i; k < j; ++k) {
      args.emplace_back(reinterpret_cast<const char*>(&ids[k].second), sizeof(uint64_t));
    }
    ++groups;
    i = j;
  }
  args[groups_at] = std::to_string(groups);

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

  args.push_back(std::to_string(c.observer_state.size()));
  args.push_back(c.replace_observer_state ? "1" : "0");
  for (const std::string& record : c.observer_state) args.push_back(record);
  args.push_back(std::to_string(c.held_dead_letters_published_below));
  args.push_back(std::to_string(c.held_dead_letters.size()));
  for (const auto& [offset, record] : c.held_dead_letters) {
    args.push_back(std::to_string(offset));
    args.push_back(record);
  }

  auto reply = Script(kCommitScript, commit_sha_, std::move(args));
  if (!reply.ok()) return reply.status();
  const redisReply* r = (*reply)->r;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
    return absl::InternalError("redis commit: unexpected reply");
  }
  CheckpointOutcome outcome;
  switch (r->element[0]->integer) {
    case 1:
      return outcome;
    case 0:
      outcome.kind = CheckpointOutcome::Kind::kStalePosition;
      return outcome;
    default:
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
  }
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
  auto reply = Command({"ZRANGE", Key(topic, Concat("held:", partition)), "0", "-1", "WITHSCORES"});
  if (!reply.ok()) return reply.status();
  std::vector<std::pair<int64_t, std::string>> out;
  const redisReply* r = (*reply)->r;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    int64_t offset;
    if (!ParseInt({r->element[i + 1]->str, r->element[i + 1]->len}, offset)) {
      return absl::InternalError("redis held dead letters: offset is not an integer");
    }
    out.emplace_back(offset, std::string(r->element[i]->str, r->element[i]->len));
  }
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

absl::StatusOr<bool> RedisStateStore::ClaimClose(const std::string& topic, WindowStartMs start) {
  auto reply = Script(kClaimScript, claim_sha_, {Key(topic, ""), std::to_string(start.value())});
  if (!reply.ok()) return reply.status();
  return (*reply)->r->type == REDIS_REPLY_INTEGER && (*reply)->r->integer == 1;
}

absl::StatusOr<std::optional<WindowStartMs>> RedisStateStore::ClosedThrough(const std::string& topic) {
  auto reply = Command({"GET", Key(topic, "closed")});
  if (!reply.ok()) return reply.status();
  const redisReply* r = (*reply)->r;
  int64_t v;
  if (r->type != REDIS_REPLY_STRING || !ParseInt({r->str, r->len}, v)) return std::optional<WindowStartMs>();
  return std::optional<WindowStartMs>(WindowStartMs(v));
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
