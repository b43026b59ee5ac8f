// The `budgets:`, `quota:` and `http:` sections of the config file
// (docs/configuration.md).
#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>

#include "absl/time/time.h"
#include "budgets/budgets_config.h"
#include "config/config.h"
#include "config/yaml_reader.h"
#include "core/concat.h"
#include "http/http_config.h"

namespace burnrate {
namespace {

absl::Status ParseListen(const YamlReader& r, const YAML::Node& node, std::string_view name,
                         HttpListenConfig& out) {
  if (!node) return absl::OkStatus();
  std::string text;
  BR_RETURN_IF_ERROR(r.String(node, name, text));
  if (text.empty() || text == "off" || text == "none") {
    out.enabled = false;
    return absl::OkStatus();
  }
  // "host:port" or "[v6]:port".
  size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  char* end = nullptr;
  const long port = port_text.empty() ? -1 : std::strtol(port_text.c_str(), &end, 10);
  if (host.empty() || port < 0 || port > 65535 || end != port_text.c_str() + port_text.size()) {
    return r.Error(node, Concat(name, " must be host:port (or off), got '", text, "'"));
  }
  out.host = host;
  out.port = static_cast<int>(port);
  out.enabled = true;
  return absl::OkStatus();
}

absl::Status ParseTier(const YamlReader& r, const YAML::Node& node, const std::string& where,
                       QuotaTierPolicy& t) {
  BR_RETURN_IF_ERROR(r.OnlyKeys(node, where,
                                {"warn_at", "throttle_at", "throttle_rate_factor", "downgrade_at",
                                 "downgrade_model", "block_at", "hysteresis", "min_hold"}));
  // A tier names only the levels it uses: the others are off.
  QuotaTierPolicy fresh;
  fresh.warn_at = 0;
  fresh.block_at = 0;
  t = fresh;
  BR_RETURN_IF_ERROR(r.Double(node["warn_at"], where + ".warn_at", 0, 10, t.warn_at));
  BR_RETURN_IF_ERROR(r.Double(node["throttle_at"], where + ".throttle_at", 0, 10, t.throttle_at));
  BR_RETURN_IF_ERROR(r.Double(node["throttle_rate_factor"], where + ".throttle_rate_factor", 0.001,
                              1, t.throttle_rate_factor));
  BR_RETURN_IF_ERROR(
      r.Double(node["downgrade_at"], where + ".downgrade_at", 0, 10, t.downgrade_at));
  BR_RETURN_IF_ERROR(
      r.String(node["downgrade_model"], where + ".downgrade_model", t.downgrade_model));
  BR_RETURN_IF_ERROR(r.Double(node["block_at"], where + ".block_at", 0, 10, t.block_at));
  BR_RETURN_IF_ERROR(r.Double(node["hysteresis"], where + ".hysteresis", 0, 1, t.hysteresis));
  BR_RETURN_IF_ERROR(
      r.Duration(node["min_hold"], where + ".min_hold", 0, 31LL * 86'400'000, t.min_hold_ms));
  if (t.downgrade_at > 0 && t.downgrade_model.empty()) {
    return r.Error(node, Concat(where, ": downgrade_at needs downgrade_model"));
  }
  // Levels must rise in the order of the state machine.
  double last = 0;
  const std::pair<const char*, double> levels[] = {{"warn_at", t.warn_at},
                                                   {"throttle_at", t.throttle_at},
                                                   {"downgrade_at", t.downgrade_at},
                                                   {"block_at", t.block_at}};
  for (const auto& [name, v] : levels) {
    if (v == 0) continue;
    if (v < last)
      return r.Error(node[name], Concat(where, ".", name, " must not be below an earlier level"));
    last = v;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseHttpSection(const YamlReader& r, const YAML::Node& node, HttpConfig& c) {
  if (!node) return absl::OkStatus();
  BR_RETURN_IF_ERROR(r.OnlyKeys(node, "http",
                                {"listen", "admin_listen", "admin_token", "threads",
                                 "max_body_bytes", "max_header_bytes", "read_timeout"}));
  BR_RETURN_IF_ERROR(ParseListen(r, node["listen"], "http.listen", c.listen));
  BR_RETURN_IF_ERROR(ParseListen(r, node["admin_listen"], "http.admin_listen", c.admin_listen));
  BR_RETURN_IF_ERROR(r.SecretValue(node["admin_token"], "http.admin_token", c.admin_token));
  BR_RETURN_IF_ERROR(r.IntAs(node["threads"], "http.threads", 1, 1024, c.threads));
  BR_RETURN_IF_ERROR(
      r.IntAs(node["max_body_bytes"], "http.max_body_bytes", 1024, 64 << 20, c.max_body_bytes));
  BR_RETURN_IF_ERROR(r.IntAs(node["max_header_bytes"], "http.max_header_bytes", 1024, 1 << 20,
                             c.max_header_bytes));
  BR_RETURN_IF_ERROR(
      r.Duration(node["read_timeout"], "http.read_timeout", 100, 600'000, c.read_timeout_ms));
  if (c.admin_listen.enabled && c.admin_token.empty()) {
    return r.Error(node["admin_listen"],
                   "http.admin_listen needs http.admin_token ({env: NAME} or {file: PATH})");
  }
  return absl::OkStatus();
}

absl::Status ParseQuotaSection(const YamlReader& r, const YAML::Node& node, QuotaConfig& c) {
  if (!node) return absl::OkStatus();
  BR_RETURN_IF_ERROR(
      r.OnlyKeys(node, "quota",
                 {"tenant_header", "feature_header", "redis_key_prefix", "kafka_topic",
                  "decision_path", "refresh_interval", "alert_throttle_rate_factor",
                  "alert_throttle", "tiers", "tenant_tiers"}));
  BR_RETURN_IF_ERROR(r.String(node["tenant_header"], "quota.tenant_header", c.tenant_header));
  BR_RETURN_IF_ERROR(r.String(node["feature_header"], "quota.feature_header", c.feature_header));
  for (std::string* h : {&c.tenant_header, &c.feature_header}) {
    for (char& ch : *h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (c.tenant_header.empty())
    return r.Error(node["tenant_header"], "quota.tenant_header must not be empty");
  BR_RETURN_IF_ERROR(
      r.String(node["redis_key_prefix"], "quota.redis_key_prefix", c.redis_key_prefix));
  BR_RETURN_IF_ERROR(r.TopicName(node["kafka_topic"], "quota.kafka_topic", c.kafka_topic));
  BR_RETURN_IF_ERROR(r.String(node["decision_path"], "quota.decision_path", c.decision_path));
  if (c.decision_path.empty() || c.decision_path.front() != '/' || c.decision_path.back() == '/') {
    return r.Error(node["decision_path"],
                   "quota.decision_path must start with / and not end with /");
  }
  BR_RETURN_IF_ERROR(r.Duration(node["refresh_interval"], "quota.refresh_interval", 50, 60'000,
                                c.refresh_interval_ms));
  BR_RETURN_IF_ERROR(r.Double(node["alert_throttle_rate_factor"],
                              "quota.alert_throttle_rate_factor", 0.001, 1,
                              c.alert_throttle_rate_factor));
  BR_RETURN_IF_ERROR(r.Duration(node["alert_throttle"], "quota.alert_throttle", 1000,
                                7 * 86'400'000LL, c.alert_throttle_ms));
  if (const auto tiers = node["tiers"]) {
    if (!tiers.IsMap())
      return r.Error(tiers, "quota.tiers must be a mapping of tier name to policy");
    c.tiers.clear();
    for (const auto& kv : tiers) {
      const std::string name = kv.first.as<std::string>();
      BR_RETURN_IF_ERROR(ParseTier(r, kv.second, Concat("quota.tiers.", name), c.tiers[name]));
    }
    if (!c.tiers.count("default"))
      return r.Error(tiers, "quota.tiers must define a 'default' tier");
  }
  if (const auto tt = node["tenant_tiers"]) {
    if (!tt.IsMap()) return r.Error(tt, "quota.tenant_tiers must be a mapping of tenant to tier");
    for (const auto& kv : tt) {
      const std::string tier = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (!c.tiers.count(tier)) return r.Error(kv.second, Concat("unknown tier '", tier, "'"));
      c.tenant_tiers[kv.first.as<std::string>()] = tier;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseBudgetsSection(const YamlReader& r, const YAML::Node& node, BudgetsConfig& c) {
  if (!node) return absl::OkStatus();
  BR_RETURN_IF_ERROR(r.OnlyKeys(node, "budgets", {"time_zone", "list"}));
  BR_RETURN_IF_ERROR(r.String(node["time_zone"], "budgets.time_zone", c.time_zone));
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(c.time_zone, &tz)) {
    return r.Error(node["time_zone"],
                   Concat("unknown time zone '", c.time_zone, "' (not in /usr/share/zoneinfo)"));
  }
  const auto list = node["list"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) return r.Error(list, "budgets.list must be a list");
  std::set<std::string> names;
  for (const auto& item : list) {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(item, "a budget",
                   {"name", "tenant", "feature", "team", "tenants", "features", "period",
                    "amount_usd", "thresholds", "hard", "burn_rate_alerts", "forecast_alerts"}));
    BudgetConfig b;
    BR_RETURN_IF_ERROR(r.String(item["name"], "name", b.name));
    if (b.name.empty()) return r.Error(item, "a budget needs a name");
    if (!names.insert(b.name).second)
      return r.Error(item["name"], Concat("duplicate budget name '", b.name, "'"));
    BR_RETURN_IF_ERROR(r.String(item["tenant"], "tenant", b.tenant));
    BR_RETURN_IF_ERROR(r.String(item["feature"], "feature", b.feature));
    BR_RETURN_IF_ERROR(r.String(item["team"], "team", b.team));
    BR_RETURN_IF_ERROR(r.StringList(item["tenants"], "tenants", b.tenants));
    BR_RETURN_IF_ERROR(r.StringList(item["features"], "features", b.features));
    if (b.tenant.empty() == b.tenants.empty()) {
      return r.Error(item, Concat("budget '", b.name, "' needs exactly one of tenant or tenants"));
    }
    if (!b.tenants.empty() && (!b.feature.empty() || !b.features.empty())) {
      return r.Error(
          item, Concat("budget '", b.name, "': features go with one tenant, not with tenants"));
    }
    if (!b.feature.empty() && !b.features.empty()) {
      return r.Error(item, Concat("budget '", b.name, "' has both feature and features"));
    }
    std::string period = "month";
    BR_RETURN_IF_ERROR(r.String(item["period"], "period", period));
    if (period == "day")
      b.period = BudgetPeriod::kDay;
    else if (period == "week")
      b.period = BudgetPeriod::kWeek;
    else if (period == "month")
      b.period = BudgetPeriod::kMonth;
    else
      return r.Error(item["period"],
                     Concat("period must be day, week or month, got '", period, "'"));
    if (!item["amount_usd"]) return r.Error(item, Concat("budget '", b.name, "' needs amount_usd"));
    BR_RETURN_IF_ERROR(r.Double(item["amount_usd"], "amount_usd", 0.000001, 1e12, b.amount_usd));
    if (const auto th = item["thresholds"]) {
      if (!th.IsSequence() || th.size() == 0)
        return r.Error(th, "thresholds must be a non-empty list of fractions");
      b.thresholds.clear();
      for (const auto& t : th) {
        double v = 0;
        BR_RETURN_IF_ERROR(r.Double(t, "a threshold", 0.001, 10, v));
        b.thresholds.push_back(v);
      }
    }
    BR_RETURN_IF_ERROR(r.Bool(item["hard"], "hard", b.hard));
    BR_RETURN_IF_ERROR(r.Bool(item["burn_rate_alerts"], "burn_rate_alerts", b.burn_rate_alerts));
    BR_RETURN_IF_ERROR(r.Bool(item["forecast_alerts"], "forecast_alerts", b.forecast_alerts));
    c.list.push_back(std::move(b));
  }
  return absl::OkStatus();
}

std::string ExplainBudgetsConfig(const BudgetsConfig& budgets, const QuotaConfig& quota,
                                 const HttpConfig& http) {
  std::ostringstream o;
  auto listen = [](const HttpListenConfig& l) {
    return l.enabled ? Concat(l.host, ":", l.port) : std::string("off");
  };
  o << "http: read-only endpoints on " << listen(http.listen) << ", admin endpoints on "
    << listen(http.admin_listen)
    << (http.admin_token.empty()
            ? ""
            : Concat(" (bearer token <redacted, from ", http.admin_token.source, ">)"))
    << "; " << http.threads << " threads each; bodies up to " << http.max_body_bytes
    << " bytes, headers up to " << http.max_header_bytes << " bytes\n";
  o << "budgets: periods in time zone " << budgets.time_zone << "; " << budgets.list.size()
    << " budget(s)\n";
  for (const auto& b : budgets.list) {
    o << "  " << b.name << ": $" << b.amount_usd << " per "
      << (b.period == BudgetPeriod::kDay    ? "day"
          : b.period == BudgetPeriod::kWeek ? "week"
                                            : "month")
      << " for ";
    if (!b.tenants.empty())
      o << "tenants " << JoinStrings(b.tenants, ", ");
    else
      o << "tenant " << b.tenant;
    if (!b.feature.empty()) o << ", feature " << b.feature;
    if (!b.features.empty()) o << ", features " << JoinStrings(b.features, ", ");
    if (!b.team.empty()) o << " (team " << b.team << ")";
    std::vector<std::string> th;
    for (double t : b.thresholds) th.push_back(Concat(static_cast<int>(t * 100 + 0.5), "%"));
    o << "; alerts at " << JoinStrings(th, "/") << (b.hard ? "; enforced (quota)" : "; alert-only")
      << "\n";
  }
  o << "quota: decisions under redis key '<redis.key_prefix>" << quota.redis_key_prefix
    << "<tenant>', Kafka topic " << quota.kafka_topic << " (compacted), endpoint "
    << quota.decision_path << "/* (tenant from header " << quota.tenant_header
    << "), refreshed every " << quota.refresh_interval_ms << " ms\n";
  for (const auto& [name, t] : quota.tiers) {
    o << "  tier " << name << ": warn at " << t.warn_at << ", throttle at " << t.throttle_at
      << " (x" << t.throttle_rate_factor << "), downgrade at " << t.downgrade_at
      << (t.downgrade_model.empty() ? "" : Concat(" to ", t.downgrade_model)) << ", block at "
      << t.block_at << " (0 = never)\n";
  }
  for (const auto& [tenant, tier] : quota.tenant_tiers)
    o << "  tenant " << tenant << " -> tier " << tier << "\n";
  return o.str();
}

}  // namespace burnrate
