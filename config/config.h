// burnrate's configuration: one YAML file (docs/configuration.md). Loading
// validates everything up front; a bad file is rejected at start-up with the
// file, the line and the reason, never patched over with a default.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/alerting_config.h"
#include "budgets/budgets_config.h"
#include "detectors/detectors_config.h"
#include "http/http_config.h"
#include "metrics/metrics_config.h"
#include "config/secret.h"
#include "core/pipeline.h"

namespace burnrate {

struct KafkaConfig {
  std::string brokers = "127.0.0.1:9092";
  std::string topic = "llm-cost-events";
  std::string group_id = "burnrate";
  std::string dead_letter_topic = "burnrate-dead-letters";
  std::string windows_topic = "burnrate-windows";
  // Passed to librdkafka as they are (security.protocol, sasl.mechanism, ...).
  std::map<std::string, std::string> properties;
  // Passed to librdkafka too, but never printed (sasl.password, ssl.key.password).
  std::map<std::string, Secret> secret_properties;
  // Most messages handed to the pipeline per poll.
  int batch_size = 5000;
};

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // an ACL user (Redis 6+); empty: the default user
  Secret password;
  std::string key_prefix = "burnrate:";
  int timeout_ms = 2000;
};

struct Config {
  std::string source;  // the file it came from, or "(defaults)"
  PipelineOptions pipeline;
  std::string price_table_file;  // empty: the table shipped with the binary
  KafkaConfig kafka;
  RedisConfig redis;
  // How often partition state is made durable and offsets committed.
  int64_t checkpoint_interval_ms = 1000;
  // A partition with no message for this long stops holding windows open;
  // when every partition is idle, all open windows close.
  int64_t idle_timeout_ms = 30'000;
  // Events held in memory while the state store cannot take them; beyond
  // this the engine pauses its partitions rather than grow or drop.
  int64_t max_pending_events = 2'000'000;
  // The same bound in bytes: the messages kept until their state is durable
  // (for counting them again after a refused checkpoint), and the dead
  // letters held with them. Large messages (OTLP exports) reach it long
  // before the count above.
  int64_t max_pending_bytes = int64_t{256} << 20;
  // Alert receivers, routing, silences, outbox (docs/alerts.md).
  AlertingConfig alerting;
  DetectorsConfig detectors;
  // Spend-series cardinality and label limits (docs/metrics.md).
  MetricsConfig metrics;
  // Budgets, quota enforcement and the HTTP listeners (docs/budgets.md, docs/quota.md).
  BudgetsConfig budgets;
  QuotaConfig quota;
  HttpConfig http;
};

// The built-in defaults: 1-minute windows, 1 minute of allowed lateness,
// the shipped price table.
Config DefaultConfig();

// Reads and validates a config file. Errors read "FILE:LINE: reason".
absl::StatusOr<Config> LoadConfig(const std::string& path);
absl::StatusOr<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name);

// A human explanation of the effective configuration, secrets redacted
// (what `burnrate check-config` prints).
std::string ExplainConfig(const Config& config);

// Parses "500ms", "30s", "5m", "2h", "7d" into milliseconds.
absl::StatusOr<int64_t> ParseDurationMs(const std::string& text);
std::string FormatDurationMs(int64_t ms);

}  // namespace burnrate
