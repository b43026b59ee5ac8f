#include "budgets/redis_budget_store.h"

#include <charconv>

#include "core/concat.h"

namespace burnrate {
namespace {

// KEYS: state hash, history zset.
// ARGV: window_start, window_end, spend_nanos, period_id, period_start,
//       retention_ms, lookback_1 .. lookback_n
// Returns {already_applied, period_id, period_start, spend, eval_mode,
//          eval_state, sum_1 .. sum_n} with eval_mode "new" | "before" |
//          "after" | "superseded". Numbers travel as strings (Lua numbers are
//          doubles; Redis integers are exact).
constexpr char kApplyScript[] = R"lua(
local ws = tonumber(ARGV[1])
local we = tonumber(ARGV[2])
local pstart = tonumber(ARGV[5])
local applied = redis.call('ZCOUNT', KEYS[2], ws, ws) > 0
if not applied then
  redis.call('ZADD', KEYS[2], ws, ARGV[1] .. ':' .. ARGV[3])
  local cur = redis.call('HGET', KEYS[1], 'period_start')
  if (not cur) or pstart > tonumber(cur) then
    redis.call('HSET', KEYS[1], 'period_id', ARGV[4], 'period_start', ARGV[5], 'spend_nanos', ARGV[3])
  elseif pstart == tonumber(cur) then
    redis.call('HINCRBY', KEYS[1], 'spend_nanos', ARGV[3])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(we - tonumber(ARGV[6])))
end
local state = redis.call('HMGET', KEYS[1], 'period_id', 'period_start', 'spend_nanos',
                         'eval_window', 'eval_before', 'eval_after')
local mode = 'new'
local eval = ''
if state[4] then
  local ew = tonumber(state[4])
  if ew == ws then mode = 'before'; eval = state[5] or ''
  elseif ew < ws then mode = 'after'; eval = state[6] or ''
  else mode = 'superseded' end
end
local out = {applied and '1' or '0', state[1] or '', state[2] or '0', state[3] or '0', mode, eval}
local longest = 0
for i = 7, #ARGV do
  local l = tonumber(ARGV[i])
  if l > longest then longest = l end
end
local sums = {}
for i = 7, #ARGV do sums[i] = 0 end
local items = redis.call('ZRANGEBYSCORE', KEYS[2], we - longest, ws)
for _, item in ipairs(items) do
  local sep = string.find(item, ':', 1, true)
  local start = tonumber(string.sub(item, 1, sep - 1))
  local spend = tonumber(string.sub(item, sep + 1))
  for i = 7, #ARGV do
    if start >= we - tonumber(ARGV[i]) then sums[i] = sums[i] + spend end
  end
end
for i = 7, #ARGV do out[#out + 1] = string.format('%.0f', sums[i]) end
return out
)lua";

// KEYS: state hash. ARGV: window_start, before, after. Never moves back.
constexpr char kSaveScript[] = R"lua(
local ew = redis.call('HGET', KEYS[1], 'eval_window')
if ew and tonumber(ew) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'eval_window', ARGV[1], 'eval_before', ARGV[2], 'eval_after', ARGV[3])
return 1
)lua";

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

RedisBudgetStore::RedisBudgetStore(RedisConfig options)
    : key_prefix_(options.key_prefix), redis_(std::move(options)) {}
RedisBudgetStore::~RedisBudgetStore() = default;

std::string RedisBudgetStore::Key(const std::string& budget, const char* suffix) const {
  // The braces make both keys of a budget hash to one Redis Cluster slot.
  return Concat(key_prefix_, "budget:{", budget, "}:", suffix);
}

absl::StatusOr<BudgetWindowState> RedisBudgetStore::ApplyWindow(const BudgetWindowUpdate& u) {
  std::vector<std::string> args = {
      std::to_string(u.window_start_ms), std::to_string(u.window_end_ms),
      std::to_string(u.spend_nanos),     u.period_id,
      std::to_string(u.period_start_ms), std::to_string(u.retention_ms)};
  for (int64_t l : u.lookbacks_ms) args.push_back(std::to_string(l));
  auto reply =
      redis_.Script(kApplyScript, {Key(u.budget, "state"), Key(u.budget, "history")}, args);
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements;
  if (e.size() != 6 + u.lookbacks_ms.size()) {
    return absl::InternalError("budget apply script: unexpected reply");
  }
  BudgetWindowState out;
  out.already_applied = e[0].str == "1";
  out.period_id = e[1].str;
  out.period_start_ms = ToInt(e[2].str);
  out.period_spend_nanos = ToInt(e[3].str);
  const std::string& mode = e[4].str;
  out.superseded = mode == "superseded";
  if (mode == "before" || mode == "after") out.eval_from = e[5].str;
  for (size_t i = 0; i < u.lookbacks_ms.size(); ++i)
    out.lookback_spend_nanos.push_back(ToInt(e[6 + i].str));
  return out;
}

absl::Status RedisBudgetStore::SaveEvaluation(const std::string& budget, int64_t window_start_ms,
                                              const std::string& before, const std::string& after) {
  auto reply = redis_.Script(kSaveScript, {Key(budget, "state")},
                             {std::to_string(window_start_ms), before, after});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

}  // namespace burnrate
