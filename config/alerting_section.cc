// The `alerting:` section (alerting/alerting_config.h, docs/alerts.md):
// receivers, the routing tree, silences and the outbox. Everything is
// checked here, so a typo in a receiver name or a label is a start-up error
// with FILE:LINE, never a silently unrouted alert.
#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>

#include "alerting/alerting_config.h"
#include "config/yaml_reader.h"
#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {
namespace {

constexpr std::string_view kReceiverTypes[] = {"slack",        "pagerduty", "webhook",
                                               "alertmanager", "kafka",     "log"};
constexpr std::string_view kLabels[] = {"kind",    "severity",    "tenant",
                                        "feature", "environment", "alert_id"};
constexpr std::string_view kKinds[] = {
    "spike",    "unit_cost_shift",  "new_spender",      "runaway",
    "unpriced", "budget_threshold", "budget_burn_rate", "budget_forecast"};
constexpr std::string_view kSeverities[] = {"info", "warning", "critical"};

template <size_t N>
bool OneOf(const std::string& v, const std::string_view (&list)[N]) {
  for (auto s : list) {
    if (s == v) return true;
  }
  return false;
}

absl::Status ReadMatch(const YamlReader& r, const YAML::Node& node, std::string_view where,
                       std::map<std::string, std::string>& out) {
  if (!node) return absl::OkStatus();
  if (!node.IsMap()) return r.Error(node, Concat(where, " must be a mapping of label: value"));
  for (const auto& kv : node) {
    const std::string label = kv.first.as<std::string>();
    if (!OneOf(label, kLabels)) {
      return r.Error(
          kv.first,
          Concat("unknown label '", label, "' in ", where,
                 " (expected one of: kind, severity, tenant, feature, environment, alert_id)"));
    }
    if (!kv.second.IsScalar())
      return r.Error(kv.second, Concat(where, ".", label, " must be a string"));
    const std::string value = kv.second.as<std::string>();
    if (label == "kind" && !OneOf(value, kKinds)) {
      return r.Error(kv.second, Concat("unknown alert kind '", value, "' in ", where));
    }
    if (label == "severity" && !OneOf(value, kSeverities)) {
      return r.Error(kv.second, Concat("unknown severity '", value, "' in ", where,
                                       " (info, warning, critical)"));
    }
    out[label] = value;
  }
  return absl::OkStatus();
}

absl::Status ReadReceiver(const YamlReader& r, const YAML::Node& node, ReceiverConfig& rc) {
  BR_RETURN_IF_ERROR(
      r.OnlyKeys(node, "alerting.receivers[]",
                 {"name", "slack", "pagerduty", "webhook", "alertmanager", "kafka", "log"}));
  BR_RETURN_IF_ERROR(r.String(node["name"], "alerting.receivers[].name", rc.name));
  if (rc.name.empty()) return r.Error(node, "every receiver needs a name");
  for (char c : rc.name) {
    // Names go into Redis keys and delivery ids.
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return r.Error(node["name"],
                     Concat("receiver name '", rc.name, "' may only use letters, digits, - and _"));
    }
  }
  int types = 0;
  for (auto t : kReceiverTypes) {
    if (node[std::string(t)]) {
      ++types;
      rc.type = std::string(t);
    }
  }
  if (types != 1) {
    return r.Error(
        node,
        Concat("receiver ", rc.name,
               " needs exactly one type: slack, pagerduty, webhook, alertmanager, kafka or log"));
  }
  const YAML::Node t = node[rc.type];
  const std::string where = Concat("alerting.receivers.", rc.name, ".", rc.type);
  if (rc.type == "log" && (t.IsNull() || (t.IsMap() && t.size() == 0))) return absl::OkStatus();
  if (rc.type == "slack") {
    rc.rate_limit_per_second = 1;  // Slack's documented limit for incoming webhooks
    BR_RETURN_IF_ERROR(r.OnlyKeys(t, where, {"webhook_url", "rate_limit_per_second", "timeout"}));
    BR_RETURN_IF_ERROR(
        r.SecretValue(t["webhook_url"], where + ".webhook_url", rc.slack.webhook_url));
    if (rc.slack.webhook_url.empty())
      return r.Error(t, where + " needs webhook_url: {env: ...} or {file: ...}");
  } else if (rc.type == "pagerduty") {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(t, where, {"routing_key", "url", "source", "rate_limit_per_second", "timeout"}));
    BR_RETURN_IF_ERROR(
        r.SecretValue(t["routing_key"], where + ".routing_key", rc.pagerduty.routing_key));
    if (rc.pagerduty.routing_key.empty())
      return r.Error(t, where + " needs routing_key: {env: ...} or {file: ...}");
    BR_RETURN_IF_ERROR(r.String(t["url"], where + ".url", rc.pagerduty.url));
    BR_RETURN_IF_ERROR(r.String(t["source"], where + ".source", rc.pagerduty.source));
  } else if (rc.type == "webhook") {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(t, where, {"url", "hmac_secret", "rate_limit_per_second", "timeout"}));
    BR_RETURN_IF_ERROR(r.SecretValue(t["url"], where + ".url", rc.webhook.url));
    if (rc.webhook.url.empty()) return r.Error(t, where + " needs url: {env: ...} or {file: ...}");
    BR_RETURN_IF_ERROR(
        r.SecretValue(t["hmac_secret"], where + ".hmac_secret", rc.webhook.hmac_secret));
  } else if (rc.type == "alertmanager") {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(t, where, {"url", "resend_interval", "rate_limit_per_second", "timeout"}));
    BR_RETURN_IF_ERROR(r.String(t["url"], where + ".url", rc.alertmanager.url));
    if (rc.alertmanager.url.empty()) return r.Error(t, where + " needs url");
    BR_RETURN_IF_ERROR(r.Duration(t["resend_interval"], where + ".resend_interval", 1000,
                                  24 * 3'600'000LL, rc.alertmanager.resend_interval_ms));
  } else if (rc.type == "kafka") {
    BR_RETURN_IF_ERROR(r.OnlyKeys(t, where, {"topic", "rate_limit_per_second", "timeout"}));
    BR_RETURN_IF_ERROR(r.TopicName(t["topic"], where + ".topic", rc.kafka.topic));
  } else if (rc.type == "log") {
    BR_RETURN_IF_ERROR(r.OnlyKeys(t, where, {"rate_limit_per_second", "timeout"}));
  }
  BR_RETURN_IF_ERROR(r.Double(t["rate_limit_per_second"], where + ".rate_limit_per_second", 0,
                              10'000, rc.rate_limit_per_second));
  BR_RETURN_IF_ERROR(r.Duration(t["timeout"], where + ".timeout", 100, 120'000, rc.timeout_ms));
  return absl::OkStatus();
}

absl::Status ReadRoute(const YamlReader& r, const YAML::Node& node, std::string_view where,
                       bool root, const std::set<std::string>& receivers, RouteConfig& route) {
  if (root) {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(node, where, {"receiver", "group_wait", "repeat_interval", "routes"}));
  } else {
    BR_RETURN_IF_ERROR(r.OnlyKeys(
        node, where, {"match", "receiver", "continue", "group_wait", "repeat_interval", "routes"}));
  }
  BR_RETURN_IF_ERROR(r.String(node["receiver"], Concat(where, ".receiver"), route.receiver));
  if (root && route.receiver.empty())
    return r.Error(node, "alerting.route needs a default receiver");
  if (!route.receiver.empty() && !receivers.count(route.receiver)) {
    return r.Error(node["receiver"],
                   Concat(where, ".receiver names unknown receiver '", route.receiver, "'"));
  }
  BR_RETURN_IF_ERROR(ReadMatch(r, node["match"], Concat(where, ".match"), route.match));
  BR_RETURN_IF_ERROR(r.Bool(node["continue"], Concat(where, ".continue"), route.continue_matching));
  BR_RETURN_IF_ERROR(r.Duration(node["group_wait"], Concat(where, ".group_wait"), 0, 3'600'000,
                                route.group_wait_ms));
  BR_RETURN_IF_ERROR(r.Duration(node["repeat_interval"], Concat(where, ".repeat_interval"), 0,
                                7 * 86'400'000LL, route.repeat_interval_ms));
  if (const auto children = node["routes"]) {
    if (!children.IsSequence()) return r.Error(children, Concat(where, ".routes must be a list"));
    for (size_t i = 0; i < children.size(); ++i) {
      RouteConfig child;
      BR_RETURN_IF_ERROR(
          ReadRoute(r, children[i], Concat(where, ".routes[", i, "]"), false, receivers, child));
      route.routes.push_back(std::move(child));
    }
  }
  return absl::OkStatus();
}

void ExplainRoute(const RouteConfig& route, int depth, std::ostringstream& o) {
  for (const auto& child : route.routes) {
    o << std::string(static_cast<size_t>(depth) * 2 + 2, ' ') << "when ";
    bool first = true;
    for (const auto& [k, v] : child.match) {
      o << (first ? "" : ", ") << k << "=" << v;
      first = false;
    }
    if (first) o << "always";
    o << " -> " << (child.receiver.empty() ? "(children only)" : child.receiver)
      << (child.continue_matching ? " (and continue)" : "") << "\n";
    ExplainRoute(child, depth + 1, o);
  }
}

}  // namespace

absl::Status ParseAlertingSection(const YamlReader& r, const YAML::Node& node, AlertingConfig& c) {
  if (!node || node.IsNull()) return absl::OkStatus();
  BR_RETURN_IF_ERROR(
      r.OnlyKeys(node, "alerting",
                 {"dashboard_url", "quota_url", "outbox", "receivers", "route", "silences"}));
  BR_RETURN_IF_ERROR(r.String(node["dashboard_url"], "alerting.dashboard_url", c.dashboard_url));
  BR_RETURN_IF_ERROR(r.String(node["quota_url"], "alerting.quota_url", c.quota_url));
  if (const auto o = node["outbox"]) {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(o, "alerting.outbox", {"give_up_after", "initial_backoff", "max_backoff"}));
    BR_RETURN_IF_ERROR(r.Duration(o["give_up_after"], "alerting.outbox.give_up_after", 1000,
                                  30 * 86'400'000LL, c.outbox.give_up_after_ms));
    BR_RETURN_IF_ERROR(r.Duration(o["initial_backoff"], "alerting.outbox.initial_backoff", 10,
                                  3'600'000, c.outbox.initial_backoff_ms));
    BR_RETURN_IF_ERROR(r.Duration(o["max_backoff"], "alerting.outbox.max_backoff", 10,
                                  24 * 3'600'000LL, c.outbox.max_backoff_ms));
    if (c.outbox.max_backoff_ms < c.outbox.initial_backoff_ms) {
      return r.Error(o, "alerting.outbox.max_backoff must be at least initial_backoff");
    }
  }
  std::set<std::string> names;
  if (const auto list = node["receivers"]) {
    if (!list.IsSequence()) return r.Error(list, "alerting.receivers must be a list");
    for (const auto& item : list) {
      ReceiverConfig rc;
      BR_RETURN_IF_ERROR(ReadReceiver(r, item, rc));
      if (!names.insert(rc.name).second)
        return r.Error(item, Concat("receiver ", rc.name, " is defined twice"));
      c.receivers.push_back(std::move(rc));
    }
  }
  if (const auto route = node["route"]) {
    BR_RETURN_IF_ERROR(ReadRoute(r, route, "alerting.route", true, names, c.route));
  } else if (!c.receivers.empty()) {
    if (c.receivers.size() > 1)
      return r.Error(node, "alerting.route is required with more than one receiver");
    c.route.receiver = c.receivers.front().name;  // one receiver: everything goes there
  }
  if (const auto list = node["silences"]) {
    if (!list.IsSequence()) return r.Error(list, "alerting.silences must be a list");
    for (const auto& item : list) {
      BR_RETURN_IF_ERROR(r.OnlyKeys(item, "alerting.silences[]", {"match", "until", "reason"}));
      SilenceConfig s;
      BR_RETURN_IF_ERROR(ReadMatch(r, item["match"], "alerting.silences[].match", s.match));
      if (s.match.empty()) return r.Error(item, "a silence needs match with at least one label");
      std::string until;
      BR_RETURN_IF_ERROR(r.String(item["until"], "alerting.silences[].until", until));
      const auto parsed = ParseRfc3339Ms(until);
      if (!parsed)
        return r.Error(item["until"] ? item["until"] : item,
                       "silence until must be an RFC 3339 time");
      s.until_ms = *parsed;
      BR_RETURN_IF_ERROR(r.String(item["reason"], "alerting.silences[].reason", s.reason));
      c.silences.push_back(std::move(s));
    }
  }
  return absl::OkStatus();
}

std::string ExplainAlertingConfig(const AlertingConfig& c) {
  std::ostringstream o;
  if (!c.enabled()) return "alerting: no receivers; alerts are not delivered\n";
  o << "alerting: " << c.receivers.size() << " receivers; undeliverable alerts dead-lettered after "
    << FormatDurationMs(c.outbox.give_up_after_ms) << " (backoff "
    << FormatDurationMs(c.outbox.initial_backoff_ms) << " to "
    << FormatDurationMs(c.outbox.max_backoff_ms) << ")\n";
  auto secret = [](const Secret& s) {
    return s.empty() ? std::string("(none)") : "<redacted, from " + s.source + ">";
  };
  for (const auto& rc : c.receivers) {
    o << "  receiver " << rc.name << ": " << rc.type;
    if (rc.type == "slack") o << ", webhook " << secret(rc.slack.webhook_url);
    if (rc.type == "pagerduty")
      o << " at " << rc.pagerduty.url << ", routing key " << secret(rc.pagerduty.routing_key);
    if (rc.type == "webhook")
      o << ", url " << secret(rc.webhook.url) << ", hmac " << secret(rc.webhook.hmac_secret);
    if (rc.type == "alertmanager") {
      o << " at " << rc.alertmanager.url << ", re-sent every "
        << FormatDurationMs(rc.alertmanager.resend_interval_ms);
    }
    if (rc.type == "kafka") o << " to topic " << rc.kafka.topic;
    if (rc.rate_limit_per_second > 0) o << ", at most " << rc.rate_limit_per_second << "/s";
    o << ", time-out " << FormatDurationMs(rc.timeout_ms) << "\n";
  }
  o << "  route: default -> " << c.route.receiver << ", group_wait "
    << FormatDurationMs(std::max<int64_t>(c.route.group_wait_ms, 0)) << ", repeat "
    << (c.route.repeat_interval_ms > 0 ? FormatDurationMs(c.route.repeat_interval_ms)
                                       : std::string("off"))
    << "\n";
  ExplainRoute(c.route, 1, o);
  for (const auto& s : c.silences) {
    o << "  silence until " << FormatRfc3339Ms(s.until_ms) << ":";
    for (const auto& [k, v] : s.match) o << " " << k << "=" << v;
    if (!s.reason.empty()) o << " (" << s.reason << ")";
    o << "\n";
  }
  return o.str();
}

}  // namespace burnrate
