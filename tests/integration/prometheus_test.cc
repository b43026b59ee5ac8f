// The metrics as operators use them (issue 7): `burnrate run` on the real
// Kafka and Redis during a simulated run, scraped by a real Prometheus
// (Debian's) with the shipped rule files loaded. Every PromQL expression of
// the Grafana dashboard and of the rules must parse; every dashboard
// expression must return data; every metric a rule uses must have data (a
// rule's threshold is legitimately empty while healthy). And whatever the
// stream carries, /metrics stays small: 100,000 distinct tenants through the
// real engine make fewer than 5,000 series.
#include "tests/support/prometheus.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/time_format.h"
#include "tests/deploy/promql_expressions.h"
#include "tests/integration/run_harness.h"
#include "tests/support/stack.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::HttpGet;
using testing::MetricSum;
using testing::ScratchDir;
using testing::WaitFor;
using testing::WebhookReceiver;

constexpr char kBurnrate[] = BURNRATE_BIN;
constexpr char kSourceDir[] = BURNRATE_SOURCE_DIR;

// Dashboard expressions that cannot return data from a healthy engine, each
// with the reason. Keep this list short: prefer exposing a series from start.
const std::map<std::string, std::string>& Exemptions() {
  static const auto* exemptions = new std::map<std::string, std::string>{};
  return *exemptions;
}

std::string ExemptionFor(const std::string& expr) {
  for (const auto& [metric, reason] : Exemptions()) {
    for (const std::string& name : deploy::MetricNames(expr)) {
      if (name == metric) return reason;
    }
  }
  return "";
}

// One replica of `burnrate run`, stopped (SIGTERM, then checked) at the end.
class Engine {
 public:
  Engine(const ScratchDir& dir, const std::string& topic, const std::string& extra_yaml,
         std::vector<std::pair<std::string, std::string>> env = {}) {
    port_ = testing::FreeLoopbackPort();
    const std::string config = dir.File("engine.yaml");
    testing::WriteReplicaConfig(
        config, {topic, topic + "-group", testing::UniqueRedisPrefix(), port_, extra_yaml});
    ChildProcessOptions options;
    options.argv = {kBurnrate, "run", "--config", config};
    options.env = std::move(env);
    options.stderr_path = dir.File("engine.log");
    options.stdout_path = dir.File("engine.stdout");
    process_ = std::make_unique<ChildProcess>(std::move(options));
  }
  ~Engine() {
    process_->Kill(SIGTERM);
    const auto status = process_->Wait(60s);
    EXPECT_TRUE(status && status->ok()) << (status ? status->ToString() : "still running") << "\n"
                                        << process_->ReadStderr();
  }
  int port() const { return port_; }
  // The names of the process's threads, as `top -H` shows them.
  std::set<std::string> ThreadNames() const {
    std::set<std::string> names;
    const std::string tasks = "/proc/" + std::to_string(process_->pid()) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      if (std::getline(comm, name)) names.insert(name);
    }
    return names;
  }
  std::string Metrics() const { return HttpGet(port_, "/metrics").body; }
  bool Ready() const { return HttpGet(port_, "/readyz").status == 200; }

 private:
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

TEST(PrometheusTest, EveryShippedExpressionParsesAndReturnsData) {
  ScratchDir dir;
  // A receiver, so the alert delivery series have one.
  WebhookReceiver sink;
  const std::string topic = testing::CreateTopic(4, "prom");
  Engine engine(dir, topic,
                "alerting:\n  receivers:\n    - name: hook\n      webhook: {url: {env: "
                "BURNRATE_TEST_HOOK_URL}}\n",
                {{"BURNRATE_TEST_HOOK_URL", sink.url()}});
  ASSERT_TRUE(WaitFor([&] { return engine.Ready(); }, 60s, "engine ready"));

  // A day of history ending now, with a runaway agent (alerts, deliveries).
  testing::Simulate(kBurnrate, topic,
                    {"--start", testing::Rfc3339Minute(-24h), "--days", "1", "--warmup-days", "0",
                     "--tenants", "20", "--seed", "11", "--no-random-incidents", "--incident",
                     "runaway_agent@" + testing::Rfc3339Minute(-4h)},
                    dir, 120s);
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string m = engine.Metrics();
        return MetricSum(m, "burnrate_windows_closed_total").value_or(0) >= 1300 &&
               MetricSum(m, "burnrate_alert_deliveries_total").value_or(0) >= 1;
      },
      180s, "history consumed, windows closed and an alert delivered"));
  // An operator tells the engine's threads apart in `top -H` and `perf`.
  const std::set<std::string> threads = engine.ThreadNames();
  for (const char* name :
       {"br-checkpoint", "br-closer", "br-http", "br-alert-queue", "br-alert-send"}) {
    EXPECT_TRUE(threads.contains(name)) << "no thread named " << name;
  }

  std::vector<std::string> rule_files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(kSourceDir) + "/dashboards/rules")) {
    if (entry.path().string().ends_with(".rules.yaml")) rule_files.push_back(entry.path().string());
  }
  ASSERT_FALSE(rule_files.empty());
  testing::PrometheusServer prometheus(
      {{"127.0.0.1:" + std::to_string(engine.port())}, std::chrono::milliseconds(500), rule_files});
  ASSERT_TRUE(prometheus.WaitForScrape(60s)) << prometheus.Log();
  // rate() needs two samples of a series inside its range.
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto r = prometheus.Query("count_over_time(burnrate_windows_closed_total[5m])");
        return r.has_data && r.first_value >= 4;
      },
      60s, "several scrapes"));

  auto expressions = deploy::ShippedExpressions(kSourceDir);
  ASSERT_TRUE(expressions.ok()) << expressions.status();
  ASSERT_GT(expressions->size(), 10u);
  size_t dashboard = 0, rules = 0, exempt = 0;
  for (const deploy::PromqlExpression& e : *expressions) {
    const bool is_rule = !e.name.starts_with("dashboard");
    const std::string expr = deploy::SubstituteGrafanaVariables(e.expr);
    const testing::PromQueryResult r = prometheus.Query(expr);
    EXPECT_TRUE(r.parsed) << e.name << ": " << expr << "\n" << r.error;
    if (!r.parsed) continue;
    if (!is_rule) {
      ++dashboard;
      if (const std::string reason = ExemptionFor(expr); !reason.empty()) {
        ++exempt;
        std::fprintf(stderr, "exempt from the data check: %s (%s)\n", e.name.c_str(),
                     reason.c_str());
        continue;
      }
      EXPECT_TRUE(r.has_data) << e.name << " returned no data: " << expr << "\n" << r.body;
      continue;
    }
    ++rules;
    for (const std::string& metric : deploy::MetricNames(expr)) {
      const testing::PromQueryResult m = prometheus.Query(metric);
      EXPECT_TRUE(m.has_data) << e.name << " uses " << metric << ", which has no data";
    }
  }
  std::fprintf(stderr,
               "checked %zu dashboard expressions (%zu exempt from the data check) and %zu rules\n",
               dashboard, exempt, rules);
  EXPECT_GT(dashboard, 0u);
  EXPECT_GT(rules, 0u);
}

TEST(PrometheusTest, HundredThousandTenantsStayUnderFiveThousandSeries) {
  ScratchDir dir;
  const std::string topic = testing::CreateTopic(4, "tenants");
  Engine engine(dir, topic, "");
  ASSERT_TRUE(WaitFor([&] { return engine.Ready(); }, 60s, "engine ready"));

  // One event per tenant, spread over ten minutes ending five minutes ago.
  constexpr int kTenants = 100'000;
  const int64_t now_ms = WallClockMs();
  const int64_t start_ms = now_ms - 15 * 60'000;
  std::vector<std::string> values, keys;
  values.reserve(kTenants);
  keys.reserve(kTenants);
  for (int i = 0; i < kTenants; ++i) {
    const std::string tenant = "tenant-" + std::to_string(i);
    values.push_back("{\"event_id\":\"card-" + std::to_string(i) +
                     "\",\"ts\":" + std::to_string(start_ms + static_cast<int64_t>(i) * 6) +
                     ",\"tenant\":\"" + tenant +
                     "\",\"feature\":\"chat\",\"environment\":\"prod\",\"provider\":\"openai\","
                     "\"model\":\"gpt-4o-mini\","
                     "\"input_tokens\":1000,\"output_tokens\":100}");
    keys.push_back(tenant);
  }
  testing::Produce(topic, values, &keys);

  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string m = engine.Metrics();
        // Spend series are fed by closed windows: all of them closed once
        // every call is in burnrate_llm_calls_total.
        return MetricSum(m, "burnrate_llm_calls_total").value_or(0) >= kTenants;
      },
      180s, "100,000 tenants' events counted and their windows closed"));
  const std::string metrics = engine.Metrics();
  const size_t series = testing::CountSeries(metrics);
  std::fprintf(stderr, "/metrics with 100,000 tenants: %zu series, %zu bytes\n", series,
               metrics.size());
  EXPECT_LT(series, 5000u);
  // Nothing is lost: every call is counted, most of them under "other".
  EXPECT_EQ(MetricSum(metrics, "burnrate_llm_calls_total"), static_cast<double>(kTenants));
  EXPECT_NE(metrics.find("tenant=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace burnrate
