#include "tests/support/redis.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <stdexcept>
#include <utility>

#include "tests/support/stack.h"

namespace burnrate::testing {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("burnrate test support (redis): " + what);
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{.tv_sec = static_cast<time_t>(ms.count() / 1000),
                 .tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// SCAN MATCH takes a glob; the prefix must match only itself.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string UniqueRedisPrefix() {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)) + ":";
}

void RedisReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

RedisClient::RedisClient() : RedisClient(Stack().redis_host, Stack().redis_port) {}

RedisClient::RedisClient(const std::string& host, int port, std::chrono::milliseconds timeout) {
  context_ = redisConnectWithTimeout(host.c_str(), port, ToTimeval(timeout));
  if (context_ == nullptr) Fail("cannot allocate a hiredis context");
  if (context_->err != 0) {
    const std::string reason = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    Fail("connecting to " + host + ":" + std::to_string(port) + ": " + reason);
  }
  redisSetTimeout(context_, ToTimeval(timeout));
}

RedisClient::~RedisClient() {
  if (context_ != nullptr) redisFree(context_);
}

RedisClient::RedisClient(RedisClient&& other) noexcept
    : context_(std::exchange(other.context_, nullptr)) {}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    if (context_ != nullptr) redisFree(context_);
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

RedisReplyPtr RedisClient::Command(const char* format, ...) {
  va_list args;
  va_start(args, format);
  void* reply = redisvCommand(context_, format, args);
  va_end(args);
  if (reply == nullptr) Fail(std::string("command failed: ") + context_->errstr);
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

RedisReplyPtr RedisClient::CommandArgv(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* reply =
      redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (reply == nullptr) Fail(std::string("command failed: ") + context_->errstr);
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

size_t RedisClient::DeleteKeysWithPrefix(std::string_view prefix) {
  const std::string pattern = GlobEscape(prefix) + "*";
  size_t deleted = 0;
  std::string cursor = "0";
  do {
    RedisReplyPtr scan = CommandArgv({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
      Fail("unexpected SCAN reply" +
           (scan->type == REDIS_REPLY_ERROR ? ": " + std::string(scan->str, scan->len) : ""));
    }
    cursor.assign(scan->element[0]->str, scan->element[0]->len);
    const redisReply* keys = scan->element[1];
    if (keys->elements == 0) continue;
    std::vector<std::string> del = {"DEL"};
    for (size_t i = 0; i < keys->elements; ++i) {
      del.emplace_back(keys->element[i]->str, keys->element[i]->len);
    }
    RedisReplyPtr reply = CommandArgv(del);
    if (reply->type != REDIS_REPLY_INTEGER) Fail("unexpected DEL reply");
    deleted += static_cast<size_t>(reply->integer);
  } while (cursor != "0");
  return deleted;
}

}  // namespace burnrate::testing
