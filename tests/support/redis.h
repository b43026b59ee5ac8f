// Redis helpers for integration tests, on the stack's Redis (Stack()).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// hiredis stays out of this header; tests that inspect replies include
// <hiredis/hiredis.h> themselves.
struct redisContext;
struct redisReply;

namespace burnrate::testing {

// A key prefix no other test uses: "t<pid>-<counter>:". Put every key a test
// writes under it and delete them at the end (RedisClient::DeleteKeysWithPrefix),
// so tests sharing one Redis never see each other's keys.
std::string UniqueRedisPrefix();

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
// A reply from hiredis, freed with freeReplyObject.
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// One connected hiredis context, closed on destruction. Not thread-safe: use
// one per thread. Commands time out (default 10 s) rather than hang when the
// server is stopped under a test.
class RedisClient {
 public:
  // Connects to the stack's Redis (starting the stack if needed).
  RedisClient();
  RedisClient(const std::string& host, int port,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~RedisClient();
  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // For hiredis calls not wrapped here (pipelining with redisAppendCommand).
  redisContext* get() const { return context_; }

  // redisCommand with its printf-like format (%s, %b for binary, %d ...).
  // Returns the reply, which may be a REDIS_REPLY_ERROR; throws on I/O errors.
  RedisReplyPtr Command(const char* format, ...);
  // Binary-safe: each argument is sent as is.
  RedisReplyPtr CommandArgv(const std::vector<std::string>& args);

  // Deletes every key that starts with prefix; returns how many.
  size_t DeleteKeysWithPrefix(std::string_view prefix);

 private:
  redisContext* context_ = nullptr;
};

}  // namespace burnrate::testing
