#include "alerting/redis_outbox.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "alerting/alert_codec.h"
#include "core/concat.h"
#include "state/redis_client.h"

namespace burnrate {
namespace {

constexpr char kEnqueueScript[] = R"lua(
local p = ARGV[1]
if redis.call('SET', p .. 'tx:' .. ARGV[2], ARGV[3], 'NX', 'PX', ARGV[4]) then
  redis.call('RPUSH', p .. 'incoming', ARGV[2])
  if ARGV[6] == 'firing' then redis.call('SADD', p .. 'firing', ARGV[5])
  else redis.call('SREM', p .. 'firing', ARGV[5]) end
  return 1
end
return 0
)lua";

constexpr char kRouteScript[] = R"lua(
local p = ARGV[1]
local tkey = ARGV[2]
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local recv = ARGV[5 + 3 * i]
  local id = tkey .. '|' .. recv
  if redis.call('EXISTS', p .. 'done:' .. id) == 0 and redis.call('EXISTS', p .. 'd:' .. id) == 0 then
    redis.call('HSET', p .. 'd:' .. id, 'tkey', tkey, 'receiver', recv, 'attempts', 0, 'repeat', 0,
               'enqueued', ARGV[3], 'repeat_ms', ARGV[7 + 3 * i])
    redis.call('ZADD', p .. 'due:' .. recv, ARGV[6 + 3 * i], id)
  end
end
redis.call('LREM', p .. 'incoming', 0, tkey)
return 1
)lua";

// Claimed deliveries get a due time of now + lease, so nobody else takes
// them meanwhile; a crash mid-send makes them due again after the lease.
constexpr char kClaimScript[] = R"lua(
local p = ARGV[1]
local key = p .. 'due:' .. ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[5]))
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', p .. 'd:' .. id, 'tkey', 'attempts', 'repeat', 'enqueued', 'repeat_ms')
  local tx = h[1] and redis.call('GET', p .. 'tx:' .. h[1])
  if tx then
    redis.call('ZADD', key, ARGV[6], id)
    out[#out + 1] = {id, h[1], h[2], h[3], h[4], h[5], tx}
  else
    -- The transition expired (or the delivery was cancelled): nothing to send.
    redis.call('ZREM', key, id)
    redis.call('DEL', p .. 'd:' .. id)
    redis.call('SREM', p .. 'reminders', id)
  end
end
return out
)lua";

constexpr char kRescheduleScript[] = R"lua(
local p = ARGV[1]
if redis.call('EXISTS', p .. 'd:' .. ARGV[2]) == 1 then
  if ARGV[5] == '1' then redis.call('HINCRBY', p .. 'd:' .. ARGV[2], 'attempts', 1) end
  redis.call('ZADD', p .. 'due:' .. ARGV[3], ARGV[4], ARGV[2])
end
return 1
)lua";

constexpr char kCompleteScript[] = R"lua(
local p = ARGV[1]
local id = ARGV[2]
redis.call('SET', p .. 'done:' .. id, 1, 'PX', ARGV[4])
if ARGV[5] ~= '-1' and redis.call('EXISTS', p .. 'd:' .. id) == 1 then
  redis.call('HSET', p .. 'd:' .. id, 'attempts', 0, 'repeat', ARGV[6], 'enqueued', ARGV[5])
  redis.call('ZADD', p .. 'due:' .. ARGV[3], ARGV[5], id)
  redis.call('SADD', p .. 'reminders', id)
else
  redis.call('DEL', p .. 'd:' .. id)
  redis.call('ZREM', p .. 'due:' .. ARGV[3], id)
  redis.call('SREM', p .. 'reminders', id)
end
return 1
)lua";

constexpr char kDeadLetterScript[] = R"lua(
local p = ARGV[1]
local id = ARGV[2]
redis.call('RPUSH', p .. 'dead', ARGV[5])
redis.call('LTRIM', p .. 'dead', -10000, -1)
redis.call('SET', p .. 'done:' .. id, 1, 'PX', ARGV[4])
redis.call('DEL', p .. 'd:' .. id)
redis.call('ZREM', p .. 'due:' .. ARGV[3], id)
redis.call('SREM', p .. 'reminders', id)
return 1
)lua";

constexpr char kCancelScript[] = R"lua(
redis.call('DEL', ARGV[1] .. 'd:' .. ARGV[2])
redis.call('ZREM', ARGV[1] .. 'due:' .. ARGV[3], ARGV[2])
redis.call('SREM', ARGV[1] .. 'reminders', ARGV[2])
return 1
)lua";

int64_t ToInt(const redisReply* r, int64_t fallback = 0) {
  if (!r) return fallback;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type != REDIS_REPLY_STRING) return fallback;
  int64_t v = fallback;
  std::from_chars(r->str, r->str + r->len, v);
  return v;
}

std::string ToString(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? std::string(r->str, r->len)
             : "";
}

// The stored transition: "<enqueued ms>\n<stored alert>".
absl::StatusOr<std::pair<Alert, int64_t>> ParseTransition(std::string_view value) {
  const size_t nl = value.find('\n');
  if (nl == std::string_view::npos)
    return absl::DataLossError("stored transition without its enqueue time");
  int64_t enqueued = 0;
  std::from_chars(value.data(), value.data() + nl, enqueued);
  auto alert = DecodeStoredAlert(value.substr(nl + 1));
  if (!alert.ok()) return alert.status();
  return std::make_pair(std::move(*alert), enqueued);
}

}  // namespace

struct RedisAlertOutbox::Reply {
  redisReply* r = nullptr;
  ~Reply() {
    if (r) freeReplyObject(r);
  }
};

RedisAlertOutbox::RedisAlertOutbox(AlertRedisOptions options, const AlertClock* clock)
    : options_(std::move(options)),
      prefix_(options_.redis.key_prefix + "alerts:"),
      clock_(clock ? clock : &system_clock_) {}

RedisAlertOutbox::~RedisAlertOutbox() {
  if (context_) redisFree(context_);
}

absl::StatusOr<std::unique_ptr<RedisAlertOutbox>> RedisAlertOutbox::Connect(
    const AlertRedisOptions& options, const AlertClock* clock) {
  std::unique_ptr<RedisAlertOutbox> outbox(new RedisAlertOutbox(options, clock));
  std::lock_guard lock(outbox->mu_);
  if (auto s = outbox->ConnectLocked(); !s.ok()) return s;
  return outbox;
}

absl::Status RedisAlertOutbox::ConnectLocked() {
  if (context_) {
    redisFree(context_);
    context_ = nullptr;
  }
  auto c = OpenRedisConnection(options_.redis);
  if (!c.ok())
    return absl::Status(c.status().code(),
                        Concat("alert outbox: ", std::string(c.status().message())));
  context_ = *c;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisAlertOutbox::Reply>> RedisAlertOutbox::CommandLocked(
    const std::vector<std::string>& args) {
  if (!context_ || context_->err) {
    if (auto s = ConnectLocked(); !s.ok()) return s;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto reply = std::make_unique<Reply>();
  reply->r = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (!reply->r) {
    const std::string err = context_->errstr;
    redisFree(context_);  // unusable after an I/O error; reconnect next time
    context_ = nullptr;
    return absl::UnavailableError(Concat("alert outbox: Redis: ", err));
  }
  if (reply->r->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(
        Concat("alert outbox: Redis: ", std::string(reply->r->str, reply->r->len)));
  }
  return reply;
}

absl::Status RedisAlertOutbox::Enqueue(const Alert& alert) {
  const std::string value = Concat(clock_->NowMs(), "\n", EncodeStoredAlert(alert));
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"EVAL", kEnqueueScript, "0", prefix_, alert.TransitionKey(), value,
                          std::to_string(options_.marker_ttl_ms), alert.alert_id,
                          std::string(AlertStatusName(alert.status))});
  return r.status();
}

absl::StatusOr<std::vector<std::pair<Alert, int64_t>>> RedisAlertOutbox::PeekIncoming(size_t max) {
  std::lock_guard lock(mu_);
  auto keys = CommandLocked(
      {"LRANGE", prefix_ + "incoming", "0", std::to_string(static_cast<int64_t>(max) - 1)});
  if (!keys.ok()) return keys.status();
  std::vector<std::pair<Alert, int64_t>> out;
  const redisReply* list = (*keys)->r;
  for (size_t i = 0; i < list->elements; ++i) {
    const std::string key = ToString(list->element[i]);
    auto value = CommandLocked({"GET", prefix_ + "tx:" + key});
    if (!value.ok()) return value.status();
    auto parsed = (*value)->r->type == REDIS_REPLY_STRING
                      ? ParseTransition(ToString((*value)->r))
                      : absl::StatusOr<std::pair<Alert, int64_t>>(absl::NotFoundError("expired"));
    if (!parsed.ok()) {
      // Expired or unreadable: it can never be delivered; take it off the list.
      if (auto s = CommandLocked({"LREM", prefix_ + "incoming", "0", key}); !s.ok())
        return s.status();
      continue;
    }
    out.push_back(std::move(*parsed));
  }
  return out;
}

absl::Status RedisAlertOutbox::Route(const std::string& transition_key, int64_t enqueued_ms,
                                     const std::vector<RouteTarget>& targets) {
  std::vector<std::string> args = {"EVAL",
                                   kRouteScript,
                                   "0",
                                   prefix_,
                                   transition_key,
                                   std::to_string(enqueued_ms),
                                   std::to_string(targets.size())};
  for (const auto& t : targets) {
    args.push_back(t.receiver);
    args.push_back(std::to_string(t.due_ms));
    args.push_back(std::to_string(t.repeat_interval_ms));
  }
  std::lock_guard lock(mu_);
  return CommandLocked(args).status();
}

absl::StatusOr<std::vector<PendingDelivery>> RedisAlertOutbox::Claim(const std::string& receiver,
                                                                     int64_t now_ms,
                                                                     int64_t lease_ms, size_t max) {
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"EVAL", kClaimScript, "0", prefix_, receiver, std::to_string(now_ms), "0",
                          std::to_string(max), std::to_string(now_ms + lease_ms)});
  if (!r.ok()) return r.status();
  std::vector<PendingDelivery> out;
  const redisReply* list = (*r)->r;
  for (size_t i = 0; i < list->elements; ++i) {
    const redisReply* e = list->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 7) continue;
    auto parsed = ParseTransition(ToString(e->element[6]));
    if (!parsed.ok()) return parsed.status();
    PendingDelivery d;
    d.id = ToString(e->element[0]);
    d.transition_key = ToString(e->element[1]);
    d.receiver = receiver;
    d.alert = std::move(parsed->first);
    d.attempts = static_cast<int>(ToInt(e->element[2]));
    d.repeat = static_cast<int>(ToInt(e->element[3]));
    d.enqueued_ms = ToInt(e->element[4]);
    d.repeat_interval_ms = ToInt(e->element[5]);
    out.push_back(std::move(d));
  }
  return out;
}

absl::Status RedisAlertOutbox::Reschedule(const PendingDelivery& d, int64_t due_ms, bool failed) {
  std::lock_guard lock(mu_);
  return CommandLocked({"EVAL", kRescheduleScript, "0", prefix_, d.id, d.receiver,
                        std::to_string(due_ms), failed ? "1" : "0"})
      .status();
}

absl::Status RedisAlertOutbox::Complete(const PendingDelivery& d, int64_t next_repeat_ms) {
  std::lock_guard lock(mu_);
  return CommandLocked({"EVAL", kCompleteScript, "0", prefix_, d.id, d.receiver,
                        std::to_string(options_.marker_ttl_ms),
                        std::to_string(next_repeat_ms < 0 ? -1 : next_repeat_ms),
                        std::to_string(d.repeat + 1)})
      .status();
}

absl::Status RedisAlertOutbox::DeadLetter(const PendingDelivery& d, std::string_view reason,
                                          int64_t now_ms) {
  std::lock_guard lock(mu_);
  return CommandLocked({"EVAL", kDeadLetterScript, "0", prefix_, d.id, d.receiver,
                        std::to_string(options_.marker_ttl_ms), DeadLetterJson(d, reason, now_ms)})
      .status();
}

absl::Status RedisAlertOutbox::Cancel(const std::string& delivery_id, const std::string& receiver) {
  std::lock_guard lock(mu_);
  return CommandLocked({"EVAL", kCancelScript, "0", prefix_, delivery_id, receiver}).status();
}

absl::StatusOr<int> RedisAlertOutbox::PendingRepeat(const std::string& delivery_id) {
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"HGET", prefix_ + "d:" + delivery_id, "repeat"});
  if (!r.ok()) return r.status();
  return (*r)->r->type == REDIS_REPLY_NIL ? -1 : static_cast<int>(ToInt((*r)->r));
}

absl::StatusOr<bool> RedisAlertOutbox::IsResolved(const std::string& alert_id) {
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"EXISTS", Concat(prefix_, "tx:", alert_id, ":resolved")});
  if (!r.ok()) return r.status();
  return ToInt((*r)->r) == 1;
}

absl::StatusOr<OutboxCounts> RedisAlertOutbox::Counts(const std::vector<std::string>& receivers) {
  std::lock_guard lock(mu_);
  OutboxCounts c;
  auto count = [&](std::vector<std::string> args, int64_t& out) -> absl::Status {
    auto r = CommandLocked(args);
    if (!r.ok()) return r.status();
    out += ToInt((*r)->r);
    return absl::OkStatus();
  };
  if (auto s = count({"LLEN", prefix_ + "incoming"}, c.incoming); !s.ok()) return s;
  for (const auto& receiver : receivers) {
    if (auto s = count({"ZCARD", prefix_ + "due:" + receiver}, c.pending); !s.ok()) return s;
  }
  if (auto s = count({"LLEN", prefix_ + "dead"}, c.dead_letters); !s.ok()) return s;
  if (auto s = count({"SCARD", prefix_ + "firing"}, c.firing); !s.ok()) return s;
  if (auto s = count({"SCARD", prefix_ + "reminders"}, c.reminders); !s.ok()) return s;
  c.pending -= c.reminders;
  return c;
}

absl::StatusOr<std::vector<std::string>> RedisAlertOutbox::DeadLetters(size_t max) {
  std::lock_guard lock(mu_);
  auto r =
      CommandLocked({"LRANGE", prefix_ + "dead", std::to_string(-static_cast<int64_t>(max)), "-1"});
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  for (size_t i = 0; i < (*r)->r->elements; ++i) out.push_back(ToString((*r)->r->element[i]));
  return out;
}

absl::Status RedisAlertOutbox::PutSilence(const std::string& id, const std::string& json) {
  std::lock_guard lock(mu_);
  return CommandLocked({"HSET", prefix_ + "silences", id, json}).status();
}

absl::StatusOr<bool> RedisAlertOutbox::DeleteSilence(const std::string& id) {
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"HDEL", prefix_ + "silences", id});
  if (!r.ok()) return r.status();
  return ToInt((*r)->r) > 0;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RedisAlertOutbox::Silences() {
  std::lock_guard lock(mu_);
  auto r = CommandLocked({"HGETALL", prefix_ + "silences"});
  if (!r.ok()) return r.status();
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < (*r)->r->elements; i += 2) {
    out.emplace_back(ToString((*r)->r->element[i]), ToString((*r)->r->element[i + 1]));
  }
  return out;
}

}  // namespace burnrate
