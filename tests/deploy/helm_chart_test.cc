// The Helm chart (helm/burnrate), rendered with `helm template` and checked
// the way a reviewer of the manifests would: kinds, labels, selectors, probes,
// the config file and its mount, security context, secrets, and that the
// rendered config passes `burnrate check-config`.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "tests/deploy/deploy_test_util.h"

namespace burnrate::deploy {
namespace {

const char* const kChart = "helm/burnrate";
const char* const kProductionValues = "helm/values-production.yaml";

struct Rendered {
  bool ok = false;
  std::string error;
  std::vector<YAML::Node> objects;

  std::vector<YAML::Node> OfKind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : objects) {
      if (o["kind"].as<std::string>() == kind) out.push_back(o);
    }
    return out;
  }
  YAML::Node One(const std::string& kind) const {
    auto all = OfKind(kind);
    EXPECT_EQ(all.size(), 1u) << "expected exactly one " << kind;
    return all.empty() ? YAML::Node() : all.front();
  }
  // The engine's config ConfigMap (the one holding config.yaml).
  YAML::Node ConfigMap() const {
    for (const auto& cm : OfKind("ConfigMap")) {
      if (cm["data"] && cm["data"]["config.yaml"]) return cm;
    }
    ADD_FAILURE() << "no ConfigMap with config.yaml";
    return YAML::Node();
  }
};

// Fails the calling test when helm is missing: the chart's tests are not
// optional, and scripts/build-helm (run by scripts/bootstrap and scripts/test) builds helm.
std::string RequireHelm() {
  const std::string helm = HelmPath();
  EXPECT_FALSE(helm.empty())
      << "helm not found at " << SourceDir()
      << "/.cache/bin/helm: run scripts/build-helm (it builds helm from the Go module proxy)";
  return helm;
}

Rendered Render(const std::vector<std::string>& extra_args) {
  Rendered r;
  const std::string helm = HelmPath();
  if (helm.empty()) {
    r.error = "helm missing";
    return r;
  }
  std::vector<std::string> argv = {helm, "template", "burnrate", kChart, "--namespace", "spend"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto result = RunCommand(argv);
  if (!result.ran_ok) {
    r.error = result.status + ": " + result.err;
    return r;
  }
  try {
    for (const auto& doc : YAML::LoadAll(result.out)) {
      if (doc.IsMap() && doc["kind"]) r.objects.push_back(doc);
    }
  } catch (const YAML::Exception& e) {
    r.error = std::string("rendered manifests are not YAML: ") + e.what();
    return r;
  }
  r.ok = true;
  return r;
}

const Rendered& Default() {
  static const Rendered r = Render({});
  return r;
}
const Rendered& Production() {
  static const Rendered r = Render({"-f", kProductionValues});
  return r;
}

std::map<std::string, std::string> AsStringMap(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (node && node.IsMap()) {
    for (const auto& kv : node) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

// True when every entry of `subset` is in `labels` with the same value.
bool Selects(const std::map<std::string, std::string>& subset,
             const std::map<std::string, std::string>& labels) {
  if (subset.empty()) return false;
  for (const auto& [k, v] : subset) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

YAML::Node EngineContainer(const Rendered& r) {
  const YAML::Node deployment = r.One("Deployment");
  return deployment["spec"]["template"]["spec"]["containers"][0];
}

std::string ChartAppVersion() {
  return YAML::LoadFile(SourceDir() + "/" + kChart + "/Chart.yaml")["appVersion"].as<std::string>();
}

class HelmChart : public ::testing::TestWithParam<std::string> {
 protected:
  const Rendered& R() const { return GetParam() == "production" ? Production() : Default(); }
  void SetUp() override {
    if (RequireHelm().empty()) GTEST_FAIL() << "helm is required";
    ASSERT_TRUE(R().ok) << R().error;
  }
};

INSTANTIATE_TEST_SUITE_P(Values, HelmChart, ::testing::Values("default", "production"),
                         [](const auto& info) { return info.param; });

TEST(HelmLint, DefaultAndProductionValuesLintClean) {
  const std::string helm = RequireHelm();
  ASSERT_FALSE(helm.empty());
  auto plain = RunCommand({helm, "lint", "--strict", kChart});
  EXPECT_TRUE(plain.ran_ok) << plain.out << plain.err;
  auto production = RunCommand({helm, "lint", "--strict", kChart, "-f", kProductionValues});
  EXPECT_TRUE(production.ran_ok) << production.out << production.err;
}

TEST_P(HelmChart, EveryObjectCarriesTheStandardLabels) {
  for (const auto& o : R().objects) {
    const auto labels = AsStringMap(o["metadata"]["labels"]);
    const std::string what =
        o["kind"].as<std::string>() + "/" + o["metadata"]["name"].as<std::string>();
    EXPECT_EQ(labels.count("app.kubernetes.io/name"), 1u) << what;
    EXPECT_EQ(
        labels.count("app.kubernetes.io/instance") ? labels.at("app.kubernetes.io/instance") : "",
        "burnrate")
        << what;
    EXPECT_EQ(
        labels.count("app.kubernetes.io/version") ? labels.at("app.kubernetes.io/version") : "",
        GetParam() == "production" ? "0.1.0" : ChartAppVersion())
        << what;
    EXPECT_EQ(labels.count("app.kubernetes.io/managed-by")
                  ? labels.at("app.kubernetes.io/managed-by")
                  : "",
              "Helm")
        << what;
  }
}

TEST_P(HelmChart, SelectorsMatchThePodLabels) {
  const YAML::Node deployment = R().One("Deployment");
  const auto pod_labels = AsStringMap(deployment["spec"]["template"]["metadata"]["labels"]);
  EXPECT_TRUE(Selects(AsStringMap(deployment["spec"]["selector"]["matchLabels"]), pod_labels));
  const YAML::Node service = R().One("Service");
  EXPECT_TRUE(Selects(AsStringMap(service["spec"]["selector"]), pod_labels));
  const YAML::Node pdb = R().One("PodDisruptionBudget");
  EXPECT_TRUE(Selects(AsStringMap(pdb["spec"]["selector"]["matchLabels"]), pod_labels));
  for (const auto& monitor : R().OfKind("ServiceMonitor")) {
    EXPECT_TRUE(Selects(AsStringMap(monitor["spec"]["selector"]["matchLabels"]),
                        AsStringMap(service["metadata"]["labels"])));
    EXPECT_EQ(monitor["spec"]["endpoints"][0]["port"].as<std::string>(), "http");
    EXPECT_EQ(monitor["spec"]["endpoints"][0]["path"].as<std::string>(), "/metrics");
  }
}

TEST_P(HelmChart, ServesHttpAndAdminPortsAndProbesHealth) {
  const YAML::Node c = EngineContainer(R());
  std::map<std::string, int> ports;
  for (const auto& p : c["ports"])
    ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  EXPECT_EQ(ports["http"], 9464);
  // The admin listener needs a token: only the production values give one.
  const bool admin = GetParam() == "production";
  EXPECT_EQ(ports.count("admin"), admin ? 1u : 0u);
  if (admin) {
    EXPECT_EQ(ports["admin"], 9465);
  }
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "http");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), "http");
  EXPECT_TRUE(c["resources"]["requests"]["memory"]) << "memory request";
  EXPECT_TRUE(c["resources"]["limits"]["memory"]) << "memory limit";

  std::map<std::string, int> service_ports;
  for (const auto& p : R().One("Service")["spec"]["ports"]) {
    service_ports[p["name"].as<std::string>()] = p["port"].as<int>();
    EXPECT_EQ(p["targetPort"].as<std::string>(), p["name"].as<std::string>());
  }
  EXPECT_EQ(service_ports["http"], 9464);
  EXPECT_EQ(service_ports.count("admin"), admin ? 1u : 0u);
  if (admin) {
    EXPECT_EQ(service_ports["admin"], 9465);
  }
}

TEST_P(HelmChart, MountsTheConfigAndRunsWithIt) {
  const YAML::Node deployment = R().One("Deployment");
  const YAML::Node pod = deployment["spec"]["template"]["spec"];
  const YAML::Node c = EngineContainer(R());
  std::vector<std::string> args;
  for (const auto& a : c["args"]) args.push_back(a.as<std::string>());
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[0], "run");
  auto flag = std::find(args.begin(), args.end(), "--config");
  ASSERT_NE(flag, args.end());
  ASSERT_NE(flag + 1, args.end());
  EXPECT_EQ(*(flag + 1), "/etc/burnrate/config.yaml");

  std::string volume_name;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() == "/etc/burnrate")
      volume_name = m["name"].as<std::string>();
  }
  ASSERT_FALSE(volume_name.empty()) << "nothing mounted at /etc/burnrate";
  std::string config_map;
  for (const auto& v : pod["volumes"]) {
    if (v["name"].as<std::string>() == volume_name && v["configMap"])
      config_map = v["configMap"]["name"].as<std::string>();
  }
  EXPECT_EQ(config_map, R().ConfigMap()["metadata"]["name"].as<std::string>());
  // Config changes roll the pods.
  EXPECT_TRUE(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]);
}

TEST_P(HelmChart, RunsAsNonRootWithReadOnlyRootAndNoCapabilities) {
  const YAML::Node pod = R().One("Deployment")["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_NE(pod["securityContext"]["runAsUser"].as<int>(), 0);
  const YAML::Node sc = EngineContainer(R())["securityContext"];
  EXPECT_TRUE(sc["runAsNonRoot"].as<bool>());
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  std::vector<std::string> dropped;
  for (const auto& cap : sc["capabilities"]["drop"]) dropped.push_back(cap.as<std::string>());
  EXPECT_NE(std::find(dropped.begin(), dropped.end(), "ALL"), dropped.end());
  EXPECT_TRUE(!sc["capabilities"]["add"] || sc["capabilities"]["add"].size() == 0);
}

TEST_P(HelmChart, ConfigBindsAllInterfacesAndSharesOneConsumerGroup) {
  const YAML::Node config = YAML::Load(R().ConfigMap()["data"]["config.yaml"].as<std::string>());
  EXPECT_EQ(config["http"]["listen"].as<std::string>(), "0.0.0.0:9464");
  if (GetParam() == "production") {
    EXPECT_EQ(config["http"]["admin_listen"].as<std::string>(), "0.0.0.0:9465");
    EXPECT_EQ(config["http"]["admin_token"]["env"].as<std::string>(), "BURNRATE_ADMIN_TOKEN");
  } else {
    EXPECT_FALSE(config["http"]["admin_listen"]) << "no admin listener without a token";
  }
  // One Deployment, one ConfigMap: every replica reads the same group_id.
  EXPECT_EQ(R().OfKind("Deployment").size(), 1u);
  EXPECT_EQ(config["kafka"]["group_id"].as<std::string>(),
            GetParam() == "production" ? "burnrate-prod" : "burnrate");
  // A Redis ACL user only where the values name one.
  if (GetParam() == "production") {
    EXPECT_EQ(config["redis"]["username"].as<std::string>(), "burnrate");
  } else {
    EXPECT_FALSE(config["redis"]["username"]);
  }
}

// A key naming a credential must hold a {env: ...} or {file: ...} reference.
bool LooksLikeSecretKey(const std::string& key) {
  for (const char* word :
       {"password", "secret", "token", "webhook_url", "routing_key", "hmac", "api_key"}) {
    if (key.find(word) != std::string::npos) return true;
  }
  return false;
}

void CollectEnvRefs(const YAML::Node& node, const std::string& path, bool secret_context,
                    std::vector<std::string>& env_refs, std::vector<std::string>& literal_secrets) {
  if (node.IsMap()) {
    if (node["env"] && node.size() == 1 && node["env"].IsScalar()) {
      env_refs.push_back(node["env"].as<std::string>());
      return;
    }
    if (node["file"] && node.size() == 1) return;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      CollectEnvRefs(kv.second, path + "." + key,
                     secret_context || LooksLikeSecretKey(key) || key == "secret_properties",
                     env_refs, literal_secrets);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      CollectEnvRefs(item, path, secret_context, env_refs, literal_secrets);
  } else if (secret_context && node.IsScalar()) {
    literal_secrets.push_back(path);
  }
}

TEST_P(HelmChart, SecretsAreReferencedNeverRendered) {
  EXPECT_TRUE(R().OfKind("Secret").empty())
      << "the chart must not create Secrets (it references existing ones)";
  const YAML::Node config = YAML::Load(R().ConfigMap()["data"]["config.yaml"].as<std::string>());
  std::vector<std::string> env_refs, literal_secrets;
  CollectEnvRefs(config, "", false, env_refs, literal_secrets);
  EXPECT_TRUE(literal_secrets.empty())
      << "literal secret in the ConfigMap at " << literal_secrets.front();

  // Every {env: NAME} in the config is injected from a Secret.
  std::map<std::string, YAML::Node> env;
  const YAML::Node env_list = EngineContainer(R())["env"];
  for (size_t i = 0; env_list && i < env_list.size(); ++i)
    env[env_list[i]["name"].as<std::string>()] = env_list[i];
  for (const auto& name : env_refs) {
    ASSERT_TRUE(env.count(name)) << "config refers to {env: " << name
                                 << "} but the container does not set it";
    EXPECT_TRUE(env[name]["valueFrom"]["secretKeyRef"]["name"])
        << name << " must come from a Secret";
    EXPECT_FALSE(env[name]["value"]) << name << " has a literal value";
  }
  if (GetParam() == "production") {
    EXPECT_EQ(env_refs.size(), 5u)
        << "Kafka SASL password, Redis password, admin token, Slack, PagerDuty";
  }
}

TEST(HelmChartValues, LiteralSecretsAreRefused) {
  ASSERT_FALSE(RequireHelm().empty());
  auto in_properties = Render({"--set", "kafka.properties.sasl\\.password=hunter2"});
  EXPECT_FALSE(in_properties.ok) << "a password under kafka.properties must be refused";
  auto in_config = Render({"--set", "config.redis.password=hunter2"});
  EXPECT_FALSE(in_config.ok)
      << "config.redis is the chart's; a literal password there must be refused";
}

TEST(HelmChartValues, RefusesMoreReplicasThanPartitions) {
  ASSERT_FALSE(RequireHelm().empty());
  auto too_many = Render(
      {"-f", kProductionValues, "--set", "autoscaling.enabled=false", "--set", "replicaCount=13"});
  ASSERT_FALSE(too_many.ok);
  EXPECT_NE(too_many.error.find("exceeds kafka.partitions 12"), std::string::npos)
      << too_many.error;
  auto max_too_high = Render({"-f", kProductionValues, "--set", "autoscaling.maxReplicas=24"});
  EXPECT_FALSE(max_too_high.ok);
}

TEST(HelmChartKinds, DefaultsRenderTheCoreObjectsOnly) {
  ASSERT_FALSE(RequireHelm().empty());
  const Rendered& r = Default();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.OfKind("Deployment").size(), 1u);
  EXPECT_EQ(r.OfKind("Service").size(), 1u);
  EXPECT_EQ(r.OfKind("PodDisruptionBudget").size(), 1u);
  EXPECT_EQ(r.OfKind("ConfigMap").size(), 2u) << "config and dashboard";
  // Operator CRDs and autoscalers are opt-in: installing must not need them.
  EXPECT_TRUE(r.OfKind("ServiceMonitor").empty());
  EXPECT_TRUE(r.OfKind("PrometheusRule").empty());
  EXPECT_TRUE(r.OfKind("HorizontalPodAutoscaler").empty());
  EXPECT_TRUE(r.OfKind("ScaledObject").empty());
  EXPECT_EQ(r.One("Deployment")["spec"]["replicas"].as<int>(), 2);
}

TEST(HelmChartKinds, ProductionRendersMonitoringAndAutoscaling) {
  ASSERT_FALSE(RequireHelm().empty());
  const Rendered& r = Production();
  ASSERT_TRUE(r.ok) << r.error;
  for (const char* kind : {"Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor",
                           "PrometheusRule", "HorizontalPodAutoscaler"}) {
    EXPECT_EQ(r.OfKind(kind).size(), 1u) << kind;
  }
  // The HPA owns the replica count.
  EXPECT_FALSE(r.One("Deployment")["spec"]["replicas"]);
  const YAML::Node hpa = r.One("HorizontalPodAutoscaler");
  EXPECT_EQ(hpa["spec"]["minReplicas"].as<int>(), 3);
  EXPECT_EQ(hpa["spec"]["maxReplicas"].as<int>(), 12);
  EXPECT_EQ(hpa["spec"]["metrics"][0]["external"]["metric"]["name"].as<std::string>(),
            "burnrate_consumer_lag_messages");
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"]["name"].as<std::string>(),
            r.One("Deployment")["metadata"]["name"].as<std::string>());
}

TEST(HelmChartKinds, KedaModeScalesOnTheConsumerGroupsLag) {
  ASSERT_FALSE(RequireHelm().empty());
  const Rendered r =
      Render({"--set", "autoscaling.enabled=true", "--set", "autoscaling.mode=keda"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.OfKind("HorizontalPodAutoscaler").empty());
  const YAML::Node so = r.One("ScaledObject");
  ASSERT_TRUE(so);
  EXPECT_EQ(so["spec"]["scaleTargetRef"]["name"].as<std::string>(),
            r.One("Deployment")["metadata"]["name"].as<std::string>());
  const YAML::Node trigger = so["spec"]["triggers"][0];
  EXPECT_EQ(trigger["type"].as<std::string>(), "kafka");
  EXPECT_EQ(trigger["metadata"]["consumerGroup"].as<std::string>(), "burnrate");
  EXPECT_EQ(trigger["metadata"]["topic"].as<std::string>(), "llm-cost-events");
}

TEST_P(HelmChart, DashboardConfigMapIsTheRepositorysDashboard) {
  std::vector<YAML::Node> dashboards;
  for (const auto& cm : R().OfKind("ConfigMap")) {
    if (AsStringMap(cm["metadata"]["labels"])["grafana_dashboard"] == "1") dashboards.push_back(cm);
  }
  ASSERT_EQ(dashboards.size(), 1u) << "one ConfigMap labelled grafana_dashboard: \"1\"";
  std::string in_chart = dashboards[0]["data"]["burnrate.json"].as<std::string>();
  std::string in_repo = ReadFileOrEmpty(SourceDir() + "/dashboards/burnrate.json");
  ASSERT_FALSE(in_repo.empty());
  while (!in_repo.empty() && in_repo.back() == '\n') in_repo.pop_back();
  while (!in_chart.empty() && in_chart.back() == '\n') in_chart.pop_back();
  EXPECT_TRUE(in_chart == in_repo)
      << "the dashboard ConfigMap differs from dashboards/burnrate.json";
}

TEST(HelmChartCopies, ChartCopiesOfDashboardAndRulesAreIdentical) {
  // The chart cannot read files outside its folder, so it carries copies.
  const std::string root = SourceDir();
  const std::string dashboard = ReadFileOrEmpty(root + "/dashboards/burnrate.json");
  ASSERT_FALSE(dashboard.empty());
  EXPECT_TRUE(dashboard == ReadFileOrEmpty(root + "/helm/burnrate/dashboards/burnrate.json"))
      << "helm/burnrate/dashboards/burnrate.json is stale: cp dashboards/burnrate.json "
         "helm/burnrate/dashboards/";
  const std::string rules = ReadFileOrEmpty(root + "/dashboards/rules/burnrate-engine.rules.yaml");
  ASSERT_FALSE(rules.empty());
  EXPECT_TRUE(rules == ReadFileOrEmpty(root + "/helm/burnrate/rules/burnrate-engine.rules.yaml"))
      << "helm/burnrate/rules/burnrate-engine.rules.yaml is stale: cp "
         "dashboards/rules/burnrate-engine.rules.yaml "
         "helm/burnrate/rules/";
}

TEST(HelmChartCopies, PrometheusRuleCarriesTheRuleFile) {
  ASSERT_FALSE(RequireHelm().empty());
  const Rendered& r = Production();
  ASSERT_TRUE(r.ok) << r.error;
  const YAML::Node rule = r.One("PrometheusRule");
  const YAML::Node file =
      YAML::LoadFile(SourceDir() + "/dashboards/rules/burnrate-engine.rules.yaml");
  ASSERT_EQ(rule["spec"]["groups"].size(), file["groups"].size());
  for (size_t g = 0; g < file["groups"].size(); ++g) {
    const YAML::Node want = file["groups"][g]["rules"];
    const YAML::Node got = rule["spec"]["groups"][g]["rules"];
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i]["alert"].as<std::string>(), want[i]["alert"].as<std::string>());
      EXPECT_EQ(got[i]["expr"].as<std::string>(), want[i]["expr"].as<std::string>());
      EXPECT_EQ(got[i]["annotations"]["summary"].as<std::string>(),
                want[i]["annotations"]["summary"].as<std::string>());
    }
  }
}

TEST_P(HelmChart, RenderedConfigPassesCheckConfig) {
  const std::string config_text = R().ConfigMap()["data"]["config.yaml"].as<std::string>();
  const std::string path = WriteTempFile("config-" + GetParam() + ".yaml", config_text);
  // The pod's environment: every variable the container gets from a Secret,
  // with a recognisable value that must not be printed.
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& e : EngineContainer(R())["env"]) {
    env.emplace_back(e["name"].as<std::string>(), "sentinel-secret-value-8d1f");
  }
  const std::string binary = std::string(BURNRATE_BINARY_DIR) + "/app/burnrate";
  auto result = RunCommand({binary, "check-config", path}, env);
  EXPECT_TRUE(result.ran_ok) << result.status << "\n" << result.err << "\nconfig:\n" << config_text;
  EXPECT_EQ(result.out.find("sentinel-secret-value-8d1f"), std::string::npos)
      << "check-config printed a secret";
  EXPECT_EQ(result.err.find("sentinel-secret-value-8d1f"), std::string::npos)
      << "check-config printed a secret";
}

}  // namespace
}  // namespace burnrate::deploy
