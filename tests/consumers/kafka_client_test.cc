// What every librdkafka handle shares: librdkafka's errors and log lines
// through spdlog, each error code at most once per interval, and refusals of
// the security settings kept for start-up to report.
#include "consumers/kafka_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "config/secret.h"
#include "tests/support/captured_log.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;

// A producer handle that never connects: Note only asks it for its name.
class Handle {
 public:
  Handle() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    rd_kafka_conf_set(conf, "client.id", "burnrate", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // not its warning of no brokers
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  }
  ~Handle() { rd_kafka_destroy(rk_); }
  rd_kafka_t* get() const { return rk_; }

 private:
  rd_kafka_t* rk_ = nullptr;
};

TEST(KafkaClientErrorsTest, RefusedCredentialsAndFailedTlsHandshakesAreKeptAndLoggedAsErrors) {
  CapturedLog log;
  Handle handle;
  KafkaClientErrors errors;
  EXPECT_EQ(errors.SecurityRefusal(), "");

  errors.Note(handle.get(), RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL authentication error: no");
  EXPECT_EQ(errors.SecurityRefusal(), "SASL authentication error: no");
  errors.Note(handle.get(), RD_KAFKA_RESP_ERR__SSL,
              "SSL handshake failed: certificate verify failed");
  EXPECT_EQ(errors.SecurityRefusal(), "SSL handshake failed: certificate verify failed");

  const std::string text = log.Text();
  EXPECT_NE(text.find("error kafka burnrate#producer-"), std::string::npos) << text;
  EXPECT_NE(text.find("SASL authentication error: no (_AUTHENTICATION)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("certificate verify failed (_SSL)"), std::string::npos) << text;
}

TEST(KafkaClientErrorsTest, OtherErrorsAreLoggedAsWarningsAndAreNoRefusal) {
  CapturedLog log;
  Handle handle;
  KafkaClientErrors errors;
  errors.Note(handle.get(), RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
  errors.Note(handle.get(), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
              "Broker: Topic authorization failed");
  EXPECT_EQ(errors.SecurityRefusal(), "");
  const std::string text = log.Text();
  EXPECT_NE(text.find("warning kafka burnrate#producer-"), std::string::npos) << text;
  EXPECT_NE(text.find("1/1 brokers are down (_ALL_BROKERS_DOWN)"), std::string::npos) << text;
  EXPECT_NE(text.find("Topic authorization failed (TOPIC_AUTHORIZATION_FAILED)"), std::string::npos)
      << text;
}

TEST(KafkaClientErrorsTest, EachErrorCodeIsLoggedOncePerIntervalWithHowManyWereLeftOut) {
  CapturedLog log;
  Handle handle;
  KafkaClientErrors errors(200ms);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i)
    errors.Note(handle.get(), RD_KAFKA_RESP_ERR__TRANSPORT, "Connection refused");
  errors.Note(handle.get(), RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
  // Only meaningful if the four calls fell within one interval.
  ASSERT_LT(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_EQ(log.Lines(), 2u) << log.Text();

  std::this_thread::sleep_until(started + 250ms);  // past the interval
  errors.Note(handle.get(), RD_KAFKA_RESP_ERR__TRANSPORT, "Connection refused");
  EXPECT_EQ(log.Lines(), 3u) << log.Text();
  EXPECT_NE(log.Text().find("Connection refused (_TRANSPORT; 2 more since the last such line)"),
            std::string::npos)
      << log.Text();
}

TEST(KafkaClientErrorsTest, TheStartUpErrorNamesTheRefusalAndWhatToCheck) {
  const absl::Status status =
      SecurityRefusalError("SASL authentication error: Authentication failed");
  EXPECT_TRUE(absl::IsUnauthenticated(status));
  EXPECT_EQ(status.message(),
            "kafka: authentication with the brokers failed: SASL authentication error: "
            "Authentication failed (check security.protocol and the sasl.* and ssl.* settings "
            "under kafka.properties and kafka.secret_properties)");
}

TEST(RouteKafkaLogsTest, LibrdkafkasOwnLinesArriveThroughSpdlog) {
  CapturedLog log;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[256];
  // Nothing listens on port 1 of the loopback: the connection is refused at
  // once, and librdkafka logs that at error level.
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof err),
            RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(conf, "client.id", "burnrate", err, sizeof err), RD_KAFKA_CONF_OK);
  RouteKafkaLogs(conf);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (log.Text().find("Connection refused") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  rd_kafka_destroy(rk);
  const std::string text = log.Text();
  EXPECT_NE(text.find("error kafka burnrate#producer-"), std::string::npos) << text;
  EXPECT_NE(text.find(" FAIL: "), std::string::npos) << "the facility is named: " << text;
  EXPECT_NE(text.find("Connection refused"), std::string::npos) << text;
}

// A setting's value in a configuration, or "(unset)".
std::string Setting(rd_kafka_conf_t* conf, const char* name) {
  char value[512];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) return "(unset)";
  return value;
}

TEST(NewKafkaConfTest, PropertiesFollowTheDefaultsAndSecretsComeLast) {
  KafkaConfig config;
  config.properties = {{"linger.ms", "5"}, {"sasl.username", "plain"}};
  config.secret_properties["sasl.username"] = Secret{"env:USER", "from-secret"};
  auto conf = NewKafkaConf(config, KafkaRole::kProducer,
                           {{"linger.ms", "20"}, {"client.id", "burnrate"}}, "kafka producer");
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(Setting(conf->get(), "linger.ms"), "5") << "kafka.properties override the defaults";
  EXPECT_EQ(Setting(conf->get(), "client.id"), "burnrate");
  EXPECT_EQ(Setting(conf->get(), "sasl.username"), "from-secret");
}

TEST(NewKafkaConfTest, OnlyAConsumerGetsTheConsumerSettings) {
  KafkaConfig config;
  config.properties = {{"session.timeout.ms", "6000"},
                       {"queued.min.messages", "10"},
                       {"group.instance.id", "replica-0"},
                       {"socket.timeout.ms", "7000"}};
  auto consumer = NewKafkaConf(config, KafkaRole::kConsumer, {}, "kafka");
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_EQ(Setting(consumer->get(), "session.timeout.ms"), "6000");
  EXPECT_EQ(Setting(consumer->get(), "queued.min.messages"), "10");
  EXPECT_EQ(Setting(consumer->get(), "group.instance.id"), "replica-0");
  auto producer = NewKafkaConf(config, KafkaRole::kProducer, {}, "kafka producer");
  ASSERT_TRUE(producer.ok()) << producer.status();
  EXPECT_EQ(Setting(producer->get(), "session.timeout.ms"), "45000") << "librdkafka's default";
  EXPECT_EQ(Setting(producer->get(), "queued.min.messages"), "100000") << "librdkafka's default";
  EXPECT_EQ(Setting(producer->get(), "group.instance.id"), "(unset)");
  EXPECT_EQ(Setting(producer->get(), "socket.timeout.ms"), "7000") << "shared by every handle";
}

TEST(NewKafkaConfTest, ARefusedSettingNamesTheHandleAndTheSettingButNeverASecretsValue) {
  KafkaConfig config;
  config.properties = {{"linger.ms", "soon"}};
  auto refused = NewKafkaConf(config, KafkaRole::kProducer, {}, "kafka producer");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_NE(refused.status().message().find("kafka producer setting linger.ms=soon: "),
            std::string_view::npos)
      << refused.status();

  config.properties.clear();
  config.secret_properties["security.protocol"] = Secret{"env:PROTOCOL", "hunter2"};
  auto secret = NewKafkaConf(config, KafkaRole::kConsumer, {}, "kafka");
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.status().message().find("kafka setting security.protocol: "),
            std::string_view::npos)
      << secret.status();
  EXPECT_EQ(secret.status().message().find("hunter2"), std::string_view::npos)
      << "librdkafka's own reason quotes the value: " << secret.status();
  // A reason without the value is kept: it says what is wrong.
  config.secret_properties = {{"sasl.pasword", Secret{"env:PASSWORD", "hunter2"}}};
  auto misspelt = NewKafkaConf(config, KafkaRole::kConsumer, {}, "kafka");
  ASSERT_FALSE(misspelt.ok());
  EXPECT_NE(misspelt.status().message().find("No such configuration property"),
            std::string_view::npos)
      << misspelt.status();
}

TEST(NewKafkaConfTest, TheConsumerOnlySettingsAreLibrdkafkasOwn) {
  for (const char* name :
       {"group.id", "partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
        "max.poll.interval.ms", "enable.auto.commit", "enable.auto.offset.store",
        "auto.commit.interval.ms", "auto.offset.reset", "queued.max.messages.kbytes",
        "fetch.max.bytes", "max.partition.fetch.bytes", "isolation.level", "check.crcs",
        "enable.partition.eof", "coordinator.query.interval.ms", "consume.callback.max.messages"}) {
    EXPECT_TRUE(IsConsumerOnlySetting(name)) << name;
  }
  for (const char* name : {"bootstrap.servers", "client.id", "security.protocol", "sasl.mechanisms",
                           "ssl.ca.location", "socket.timeout.ms", "linger.ms", "debug",
                           "allow.auto.create.topics", "message.max.bytes"}) {
    EXPECT_FALSE(IsConsumerOnlySetting(name)) << name;
  }
}

}  // namespace
}  // namespace burnrate
