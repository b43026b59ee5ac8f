// The StateStore in Redis (hiredis). Each checkpoint is one Lua script, so a
// partition's deltas, position, watermark and event ids change together or
// not at all, and a checkpoint whose starting position no longer matches is
// refused: replaying offsets can never count twice. Key layout in
// docs/state.md.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "config/config.h"
#include "state/event_id_mirror.h"
#include "state/state_store.h"

struct redisContext;

namespace burnrate {

struct RedisStoreOptions {
  RedisConfig redis;  // where, as whom, and under which key prefix
  // Set with CLIENT SETNAME, so that CLIENT LIST shows whose connection it is.
  std::string client_name = "burnrate-state";
  // How long closed windows' totals stay readable. Also how long a minute's
  // event-id log outlives its last append if no window closes meanwhile (the
  // closer drops it earlier, see dedup_horizon_ms).
  int64_t window_retention_ms = 48 * 3'600'000LL;
  // A minute's event-id log is dropped once the closer has closed a window
  // starting this long (in event time) after the minute's end: a copy of
  // one of its events arriving later is late on every partition. Not a
  // wall-clock expiry: a partition that lags for longer still finds the ids.
  int64_t dedup_horizon_ms = 10 * 60'000;
  // A minute's copy of the event-id log that no checkpoint used for this
  // long is dropped, and fetched whole if a checkpoint needs it again. Short
  // enough that a replica catching up on a backlog (minutes of event time
  // per second) holds only the minutes it is writing.
  int64_t id_log_copy_unused_ms = 20'000;
};

// Not thread-safe: holds one connection; reconnects on the next call after a
// failure (the caller decides when to retry).
class RedisStateStore : public StateStore {
 public:
  explicit RedisStateStore(RedisStoreOptions options);
  ~RedisStateStore() override;

  absl::StatusOr<CheckpointOutcome> Commit(const std::string& topic, const PartitionCheckpoint& c) override;
  absl::StatusOr<std::optional<int64_t>> Position(const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<std::string>> ObserverState(const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> HeldDeadLetters(
      const std::string& topic, int32_t partition) override;
  absl::StatusOr<std::vector<PartitionProgress>> Progress(const std::string& topic) override;
  absl::StatusOr<std::vector<WindowStartMs>> OpenWindows(const std::string& topic) override;
  absl::StatusOr<bool> ClaimClose(const std::string& topic, WindowStartMs start) override;
  absl::StatusOr<std::optional<WindowStartMs>> ClosedThrough(const std::string& topic) override;
  absl::Status BeginClosing(const std::string& topic, WindowStartMs start) override;
  absl::StatusOr<StoredWindow> ReadWindow(const std::string& topic, WindowStartMs start) override;
  absl::Status Ping() override;

 private:
  struct Reply;
  absl::Status Connect();
  absl::StatusOr<std::unique_ptr<Reply>> Command(const std::vector<std::string>& args);
  absl::StatusOr<std::unique_ptr<Reply>> Script(const std::string& body, std::string& sha,
                                                std::vector<std::string> args);
  std::string Key(const std::string& topic, std::string_view suffix) const;

  RedisStoreOptions options_;
  redisContext* context_ = nullptr;
  std::string commit_sha_;
  std::string claim_sha_;
  std::string begin_closing_sha_;
  // Per topic: this replica's copy of the event-id logs (see
  // state/event_id_mirror.h), cleared whenever the connection is made anew.
  absl::flat_hash_map<std::string, EventIdMirror> id_mirrors_;
};

RedisStoreOptions RedisStoreOptionsFrom(const Config& config);

}  // namespace burnrate
