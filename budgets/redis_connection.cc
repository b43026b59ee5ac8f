#include "budgets/redis_connection.h"

#include <hiredis/hiredis.h>

#include "core/concat.h"

namespace burnrate {
namespace {

RedisReplyValue Convert(const redisReply* r) {
  RedisReplyValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisReplyValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisReplyValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisReplyValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisReplyValue::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

}  // namespace

BudgetRedisConnection::BudgetRedisConnection(BudgetRedisOptions options)
    : options_(std::move(options)) {}
BudgetRedisConnection::~BudgetRedisConnection() { Drop(); }

void BudgetRedisConnection::Drop() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

absl::Status BudgetRedisConnection::Connect() {
  if (context_ != nullptr) return absl::OkStatus();
  timeval tv{options_.timeout_ms / 1000, (options_.timeout_ms % 1000) * 1000};
  context_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
  if (context_ == nullptr || context_->err) {
    std::string why = context_ ? context_->errstr : "out of memory";
    Drop();
    return absl::UnavailableError(Concat("redis ", options_.host, ":", options_.port, ": ", why));
  }
  redisSetTimeout(context_, tv);
  if (!options_.password.empty()) {
    auto auth = Command({"AUTH", options_.password});
    if (!auth.ok()) {
      Drop();
      return auth.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisReplyValue> BudgetRedisConnection::Command(
    const std::vector<std::string>& args) {
  if (auto s = Connect(); !s.ok()) return s;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (reply == nullptr) {
    std::string why = context_->errstr;
    Drop();
    return absl::UnavailableError(Concat("redis: ", why));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string why(reply->str, reply->len);
    freeReplyObject(reply);
    return absl::InternalError(Concat("redis: ", why));
  }
  RedisReplyValue v = Convert(reply);
  freeReplyObject(reply);
  return v;
}

absl::StatusOr<RedisReplyValue> BudgetRedisConnection::Script(
    const std::string& body, const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  std::string* sha = nullptr;
  for (auto& [b, s] : shas_) {
    if (b == body) sha = &s;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha == nullptr || sha->empty()) {
      auto loaded = Command({"SCRIPT", "LOAD", body});
      if (!loaded.ok()) return loaded.status();
      if (sha == nullptr) {
        shas_.emplace_back(body, loaded->str);
        sha = &shas_.back().second;
      } else {
        *sha = loaded->str;
      }
    }
    std::vector<std::string> cmd = {"EVALSHA", *sha, std::to_string(keys.size())};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto reply = Command(cmd);
    if (!reply.ok() && reply.status().message().find("NOSCRIPT") != std::string_view::npos) {
      sha->clear();
      continue;
    }
    return reply;
  }
  return absl::InternalError("redis: script could not be loaded");
}

}  // namespace burnrate
