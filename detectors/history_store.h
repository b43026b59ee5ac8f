// Where key histories live between windows. The Redis store makes baselines
// and alert lifecycles survive restarts and rebalances and lets any replica
// judge the next window; replay keeps everything in the detector engine's
// own memory and needs no store at all (NoHistoryStore).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "state/redis_client.h"

namespace burnrate {

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;
  // False: the engine's memory is the only copy (replay); nothing is loaded or saved.
  virtual bool persistent() const = 0;
  // Encoded histories by store key; nullopt where there is none.
  virtual absl::StatusOr<std::vector<std::optional<std::string>>> Load(const std::vector<std::string>& keys) = 0;
  // Saves histories, each expiring `ttl_ms` after this write, updates the
  // set of keys with a firing alert (judged every window, traffic or not)
  // and replaces the encoded peer priors (PeerPriors::Encode).
  virtual absl::Status Save(const std::vector<std::pair<std::string, std::string>>& histories, int64_t ttl_ms,
                            const std::vector<std::string>& now_firing, const std::vector<std::string>& now_quiet,
                            const std::string& peer_priors) = 0;
  // The encoded peer priors last saved; nullopt before any.
  virtual absl::StatusOr<std::optional<std::string>> LoadPeerPriors() = 0;
  virtual absl::StatusOr<std::vector<std::string>> FiringKeys() = 0;
  // When the detectors first saw traffic (epoch ms); set once.
  virtual absl::StatusOr<int64_t> WatchingSince(int64_t candidate_ms) = 0;
};
using HistoryStorePtr = std::unique_ptr<HistoryStore>;

class NoHistoryStore final : public HistoryStore {
 public:
  bool persistent() const override { return false; }
  absl::StatusOr<std::vector<std::optional<std::string>>> Load(const std::vector<std::string>& keys) override {
    return std::vector<std::optional<std::string>>(keys.size());
  }
  absl::Status Save(const std::vector<std::pair<std::string, std::string>>&, int64_t, const std::vector<std::string>&,
                    const std::vector<std::string>&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> LoadPeerPriors() override { return std::nullopt; }
  absl::StatusOr<std::vector<std::string>> FiringKeys() override { return std::vector<std::string>{}; }
  absl::StatusOr<int64_t> WatchingSince(int64_t candidate_ms) override {
    if (!since_) since_ = candidate_ms;
    return *since_;
  }

 private:
  std::optional<int64_t> since_;
};

// Key layout (under the configured prefix): `det:h:<store key>` one string
// per key history (KeyHistory::Encode), `det:firing` a set of store keys,
// `det:since` the first traffic time, `det:priors` the peer priors. Not thread-safe: one connection.
class RedisHistoryStore final : public HistoryStore {
 public:
  // Its keys are under redis.key_prefix.
  explicit RedisHistoryStore(RedisConfig redis);
  bool persistent() const override { return true; }
  absl::StatusOr<std::vector<std::optional<std::string>>> Load(const std::vector<std::string>& keys) override;
  absl::Status Save(const std::vector<std::pair<std::string, std::string>>& histories, int64_t ttl_ms,
                    const std::vector<std::string>& now_firing, const std::vector<std::string>& now_quiet,
                    const std::string& peer_priors) override;
  absl::StatusOr<std::optional<std::string>> LoadPeerPriors() override;
  absl::StatusOr<std::vector<std::string>> FiringKeys() override;
  absl::StatusOr<int64_t> WatchingSince(int64_t candidate_ms) override;

  // The Redis key holding one history (for tests and memory measurements).
  std::string HistoryKey(const std::string& store_key) const { return prefix_ + "det:h:" + store_key; }

 private:
  RedisClient redis_;
  std::string prefix_;
};

}  // namespace burnrate
