#include "budgets/redis_quota_store.h"

#include "core/concat.h"

namespace burnrate {
namespace {

constexpr const char* kPartNames[] = {"budget", "alert", "override"};

// Reads one field of every subject's hash (or the effective key) in one call.
constexpr char kCollectScript[] = R"lua(
local subjects = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, s in ipairs(subjects) do
  local v
  if ARGV[1] == 'effective' then
    v = redis.call('GET', ARGV[2] .. s)
  else
    v = redis.call('HGET', ARGV[2] .. s, ARGV[1])
  end
  if v then out[#out + 1] = v end
end
return out
)lua";

}  // namespace

RedisQuotaStore::RedisQuotaStore(RedisConfig options, std::string quota_key_prefix)
    : key_prefix_(options.key_prefix),
      redis_(std::move(options)),
      quota_prefix_(std::move(quota_key_prefix)) {}
RedisQuotaStore::~RedisQuotaStore() = default;

std::string RedisQuotaStore::DecisionKey(const std::string& subject) const {
  return Concat(key_prefix_, quota_prefix_, subject);
}

absl::StatusOr<QuotaStore::Outcome> RedisQuotaStore::SetPart(
    const std::string& subject, Part part, const std::optional<QuotaSignal>& value,
    int64_t now_ms) {
  return Update(subject, part, value, now_ms);
}

absl::StatusOr<QuotaStore::Outcome> RedisQuotaStore::Recompute(const std::string& subject,
                                                               int64_t now_ms) {
  return Update(subject, std::nullopt, std::nullopt, now_ms);
}

absl::StatusOr<QuotaStore::Outcome> RedisQuotaStore::Update(const std::string& subject,
                                                            std::optional<Part> part,
                                                            const std::optional<QuotaSignal>& value,
                                                            int64_t now_ms) {
  std::lock_guard lock(mu_);
  const std::string& p = key_prefix_;
  const std::string parts_key = Concat(p, "quota-internal:parts:", subject);
  const std::string effective_key = DecisionKey(subject);
  const std::string subjects_key = Concat(p, "quota-internal:subjects");
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (auto w = redis_.Command({"WATCH", parts_key, effective_key}); !w.ok()) return w.status();
    auto stored = redis_.Command({"HMGET", parts_key, "budget", "alert", "override"});
    auto current = stored.ok() ? redis_.Command({"GET", effective_key}) : stored;
    if (!stored.ok() || !current.ok()) {
      (void)redis_.Command({"UNWATCH"});
      return stored.ok() ? current.status() : stored.status();
    }
    std::optional<QuotaSignal> parts[3];
    for (size_t i = 0; i < 3 && i < stored->elements.size(); ++i) {
      if (stored->elements[i].type != RedisValue::Type::kString) continue;
      auto parsed = QuotaSignalFromJson(stored->elements[i].str);
      if (parsed.ok()) parts[i] = *parsed;
    }
    if (part) parts[static_cast<int>(*part)] = value;
    QuotaSignal next = CombineQuotaInputs(subject, parts[0], parts[1], parts[2], now_ms);
    bool changed = true;
    if (current->type == RedisValue::Type::kString) {
      auto old = QuotaSignalFromJson(current->str);
      if (old.ok()) {
        QuotaSignal cmp = *old;
        cmp.updated_at_ms = next.updated_at_ms;
        changed = !(cmp == next);
        if (!changed) next = *old;
      }
    }
    if (changed) next.updated_at_ms = now_ms;
    const bool override_expired =
        parts[2] && parts[2]->expires_at_ms != 0 && parts[2]->expires_at_ms <= now_ms;

    std::vector<std::vector<std::string>> tx;
    if (part) {
      const char* field = kPartNames[static_cast<int>(*part)];
      if (value) {
        tx.push_back({"HSET", parts_key, field, QuotaSignalToJson(*value)});
      } else {
        tx.push_back({"HDEL", parts_key, field});
      }
    }
    if (override_expired) tx.push_back({"HDEL", parts_key, "override"});
    if (changed) tx.push_back({"SET", effective_key, QuotaSignalToJson(next)});
    tx.push_back({"SADD", subjects_key, subject});

    if (auto m = redis_.Command({"MULTI"}); !m.ok()) return m.status();
    for (const auto& cmd : tx) {
      if (auto q = redis_.Command(cmd); !q.ok()) {
        (void)redis_.Command({"DISCARD"});
        return q.status();
      }
    }
    auto exec = redis_.Command({"EXEC"});
    if (!exec.ok()) return exec.status();
    if (exec->type == RedisValue::Type::kNil) continue;  // another writer won; retry
    return Outcome{next, changed};
  }
  return absl::AbortedError(Concat("quota update of ", subject, " kept conflicting"));
}

absl::StatusOr<std::vector<QuotaSignal>> RedisQuotaStore::Effective() {
  std::lock_guard lock(mu_);
  const std::string& p = key_prefix_;
  auto reply = redis_.Script(kCollectScript, {Concat(p, "quota-internal:subjects")},
                             {"effective", Concat(p, quota_prefix_)});
  if (!reply.ok()) return reply.status();
  std::vector<QuotaSignal> out;
  for (const auto& e : reply->elements) {
    auto s = QuotaSignalFromJson(e.str);
    if (s.ok()) out.push_back(std::move(*s));
  }
  return out;
}

absl::StatusOr<std::vector<QuotaSignal>> RedisQuotaStore::Overrides() {
  std::lock_guard lock(mu_);
  const std::string& p = key_prefix_;
  auto reply = redis_.Script(kCollectScript, {Concat(p, "quota-internal:subjects")},
                             {"override", Concat(p, "quota-internal:parts:")});
  if (!reply.ok()) return reply.status();
  std::vector<QuotaSignal> out;
  for (const auto& e : reply->elements) {
    auto s = QuotaSignalFromJson(e.str);
    if (s.ok()) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace burnrate
