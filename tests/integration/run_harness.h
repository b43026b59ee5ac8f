// Helpers for the end-to-end tests of `burnrate run` with its alerting and
// metrics: a config for one replica, HTTP GETs against
// a replica's endpoints, reading the Prometheus text format, and running
// `burnrate simulate` into Kafka.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/kafka.h"    // KafkaRecord
#include "tests/support/process.h"  // ChildProcess
#include "tests/support/scratch.h"  // ScratchDir, which every such test uses

namespace burnrate::testing {

// What one replica's config says; the Kafka and Redis addresses come from Stack().
struct ReplicaConfig {
  std::string topic;
  std::string group;
  std::string redis_prefix;
  int http_port = 0;
  // Extra top-level YAML appended as is (alerting:, detectors:, ...).
  std::string extra_yaml;
  // Where dead letters go; empty: "<topic>-dead".
  std::string dead_letter_topic = {};
  // More librdkafka settings under kafka.properties.
  std::vector<std::pair<std::string, std::string>> kafka_properties = {};
  // Where the replica connects; empty: the stack's plaintext listener.
  std::string kafka_brokers = {};
  // librdkafka settings under kafka.secret_properties, each read from the
  // named environment variable ({env: NAME}).
  std::vector<std::pair<std::string, std::string>> kafka_secrets_from_env = {};
  // Another Redis than the stack's (0: the stack's), an ACL user, and the
  // environment variable that holds the password ({env: NAME}).
  int redis_port = 0;
  std::string redis_username = {};
  std::string redis_password_env = {};
};
// Writes the config to `path`: 500 ms checkpoints, a short idle timeout,
// time bounds wide enough for simulated history, fast consumer-group
// failover, its own windows and dead-letter topics.
void WriteReplicaConfig(const std::string& path, const ReplicaConfig& config);

// The rows of (tenant, feature, environment) windows a replica of `topic`
// published so far (scope "key", on `topic`-windows, as WriteReplicaConfig
// names it), read from the start of that topic.
std::vector<KafkaRecord> KeyWindowRows(const std::string& topic);

// Waits (60 s) until a replica of `topic` has published at least one key
// window row and returns them all; a failed wait is a failure of the test,
// with the replica's log.
std::vector<KafkaRecord> WaitForKeyWindowRows(const std::string& topic, ChildProcess& replica);

// Waits (60 s) for at least `count` dead letters of `topic` on
// `dead_letter_topic` (default `topic`-dead) and returns all there are; a
// failed wait is a failure of the test, with the replica's log.
std::vector<KafkaRecord> WaitForDeadLetters(const std::string& topic, ChildProcess& replica,
                                            size_t count = 1,
                                            const std::string& dead_letter_topic = "");

// Stops the replica with SIGTERM and expects a clean exit (code 0) within 60 s.
void StopCleanly(ChildProcess& replica);

// One flat cost event of tenant acme, feature chat, environment prod
// (claude-sonnet-4-5, 100 input and 20 output tokens) at `ts_ms`, with
// `extra_fields` (e.g. `"note":"..."`) appended to its fields.
std::string FlatEvent(const std::string& event_id, int64_t ts_ms, const std::string& extra_fields = "");

struct HttpAnswer {
  int status = -1;  // -1: no answer
  std::string body;
};
HttpAnswer HttpGet(int port, const std::string& path);

// The sum of every sample of `name` (all label sets; exact name, so
// "x_bucket" is not "x") in Prometheus text; nullopt when it has none.
std::optional<double> MetricSum(const std::string& text, std::string_view name);
// Samples in the text (lines that are neither comments nor blank).
size_t CountSeries(const std::string& text);

// A webhook receiver on 127.0.0.1 at /hook that answers 200 and records
// every POST with its Idempotency-Key. Thread-safe.
class WebhookReceiver {
 public:
  // On a free port, or on `port` (a receiver that comes back after an
  // outage); port() is -1 when that port could not be bound.
  explicit WebhookReceiver(int port = 0);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;
  int port() const;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
  // (Idempotency-Key, body) of every POST so far, in arrival order.
  std::vector<std::pair<std::string, std::string>> Received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `burnrate simulate ARGS --kafka-brokers <stack> --kafka-topic TOPIC`
// and waits for it; throws (failing the test) unless it exits 0.
void Simulate(const std::string& burnrate, const std::string& topic, std::vector<std::string> args,
              const ScratchDir& dir, std::chrono::seconds deadline);

// RFC 3339 UTC, whole minutes, `offset` from now.
std::string Rfc3339Minute(std::chrono::minutes offset);

}  // namespace burnrate::testing
