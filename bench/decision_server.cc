// A small server for bench/decision_bench.sh: the quota decision endpoint
// over an in-memory snapshot of N tenants (a mix of ok, warn, throttle,
// downgrade and block, as in production after a refresh), on the same
// HttpServer the service uses. Prints "port <N>" once it listens and runs
// until it gets SIGTERM/SIGINT. With --inprocess N it instead times N
// requests through HttpServer::Dispatch (routing + handler, no socket) and
// prints the median of 5 rounds in ns per request: the endpoint's own cost.
#include <algorithm>
#include <chrono>
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
  long inprocess = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--tenants") == 0)
      tenants = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0)
      threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--port") == 0)
      port = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--inprocess") == 0)
      inprocess = std::atol(argv[i + 1]);
    else {
      std::fprintf(
          stderr,
          "usage: decision_server [--tenants N] [--threads N] [--port P] [--inprocess N]\n");
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
      case 0:
        s.state = QuotaState::kWarn;
        s.reason = "budget at 82%";
        break;
      case 1:
        s.state = QuotaState::kThrottle;
        s.rate_factor = 0.5;
        s.reason = "budget at 91%";
        break;
      case 2:
        s.state = QuotaState::kDowngrade;
        s.downgrade_model = "gpt-4o-mini";
        s.reason = "budget at 96%";
        break;
      case 3:
        s.state = QuotaState::kBlock;
        s.until_ms = 4'102'444'800'000;
        s.reason = "budget used up";
        break;
      default:
        break;
    }
    signals.push_back(std::move(s));
  }
  snapshot->Replace(std::move(signals), 0);

  HttpServerOptions options;
  options.threads = threads;
  HttpServer server(options);
  QuotaConfig quota;
  server.Route("GET", quota.decision_path + "/*",
               MakeDecisionHandler(snapshot, DecisionOptionsFrom(quota)));
  if (inprocess > 0) {
    std::vector<HttpRequest> requests(1024);
    for (size_t i = 0; i < requests.size(); ++i) {
      requests[i].method = "GET";
      requests[i].path = "/v1/decision/v1/chat/completions";
      requests[i].headers = {{"host", "127.0.0.1"},
                             {"user-agent", "bench"},
                             {"x-tenant-id", "tenant-" + std::to_string((i * 7919) % tenants)}};
    }
    std::vector<double> rounds;
    long denied = 0;
    for (int round = 0; round < 5; ++round) {
      const auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < inprocess; ++i)
        denied += server.Dispatch(requests[i % requests.size()]).status != 200;
      const auto t1 = std::chrono::steady_clock::now();
      rounds.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / inprocess);
    }
    std::sort(rounds.begin(), rounds.end());
    std::printf("in-process: %.0f ns per decision (median of 5 x %ld; %ld denied)\n", rounds[2],
                inprocess, denied);
    return 0;
  }
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
