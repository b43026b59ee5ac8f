#include "state/redis_client.h"

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/concat.h"

namespace burnrate {
namespace {

RedisValue Convert(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      v.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

void ToArgv(const std::vector<std::string>& args, std::vector<const char*>& argv, std::vector<size_t>& lens) {
  argv.clear();
  lens.clear();
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
}

// What an error reply means, by its first word.
absl::Status ErrorReply(const std::string& command, const std::string& reply) {
  const std::string message = Concat("redis ", command, ": ", reply);
  if (reply.starts_with("NOAUTH") || reply.starts_with("WRONGPASS"))
    return absl::UnauthenticatedError(message);
  if (reply.starts_with("NOPERM")) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

std::vector<std::string> RedisAuthCommand(const std::string& username,
                                          const std::string& password) {
  if (username.empty()) return {"AUTH", password};
  return {"AUTH", username, password};
}

absl::StatusOr<redisContext*> OpenRedisConnection(const RedisConfig& config) {
  const timeval tv{config.timeout_ms / 1000, (config.timeout_ms % 1000) * 1000};
  redisContext* c = redisConnectWithTimeout(config.host.c_str(), config.port, tv);
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return absl::UnavailableError(Concat("redis ", config.host, ":", config.port, ": ", why));
  }
  redisSetTimeout(c, tv);
  if (config.password.empty()) return c;
  const std::vector<std::string> auth = RedisAuthCommand(config.username, config.password.value);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  ToArgv(auth, argv, lens);
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  absl::Status refused;
  if (!reply) {
    refused = absl::UnavailableError(Concat("redis AUTH: ", c->errstr));
  } else if (reply->type == REDIS_REPLY_ERROR) {
    refused = ErrorReply("AUTH", std::string(reply->str, reply->len));
  }
  if (reply) freeReplyObject(reply);
  if (!refused.ok()) {
    redisFree(c);
    return refused;
  }
  return c;
}

RedisClient::RedisClient(RedisConfig config) : options_(std::move(config)) {}

RedisClient::~RedisClient() { Drop(); }

void RedisClient::Drop() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

absl::Status RedisClient::Connect() {
  if (context_) return absl::OkStatus();
  auto c = OpenRedisConnection(options_);
  if (!c.ok()) return c.status();
  context_ = *c;
  return absl::OkStatus();
}

absl::StatusOr<RedisValue> RedisClient::Command(const std::vector<std::string>& args) {
  if (auto s = Connect(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  ToArgv(args, argv, lens);
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!raw) {
    std::string why = context_->errstr;
    Drop();  // broken (timeout, reset): the next call reconnects
    return absl::UnavailableError(Concat("redis ", args.empty() ? "" : args[0], ": ", why));
  }
  const bool error = raw->type == REDIS_REPLY_ERROR;
  RedisValue value = Convert(raw);
  freeReplyObject(raw);
  if (error) return ErrorReply(args[0], value.str);
  return value;
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (auto s = Connect(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    ToArgv(args, argv, lens);
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
      Drop();
      return absl::UnavailableError("redis pipeline: cannot queue a command");
    }
  }
  std::vector<RedisValue> replies;
  replies.reserve(commands.size());
  std::string first_error;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
      std::string why = context_->errstr;
      Drop();
      return absl::UnavailableError(Concat("redis pipeline: ", why));
    }
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type == REDIS_REPLY_ERROR && first_error.empty()) first_error.assign(reply->str, reply->len);
    replies.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  if (!first_error.empty()) return ErrorReply("pipeline", first_error);
  return replies;
}

absl::StatusOr<RedisValue> RedisClient::Script(const std::string& body, const std::vector<std::string>& keys,
                                               const std::vector<std::string>& args) {
  std::string sha;
  for (const auto& [b, s] : script_shas_) {
    if (b == body) sha = s;
  }
  if (sha.empty()) {
    auto loaded = Command({"SCRIPT", "LOAD", body});
    if (!loaded.ok()) return loaded.status();
    sha = loaded->str;
    script_shas_.emplace_back(body, sha);
  }
  std::vector<std::string> call = {"EVALSHA", sha, std::to_string(keys.size())};
  call.insert(call.end(), keys.begin(), keys.end());
  call.insert(call.end(), args.begin(), args.end());
  auto reply = Command(call);
  if (!reply.ok() && reply.status().message().find("NOSCRIPT") != std::string_view::npos) {
    // Redis restarted and lost its script cache: load it again, once.
    script_shas_.clear();
    auto loaded = Command({"SCRIPT", "LOAD", body});
    if (!loaded.ok()) return loaded.status();
    script_shas_.emplace_back(body, loaded->str);
    call[1] = loaded->str;
    return Command(call);
  }
  return reply;
}

}  // namespace burnrate
