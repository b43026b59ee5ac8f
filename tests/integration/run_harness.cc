#include "tests/integration/run_harness.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate::testing {

std::string FlatEvent(const std::string& event_id, int64_t ts_ms, const std::string& extra_fields) {
  return R"({"event_id":")" + event_id + R"(","ts":)" + std::to_string(ts_ms) +
         R"(,"tenant":"acme","feature":"chat","environment":"prod","model":"claude-sonnet-4-5",)"
         R"("input_tokens":100,"output_tokens":20)" +
         (extra_fields.empty() ? "" : "," + extra_fields) + "}";
}

std::vector<KafkaRecord> KeyWindowRows(const std::string& topic) {
  std::vector<KafkaRecord> rows;
  for (auto& r : ReadAllRecords(topic + "-windows", std::chrono::seconds(5)))
    if (r.value.find("\"scope\":\"key\"") != std::string::npos) rows.push_back(std::move(r));
  return rows;
}

std::vector<KafkaRecord> WaitForKeyWindowRows(const std::string& topic, ChildProcess& replica) {
  std::vector<KafkaRecord> rows;
  EXPECT_TRUE(WaitFor([&] { return !(rows = KeyWindowRows(topic)).empty(); }, std::chrono::seconds(60),
                      "the window closed"))
      << replica.ReadStderr();
  return rows;
}

std::vector<KafkaRecord> WaitForDeadLetters(const std::string& topic, ChildProcess& replica,
                                            size_t count, const std::string& dead_letter_topic) {
  std::vector<KafkaRecord> dead;
  EXPECT_TRUE(WaitFor(
      [&] {
        dead = ReadAllRecords(dead_letter_topic.empty() ? topic + "-dead" : dead_letter_topic,
                              std::chrono::seconds(5));
        return dead.size() >= count;
      },
      std::chrono::seconds(60), "the dead letters"))
      << replica.ReadStderr();
  return dead;
}

void StopCleanly(ChildProcess& replica) {
  replica.Kill(SIGTERM);
  const auto stopped = replica.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->ok()) << stopped->ToString() << "\n" << replica.ReadStderr();
}

void WriteReplicaConfig(const std::string& path, const ReplicaConfig& c) {
  std::ofstream out(path);
  out << "kafka:\n"
      << "  brokers: \"" << (c.kafka_brokers.empty() ? Stack().kafka_brokers : c.kafka_brokers)
      << "\"\n"
      << "  topic: \"" << c.topic << "\"\n"
      << "  group_id: \"" << c.group << "\"\n"
      << "  dead_letter_topic: \""
      << (c.dead_letter_topic.empty() ? c.topic + "-dead" : c.dead_letter_topic) << "\"\n"
      << "  windows_topic: \"" << c.topic << "-windows\"\n"
      << "  properties:\n"
      << "    session.timeout.ms: \"6000\"\n"
      << "    heartbeat.interval.ms: \"1000\"\n";
  for (const auto& [name, value] : c.kafka_properties)
    out << "    " << name << ": \"" << value << "\"\n";
  if (!c.kafka_secrets_from_env.empty()) out << "  secret_properties:\n";
  for (const auto& [name, variable] : c.kafka_secrets_from_env)
    out << "    " << name << ": {env: " << variable << "}\n";
  out << "redis:\n"
      << "  host: \"" << Stack().redis_host << "\"\n"
      << "  port: " << (c.redis_port != 0 ? c.redis_port : Stack().redis_port) << "\n";
  if (!c.redis_username.empty()) out << "  username: \"" << c.redis_username << "\"\n";
  if (!c.redis_password_env.empty()) out << "  password: {env: " << c.redis_password_env << "}\n";
  out << "  key_prefix: \"" << c.redis_prefix
      << "\"\n"
      // Simulated history reaches days back.
      << "time_bounds:\n  max_past: 30d\n"
      << "checkpoint_interval: 500ms\n"
      << "idle_timeout: 3s\n"
      << "http:\n  listen: \"127.0.0.1:" << c.http_port << "\"\n"
      << c.extra_yaml;
  if (!out) throw std::runtime_error("cannot write " + path);
}

HttpAnswer HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  auto response = client.Get(path);
  if (!response) return {};
  return {response->status, response->body};
}

std::optional<double> MetricSum(const std::string& text, std::string_view name) {
  std::optional<double> sum;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || !line.starts_with(name)) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    const size_t space = line.rfind(' ');
    sum = sum.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

size_t CountSeries(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') ++n;
  }
  return n;
}

void Simulate(const std::string& burnrate, const std::string& topic, std::vector<std::string> args,
              const ScratchDir& dir, std::chrono::seconds deadline) {
  ChildProcessOptions options;
  options.argv = {burnrate, "simulate"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  for (const std::string& a : {std::string("--kafka-brokers"), Stack().kafka_brokers,
                               std::string("--kafka-topic"), topic}) {
    options.argv.push_back(a);
  }
  options.stdout_path = dir.File("simulate.stdout");
  options.stderr_path = dir.File("simulate.stderr");
  ChildProcess simulate(std::move(options));
  const auto status = simulate.Wait(deadline);
  if (!status || !status->ok()) {
    throw std::runtime_error("burnrate simulate failed (" +
                             (status ? status->ToString() : "still running") +
                             "): " + simulate.ReadStderr());
  }
}

std::string Rfc3339Minute(std::chrono::minutes offset) {
  const auto t =
      std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now() + offset);
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:00Z", &tm);
  return buf;
}

struct WebhookReceiver::Impl {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  mutable std::mutex mu;
  std::vector<std::pair<std::string, std::string>> received;
};

WebhookReceiver::WebhookReceiver(int port) : impl_(std::make_unique<Impl>()) {
  Impl& i = *impl_;
  i.server.Post("/hook", [&i](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(i.mu);
    i.received.emplace_back(req.get_header_value("Idempotency-Key"), req.body);
    res.status = 200;
  });
  if (port == 0) {
    i.port = i.server.bind_to_any_port("127.0.0.1");
  } else {
    i.port = i.server.bind_to_port("127.0.0.1", port) ? port : -1;
  }
  i.thread = std::thread([&i] { i.server.listen_after_bind(); });
}

WebhookReceiver::~WebhookReceiver() {
  impl_->server.stop();
  impl_->thread.join();
}

int WebhookReceiver::port() const { return impl_->port; }

std::vector<std::pair<std::string, std::string>> WebhookReceiver::Received() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->received;
}

}  // namespace burnrate::testing
