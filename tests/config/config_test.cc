#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace burnrate {
namespace {

std::string ErrorOf(const std::string& yaml) {
  auto c = ParseConfig(yaml, "burnrate.yaml");
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(Config, EmptyFileMeansDefaults) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->pipeline.windows.size_ms, 60'000);
  EXPECT_EQ(c->pipeline.windows.allowed_lateness_ms, 60'000);
  EXPECT_TRUE(c->price_table_file.empty());
}

TEST(Config, ReadsEverySection) {
  setenv("BURNRATE_TEST_KAFKA_PASSWORD", "hunter2", 1);
  auto c = ParseConfig(R"(
windows:
  size: 5m
  allowed_lateness: 30s
  max_keys_per_window: 5000
dedup:
  horizon: 1h
decoder:
  max_tokens: 5000000
  max_cost_usd: 250.5
  dimension_keys:
    tenant: [org.id]
pricing:
  file: /etc/burnrate/prices.yaml
  trust_reported_cost: true
kafka:
  brokers: 10.0.0.1:9092
  topic: costs
  properties:
    security.protocol: SASL_SSL
  secret_properties:
    sasl.password: {env: BURNRATE_TEST_KAFKA_PASSWORD}
redis:
  port: 6380
  username: burnrate-engine
  password: {env: BURNRATE_TEST_KAFKA_PASSWORD}
checkpoint_interval: 500ms
max_pending_bytes: 1073741824
)", "full.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->pipeline.windows.size_ms, 300'000);
  EXPECT_EQ(c->pipeline.windows.allowed_lateness_ms, 30'000);
  EXPECT_EQ(c->pipeline.windows.max_keys_per_window, 5000u);
  EXPECT_EQ(c->pipeline.dedup_horizon_ms, 3'600'000);
  EXPECT_EQ(c->pipeline.decoder.tenant_keys, std::vector<std::string>{"org.id"});
  EXPECT_EQ(c->pipeline.decoder.max_tokens, 5'000'000);
  EXPECT_DOUBLE_EQ(c->pipeline.decoder.max_cost_usd, 250.5);
  EXPECT_TRUE(c->pipeline.trust_reported_cost);
  EXPECT_EQ(c->kafka.topic, "costs");
  EXPECT_EQ(c->kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->kafka.secret_properties.at("sasl.password").value, "hunter2");
  EXPECT_EQ(c->redis.port, 6380);
  EXPECT_EQ(c->redis.username, "burnrate-engine");
  EXPECT_EQ(c->redis.password.value, "hunter2");
  EXPECT_EQ(c->checkpoint_interval_ms, 500);
  EXPECT_EQ(c->max_pending_bytes, int64_t{1} << 30);

  // Explaining never prints a secret.
  const std::string explained = ExplainConfig(*c);
  EXPECT_EQ(explained.find("hunter2"), std::string::npos);
  EXPECT_NE(explained.find("env:BURNRATE_TEST_KAFKA_PASSWORD"), std::string::npos);
  EXPECT_NE(explained.find(", user burnrate-engine, password <redacted"), std::string::npos)
      << explained;
}

TEST(Config, ErrorsNameFileLineAndReason) {
  EXPECT_EQ(ErrorOf("windows:\n  size: 7q\n"),
            "burnrate.yaml:2: windows.size: '7q' is not a duration like 500ms, 30s, 5m, 2h, 7d");
  EXPECT_EQ(ErrorOf("windows:\n  size: 1m\n  sise: 2m\n").rfind("burnrate.yaml:3: unknown key 'sise'", 0), 0u);
  EXPECT_EQ(ErrorOf("windows:\n  size: 5s\n").rfind("burnrate.yaml:2: windows.size must be between 10s and 1h", 0), 0u);
  EXPECT_EQ(ErrorOf("windows:\n  size: 7m\n").rfind("burnrate.yaml:2: windows.size must divide an hour", 0), 0u);
  EXPECT_EQ(ErrorOf("checkpoint_interval: 1s\nmax_pending_bytes: 1000\n")
                .rfind("burnrate.yaml:2: max_pending_bytes must be between", 0),
            0u);
  EXPECT_EQ(ErrorOf("redis:\n  port: http\n").rfind("burnrate.yaml:2: redis.port must be an integer", 0), 0u);
  EXPECT_EQ(ErrorOf("decoder:\n  max_cost_usd: 0\n").rfind("burnrate.yaml:2: decoder.max_cost_usd must be between", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  properties:\n    sasl.password: x\n").rfind("burnrate.yaml:3:", 0), 0u);
  EXPECT_EQ(ErrorOf("redis:\n  password: plain\n").rfind("burnrate.yaml:2: redis.password must be {env", 0), 0u);
  EXPECT_EQ(ErrorOf("redis:\n  password: {env: BURNRATE_SURELY_UNSET}\n")
                .rfind("burnrate.yaml:2: redis.password: environment variable BURNRATE_SURELY_UNSET is not set", 0),
            0u);
  EXPECT_EQ(ErrorOf("windows: [1, 2\n").rfind("burnrate.yaml:", 0), 0u);  // YAML syntax error
  EXPECT_EQ(ErrorOf("dedup:\n  horizon: 30s\n").rfind("burnrate.yaml:2: dedup.horizon (30s) must be at least", 0), 0u);
}

TEST(Config, TopicNamesAreCheckedAsTheBrokerWould) {
  EXPECT_EQ(ErrorOf("kafka:\n  topic: llm cost\n"),
            "burnrate.yaml:2: kafka.topic 'llm cost' is not a Kafka topic name (letters, digits, '.', '_' and '-' only)");
  EXPECT_EQ(ErrorOf("kafka:\n  dead_letter_topic: ''\n")
                .rfind("burnrate.yaml:2: kafka.dead_letter_topic must be 1 to 249 characters long, got 0", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  windows_topic: " + std::string(250, 'w') + "\n")
                .rfind("burnrate.yaml:2: kafka.windows_topic must be 1 to 249 characters long, got 250", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  windows_topic: ..\n"), "burnrate.yaml:2: kafka.windows_topic cannot be '..'");
  EXPECT_EQ(ErrorOf("quota:\n  kafka_topic: quota/v1\n").rfind("burnrate.yaml:2: quota.kafka_topic 'quota/v1'", 0),
            0u);
  EXPECT_EQ(ErrorOf("alerting:\n  receivers:\n    - name: k\n      kafka: {topic: 'a:b'}\n")
                .rfind("burnrate.yaml:4: alerting.receivers.k.kafka.topic 'a:b'", 0),
            0u);
  // Every legal character, at the longest length.
  const std::string longest = "Ab0._-" + std::string(243, 'x');
  auto c = ParseConfig("kafka:\n  topic: " + longest + "\n", "burnrate.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.topic, longest);
}

TEST(Config, TheInputTopicIsNotOneOfBurnratesOutputs) {
  EXPECT_EQ(ErrorOf("kafka:\n  topic: events\n  dead_letter_topic: events\n"),
            "burnrate.yaml:2: kafka.topic 'events' is also kafka.dead_letter_topic: burnrate would read its own "
            "output as events");
  EXPECT_EQ(ErrorOf("kafka:\n  topic: burnrate-windows\n")
                .rfind("burnrate.yaml:2: kafka.topic 'burnrate-windows' is also kafka.windows_topic", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  topic: burnrate-quota\n")
                .rfind("burnrate.yaml:2: kafka.topic 'burnrate-quota' is also quota.kafka_topic", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  topic: alerts\nalerting:\n  receivers:\n    - name: bus\n      kafka: {topic: alerts}\n")
                .rfind("burnrate.yaml:2: kafka.topic 'alerts' is also the topic of alert receiver bus", 0),
            0u);
  EXPECT_EQ(ErrorOf("kafka:\n  dead_letter_topic: out\n  windows_topic: out\n")
                .rfind("burnrate.yaml:3: kafka.dead_letter_topic and kafka.windows_topic are both 'out'", 0),
            0u);
}

TEST(Config, ReadsTheSpikeCallsAndPlateauPaths) {
  auto c = ParseConfig(R"(
detectors:
  spike:
    calls: {windows: [1m, 4m], rate_factor: 2.5, max_p: 1e-7, ratio: 4, min_excess_usd_per_hour: 2}
    plateau: {block: 4m, blocks: 4, ratio: 3, block_ratio: 2, rate_factor: 1.5, max_p: 1e-5, min_excess_usd_per_hour: 1}
)", "spike.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const SpikeConfig& s = c->detectors.spike;
  EXPECT_EQ(s.calls_windows_ms, (std::vector<int64_t>{60'000, 240'000}));
  EXPECT_EQ(s.calls_rate_factor, 2.5);
  EXPECT_EQ(s.calls_max_p, 1e-7);
  EXPECT_EQ(s.calls_ratio, 4);
  EXPECT_EQ(s.calls_min_excess_usd_per_hour, 2);
  EXPECT_EQ(s.plateau_block_ms, 240'000);
  EXPECT_EQ(s.plateau_blocks, 4);
  EXPECT_EQ(s.plateau_ratio, 3);
  EXPECT_EQ(s.plateau_block_ratio, 2);
  EXPECT_EQ(s.plateau_rate_factor, 1.5);
  EXPECT_EQ(s.plateau_max_p, 1e-5);
  EXPECT_EQ(s.plateau_min_excess_usd_per_hour, 1);
  EXPECT_EQ(ErrorOf("detectors:\n  spike:\n    plateau: {block: 20m, blocks: 4}\n")
                .rfind("burnrate.yaml:3: detectors.spike.plateau spans more than 60 minutes", 0),
            0u);
  EXPECT_EQ(ErrorOf("detectors:\n  spike:\n    calls: {max_p: 2}\n")
                .rfind("burnrate.yaml:3: detectors.spike.calls.max_p must be between", 0),
            0u);
}

TEST(Config, MissingFileIsAClearError) {
  auto c = LoadConfig("/nonexistent/burnrate.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("/nonexistent/burnrate.yaml"), std::string::npos);
}

TEST(Durations, ParseAndFormat) {
  EXPECT_EQ(*ParseDurationMs("500ms"), 500);
  EXPECT_EQ(*ParseDurationMs("7d"), 7 * 86'400'000LL);
  EXPECT_FALSE(ParseDurationMs("-1s").ok());
  EXPECT_FALSE(ParseDurationMs("1.5m").ok());
  EXPECT_EQ(FormatDurationMs(90'000), "90s");
  EXPECT_EQ(FormatDurationMs(3'600'000), "1h");
}

}  // namespace
}  // namespace burnrate
