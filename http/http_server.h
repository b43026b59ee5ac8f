// burnrate's embedded HTTP/1.1 server: serves plain HttpHandlers
// (core/http_types.h) so endpoint code never sees the HTTP library, which
// stays behind a pimpl in http_server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http_types.h"
#include "http/http_config.h"

namespace burnrate {

struct HttpServerOptions {
  // Worker threads. A keep-alive connection occupies one while it is open.
  int threads = 8;
  // Larger bodies get 413 before any handler runs.
  size_t max_body_bytes = 64 * 1024;
  // Header names plus values, summed; more gets 431. (The library itself also
  // refuses any single header line over 8 KiB.)
  size_t max_header_bytes = 8 * 1024;
  // A connection idle or trickling for this long is closed.
  std::chrono::milliseconds read_timeout{5000};
  // Requests served on one keep-alive connection before it is closed.
  size_t keep_alive_max_requests = 100'000;
  // When not empty, every route needs `Authorization: Bearer <token>`
  // (compared in constant time); anything else gets 401.
  std::string bearer_token;
};

// One listener and its routes. Routes are added before Start (Route is not
// thread-safe against a running server); handlers run on the worker threads,
// concurrently, so they must be thread-safe. Owned by whoever serves the
// endpoints (the run command); Stop (or the destructor) waits for in-flight
// requests to end.
//
// Paths are exact ("/metrics"), or prefixes when they end in "/*"
// ("/v1/decision/*" matches "/v1/decision" and everything under it, which is
// what Envoy's ext_authz needs since it appends the original path). An
// exact route wins over a prefix, a longer prefix over a shorter one. A path
// no route matches gets 404; a path matched only under other methods gets
// 405 with an Allow header. A handler that throws gets 500.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Route(std::string method, std::string path, HttpHandler handler);

  // Binds and starts serving on its own threads; port 0 picks a free port
  // (see port()). Fails if the address cannot be bound or the server already runs.
  absl::Status Start(std::string_view bind_host, int port);
  // Stops accepting, ends connections and joins the threads. Idempotent.
  void Stop();

  // The bound port, once Start succeeded; 0 before.
  int port() const;
  bool running() const;

  // Routes a request as the server would, without a socket (for tests and
  // for the bench's in-process figures).
  HttpResponse Dispatch(const HttpRequest& request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Wraps `handler` so it runs only for requests carrying
// `Authorization: Bearer <token>`; others get 401 with WWW-Authenticate.
// An empty token refuses everything (an admin listener without a token must
// not be open).
HttpHandler RequireBearerToken(std::string token, HttpHandler handler);

// Compares without an early exit, so the time taken does not reveal how
// much of a secret matched. Lengths are not secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Server options from the `http:` config: limits and threads; for the admin
// listener also the bearer token.
HttpServerOptions HttpServerOptionsFrom(const HttpConfig& config, bool admin);

// "host:port" (or "[v6]:port") into its parts; port 0..65535.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(std::string_view text);

}  // namespace burnrate
