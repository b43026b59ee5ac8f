// The metrics as operators see them: served over HTTP, scraped by a real
// Prometheus (Debian's binary, via tests/support/prometheus.h) and queried
// with PromQL. Also the test of that helper, which the dashboard and alert
// rule checks build on.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "metrics/metrics.h"
#include "tests/support/prometheus.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::PrometheusOptions;
using testing::PrometheusServer;

// Serves /metrics, /healthz and /readyz from the handlers on a loopback port
// chosen by the kernel, the way http/ will in the engine.
class MetricsEndpoint {
 public:
  explicit MetricsEndpoint(Metrics& metrics) {
    Route("/metrics", MetricsHandler(metrics));
    Route("/healthz", HealthHandler());
    Route("/readyz", ReadinessHandler([] { return ReadyState{true, true}; }));
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (!testing::WaitFor([&] { return server_.is_running(); }, 10s, "metrics endpoint")) {
      throw std::runtime_error("metrics endpoint did not start");
    }
  }
  ~MetricsEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Route(const std::string& path, HttpHandler handler) {
    server_.Get(
        path, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
          HttpRequest request;
          request.method = req.method;
          request.path = req.path;
          const HttpResponse response = handler(request);
          res.status = response.status;
          res.set_content(response.body, response.content_type.c_str());
        });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

void FeedSomeSpend(SpendProbe& spend) {
  WindowTotals acme;
  acme.events = 12;
  acme.cost = Money::FromDollars(4.5);
  WindowTotals small;
  small.events = 1;
  small.cost = Money::FromDollars(0.001);
  for (int64_t w = 0; w < 2; ++w) {
    WindowRecord r;
    r.start = WindowStartMs(w * 60'000);
    r.size_ms = 60'000;
    r.tenant = "acme";
    r.feature = "chat";
    r.environment = "prod";
    r.totals = &acme;
    spend.Record(r);
    r.tenant = "small \"quoted\"";
    r.totals = &small;
    spend.Record(r);
  }
}

TEST(PromQL, ScrapedMetricsAnswerTheQueriesDashboardsUse) {
  Metrics metrics({}, "test-revision");
  EngineSnapshot snapshot;
  snapshot.pipeline.messages = 100;
  snapshot.pipeline.events = 97;
  snapshot.pipeline.rejected[static_cast<size_t>(RejectReason::kMalformedJson)] = 3;
  metrics.engine().Publish(snapshot);
  metrics.engine().SetConsumerLag({{0, 12}, {1, 0}});
  metrics.engine().RecordWindowClosed(65);
  metrics.engine().SetReady(true);
  FeedSomeSpend(metrics.spend());

  MetricsEndpoint endpoint(metrics);
  PrometheusOptions options;
  options.targets = {endpoint.target()};
  options.scrape_interval = 500ms;
  PrometheusServer prometheus(options);
  ASSERT_TRUE(prometheus.WaitForScrape(60s)) << prometheus.Log();

  auto r = prometheus.Query("burnrate_build_info{revision=\"test-revision\"}");
  EXPECT_TRUE(r.parsed) << r.error;
  EXPECT_TRUE(r.has_data) << r.body;

  r = prometheus.Query("sum(burnrate_cost_usd_total)");
  ASSERT_TRUE(r.has_data) << r.body;
  EXPECT_NEAR(r.first_value, 9.002, 1e-9);

  r = prometheus.Query("sum by (tenant) (burnrate_cost_usd_total{tenant=\"acme\"})");
  ASSERT_TRUE(r.has_data) << r.body;
  EXPECT_DOUBLE_EQ(r.first_value, 4.5);

  r = prometheus.Query("sum(burnrate_consumer_lag_messages)");
  ASSERT_TRUE(r.has_data) << r.body;
  EXPECT_EQ(r.first_value, 12);
  EXPECT_EQ(prometheus.Query("burnrate_consumer_lag_messages").series, 2u);

  r = prometheus.Query("burnrate_events_dead_lettered_total{reason=\"malformed_json\"}");
  ASSERT_TRUE(r.has_data) << r.body;
  EXPECT_EQ(r.first_value, 3);

  // Valid expressions over series that exist, whatever their data.
  for (const char* expr : {"sum(rate(burnrate_cost_usd_total[5m])) by (tenant)",
                           "histogram_quantile(0.99, sum by (le) "
                           "(rate(burnrate_window_close_delay_seconds_bucket[5m])))",
                           "topk(10, sum by (tenant, feature) (rate(burnrate_cost_usd_total[1h])))",
                           "max(burnrate_ready) < 1"}) {
    EXPECT_TRUE(prometheus.Query(expr).parsed) << expr;
  }

  // A typo is refused as such: the helper tells parse errors apart.
  r = prometheus.Query("sum(rate(burnrate_cost_usd_total[5m])");
  EXPECT_FALSE(r.parsed);
  EXPECT_NE(r.error.find("bad_data"), std::string::npos) << r.error;
  // A valid expression over a metric nobody exposes has no data.
  r = prometheus.Query("burnrate_no_such_metric_total");
  EXPECT_TRUE(r.parsed);
  EXPECT_FALSE(r.has_data);
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(PromQL, RuleFilesAreLoadedAndBadOnesRefused) {
  PrometheusOptions options;
  options.targets = {"127.0.0.1:1"};  // nothing listens; rules load regardless
  options.rule_files = {WriteTempFile("burnrate_good_rules.yml", R"(groups:
  - name: burnrate
    rules:
      - alert: BurnrateNotReady
        expr: max(burnrate_ready) < 1
        for: 5m
)")};
  {
    PrometheusServer prometheus(options);
    EXPECT_TRUE(prometheus.Query("ALERTS").parsed);
  }
  options.rule_files = {WriteTempFile("burnrate_bad_rules.yml", R"(groups:
  - name: burnrate
    rules:
      - alert: Broken
        expr: sum(rate(burnrate_cost_usd_total[5m])
)")};
  try {
    PrometheusServer prometheus(options);
    ADD_FAILURE() << "an invalid rule file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("parse error"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace burnrate
