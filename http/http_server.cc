#include "http/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <thread>
#include <vector>

#include "core/concat.h"
#include "core/thread_name.h"

namespace burnrate {
namespace {

struct RouteEntry {
  std::string method;
  std::string path;  // without the trailing "/*" of a prefix route
  bool prefix = false;
  HttpHandler handler;
};

// How specifically a route matches a path: exact beats any prefix, a longer
// prefix beats a shorter one; -1 when it does not match.
int MatchRank(const RouteEntry& route, std::string_view path) {
  if (!route.prefix) return route.path == path ? 1'000'000 : -1;
  if (path.size() < route.path.size() || path.substr(0, route.path.size()) != route.path) return -1;
  // "/v1/decision/*" covers "/v1/decision" and "/v1/decision/..." but not
  // "/v1/decisions".
  if (path.size() > route.path.size() && path[route.path.size()] != '/' &&
      (route.path.empty() || route.path.back() != '/')) {
    return -1;
  }
  return static_cast<int>(route.path.size());
}

HttpResponse PlainResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.body += '\n';
  return response;
}

// Headers httplib adds to a request itself; they are not the client's.
bool IsLibraryHeader(const std::string& name) {
  return name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
         name == "LOCAL_PORT";
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool BearerMatches(const HttpRequest& request, std::string_view token) {
  if (token.empty()) return false;
  std::string_view auth = request.Header("authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (auth.size() < kScheme.size()) return false;
  // The scheme name is case-insensitive (RFC 9110 section 11.1).
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(auth[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  return ConstantTimeEquals(auth.substr(kScheme.size()), token);
}

HttpResponse Unauthorized() {
  HttpResponse response =
      PlainResponse(401, "unauthorized: send Authorization: Bearer <admin token>");
  response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  std::vector<RouteEntry> routes;
  httplib::Server server;
  std::thread thread;
  std::atomic<int> port{0};
  std::atomic<bool> started{false};

  HttpResponse Dispatch(const HttpRequest& request) const {
    if (!options.bearer_token.empty() && !BearerMatches(request, options.bearer_token)) {
      return Unauthorized();
    }
    const RouteEntry* best = nullptr;
    int best_rank = -1;
    bool path_known = false;
    std::vector<std::string_view> allowed;
    for (const RouteEntry& route : routes) {
      const int rank = MatchRank(route, request.path);
      if (rank < 0) continue;
      path_known = true;
      if (route.method != request.method) {
        if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
          allowed.push_back(route.method);
        }
        continue;
      }
      if (rank > best_rank) {
        best = &route;
        best_rank = rank;
      }
    }
    if (best == nullptr) {
      if (!path_known) return PlainResponse(404, "not found");
      std::sort(allowed.begin(), allowed.end());
      HttpResponse response = PlainResponse(405, "method not allowed");
      response.headers.emplace_back("Allow", JoinStrings(allowed, ", "));
      return response;
    }
    try {
      return best->handler(request);
    } catch (const std::exception& e) {
      return PlainResponse(500, Concat("internal error: ", e.what()));
    } catch (...) {
      return PlainResponse(500, "internal error");
    }
  }

  void Serve(const httplib::Request& req, httplib::Response& res) {
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    size_t header_bytes = 0;
    request.headers.reserve(req.headers.size());
    for (const auto& [name, value] : req.headers) {
      if (IsLibraryHeader(name)) continue;
      header_bytes += name.size() + value.size();
      request.headers.emplace_back(Lower(name), value);
    }
    HttpResponse response;
    const std::string_view content_length = request.Header("content-length");
    if (!content_length.empty() &&
        content_length.find_first_not_of("0123456789") != std::string_view::npos) {
      // The library reads a malformed length as 0; the request is broken.
      response = PlainResponse(400, "malformed Content-Length");
    } else if (header_bytes > options.max_header_bytes) {
      response =
          PlainResponse(431, Concat("request headers over ", options.max_header_bytes, " bytes"));
    } else if (req.body.size() > options.max_body_bytes) {
      // The library enforces the limit while reading; this covers bodies it
      // could not size up front.
      response = PlainResponse(413, Concat("request body over ", options.max_body_bytes, " bytes"));
    } else {
      request.query.reserve(req.params.size());
      for (const auto& [name, value] : req.params) request.query.emplace_back(name, value);
      request.body = req.body;
      response = Dispatch(request);
    }
    res.status = response.status;
    for (auto& [name, value] : response.headers) res.set_header(name.c_str(), value);
    res.set_content(std::move(response.body), response.content_type.c_str());
  }
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  const size_t threads = static_cast<size_t>(std::max(1, impl_->options.threads));
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->server.set_payload_max_length(impl_->options.max_body_bytes);
  impl_->server.set_keep_alive_max_count(impl_->options.keep_alive_max_requests);
  const auto timeout = impl_->options.read_timeout;
  impl_->server.set_read_timeout(timeout);
  impl_->server.set_write_timeout(timeout);
  impl_->server.set_keep_alive_timeout(
      std::max<time_t>(1, std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  impl_->server.set_tcp_nodelay(true);
  // Every route goes through one catch-all handler per method, which does
  // burnrate's own routing (the library reads the body only for routed
  // handlers, so a pre-routing hook would see bodies empty).
  Impl* impl = impl_.get();
  auto serve = [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Serve(req, res);
  };
  const std::string any = ".*";
  impl_->server.Get(any, serve);
  impl_->server.Post(any, serve);
  impl_->server.Put(any, serve);
  impl_->server.Patch(any, serve);
  impl_->server.Delete(any, serve);
  impl_->server.Options(any, serve);
  // No SO_REUSEPORT (the library's default sets it): a second process on the
  // same port must fail to start, not silently take half the requests.
  impl_->server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Reached only when the library rejects a request before routing (a body
  // over the limit, a malformed request line): keep its status, say why.
  impl_->server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(Concat(res.status == 413 ? "request body too large" : "bad request", "\n"),
                      "text/plain; charset=utf-8");
    }
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string path, HttpHandler handler) {
  RouteEntry entry;
  entry.method = std::move(method);
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0) {
    entry.prefix = true;
    path.resize(path.size() - 2);
  }
  entry.path = std::move(path);
  entry.handler = std::move(handler);
  impl_->routes.push_back(std::move(entry));
}

absl::Status HttpServer::Start(std::string_view bind_host, int port) {
  if (impl_->started.load()) return absl::FailedPreconditionError("HTTP server already started");
  if (port < 0 || port > 65535) return absl::InvalidArgumentError(Concat("bad port ", port));
  const std::string host(bind_host);
  int bound = 0;
  if (port == 0) {
    bound = impl_->server.bind_to_any_port(host);
    if (bound <= 0)
      return absl::UnavailableError(Concat("cannot bind HTTP listener to ", host, ":0"));
  } else {
    if (!impl_->server.bind_to_port(host, port)) {
      return absl::UnavailableError(Concat("cannot bind HTTP listener to ", host, ":", port));
    }
    bound = port;
  }
  impl_->port.store(bound);
  impl_->started.store(true);
  impl_->thread = std::thread([impl = impl_.get()] {
    NameThisThread("br-http");
    impl->server.listen_after_bind();
  });
  // stop() only acts on a running server, so Start returns once the accept
  // loop is up; the socket already listens, so nothing is lost meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->server.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("HTTP server did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->started.load()) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started.store(false);
}

int HttpServer::port() const { return impl_->port.load(); }
bool HttpServer::running() const { return impl_->started.load() && impl_->server.is_running(); }

HttpResponse HttpServer::Dispatch(const HttpRequest& request) const {
  return impl_->Dispatch(request);
}

HttpHandler RequireBearerToken(std::string token, HttpHandler handler) {
  return [token = std::move(token), handler = std::move(handler)](const HttpRequest& request) {
    if (!BearerMatches(request, token)) return Unauthorized();
    return handler(request);
  };
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

HttpServerOptions HttpServerOptionsFrom(const HttpConfig& config, bool admin) {
  HttpServerOptions o;
  o.threads = config.threads;
  o.max_body_bytes = config.max_body_bytes;
  o.max_header_bytes = config.max_header_bytes;
  o.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  if (admin) o.bearer_token = config.admin_token.value;
  return o;
}

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(Concat("expected [host]:port, got '", text, "'"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(Concat("expected host:port, got '", text, "'"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(Concat("bad port in '", text, "'"));
  }
  return std::make_pair(std::string(host), port);
}

}  // namespace burnrate
