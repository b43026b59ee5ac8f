// A small server for bench/decision_bench.sh: the quota decision endpoint
// over an in-memory snapshot of N tenants (a mix of ok, warn, throttle,
// downgrade and block, as in production after a refresh), on the same
// HttpServer the service uses. Prints "port <N>" once it listens and runs
// until stdin closes or it gets SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "budgets/quota_http.h"
#include "http/http_server.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  int tenants = 10000;
  int threads = 64;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--tenants") == 0) tenants = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: decision_server [--tenants N] [--threads N] [--port P]\n");
      return 2;
    }
  }
  using namespace burnrate;
  auto snapshot = std::make_shared<QuotaSnapshot>();
  std::vector<QuotaSignal> signals;
  for (int i = 0; i < tenants; ++i) {
    QuotaSignal s;
    s.subject = "tenant-" + std::to_string(i);
    // 90% ok, then one in 40 each of warn, throttle, downgrade and block.
    switch (i % 40) {
      case 0: s.state = QuotaState::kWarn; s.reason = "budget at 82%"; break;
      case 1: s.state = QuotaState::kThrottle; s.rate_factor = 0.5; s.reason = "budget at 91%"; break;
      case 2: s.state = QuotaState::kDowngrade; s.downgrade_model = "gpt-4o-mini"; s.reason = "budget at 96%"; break;
      case 3: s.state = QuotaState::kBlock; s.until_ms = 4'102'444'800'000; s.reason = "budget used up"; break;
      default: break;
    }
    signals.push_back(std::move(s));
  }
  snapshot->Replace(std::move(signals), 0);

  HttpServerOptions options;
  options.threads = threads;
  HttpServer server(options);
  QuotaConfig quota;
  server.Route("GET", quota.decision_path + "/*", MakeDecisionHandler(snapshot, DecisionOptionsFrom(quota)));
  if (auto s = server.Start("127.0.0.1", port); !s.ok()) {
    std::fprintf(stderr, "decision_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("port %d\n", server.port());
  std::fflush(stdout);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  return 0;
}
