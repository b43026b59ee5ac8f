#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "config/yaml_reader.h"
#include "core/concat.h"


namespace burnrate {

// config/alerting_section.cc
absl::Status ParseAlertingSection(const YamlReader& r, const YAML::Node& node, AlertingConfig& c);
std::string ExplainAlertingConfig(const AlertingConfig& c);
// config/detectors_section.cc
absl::Status ParseDetectorsSection(const YamlReader& r, const YAML::Node& node, DetectorsConfig& c);
std::string ExplainDetectorsConfig(const DetectorsConfig& c);
// config/metrics_section.cc
absl::Status ParseMetricsSection(const YamlReader& r, const YAML::Node& node, MetricsConfig& c);
std::string ExplainMetricsConfig(const MetricsConfig& c);
// config/budgets_section.cc
absl::Status ParseBudgetsSection(const YamlReader& r, const YAML::Node& node, BudgetsConfig& c);
absl::Status ParseQuotaSection(const YamlReader& r, const YAML::Node& node, QuotaConfig& c);
absl::Status ParseHttpSection(const YamlReader& r, const YAML::Node& node, HttpConfig& c);
std::string ExplainBudgetsConfig(const BudgetsConfig& budgets, const QuotaConfig& quota, const HttpConfig& http);

namespace {


absl::Status ReadConfig(const YamlReader& r, const YAML::Node& root, Config& c) {
  if (!root || root.IsNull()) return absl::OkStatus();  // an empty file means all defaults
  BR_RETURN_IF_ERROR(r.OnlyKeys(root, "the top level",
                                {"windows", "decoder", "dedup", "time_bounds", "pricing", "kafka", "redis",
                                 "checkpoint_interval", "idle_timeout", "max_pending_events", "max_pending_bytes", "alerting", "detectors", "metrics",
                                 "budgets", "quota", "http"}));
  if (const auto w = root["windows"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(w, "windows", {"size", "allowed_lateness", "max_keys_per_window"}));
    BR_RETURN_IF_ERROR(r.Duration(w["size"], "windows.size", 10'000, 3'600'000, c.pipeline.windows.size_ms));
    BR_RETURN_IF_ERROR(r.Duration(w["allowed_lateness"], "windows.allowed_lateness", 0, 24 * 3'600'000,
                                  c.pipeline.windows.allowed_lateness_ms));
    BR_RETURN_IF_ERROR(r.IntAs(w["max_keys_per_window"], "windows.max_keys_per_window", 1, 100'000'000,
                               c.pipeline.windows.max_keys_per_window));
    if (w["size"] && (3'600'000 % c.pipeline.windows.size_ms) != 0) {
      return r.Error(w["size"], "windows.size must divide an hour evenly (e.g. 10s, 30s, 1m, 5m, 15m, 1h)");
    }
  }
  if (const auto d = root["decoder"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(
        d, "decoder",
        {"max_message_bytes", "max_field_bytes", "max_tokens", "max_cost_usd", "dimension_keys"}));
    auto& o = c.pipeline.decoder;
    BR_RETURN_IF_ERROR(r.IntAs(d["max_message_bytes"], "decoder.max_message_bytes", 256, 64 << 20, o.max_message_bytes));
    BR_RETURN_IF_ERROR(r.IntAs(d["max_field_bytes"], "decoder.max_field_bytes", 8, 4096, o.max_field_bytes));
    BR_RETURN_IF_ERROR(r.Int(d["max_tokens"], "decoder.max_tokens", 1, 1'000'000'000'000, o.max_tokens));
    BR_RETURN_IF_ERROR(
        r.Double(d["max_cost_usd"], "decoder.max_cost_usd", 0.01, 1'000'000, o.max_cost_usd));
    if (const auto k = d["dimension_keys"]) {
      BR_RETURN_IF_ERROR(r.OnlyKeys(k, "decoder.dimension_keys", {"tenant", "feature", "environment"}));
      BR_RETURN_IF_ERROR(r.StringList(k["tenant"], "decoder.dimension_keys.tenant", o.tenant_keys));
      BR_RETURN_IF_ERROR(r.StringList(k["feature"], "decoder.dimension_keys.feature", o.feature_keys));
      BR_RETURN_IF_ERROR(r.StringList(k["environment"], "decoder.dimension_keys.environment", o.environment_keys));
    }
  }
  if (const auto d = root["dedup"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(d, "dedup", {"horizon"}));
    BR_RETURN_IF_ERROR(r.Duration(d["horizon"], "dedup.horizon", 1000, 7 * 86'400'000LL, c.pipeline.dedup_horizon_ms));
  }
  if (const auto t = root["time_bounds"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(t, "time_bounds", {"max_future", "max_past"}));
    BR_RETURN_IF_ERROR(r.Duration(t["max_future"], "time_bounds.max_future", 0, 7 * 86'400'000LL, c.pipeline.max_future_ms));
    BR_RETURN_IF_ERROR(r.Duration(t["max_past"], "time_bounds.max_past", 60'000, 366 * 86'400'000LL, c.pipeline.max_past_ms));
  }
  if (const auto p = root["pricing"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(p, "pricing", {"file", "trust_reported_cost"}));
    BR_RETURN_IF_ERROR(r.String(p["file"], "pricing.file", c.price_table_file));
    BR_RETURN_IF_ERROR(r.Bool(p["trust_reported_cost"], "pricing.trust_reported_cost", c.pipeline.trust_reported_cost));
  }
  if (const auto k = root["kafka"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(k, "kafka", {"brokers", "topic", "group_id", "dead_letter_topic", "windows_topic",
                                               "properties", "secret_properties", "batch_size"}));
    BR_RETURN_IF_ERROR(r.String(k["brokers"], "kafka.brokers", c.kafka.brokers));
    BR_RETURN_IF_ERROR(r.TopicName(k["topic"], "kafka.topic", c.kafka.topic));
    BR_RETURN_IF_ERROR(r.String(k["group_id"], "kafka.group_id", c.kafka.group_id));
    BR_RETURN_IF_ERROR(r.TopicName(k["dead_letter_topic"], "kafka.dead_letter_topic", c.kafka.dead_letter_topic));
    BR_RETURN_IF_ERROR(r.TopicName(k["windows_topic"], "kafka.windows_topic", c.kafka.windows_topic));
    BR_RETURN_IF_ERROR(r.IntAs(k["batch_size"], "kafka.batch_size", 1, 1'000'000, c.kafka.batch_size));
    if (const auto props = k["properties"]) {
      if (!props.IsMap()) return r.Error(props, "kafka.properties must be a mapping of librdkafka settings");
      for (const auto& kv : props) {
        const std::string name = kv.first.as<std::string>();
        if (name.find("password") != std::string::npos || name.find("secret") != std::string::npos) {
          return r.Error(kv.first, Concat("kafka.properties.", name,
                                                " looks like a secret: put it under kafka.secret_properties"));
        }
        if (name == "enable.auto.commit" || name == "enable.auto.offset.store" || name == "group.id") {
          return r.Error(kv.first, Concat("kafka.properties.", name, " is managed by burnrate"));
        }
        c.kafka.properties[name] = kv.second.as<std::string>();
      }
    }
    if (const auto props = k["secret_properties"]) {
      if (!props.IsMap()) return r.Error(props, "kafka.secret_properties must be a mapping");
      for (const auto& kv : props) {
        const std::string name = kv.first.as<std::string>();
        BR_RETURN_IF_ERROR(r.SecretValue(kv.second, "kafka.secret_properties." + name, c.kafka.secret_properties[name]));
      }
    }
  }
  if (const auto rd = root["redis"]) {
    BR_RETURN_IF_ERROR(
        r.OnlyKeys(rd, "redis", {"host", "port", "username", "password", "key_prefix", "timeout"}));
    BR_RETURN_IF_ERROR(r.String(rd["host"], "redis.host", c.redis.host));
    BR_RETURN_IF_ERROR(r.IntAs(rd["port"], "redis.port", 1, 65535, c.redis.port));
    BR_RETURN_IF_ERROR(r.String(rd["username"], "redis.username", c.redis.username));
    BR_RETURN_IF_ERROR(r.SecretValue(rd["password"], "redis.password", c.redis.password));
    BR_RETURN_IF_ERROR(r.String(rd["key_prefix"], "redis.key_prefix", c.redis.key_prefix));
    int64_t timeout = c.redis.timeout_ms;
    BR_RETURN_IF_ERROR(r.Duration(rd["timeout"], "redis.timeout", 10, 60'000, timeout));
    c.redis.timeout_ms = static_cast<int>(timeout);
  }
  BR_RETURN_IF_ERROR(r.Duration(root["checkpoint_interval"], "checkpoint_interval", 50, 60'000, c.checkpoint_interval_ms));
  BR_RETURN_IF_ERROR(r.Duration(root["idle_timeout"], "idle_timeout", 100, 24 * 3'600'000, c.idle_timeout_ms));
  BR_RETURN_IF_ERROR(r.Int(root["max_pending_events"], "max_pending_events", 1000, 1'000'000'000, c.max_pending_events));
  BR_RETURN_IF_ERROR(
      r.Int(root["max_pending_bytes"], "max_pending_bytes", int64_t{1} << 20, int64_t{1} << 40, c.max_pending_bytes));
  BR_RETURN_IF_ERROR(ParseAlertingSection(r, root["alerting"], c.alerting));
  BR_RETURN_IF_ERROR(ParseDetectorsSection(r, root["detectors"], c.detectors));
  BR_RETURN_IF_ERROR(ParseMetricsSection(r, root["metrics"], c.metrics));
  BR_RETURN_IF_ERROR(ParseBudgetsSection(r, root["budgets"], c.budgets));
  BR_RETURN_IF_ERROR(ParseQuotaSection(r, root["quota"], c.quota));
  BR_RETURN_IF_ERROR(ParseHttpSection(r, root["http"], c.http));

  // Relations between settings.
  const auto& p = c.pipeline;
  if (p.dedup_horizon_ms < p.windows.size_ms + p.windows.allowed_lateness_ms) {
    return r.Error(root["dedup"] ? root["dedup"]["horizon"] : root,
                   Concat("dedup.horizon (", FormatDurationMs(p.dedup_horizon_ms),
                                ") must be at least windows.size + windows.allowed_lateness (",
                                FormatDurationMs(p.windows.size_ms + p.windows.allowed_lateness_ms),
                                "), or a duplicate of an event still being counted could slip through"));
  }
  // burnrate must never read its own output back as events: every dead
  // letter would be dead-lettered again, every window row refused.
  const YAML::Node kafka_node = root["kafka"];
  const YAML::Node topic_node = kafka_node && kafka_node["topic"] ? kafka_node["topic"] : root;
  const std::pair<std::string_view, const std::string*> outputs[] = {
      {"kafka.dead_letter_topic", &c.kafka.dead_letter_topic},
      {"kafka.windows_topic", &c.kafka.windows_topic},
      {"quota.kafka_topic", &c.quota.kafka_topic},
  };
  for (const auto& [name, output] : outputs) {
    if (*output == c.kafka.topic) {
      return r.Error(topic_node, Concat("kafka.topic '", c.kafka.topic, "' is also ", name,
                                        ": burnrate would read its own output as events"));
    }
  }
  for (const ReceiverConfig& receiver : c.alerting.receivers) {
    if (receiver.type == "kafka" && receiver.kafka.topic == c.kafka.topic) {
      return r.Error(topic_node, Concat("kafka.topic '", c.kafka.topic, "' is also the topic of alert receiver ",
                                        receiver.name, ": burnrate would read its own alerts as events"));
    }
  }
  if (c.kafka.dead_letter_topic == c.kafka.windows_topic) {
    return r.Error(kafka_node && kafka_node["windows_topic"] ? kafka_node["windows_topic"] : root,
                   Concat("kafka.dead_letter_topic and kafka.windows_topic are both '", c.kafka.windows_topic,
                          "': readers of closed windows would get dead letters mixed in"));
  }
  return absl::OkStatus();
}

}  // namespace

Config DefaultConfig() {
  Config c;
  c.source = "(defaults)";
  return c;
}

absl::StatusOr<int64_t> ParseDurationMs(const std::string& text) {
  int64_t n;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data() || n < 0) {
    return absl::InvalidArgumentError(Concat("'", text, "' is not a duration like 500ms, 30s, 5m, 2h, 7d"));
  }
  const std::string_view unit(ptr, text.data() + text.size() - ptr);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  if (scale == 0) {
    return absl::InvalidArgumentError(Concat("'", text, "' is not a duration like 500ms, 30s, 5m, 2h, 7d"));
  }
  return n * scale;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms != 0 && ms % 86'400'000 == 0) return Concat(ms / 86'400'000, "d");
  if (ms != 0 && ms % 3'600'000 == 0) return Concat(ms / 3'600'000, "h");
  if (ms != 0 && ms % 60'000 == 0) return Concat(ms / 60'000, "m");
  if (ms != 0 && ms % 1000 == 0) return Concat(ms / 1000, "s");
  return Concat(ms, "ms");
}

absl::StatusOr<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name) {
  Config c = DefaultConfig();
  c.source = source_name;
  YamlReader reader(source_name);
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (auto s = ReadConfig(reader, root, c); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax errors (and bad conversions) by exception.
    return absl::InvalidArgumentError(
        Concat(source_name, ":", e.mark.line >= 0 ? e.mark.line + 1 : 0, ": ", e.msg));
  }
  return c;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(Concat(path, ":0: cannot open the config file"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

std::string ExplainConfig(const Config& c) {
  std::ostringstream o;
  const auto& p = c.pipeline;
  o << "config: " << c.source << "\n"
    << "windows: tumbling " << FormatDurationMs(p.windows.size_ms) << " by (tenant, feature, environment); "
    << "events up to " << FormatDurationMs(p.windows.allowed_lateness_ms)
    << " behind the watermark still count; at most " << p.windows.max_keys_per_window
    << " keys per window, the rest under __overflow__\n"
    << "dedup: event ids remembered for " << FormatDurationMs(p.dedup_horizon_ms) << " of event time\n"
    << "time bounds: events more than " << FormatDurationMs(p.max_future_ms) << " ahead of or "
    << FormatDurationMs(p.max_past_ms) << " behind the reference time are dead-lettered\n"
    << "decoder: messages up to " << p.decoder.max_message_bytes << " bytes, strings up to "
    << p.decoder.max_field_bytes << " bytes, token counts up to " << p.decoder.max_tokens
    << ", reported costs up to $" << p.decoder.max_cost_usd << "\n"
    << "  tenant also from: " << JoinStrings(p.decoder.tenant_keys, ", ") << "\n"
    << "  feature also from: " << JoinStrings(p.decoder.feature_keys, ", ") << "\n"
    << "  environment also from: " << JoinStrings(p.decoder.environment_keys, ", ") << "\n"
    << "pricing: " << (c.price_table_file.empty() ? "the table shipped with this build" : c.price_table_file)
    << (p.trust_reported_cost ? "; an event's own cost_usd is trusted when present"
                              : "; an event's own cost_usd is ignored")
    << "\n"
    << "kafka: brokers " << c.kafka.brokers << ", topic " << c.kafka.topic << ", group " << c.kafka.group_id
    << ", dead letters to " << c.kafka.dead_letter_topic << ", closed windows to " << c.kafka.windows_topic << "\n";
  for (const auto& [k, v] : c.kafka.properties) o << "  " << k << " = " << v << "\n";
  for (const auto& [k, v] : c.kafka.secret_properties) o << "  " << k << " = <redacted, from " << v.source << ">\n";
  o << "redis: " << c.redis.host << ":" << c.redis.port << ", keys under '" << c.redis.key_prefix
    << "'" << (c.redis.username.empty() ? "" : ", user " + c.redis.username)
    << (c.redis.password.empty() ? ", no password"
                                 : ", password <redacted, from " + c.redis.password.source + ">")
    << "\n"
    << "checkpoint: state made durable and offsets committed every "
    << FormatDurationMs(c.checkpoint_interval_ms) << "; a partition idle for "
    << FormatDurationMs(c.idle_timeout_ms) << " stops holding windows open; at most "
    << c.max_pending_events << " events (" << c.max_pending_bytes
    << " bytes of messages) wait in memory for the state store before partitions pause\n";
  o << ExplainAlertingConfig(c.alerting);
  o << ExplainDetectorsConfig(c.detectors);
  o << ExplainMetricsConfig(c.metrics);
  o << ExplainBudgetsConfig(c.budgets, c.quota, c.http);
  return o.str();
}

}  // namespace burnrate
