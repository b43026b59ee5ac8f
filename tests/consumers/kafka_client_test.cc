// What every librdkafka handle shares: librdkafka's errors and log lines
// through spdlog, each error code at most once per interval, and refusals of
// the security settings kept for start-up to report.
#include "consumers/kafka_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

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

}  // namespace
}  // namespace burnrate
