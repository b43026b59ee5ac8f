// Alerts end to end: two `burnrate run` replicas on the real Kafka and Redis,
// traffic from `burnrate simulate` (two days of history with one scheduled
// runaway agent), and a local webhook receiver configured in `alerting:`.
// The incident's alert must reach the receiver exactly once as firing and
// once as resolved, no transition may be delivered twice, and every
// replica's /metrics, /healthz and /readyz must answer.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/run_harness.h"
#include "tests/support/stack.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::HttpGet;
using testing::MetricSum;
using testing::ScratchDir;
using testing::WaitFor;
using testing::WebhookReceiver;

constexpr char kBurnrate[] = BURNRATE_BIN;

struct Replica {
  int port = 0;
  std::unique_ptr<ChildProcess> process;
};

TEST(RunAlertsTest, IncidentAlertIsDeliveredOnceFiringAndOnceResolved) {
  ScratchDir dir;
  WebhookReceiver receiver;
  const std::string topic = testing::CreateTopic(4, "alerts");
  const std::string prefix = testing::UniqueRedisPrefix();

  std::vector<Replica> replicas(2);
  for (size_t i = 0; i < replicas.size(); ++i) {
    Replica& r = replicas[i];
    r.port = testing::FreeLoopbackPort();
    const std::string config = dir.File("replica" + std::to_string(i) + ".yaml");
    testing::WriteReplicaConfig(config, {topic, topic + "-group", prefix, r.port,
                                         "alerting:\n"
                                         "  receivers:\n"
                                         "    - name: hook\n"
                                         "      webhook: {url: {env: BURNRATE_TEST_HOOK_URL}}\n"});
    ChildProcessOptions options;
    options.argv = {kBurnrate, "run", "--config", config};
    options.env = {{"BURNRATE_TEST_HOOK_URL", receiver.url()}};
    options.stderr_path = dir.File("replica" + std::to_string(i) + ".log");
    options.stdout_path = dir.File("replica" + std::to_string(i) + ".stdout");
    r.process = std::make_unique<ChildProcess>(std::move(options));
  }
  // Traffic starts once the group has settled (each replica owns
  // partitions), so no run is split by a rebalance.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (Replica& r : replicas) {
          if (HttpGet(r.port, "/readyz").status != 200) return false;
        }
        return true;
      },
      60s, "both replicas ready"));

  // Two days of history ending now; a runaway agent starts 5 h ago (it
  // runs 15-120 min, then its run goes idle and resolves).
  const std::string labels = dir.File("labels.jsonl");
  testing::Simulate(kBurnrate, topic,
                    {"--start", testing::Rfc3339Minute(-48h), "--days", "2", "--warmup-days", "1",
                     "--tenants", "10", "--seed", "7", "--no-random-incidents", "--incident",
                     "runaway_agent@" + testing::Rfc3339Minute(-5h), "--labels-out", labels},
                    dir, 120s);
  const json label =
      json::parse(testing::ReadFile(labels).substr(0, testing::ReadFile(labels).find('\n')));
  const std::string run_id = label.at("agent_run_id");
  const std::string subject = "agent_run_id=" + run_id;
  json summary;
  {
    const std::string err = testing::ReadFile(dir.File("simulate.stderr"));
    const size_t at = err.rfind("{\"summary\"");
    ASSERT_NE(at, std::string::npos) << err;
    summary = json::parse(err.substr(at, err.find('\n', at) - at))["summary"];
  }
  const double events = summary.at("events").get<double>();

  // Both transitions of the runaway reach the receiver.
  const auto transitions_of_run = [&](std::string_view status) {
    int n = 0;
    for (const auto& [key, body] : receiver.Received()) {
      const json alert = json::parse(body, nullptr, false);
      if (alert.is_object() && alert.value("kind", "") == "runaway" &&
          alert.value("subject", "") == subject && alert.value("status", "") == status) {
        ++n;
      }
    }
    return n;
  };
  ASSERT_TRUE(WaitFor(
      [&] { return transitions_of_run("firing") >= 1 && transitions_of_run("resolved") >= 1; },
      180s, "the runaway alert fired and resolved at the receiver"));

  // Everything consumed, the history's windows closed and judged, and every
  // transition the replicas decided delivered: nothing more can come.
  ASSERT_TRUE(WaitFor(
      [&] {
        double consumed = 0, pending = 0, decided = 0, windows = 0, delivered = 0;
        for (Replica& r : replicas) {
          const auto metrics = HttpGet(r.port, "/metrics");
          if (metrics.status != 200) return false;
          consumed += MetricSum(metrics.body, "burnrate_messages_consumed_total").value_or(0);
          pending += MetricSum(metrics.body, "burnrate_alert_outbox_pending").value_or(1);
          decided += MetricSum(metrics.body, "burnrate_alerts_total").value_or(0);
          windows += MetricSum(metrics.body, "burnrate_windows_closed_total").value_or(0);
          delivered += MetricSum(metrics.body, "burnrate_alert_deliveries_total").value_or(0);
        }
        const double received = static_cast<double>(receiver.Received().size());
        // Two days of minutes, a few of them quiet at night.
        return consumed >= events && pending == 0 && windows >= 2800 && decided == received &&
               delivered == received;
      },
      120s, "all events consumed, windows closed, every decided transition delivered"));

  EXPECT_EQ(transitions_of_run("firing"), 1);
  EXPECT_EQ(transitions_of_run("resolved"), 1);
  // Idempotent delivery: no transition twice, whoever decided it.
  std::map<std::string, int> by_key;
  for (const auto& [key, body] : receiver.Received()) {
    EXPECT_FALSE(key.empty()) << body;
    ++by_key[key];
  }
  for (const auto& [key, n] : by_key) EXPECT_EQ(n, 1) << key << " delivered " << n << " times";

  // The endpoints answer, and the metrics saw the transitions.
  double runaway_fired = 0;
  for (Replica& r : replicas) {
    EXPECT_EQ(HttpGet(r.port, "/healthz").status, 200);
    // The gateway decision endpoint: no budget configured, so every tenant is allowed.
    EXPECT_EQ(HttpGet(r.port, "/v1/decision/chat").status, 200);
    const auto ready = HttpGet(r.port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_NE(ready.body.find("{\"ready\":true}"), std::string::npos) << ready.body;
    const auto metrics = HttpGet(r.port, "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_EQ(MetricSum(metrics.body, "burnrate_ready"), 1.0);
    EXPECT_NE(metrics.body.find("burnrate_decision_requests_total{decision=\"allow\"} 1"),
              std::string::npos);
    for (const std::string& line :
         {std::string("burnrate_alerts_total{kind=\"runaway\",status=\"firing\"} ")}) {
      const size_t at = metrics.body.find(line);
      ASSERT_NE(at, std::string::npos) << metrics.body.substr(0, 2000);
      runaway_fired += std::strtod(metrics.body.c_str() + at + line.size(), nullptr);
    }
  }
  EXPECT_EQ(runaway_fired, 1);

  for (Replica& r : replicas) r.process->Kill(SIGTERM);
  for (Replica& r : replicas) {
    const auto status = r.process->Wait(60s);
    ASSERT_TRUE(status.has_value()) << "a replica did not stop on SIGTERM";
    EXPECT_TRUE(status->ok()) << status->ToString() << "\n" << r.process->ReadStderr();
  }
}

// The transitions a replica's log says it decided: "<alert_id>:<status>",
// the idempotency key each receiver must see exactly once.
std::set<std::string> LoggedTransitions(const std::string& log) {
  static const std::regex line(" info alert (firing|resolved) \\S+ .* id=([0-9a-f]{16}): ");
  std::set<std::string> out;
  std::istringstream in(log);
  std::string l;
  std::smatch m;
  while (std::getline(in, l)) {
    if (std::regex_search(l, m, line)) out.insert(m[2].str() + ":" + m[1].str());
  }
  return out;
}

// Issue 6: the receiver is down while alerts are decided, the engine is
// killed (SIGKILL) during the outage and started again, the receiver comes
// back: every transition either engine decided arrives exactly once.
TEST(RunAlertsTest, EveryTransitionArrivesOnceAfterAnOutageAndAKilledEngine) {
  ScratchDir dir;
  const int receiver_port = testing::FreeLoopbackPort();  // nothing listens yet
  const std::string topic = testing::CreateTopic(4, "outage");
  const std::string prefix = testing::UniqueRedisPrefix();
  const int http_port = testing::FreeLoopbackPort();
  const std::string config = dir.File("replica.yaml");
  // A low runaway bound makes many transitions; retries come quickly.
  testing::WriteReplicaConfig(config, {topic, topic + "-group", prefix, http_port,
                                       "detectors:\n"
                                       "  runaway: {max_calls: 3}\n"
                                       "alerting:\n"
                                       "  outbox: {initial_backoff: 200ms, max_backoff: 1s}\n"
                                       "  receivers:\n"
                                       "    - name: hook\n"
                                       "      webhook: {url: {env: BURNRATE_TEST_HOOK_URL}, timeout: 1s}\n"});
  const auto start_replica = [&](const std::string& name) {
    ChildProcessOptions options;
    options.argv = {kBurnrate, "run", "--config", config};
    options.env = {{"BURNRATE_TEST_HOOK_URL", "http://127.0.0.1:" + std::to_string(receiver_port) + "/hook"}};
    options.stderr_path = dir.File(name + ".log");
    options.stdout_path = dir.File(name + ".stdout");
    return std::make_unique<ChildProcess>(std::move(options));
  };
  auto first = start_replica("first");
  ASSERT_TRUE(WaitFor([&] { return HttpGet(http_port, "/readyz").status == 200; }, 60s, "replica ready"));
  testing::Simulate(kBurnrate, topic,
                    {"--start", testing::Rfc3339Minute(-24h), "--days", "1", "--warmup-days", "0", "--tenants",
                     "30", "--seed", "11", "--incidents-per-day", "0"},
                    dir, 120s);

  // Transitions pile up in the outbox while the receiver is down.
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto metrics = HttpGet(http_port, "/metrics");
        return metrics.status == 200 &&
               MetricSum(metrics.body, "burnrate_alert_outbox_pending").value_or(0) >= 20;
      },
      120s, "alerts waiting in the outbox"));
  first->Kill(SIGKILL);
  ASSERT_TRUE(first->Wait(30s).has_value());
  const std::set<std::string> before = LoggedTransitions(testing::ReadFile(dir.File("first.log")));
  ASSERT_GE(before.size(), 20u);

  // The receiver comes back; a new engine takes over the same state.
  WebhookReceiver receiver(receiver_port);
  ASSERT_EQ(receiver.url(), "http://127.0.0.1:" + std::to_string(receiver_port) + "/hook");
  auto second = start_replica("second");
  std::set<std::string> decided;
  ASSERT_TRUE(WaitFor(
      [&] {
        decided = before;
        for (const auto& t : LoggedTransitions(testing::ReadFile(dir.File("second.log")))) decided.insert(t);
        const auto metrics = HttpGet(http_port, "/metrics");
        if (metrics.status != 200 || MetricSum(metrics.body, "burnrate_alert_outbox_pending").value_or(1) != 0) {
          return false;
        }
        std::set<std::string> received;
        for (const auto& [key, body] : receiver.Received()) received.insert(key);
        return std::includes(received.begin(), received.end(), decided.begin(), decided.end());
      },
      180s, "every decided transition delivered"));

  std::map<std::string, int> by_key;
  for (const auto& [key, body] : receiver.Received()) ++by_key[key];
  for (const auto& [key, n] : by_key) {
    EXPECT_EQ(n, 1) << key << " delivered " << n << " times";
    EXPECT_TRUE(decided.contains(key)) << key << " delivered but never logged as decided";
  }
  EXPECT_EQ(by_key.size(), decided.size());

  second->Kill(SIGTERM);
  ASSERT_TRUE(second->Wait(60s).has_value());
}

}  // namespace
}  // namespace burnrate
