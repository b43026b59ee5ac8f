// Alert delivery latency: from AlertDeliveryService::Enqueue to receipt at
// healthy local receivers (webhook, PagerDuty-, Alertmanager-shaped), over
// the real Redis outbox. Starts its own throw-away redis-server on a free
// loopback port and an HTTP receiver on 127.0.0.1; prints the median, p99
// and max per receiver. Usage: burnrate-bench-alert-delivery [alerts] [per_second]
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "alerting/delivery_service.h"
#include "alerting/redis_outbox.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

struct Received {
  std::mutex mu;
  std::map<std::string, std::map<std::string, Clock::time_point>>
      at;  // receiver -> alert id -> time
  void Record(const std::string& receiver, const std::string& id) {
    const auto now = Clock::now();
    std::lock_guard lock(mu);
    at[receiver].emplace(id, now);
  }
  size_t Count() {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (const auto& [r, m] : at) n += m.size();
    return n;
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace burnrate;
  const int alerts = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int per_second = argc > 2 ? std::atoi(argv[2]) : 100;

  // A private Redis, no persistence.
  const int redis_port = FreePort();
  const std::string port_text = std::to_string(redis_port);
  std::vector<std::string> redis_args = {
      "redis-server", "--port", port_text,      "--bind", "127.0.0.1",
      "--save",       "",       "--appendonly", "no"};
  std::vector<char*> redis_argv;
  for (auto& a : redis_args) redis_argv.push_back(a.data());
  redis_argv.push_back(nullptr);
  pid_t redis_pid = 0;
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  const int spawned =
      posix_spawnp(&redis_pid, "redis-server", &quiet, nullptr, redis_argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned != 0) {
    std::fprintf(stderr, "cannot start redis-server\n");
    return 1;
  }
  auto stop_redis = [&] {
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, nullptr, 0);
  };

  Received received;
  httplib::Server server;
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.get_header_value("Idempotency-Key");
    received.Record("webhook", key.substr(0, key.find(':')));
    res.status = 200;
  });
  server.Post("/v2/enqueue", [&](const httplib::Request& req, httplib::Response& res) {
    received.Record("pagerduty", nlohmann::json::parse(req.body)["dedup_key"]);
    res.status = 202;
  });
  server.Post("/api/v2/alerts", [&](const httplib::Request& req, httplib::Response& res) {
    received.Record("alertmanager", nlohmann::json::parse(req.body)[0]["labels"]["alert_id"]);
    res.status = 200;
  });
  const int http_port = server.bind_to_any_port("127.0.0.1");
  std::thread server_thread([&] { server.listen_after_bind(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(http_port);

  AlertingConfig config;
  ReceiverConfig hook, pd, am;
  hook.name = "webhook";
  hook.type = "webhook";
  hook.webhook.url = {"bench", base + "/hook"};
  hook.webhook.hmac_secret = {"bench", "secret"};
  pd.name = "pagerduty";
  pd.type = "pagerduty";
  pd.pagerduty.url = base + "/v2/enqueue";
  pd.pagerduty.routing_key = {"bench", "R0UTINGKEY"};
  am.name = "alertmanager";
  am.type = "alertmanager";
  am.alertmanager.url = base;
  am.alertmanager.resend_interval_ms = 24 * 3'600'000LL;
  config.receivers = {hook, pd, am};
  config.route.receiver = "webhook";
  for (const char* name : {"webhook", "pagerduty", "alertmanager"}) {
    RouteConfig child;
    child.receiver = name;
    child.continue_matching = true;
    config.route.routes.push_back(child);
  }

  AlertRedisOptions outbox;
  outbox.redis.port = redis_port;
  outbox.redis.key_prefix = "bench:";
  std::unique_ptr<AlertDeliveryService> service;
  for (int i = 0; i < 100 && !service; ++i) {  // until redis-server accepts connections
    auto created = AlertDeliveryService::CreateWithRedis(config, outbox);
    if (created.ok())
      service = std::move(*created);
    else
      std::this_thread::sleep_for(50ms);
  }
  if (!service) {
    std::fprintf(stderr, "cannot connect to the benchmark's redis-server\n");
    server.stop();
    server_thread.join();
    stop_redis();
    return 1;
  }
  service->Start();

  std::map<std::string, Clock::time_point> enqueued;
  const auto start = Clock::now();
  for (int i = 0; i < alerts; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / per_second));
    Alert a;
    a.alert_id = "bench-" + std::to_string(i);
    a.tenant = "tenant-" + std::to_string(i % 50);
    a.feature = "chat";
    a.environment = "prod";
    a.started_at_ms = 1'795'000'000'000 + i;
    a.summary = "benchmark alert";
    enqueued[a.alert_id] = Clock::now();
    if (!service->Enqueue(a).ok()) {
      std::fprintf(stderr, "enqueue failed\n");
      break;
    }
  }
  const auto deadline = Clock::now() + 60s;
  while (received.Count() < static_cast<size_t>(alerts) * 3 && Clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  service->Stop();
  server.stop();
  server_thread.join();
  stop_redis();

  std::printf(
      "alert delivery latency, Enqueue -> receipt, %d alerts at %d/s, Redis outbox, 3 receivers\n",
      alerts, per_second);
  std::vector<double> all;
  for (auto& [receiver, times] : received.at) {
    std::vector<double> ms;
    for (const auto& [id, at] : times) {
      ms.push_back(std::chrono::duration<double, std::milli>(at - enqueued[id]).count());
    }
    std::sort(ms.begin(), ms.end());
    all.insert(all.end(), ms.begin(), ms.end());
    std::printf("  %-13s received %zu/%d  median %.2f ms  p99 %.2f ms  max %.2f ms\n",
                receiver.c_str(), ms.size(), alerts, ms[ms.size() / 2], ms[ms.size() * 99 / 100],
                ms.back());
  }
  std::sort(all.begin(), all.end());
  std::printf("  all           median %.2f ms  p99 %.2f ms\n", all[all.size() / 2],
              all[all.size() * 99 / 100]);
  return all.size() == static_cast<size_t>(alerts) * 3 ? 0 : 1;
}
