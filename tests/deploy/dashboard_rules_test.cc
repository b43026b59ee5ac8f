// The Grafana dashboard and the Prometheus rules: structure, the metrics
// contract, promtool's own checks and unit tests; and the Dockerfile's key
// properties (the image itself is not built here: Docker may be unavailable).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/deploy/deploy_test_util.h"
#include "tests/deploy/promql_expressions.h"

namespace burnrate::deploy {
namespace {

using Json = nlohmann::json;

const char* const kRules = "dashboards/rules/burnrate-engine.rules.yaml";

Json LoadDashboard() {
  const std::string text = ReadFileOrEmpty(SourceDir() + "/dashboards/burnrate.json");
  Json d = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(d.is_discarded()) << "dashboards/burnrate.json is not valid JSON";
  return d;
}

void ForEachPanel(const Json& panels, const std::function<void(const Json&)>& fn) {
  for (const Json& p : panels) {
    fn(p);
    if (p.contains("panels")) ForEachPanel(p["panels"], fn);
  }
}

TEST(Rules, PromtoolChecksTheRuleFile) {
  auto result = RunCommand({"promtool", "check", "rules", kRules});
  EXPECT_TRUE(result.ran_ok) << result.status << "\n" << result.out << result.err;
}

TEST(Rules, PromtoolUnitTestsPass) {
  std::vector<std::string> tests;
  for (const auto& entry :
       std::filesystem::directory_iterator(SourceDir() + "/dashboards/rules/tests")) {
    if (entry.path().extension() == ".yaml") tests.push_back(entry.path().string());
  }
  ASSERT_FALSE(tests.empty()) << "no promtool tests in dashboards/rules/tests";
  std::vector<std::string> argv = {"promtool", "test", "rules"};
  argv.insert(argv.end(), tests.begin(), tests.end());
  auto result = RunCommand(argv);
  EXPECT_TRUE(result.ran_ok) << result.status << "\n" << result.out << result.err;
}

TEST(Rules, EveryAlertHasSeverityAndSummaryAndIsUnitTested) {
  const YAML::Node file = YAML::LoadFile(SourceDir() + "/" + kRules);
  std::string tests_text;
  for (const auto& entry :
       std::filesystem::directory_iterator(SourceDir() + "/dashboards/rules/tests")) {
    tests_text += ReadFileOrEmpty(entry.path().string());
  }
  std::set<std::string> alerts;
  for (const auto& group : file["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;
      const std::string name = rule["alert"].as<std::string>();
      alerts.insert(name);
      const std::string severity =
          rule["labels"]["severity"] ? rule["labels"]["severity"].as<std::string>() : "";
      EXPECT_TRUE(severity == "warning" || severity == "critical") << name;
      EXPECT_TRUE(rule["annotations"]["summary"]) << name;
      EXPECT_NE(tests_text.find("alertname: " + name), std::string::npos)
          << name << " has no promtool test";
    }
  }
  // What the engine's operators need to hear about.
  for (const char* want :
       {"BurnrateConsumerLagGrowing", "BurnrateDeadLetterRateHigh", "BurnrateAlertSinkFailing",
        "BurnrateAlertsDeadLettered", "BurnrateRedisErrors", "BurnrateNotReady",
        "BurnrateWindowCloseDelayHigh"}) {
    EXPECT_TRUE(alerts.count(want)) << want;
  }
}

TEST(Dashboard, HasDatasourceAndDimensionVariables) {
  const Json d = LoadDashboard();
  EXPECT_GE(d.value("schemaVersion", 0), 36);
  EXPECT_FALSE(d.value("uid", std::string()).empty());
  std::map<std::string, Json> vars;
  for (const Json& v : d["templating"]["list"]) vars[v["name"].get<std::string>()] = v;
  ASSERT_TRUE(vars.count("datasource"));
  EXPECT_EQ(vars["datasource"]["type"], "datasource");
  EXPECT_EQ(vars["datasource"]["query"], "prometheus");
  for (const char* dim : {"tenant", "feature", "environment"}) {
    ASSERT_TRUE(vars.count(dim)) << dim;
    EXPECT_EQ(vars[dim]["type"], "query");
    EXPECT_EQ(vars[dim]["datasource"]["uid"], "${datasource}") << dim;
    const std::string definition = vars[dim].value("definition", std::string());
    EXPECT_EQ(definition.rfind("label_values(", 0), 0u) << dim << ": " << definition;
    EXPECT_NE(definition.find(dim), std::string::npos) << dim;
  }
}

TEST(Dashboard, EveryPanelQueriesThePrometheusVariable) {
  const Json d = LoadDashboard();
  std::set<int> ids;
  int panels = 0;
  ForEachPanel(d["panels"], [&](const Json& p) {
    EXPECT_TRUE(ids.insert(p.value("id", -1)).second) << "duplicate panel id " << p.value("id", -1);
    EXPECT_TRUE(p.contains("gridPos")) << p.value("title", "");
    if (p.value("type", std::string()) == "row") return;
    ++panels;
    const std::string title = p.value("title", std::string());
    EXPECT_FALSE(title.empty());
    EXPECT_EQ(p["datasource"]["uid"], "${datasource}") << title;
    ASSERT_TRUE(p.contains("targets") && p["targets"].is_array() && !p["targets"].empty())
        << title << " has no targets";
    for (const Json& t : p["targets"]) {
      EXPECT_FALSE(t.value("expr", std::string()).empty())
          << title << " target " << t.value("refId", "");
    }
  });
  EXPECT_GE(panels, 20);
}

TEST(Dashboard, CoversSpendMoversAlertsQuotasAndEngineHealth) {
  auto exprs = DashboardExpressions(ReadFileOrEmpty(SourceDir() + "/dashboards/burnrate.json"));
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  std::string all;
  for (const auto& e : *exprs) all += e.expr + "\n";
  for (const char* want :
       {"sum by (tenant) (rate(burnrate_cost_usd_total",
        "sum by (feature) (rate(burnrate_cost_usd_total",
        "sum by (environment) (rate(burnrate_cost_usd_total",
        "sum by (model) (rate(burnrate_model_cost_usd_total", "burnrate_window_cost_usd",
        "burnrate_baseline_cost_usd", "burnrate_alerts_firing", "burnrate_quota_tenants",
        "burnrate_messages_consumed_total", "burnrate_events_decoded_total",
        "burnrate_events_dead_lettered_total", "burnrate_consumer_lag_messages",
        "histogram_quantile(0.99, sum by (le) (rate(burnrate_window_close_delay_seconds_bucket",
        "burnrate_redis_operation_duration_seconds_bucket", "burnrate_redis_errors_total",
        "burnrate_alert_deliveries_total", "burnrate_alert_outbox_pending", "burnrate_ready"}) {
    EXPECT_NE(all.find(want), std::string::npos) << "the dashboard has no query with " << want;
  }
}

TEST(MetricsContract, EveryShippedExpressionUsesOnlyContractMetrics) {
  auto exprs = ShippedExpressions(SourceDir());
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  ASSERT_GT(exprs->size(), 30u);
  for (const auto& e : *exprs) {
    const auto names = MetricNames(SubstituteGrafanaVariables(e.expr));
    EXPECT_FALSE(names.empty()) << e.name << ": no metric in " << e.expr;
    for (const auto& name : names) {
      EXPECT_TRUE(ContractMetricNames().count(name))
          << e.name << ": " << name << " is not in the metrics contract";
    }
  }
}

// promtool parses PromQL only inside rule files, so every dashboard
// expression (Grafana variables substituted) becomes a recording rule of a
// scratch file that promtool must accept.
TEST(MetricsContract, EveryDashboardExpressionParses) {
  auto exprs = DashboardExpressions(ReadFileOrEmpty(SourceDir() + "/dashboards/burnrate.json"));
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "dashboard" << YAML::Key << "rules" << YAML::Value
      << YAML::BeginSeq;
  for (size_t i = 0; i < exprs->size(); ++i) {
    out << YAML::BeginMap << YAML::Key << "record" << YAML::Value
        << "dashboard:expr_" + std::to_string(i);
    out << YAML::Key << "expr" << YAML::Value << YAML::DoubleQuoted
        << SubstituteGrafanaVariables((*exprs)[i].expr, "5m") << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  const std::string path = WriteTempFile("dashboard-expressions.rules.yaml", out.c_str());
  auto result = RunCommand({"promtool", "check", "rules", path});
  EXPECT_TRUE(result.ran_ok) << result.status << "\n" << result.out << result.err;
  EXPECT_NE(result.out.find("SUCCESS: " + std::to_string(exprs->size()) + " rules found"),
            std::string::npos)
      << result.out;
}

// The image's key properties, checked on the text.
TEST(Dockerfile, MultiStageNonRootImage) {
  const std::string text = ReadFileOrEmpty(SourceDir() + "/Dockerfile");
  ASSERT_FALSE(text.empty());
  std::vector<std::string> froms;
  std::string last_user, entrypoint, expose;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, std::regex(R"(FROM\s+(\S+).*)"))) froms.push_back(m[1]);
    if (std::regex_match(line, m, std::regex(R"(USER\s+(\S+)\s*)"))) last_user = m[1];
    if (std::regex_match(line, m, std::regex(R"(ENTRYPOINT\s+(.*))"))) entrypoint = m[1];
    if (std::regex_match(line, m, std::regex(R"(EXPOSE\s+(.*))"))) expose = m[1];
  }
  ASSERT_GE(froms.size(), 2u) << "multi-stage";
  EXPECT_EQ(froms.front(), "debian:bookworm");
  EXPECT_EQ(froms.back(), "debian:bookworm-slim");
  EXPECT_TRUE(last_user.rfind("10001", 0) == 0)
      << "runtime stage must run as uid 10001, got USER " << last_user;
  EXPECT_EQ(entrypoint, R"(["burnrate"])");
  EXPECT_NE(expose.find("9464"), std::string::npos);
  EXPECT_NE(expose.find("9465"), std::string::npos);
  EXPECT_NE(text.find("-DBURNRATE_BUILD_TESTS=OFF"), std::string::npos);
  EXPECT_NE(text.find("-DBURNRATE_BUILD_BENCH=OFF"), std::string::npos);
  // The build context leaves out build trees and caches.
  const std::string ignore = ReadFileOrEmpty(SourceDir() + "/.dockerignore");
  EXPECT_NE(ignore.find(".git"), std::string::npos);
  EXPECT_NE(ignore.find("build*/"), std::string::npos);
  EXPECT_NE(ignore.find(".cache"), std::string::npos);
}

}  // namespace
}  // namespace burnrate::deploy
