// `burnrate run` against a broker that wants SASL over TLS, as managed Kafka
// services do: the stack's SASL_SSL listener (SCRAM-SHA-512, a certificate
// from the stack's own CA). The settings of kafka.properties and the
// password of kafka.secret_properties must reach every client the replica
// opens (the consumer and the producers of dead letters, closed windows and
// quota signals); credentials the broker refuses, or a broker certificate
// the replica cannot verify, stop the replica at start with the reason,
// and the password never shows in its log.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/time_format.h"
#include "tests/integration/run_harness.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::WaitFor;

constexpr char kBurnrate[] = BURNRATE_BIN;
constexpr char kPasswordVariable[] = "BURNRATE_TEST_KAFKA_PASSWORD";

// A replica config for the stack's SASL_SSL listener, trusting `ca_file`.
testing::ReplicaConfig SecureReplica(const std::string& topic, const std::string& ca_file) {
  const testing::StackInfo& stack = testing::Stack();
  if (stack.kafka_sasl_ssl_brokers.empty()) {
    throw std::runtime_error("the test stack has no SASL_SSL listener (" + stack.stack_dir +
                             " predates it): run scripts/stack down, then up");
  }
  testing::ReplicaConfig config{topic, topic + "-group", testing::UniqueRedisPrefix(),
                                testing::FreeLoopbackPort(), ""};
  config.kafka_brokers = stack.kafka_sasl_ssl_brokers;
  config.kafka_properties = {{"security.protocol", "SASL_SSL"},
                             {"sasl.mechanism", "SCRAM-SHA-512"},
                             {"sasl.username", stack.kafka_sasl_username},
                             {"ssl.ca.location", ca_file}};
  config.kafka_secrets_from_env = {{"sasl.password", kPasswordVariable}};
  return config;
}

std::unique_ptr<ChildProcess> StartReplica(testing::ScratchDir& dir,
                                           const testing::ReplicaConfig& config,
                                           const std::string& password) {
  const std::string path = dir.File("replica.yaml");
  testing::WriteReplicaConfig(path, config);
  ChildProcessOptions options;
  options.argv = {kBurnrate, "run", "--config", path};
  options.env = {{kPasswordVariable, password}};
  options.stderr_path = dir.File("replica.log");
  options.stdout_path = dir.File("replica.stdout");
  return std::make_unique<ChildProcess>(std::move(options));
}

// Waits for the replica to stop on its own and returns its log.
std::string ExpectStoppedWithError(ChildProcess& replica) {
  const auto exited = replica.Wait(60s);
  if (!exited.has_value()) {
    ADD_FAILURE() << "the replica kept running: " << replica.ReadStderr();
    return "";
  }
  EXPECT_EQ(exited->ToString(), "exit 1") << replica.ReadStderr();
  return replica.ReadStderr();
}

TEST(RunKafkaSecurityTest, OverSaslSslEveryEventIsCountedAndEveryOutputPublished) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(2, "secure");
  const testing::ReplicaConfig config = SecureReplica(topic, testing::Stack().kafka_ca_file);

  // Forty events of one key in one closed minute, and a line that is not
  // JSON, written over the plaintext listener.
  const int64_t window_start = (WallClockMs() - 120'000) / 60'000 * 60'000;
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i)
    lines.push_back(testing::FlatEvent("secure-" + std::to_string(i), window_start + 1'000 + i));
  const std::string malformed = "{\"event_id\": \"secure-broken\", ";
  lines.push_back(malformed);
  testing::Produce(topic, lines);

  const std::string password = testing::Stack().kafka_sasl_password;
  const auto replica = StartReplica(dir, config, password);

  // The consumer read every event and the windows' producer published the
  // closed minute (its partitions go idle, so the group closes it).
  std::vector<testing::KafkaRecord> rows;
  ASSERT_TRUE(WaitFor(
      [&] {
        rows.clear();
        for (auto& r : testing::ReadAllRecords(topic + "-windows", 5s))
          if (r.value.find("\"scope\":\"key\"") != std::string::npos) rows.push_back(std::move(r));
        return !rows.empty();
      },
      60s, "the window closed"))
      << replica->ReadStderr();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].value.find("\"events\":40,"), std::string::npos) << rows[0].value;

  // The dead letters' producer delivered the malformed line.
  std::vector<testing::KafkaRecord> dead;
  ASSERT_TRUE(
      WaitFor([&] { return !(dead = testing::ReadAllRecords(topic + "-dead", 5s)).empty(); }, 60s,
              "the dead letter"))
      << replica->ReadStderr();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, malformed);
  EXPECT_EQ(dead[0].headers["burnrate.reason"], "malformed_json");

  replica->Kill(SIGTERM);
  const auto stopped = replica->Wait(60s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->ok()) << stopped->ToString() << "\n" << replica->ReadStderr();
  const std::string log = replica->ReadStderr();
  EXPECT_EQ(log.find(password), std::string::npos) << "the password is in the log";
  EXPECT_EQ(log.find("authentication"), std::string::npos) << log;
}

TEST(RunKafkaSecurityTest, RefusedCredentialsStopTheReplicaAtStartWithTheBrokersReason) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "secure-badpw");
  const std::string wrong = "not-" + testing::Stack().kafka_sasl_password;
  const auto replica =
      StartReplica(dir, SecureReplica(topic, testing::Stack().kafka_ca_file), wrong);

  const std::string log = ExpectStoppedWithError(*replica);
  EXPECT_NE(log.find("burnrate: kafka: authentication with the brokers failed"), std::string::npos)
      << log;
  EXPECT_NE(log.find("SASL authentication error"), std::string::npos) << log;
  EXPECT_NE(log.find("sasl.* and ssl.* settings"), std::string::npos)
      << "it says what to check: " << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << "the password is in the log";
}

TEST(RunKafkaSecurityTest, ABrokerCertificateFromAnotherCaStopsTheReplicaAtStart) {
  testing::ScratchDir dir;
  // A CA of its own, which did not sign the broker's certificate.
  const std::string other_ca = dir.File("other-ca.pem");
  ChildProcess openssl({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=not the stack's CA", "-keyout", dir.File("other-ca.key"),
                        "-out", other_ca});
  const auto made = openssl.Wait(60s);
  ASSERT_TRUE(made.has_value() && made->ok()) << openssl.ReadStderr();

  const std::string topic = testing::CreateTopic(1, "secure-badca");
  const auto replica =
      StartReplica(dir, SecureReplica(topic, other_ca), testing::Stack().kafka_sasl_password);

  const std::string log = ExpectStoppedWithError(*replica);
  EXPECT_NE(log.find("burnrate: kafka: authentication with the brokers failed"), std::string::npos)
      << log;
  EXPECT_NE(log.find("certificate verify failed"), std::string::npos) << log;
}

}  // namespace
}  // namespace burnrate
