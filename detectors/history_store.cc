#include "detectors/history_store.h"

#include <algorithm>

namespace burnrate {
namespace {
constexpr size_t kBatch = 1000;  // keys per round trip
}

RedisHistoryStore::RedisHistoryStore(RedisConfig redis)
    : redis_(redis), prefix_(redis.key_prefix) {}

absl::StatusOr<std::vector<std::optional<std::string>>> RedisHistoryStore::Load(const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  for (size_t from = 0; from < keys.size(); from += kBatch) {
    std::vector<std::string> mget = {"MGET"};
    for (size_t i = from; i < std::min(keys.size(), from + kBatch); ++i) mget.push_back(HistoryKey(keys[i]));
    auto reply = redis_.Command(mget);
    if (!reply.ok()) return reply.status();
    for (auto& e : reply->elements) {
      if (e.is_nil()) {
        out.emplace_back();
      } else {
        out.emplace_back(std::move(e.str));
      }
    }
  }
  if (out.size() != keys.size()) return absl::InternalError("redis MGET returned the wrong number of values");
  return out;
}

absl::Status RedisHistoryStore::Save(const std::vector<std::pair<std::string, std::string>>& histories,
                                     int64_t ttl_ms, const std::vector<std::string>& now_firing,
                                     const std::vector<std::string>& now_quiet, const std::string& peer_priors) {
  std::vector<std::vector<std::string>> commands;
  const std::string ttl = std::to_string(ttl_ms);
  for (const auto& [key, value] : histories) {
    commands.push_back({"SET", HistoryKey(key), value, "PX", ttl});
    if (commands.size() >= kBatch) {
      if (auto r = redis_.Pipeline(commands); !r.ok()) return r.status();
      commands.clear();
    }
  }
  if (!now_firing.empty()) {
    std::vector<std::string> add = {"SADD", prefix_ + "det:firing"};
    add.insert(add.end(), now_firing.begin(), now_firing.end());
    commands.push_back(std::move(add));
  }
  if (!now_quiet.empty()) {
    std::vector<std::string> rem = {"SREM", prefix_ + "det:firing"};
    rem.insert(rem.end(), now_quiet.begin(), now_quiet.end());
    commands.push_back(std::move(rem));
  }
  commands.push_back({"SET", prefix_ + "det:priors", peer_priors});
  auto r = redis_.Pipeline(commands);
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<std::optional<std::string>> RedisHistoryStore::LoadPeerPriors() {
  auto reply = redis_.Command({"GET", prefix_ + "det:priors"});
  if (!reply.ok()) return reply.status();
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply->str));
}

absl::StatusOr<std::vector<std::string>> RedisHistoryStore::FiringKeys() {
  auto reply = redis_.Command({"SMEMBERS", prefix_ + "det:firing"});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> keys;
  for (auto& e : reply->elements) keys.push_back(std::move(e.str));
  return keys;
}

absl::StatusOr<int64_t> RedisHistoryStore::WatchingSince(int64_t candidate_ms) {
  auto set = redis_.Command({"SET", prefix_ + "det:since", std::to_string(candidate_ms), "NX"});
  if (!set.ok()) return set.status();
  auto get = redis_.Command({"GET", prefix_ + "det:since"});
  if (!get.ok()) return get.status();
  return std::stoll(get->str);
}

}  // namespace burnrate
