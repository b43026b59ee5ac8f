// A small synchronous Redis client for modules that keep state in Redis
// (detector baselines, and any module that needs plain commands, pipelines
// and Lua scripts). Replies come back as plain values, so no hiredis type
// leaves state/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

struct redisContext;

namespace burnrate {

struct RedisValue {
  enum class Type : uint8_t { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;  // kString and kStatus
  int64_t integer = 0;
  std::vector<RedisValue> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
};

// A new connection to `config`'s Redis, with config.timeout_ms for
// connecting and for every reply, authenticated when there is a password
// (with the ACL user when there is one). Unavailable when Redis cannot be
// reached; a refused AUTH is Unauthenticated with Redis's reason, which
// never holds the password. The caller frees it (redisFree).
absl::StatusOr<redisContext*> OpenRedisConnection(const RedisConfig& config);

// The AUTH command for these credentials: with the ACL user when there is one.
std::vector<std::string> RedisAuthCommand(const std::string& username, const std::string& password);

// One connection. Not thread-safe: one client per thread. After a broken
// connection the next call reconnects; callers decide when to retry.
class RedisClient {
 public:
  // Connects (lazily) as `config` says; its key prefix is the caller's business.
  explicit RedisClient(RedisConfig config);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // An error reply is an error status: Unauthenticated for NOAUTH and
  // WRONGPASS (no or refused credentials), PermissionDenied for NOPERM (the
  // ACL user may not run the command or touch the key), Internal otherwise.
  absl::StatusOr<RedisValue> Command(const std::vector<std::string>& args);
  // Sends every command, then reads every reply: one round trip. Fails as a
  // whole if the connection breaks; an error reply fails it too.
  absl::StatusOr<std::vector<RedisValue>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // EVALSHA with the script's SHA1, loading the script on NOSCRIPT.
  absl::StatusOr<RedisValue> Script(const std::string& body, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args);

 private:
  absl::Status Connect();
  void Drop();

  RedisConfig options_;
  redisContext* context_ = nullptr;
  std::vector<std::pair<std::string, std::string>> script_shas_;  // body → sha
};

}  // namespace burnrate
