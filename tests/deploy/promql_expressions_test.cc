#include "tests/deploy/promql_expressions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/deploy/deploy_test_util.h"

namespace burnrate::deploy {
namespace {

using ::testing::ElementsAre;

TEST(PromqlExpressions, DashboardTargetsNestedPanelsAndVariables) {
  const char* json = R"json({
    "panels": [
      {"type": "timeseries", "title": "Spend", "targets": [
        {"refId": "A", "expr": "sum(rate(burnrate_cost_usd_total[5m]))"},
        {"refId": "B", "expr": "sum(burnrate_window_cost_usd)"}]},
      {"type": "row", "title": "Collapsed", "panels": [
        {"type": "stat", "title": "Ready", "targets": [{"refId": "A", "expr": "sum(burnrate_ready)"}]}]},
      {"type": "text", "title": "Notes"}
    ],
    "templating": {"list": [
      {"type": "datasource", "name": "datasource", "query": "prometheus"},
      {"type": "query", "name": "tenant", "query": {"query": "label_values(burnrate_cost_usd_total{environment=~\"prod|stage\"}, tenant)"}},
      {"type": "query", "name": "model", "query": "label_values(burnrate_model_cost_usd_total, model)"},
      {"type": "query", "name": "top", "definition": "query_result(topk(5, burnrate_window_cost_usd))"},
      {"type": "query", "name": "labels", "query": "label_values(tenant)"},
      {"type": "custom", "name": "window", "query": "1m,5m"}
    ]}
  })json";
  auto exprs = DashboardExpressions(json);
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  std::vector<std::string> names, texts;
  for (const auto& e : *exprs) {
    names.push_back(e.name);
    texts.push_back(e.expr);
  }
  EXPECT_THAT(names,
              ElementsAre("dashboard panel 'Spend' target A", "dashboard panel 'Spend' target B",
                          "dashboard panel 'Ready' target A", "dashboard variable tenant",
                          "dashboard variable model", "dashboard variable top"));
  EXPECT_THAT(
      texts,
      ElementsAre("sum(rate(burnrate_cost_usd_total[5m]))", "sum(burnrate_window_cost_usd)",
                  "sum(burnrate_ready)", "burnrate_cost_usd_total{environment=~\"prod|stage\"}",
                  "burnrate_model_cost_usd_total", "topk(5, burnrate_window_cost_usd)"));
}

TEST(PromqlExpressions, DashboardErrors) {
  EXPECT_FALSE(DashboardExpressions("{not json").ok());
  EXPECT_FALSE(DashboardExpressions(R"({"title": "no panels"})").ok());
}

TEST(PromqlExpressions, RulesAlertsAndRecords) {
  const char* yaml = R"(
groups:
  - name: engine
    rules:
      - record: job:burnrate_cost:rate5m
        expr: sum by (job) (rate(burnrate_cost_usd_total[5m]))
      - alert: NotReady
        expr: |
          burnrate_ready == 0
        for: 5m
  - name: empty
)";
  auto exprs = RuleExpressions(yaml);
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  ASSERT_EQ(exprs->size(), 2u);
  EXPECT_EQ((*exprs)[0].name, "rule engine/job:burnrate_cost:rate5m");
  EXPECT_EQ((*exprs)[1].name, "rule engine/NotReady");
  EXPECT_EQ((*exprs)[1].expr, "burnrate_ready == 0");
  EXPECT_FALSE(RuleExpressions("groups: [{name: x, rules: [{alert: A}]}]").ok());
  EXPECT_FALSE(RuleExpressions("rules: []").ok());
  EXPECT_FALSE(RuleExpressions("groups: [unclosed").ok());
}

TEST(PromqlExpressions, ShippedExpressionsHaveUniqueNames) {
  auto exprs = ShippedExpressions(SourceDir());
  ASSERT_TRUE(exprs.ok()) << exprs.status();
  std::set<std::string> names;
  size_t rules = 0;
  for (const auto& e : *exprs) {
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate name " << e.name;
    EXPECT_FALSE(e.expr.empty()) << e.name;
    if (e.name.rfind("burnrate-engine.rules.yaml: rule ", 0) == 0) ++rules;
  }
  EXPECT_GE(rules, 7u);
  EXPECT_TRUE(names.count("dashboard variable tenant"));
  EXPECT_FALSE(ShippedExpressions("/nonexistent").ok());
}

TEST(PromqlExpressions, SubstitutesGrafanaVariables) {
  EXPECT_EQ(SubstituteGrafanaVariables(
                R"(sum(rate(x{tenant=~"$tenant",feature=~"${feature}"}[$__rate_interval])))"),
            R"(sum(rate(x{tenant=~".*",feature=~".*"}[5m])))");
  EXPECT_EQ(SubstituteGrafanaVariables(
                "increase(x[$__range]) + y{a=~\"${env:regex}\"} + z{b=~\"[[old]]\"}", "1h"),
            "increase(x[1h]) + y{a=~\".*\"} + z{b=~\".*\"}");
  EXPECT_EQ(SubstituteGrafanaVariables("rate(x[${__interval}])"), "rate(x[5m])");
  EXPECT_EQ(SubstituteGrafanaVariables("no variables"), "no variables");
}

TEST(PromqlExpressions, MetricNamesSkipFunctionsLabelsAndKeywords) {
  EXPECT_THAT(
      MetricNames(
          R"(sum by (tenant, feature) (rate(burnrate_cost_usd_total{tenant=~"a|b",x="sum"}[5m])) * 60)"),
      ElementsAre("burnrate_cost_usd_total"));
  EXPECT_THAT(MetricNames("histogram_quantile(0.99, sum by (le) "
                          "(rate(burnrate_window_close_delay_seconds_bucket[5m]))) > 1e-9"),
              ElementsAre("burnrate_window_close_delay_seconds_bucket"));
  EXPECT_THAT(
      MetricNames(
          "topk(10, max without (pod) (a) / clamp_min(max by (k) (b), 0.000001)) and on (job) c "
          "unless ignoring (x) group_left (y) d offset 5m or sum(e) by (z) == bool 1"),
      ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_THAT(MetricNames("count by (version) (burnrate_build_info) + burnrate_build_info"),
              ElementsAre("burnrate_build_info"));
  EXPECT_THAT(MetricNames("job:recorded:rate5m > Inf"), ElementsAre("job:recorded:rate5m"));
  EXPECT_TRUE(MetricNames("vector(1) + 2").empty());
}

TEST(PromqlExpressions, ContractNamesIncludeHistogramSeries) {
  EXPECT_TRUE(ContractMetricNames().count("burnrate_redis_operation_duration_seconds_bucket"));
  EXPECT_FALSE(ContractMetricNames().count("burnrate_redis_operation_duration_seconds"));
  EXPECT_TRUE(ContractMetricNames().count("burnrate_cost_usd_total"));
}

}  // namespace
}  // namespace burnrate::deploy
