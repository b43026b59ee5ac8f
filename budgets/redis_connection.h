// Where budgets/ keeps its state in Redis. The connection itself is state/'s
// RedisClient (plain commands, transactions and Lua scripts).
#pragma once

#include <string>

#include "state/redis_client.h"

namespace burnrate {

struct BudgetRedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // an ACL user; empty: the default user
  std::string password;
  std::string key_prefix = "burnrate:";
  int timeout_ms = 2000;

  RedisClientOptions client() const {
    return RedisClientOptions{host, port, password, timeout_ms, username};
  }
};

}  // namespace burnrate
