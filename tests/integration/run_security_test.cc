// `burnrate run` with credentials, as managed services want them.
// Kafka: the stack's SASL_SSL listener (SCRAM-SHA-512, a certificate from
// the stack's own CA); the settings of kafka.properties and the password of
// kafka.secret_properties must reach every client the replica opens (the
// consumer and the producers of dead letters, closed windows and quota
// signals). Redis: a Redis of the test's own that knows only an ACL user,
// allowed only the keys under the replica's prefix. Credentials either
// refuses, or a broker certificate the replica cannot verify, stop the
// replica at start with the reason, and no password shows in its log.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/time_format.h"
#include "tests/integration/run_harness.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/redis.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::WaitFor;

constexpr char kBurnrate[] = BURNRATE_BIN;
constexpr char kKafkaPasswordVariable[] = "BURNRATE_TEST_KAFKA_PASSWORD";
constexpr char kRedisPasswordVariable[] = "BURNRATE_TEST_REDIS_PASSWORD";

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
  config.kafka_secrets_from_env = {{"sasl.password", kKafkaPasswordVariable}};
  return config;
}

// A replica of `config`, with `password` in the environment variable its
// config reads it from.
std::unique_ptr<ChildProcess> StartReplica(testing::ScratchDir& dir,
                                           const testing::ReplicaConfig& config,
                                           const std::string& variable,
                                           const std::string& password) {
  const std::string path = dir.File("replica.yaml");
  testing::WriteReplicaConfig(path, config);
  ChildProcessOptions options;
  options.argv = {kBurnrate, "run", "--config", path};
  options.env = {{variable, password}};
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
  const auto replica = StartReplica(dir, config, kKafkaPasswordVariable, password);

  // The consumer read every event and the windows' producer published the
  // closed minute (its partitions go idle, so the group closes it).
  const std::vector<testing::KafkaRecord> rows = testing::WaitForKeyWindowRows(topic, *replica);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].value.find("\"events\":40,"), std::string::npos) << rows[0].value;

  // The dead letters' producer delivered the malformed line.
  auto dead = testing::WaitForDeadLetters(topic, *replica);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, malformed);
  EXPECT_EQ(dead[0].headers["burnrate.reason"], "malformed_json");

  testing::StopCleanly(*replica);
  const std::string log = replica->ReadStderr();
  EXPECT_EQ(log.find(password), std::string::npos) << "the password is in the log";
  EXPECT_EQ(log.find("authentication"), std::string::npos) << log;
}

TEST(RunKafkaSecurityTest, RefusedCredentialsStopTheReplicaAtStartWithTheBrokersReason) {
  testing::ScratchDir dir;
  const std::string topic = testing::CreateTopic(1, "secure-badpw");
  const std::string wrong = "not-" + testing::Stack().kafka_sasl_password;
  const auto replica = StartReplica(dir, SecureReplica(topic, testing::Stack().kafka_ca_file),
                                    kKafkaPasswordVariable, wrong);

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
  const auto replica = StartReplica(dir, SecureReplica(topic, other_ca), kKafkaPasswordVariable,
                                    testing::Stack().kafka_sasl_password);

  const std::string log = ExpectStoppedWithError(*replica);
  EXPECT_NE(log.find("burnrate: kafka: authentication with the brokers failed"), std::string::npos)
      << log;
  EXPECT_NE(log.find("certificate verify failed"), std::string::npos) << log;
}

// A Redis of the test's own, on a free port, whose only user is `burnrate`
// with a password of its own, allowed the commands `command_rules` names
// (ACL syntax) and only the keys under `prefix`; stopped with the test.
class AclRedis {
 public:
  static constexpr char kUser[] = "burnrate";

  AclRedis(testing::ScratchDir& dir, const std::string& prefix,
           const std::vector<std::string>& command_rules = {"+@all"})
      : port_(testing::FreeLoopbackPort()), password_("pw-" + testing::UniqueRedisPrefix()) {
    ChildProcessOptions options;
    options.argv = {"redis-server",
                    "--port",
                    std::to_string(port_),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    dir.path(),
                    "--user",
                    "default",
                    "off",
                    "--user",
                    kUser,
                    "on",
                    ">" + password_,
                    "~" + prefix + "*",
                    "&*"};
    options.argv.insert(options.argv.end(), command_rules.begin(), command_rules.end());
    options.stdout_path = dir.File("redis.log");
    options.stderr_path = dir.File("redis.err");
    server_ = std::make_unique<ChildProcess>(std::move(options));
    const bool up = WaitFor(
        [&] {
          try {
            Authenticated();  // the user may not be allowed PING
            return true;
          } catch (const std::exception&) {
            return false;  // not listening yet
          }
        },
        30s, "the ACL Redis up");
    if (!up) throw std::runtime_error("redis-server did not start: " + server_->ReadStdout());
  }

  int port() const { return port_; }
  const std::string& password() const { return password_; }
  // A client logged in as the user.
  testing::RedisClient Authenticated() const {
    testing::RedisClient client("127.0.0.1", port_);
    const auto reply = client.CommandArgv({"AUTH", kUser, password_});
    if (reply->type == REDIS_REPLY_ERROR)
      throw std::runtime_error(std::string("AUTH: ") + reply->str);
    return client;
  }

 private:
  int port_;
  std::string password_;
  std::unique_ptr<ChildProcess> server_;
};

testing::ReplicaConfig AclRedisReplica(const std::string& topic, const std::string& prefix,
                                       const AclRedis& redis) {
  testing::ReplicaConfig config{topic, topic + "-group", prefix, testing::FreeLoopbackPort(), ""};
  config.redis_port = redis.port();
  config.redis_username = AclRedis::kUser;
  config.redis_password_env = kRedisPasswordVariable;
  return config;
}

TEST(RunRedisSecurityTest, AnAclUserAllowedOnlyTheKeyPrefixIsAllAReplicaNeeds) {
  testing::ScratchDir dir;
  const std::string prefix = testing::UniqueRedisPrefix();
  AclRedis redis(dir, prefix);
  const std::string topic = testing::CreateTopic(2, "aclredis");
  testing::ReplicaConfig config = AclRedisReplica(topic, prefix, redis);
  // Every part that keeps state in Redis: window state and positions, the
  // closer's lease and detector history, budgets and quota state, and the
  // alert outbox (a log receiver; the unpriced model below raises an alert).
  config.extra_yaml =
      "budgets:\n  list:\n    - {name: acl-budget, tenant: acme, period: month, amount_usd: 1000}\n"
      "alerting:\n  receivers:\n    - name: stdout\n      log: {}\n";

  const int64_t window_start = (WallClockMs() - 120'000) / 60'000 * 60'000;
  std::vector<std::string> lines;
  for (int i = 0; i < 30; ++i)
    lines.push_back(testing::FlatEvent("acl-" + std::to_string(i), window_start + 1'000 + i));
  lines.push_back(R"({"event_id":"acl-unpriced","ts":)" + std::to_string(window_start + 2'000) +
                  R"(,"tenant":"acme","feature":"chat","environment":"prod",)"
                  R"("model":"no-such-model-7","input_tokens":10,"output_tokens":1})");
  testing::Produce(topic, lines);

  const auto replica = StartReplica(dir, config, kRedisPasswordVariable, redis.password());
  const std::vector<testing::KafkaRecord> rows = testing::WaitForKeyWindowRows(topic, *replica);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].value.find("\"events\":31,"), std::string::npos) << rows[0].value;

  // The alert went through the outbox in this Redis to the log receiver.
  ASSERT_TRUE(WaitFor(
      [&] {
        return (replica->ReadStdout() + replica->ReadStderr()).find("no-such-model-7") !=
               std::string::npos;
      },
      60s, "the unpriced alert delivered"))
      << replica->ReadStderr();
  testing::RedisClient client = redis.Authenticated();
  for (const std::string& part :
       std::vector<std::string>{"alerts:", "budget:", "closer:", topic + ":pos"}) {
    const auto keys = client.CommandArgv({"KEYS", prefix + part + "*"});
    EXPECT_GT(keys->elements, 0u) << "no key under " << prefix << part;
  }

  testing::StopCleanly(*replica);
  const std::string log = replica->ReadStderr();
  // A key outside the prefix would have been refused (NOPERM) and logged.
  EXPECT_EQ(log.find("NOPERM"), std::string::npos) << log;
  std::istringstream lines_of(log);
  for (std::string line; std::getline(lines_of, line);) {
    const bool complaint =
        line.find(" warning ") != std::string::npos || line.find(" error ") != std::string::npos;
    EXPECT_FALSE(complaint && line.find("redis") != std::string::npos) << line;
  }
  EXPECT_EQ(log.find(redis.password()), std::string::npos) << "the password is in the log";
}

TEST(RunRedisSecurityTest, ARefusedRedisPasswordStopsTheReplicaAtStart) {
  testing::ScratchDir dir;
  const std::string prefix = testing::UniqueRedisPrefix();
  AclRedis redis(dir, prefix);
  const std::string topic = testing::CreateTopic(1, "aclredis-badpw");
  const std::string wrong = "not-" + redis.password();
  const auto replica =
      StartReplica(dir, AclRedisReplica(topic, prefix, redis), kRedisPasswordVariable, wrong);

  const std::string log = ExpectStoppedWithError(*replica);
  EXPECT_NE(log.find("burnrate: redis AUTH: WRONGPASS"), std::string::npos) << log;
  EXPECT_NE(log.find("check redis.username and redis.password"), std::string::npos) << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << "the password is in the log";
}

TEST(RunRedisSecurityTest, AUserThatMayNotRunCommandsStopsTheReplicaAtStart) {
  testing::ScratchDir dir;
  const std::string prefix = testing::UniqueRedisPrefix();
  AclRedis redis(dir, prefix, {"+@all", "-ping"});
  const std::string topic = testing::CreateTopic(1, "aclredis-noperm");
  const auto replica = StartReplica(dir, AclRedisReplica(topic, prefix, redis),
                                    kRedisPasswordVariable, redis.password());

  const std::string log = ExpectStoppedWithError(*replica);
  EXPECT_NE(log.find("burnrate: redis PING: NOPERM"), std::string::npos) << log;
  EXPECT_NE(log.find("needs every command on the keys under redis.key_prefix"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace burnrate
