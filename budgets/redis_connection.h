// A minimal synchronous Redis connection for budgets/ (plain commands and
// Lua scripts), so hiredis stays in one .cc. Not thread-safe: one per
// thread, or behind the owner's mutex. Reconnects on the next call after a
// failure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;

namespace burnrate {

struct BudgetRedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  std::string key_prefix = "burnrate:";
  int timeout_ms = 2000;
};

struct RedisReplyValue {
  enum class Type : uint8_t { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<RedisReplyValue> elements;
};

class BudgetRedisConnection {
 public:
  explicit BudgetRedisConnection(BudgetRedisOptions options);
  ~BudgetRedisConnection();
  BudgetRedisConnection(const BudgetRedisConnection&) = delete;
  BudgetRedisConnection& operator=(const BudgetRedisConnection&) = delete;

  // An error reply is returned as an error status.
  absl::StatusOr<RedisReplyValue> Command(const std::vector<std::string>& args);
  // EVALSHA, loading the script on NOSCRIPT.
  absl::StatusOr<RedisReplyValue> Script(const std::string& body,
                                         const std::vector<std::string>& keys,
                                         const std::vector<std::string>& args);
  const BudgetRedisOptions& options() const { return options_; }

 private:
  absl::Status Connect();
  void Drop();

  BudgetRedisOptions options_;
  redisContext* context_ = nullptr;
  std::vector<std::pair<std::string, std::string>> shas_;  // body -> sha
};

}  // namespace burnrate
