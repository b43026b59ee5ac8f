// Configuration of burnrate's two HTTP listeners (the `http:` section):
// the read-only one (/metrics, /healthz, /readyz, the gateway decision
// endpoint) and the admin one (quota overrides, silences), whose every route
// needs `Authorization: Bearer <admin_token>`. Header-only so config/ can
// hold it without depending on the server library.
#pragma once

#include <cstddef>
#include <string>

#include "config/secret.h"

namespace burnrate {

struct HttpListenConfig {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: pick a free port
  bool enabled = false;
};

struct HttpConfig {
  HttpListenConfig listen{"127.0.0.1", 9464, true};
  HttpListenConfig admin_listen{"127.0.0.1", 9465, false};
  // Required when admin_listen is set; never printed.
  Secret admin_token;
  // Worker threads per listener. A keep-alive connection holds its worker
  // while it is open, so this is also the number of connections served at
  // once; a gateway's connection pool should stay below it.
  int threads = 8;
  size_t max_body_bytes = 64 * 1024;
  size_t max_header_bytes = 8 * 1024;
  int64_t read_timeout_ms = 5000;
};

}  // namespace burnrate
