// Delivery end to end: the real sinks over HTTP to local receivers that
// check each payload as Slack, PagerDuty, Alertmanager and a webhook
// consumer would; the real Redis outbox; receivers failing in every way for
// ten minutes of simulated time with the delivery service destroyed and
// recreated in the middle; then every transition arrives exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerting/delivery_service.h"
#include "alerting/redis_outbox.h"
#include "consumers/kafka_producer.h"
#include "core/time_format.h"
#include "tests/alerting/receivers.h"
#include "tests/alerting/test_alerts.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using testing::MakeTestAlert;
using testing::TestReceiver;
using namespace std::chrono_literals;

Secret Literal(std::string value) { return {"test", std::move(value)}; }

struct Receivers {
  TestReceiver slack{TestReceiver::Kind::kSlack};
  TestReceiver pagerduty{TestReceiver::Kind::kPagerDuty, "R0UTINGKEY0123456789ABCDEFGHIJKL"};
  TestReceiver alertmanager{TestReceiver::Kind::kAlertmanager};
  TestReceiver webhook{TestReceiver::Kind::kWebhook, "hmac-test-secret"};
  std::vector<TestReceiver*> all() { return {&slack, &pagerduty, &alertmanager, &webhook}; }
};

// Every alert to all four receivers.
AlertingConfig FourReceivers(Receivers& r) {
  AlertingConfig c;
  c.dashboard_url = "http://grafana.example/d/burnrate";
  c.quota_url = "http://burnrate.example:9464/v1/quota";
  c.outbox.give_up_after_ms = 3'600'000;
  c.outbox.initial_backoff_ms = 5000;
  c.outbox.max_backoff_ms = 120'000;
  ReceiverConfig slack, pd, am, hook;
  slack.name = "slack";
  slack.type = "slack";
  slack.slack.webhook_url = Literal(r.slack.url());
  pd.name = "pagerduty";
  pd.type = "pagerduty";
  pd.pagerduty.url = r.pagerduty.url();
  pd.pagerduty.routing_key = Literal("R0UTINGKEY0123456789ABCDEFGHIJKL");
  am.name = "am";
  am.type = "alertmanager";
  am.alertmanager.url = r.alertmanager.url();
  am.alertmanager.resend_interval_ms = 24 * 3'600'000LL;  // no resends within the test
  hook.name = "hook";
  hook.type = "webhook";
  hook.webhook.url = Literal(r.webhook.url());
  hook.webhook.hmac_secret = Literal("hmac-test-secret");
  for (ReceiverConfig* rc : {&slack, &pd, &am, &hook}) {
    rc->timeout_ms = 200;
    c.receivers.push_back(*rc);
  }
  c.route.receiver = "slack";
  for (const char* name : {"slack", "pagerduty", "am", "hook"}) {
    RouteConfig child;
    child.receiver = name;
    child.continue_matching = true;
    c.route.routes.push_back(child);
  }
  return c;
}

class AlertDeliveryIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& stack = testing::Stack();
    redis_.redis.host = stack.redis_host;
    redis_.redis.port = stack.redis_port;
    redis_.redis.key_prefix = testing::UniqueRedisPrefix();
  }
  void TearDown() override { testing::RedisClient().DeleteKeysWithPrefix(redis_.redis.key_prefix); }

  std::unique_ptr<AlertDeliveryService> NewService(const AlertingConfig& config, AlertClock* clock,
                                                   KafkaProducer* producer = nullptr) {
    AlertingServiceOptions options;
    options.clock = clock;
    options.poll_interval_ms = 5;
    options.kafka_producer = producer;
    auto s = AlertDeliveryService::CreateWithRedis(config, redis_, std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Moves simulated time forward in steps, giving the delivery threads a
  // moment of real time at each step.
  static void Simulate(ManualAlertClock& clock, AlertDeliveryService& service, int64_t total_ms,
                       int64_t step_ms) {
    for (int64_t t = 0; t < total_ms; t += step_ms) {
      clock.Advance(step_ms);
      service.Wake();
      std::this_thread::sleep_for(15ms);
    }
  }

  AlertRedisOptions redis_;
};

TEST_F(AlertDeliveryIntegration, EachSinkPayloadIsAcceptedByItsReceiver) {
  Receivers r;
  const AlertingConfig config = FourReceivers(r);
  auto service = NewService(config, nullptr);
  ASSERT_TRUE(service);
  service->Start();
  Alert hostile =
      MakeTestAlert("hostile", AlertStatus::kFiring, Severity::kCritical, std::string(4000, '<'));
  hostile.summary = std::string(5000, '&') + " <!channel>";
  for (const Alert& a : {MakeTestAlert("a1"), MakeTestAlert("a1", AlertStatus::kResolved),
                         MakeTestAlert("info", AlertStatus::kFiring, Severity::kInfo), hostile}) {
    ASSERT_TRUE(service->Enqueue(a).ok());
  }
  const std::map<std::string, int> want = {
      {"a1:firing", 1}, {"a1:resolved", 1}, {"info:firing", 1}, {"hostile:firing", 1}};
  for (TestReceiver* receiver : r.all()) {
    ASSERT_TRUE(
        testing::WaitFor([&] { return receiver->accepted() == want; }, 20s, receiver->url()))
        << receiver->accepted().size() << " transitions accepted";
    EXPECT_TRUE(receiver->errors().empty()) << receiver->errors().front();
  }
  // The webhook body is the alert JSON, and the resolve message carries resolved_at.
  bool saw_resolved = false;
  for (const auto& body : r.webhook.bodies()) {
    const auto j = nlohmann::json::parse(body);
    if (j["status"] == "resolved") {
      saw_resolved = true;
      EXPECT_TRUE(j["resolved_at"].is_string());
    }
  }
  EXPECT_TRUE(saw_resolved);
  service->Stop();
  const auto stats = service->Stats();
  for (const auto& rs : stats.receivers) EXPECT_EQ(rs.ok, 4u) << rs.name;
}

TEST_F(AlertDeliveryIntegration, OutagesAndARestartLoseNothingAndDuplicateNothing) {
  Receivers r;
  const AlertingConfig config = FourReceivers(r);
  ManualAlertClock clock(WallClockMs());

  // Ten minutes of trouble: errors, rate limiting, hanging, and down.
  r.slack.SetMode(TestReceiver::Mode::kError500);
  r.pagerduty.SetMode(TestReceiver::Mode::kTooMany429, 45);
  r.alertmanager.SetMode(TestReceiver::Mode::kHang);
  r.webhook.Down();

  std::vector<Alert> first, second;
  for (int i = 0; i < 5; ++i) first.push_back(MakeTestAlert("before-" + std::to_string(i)));
  first.push_back(MakeTestAlert("before-0", AlertStatus::kResolved));
  first.push_back(MakeTestAlert("before-1", AlertStatus::kResolved));
  for (int i = 0; i < 3; ++i) second.push_back(MakeTestAlert("after-" + std::to_string(i)));

  auto service = NewService(config, &clock);
  ASSERT_TRUE(service);
  service->Start();
  for (const auto& a : first) ASSERT_TRUE(service->Enqueue(a).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return r.slack.requests() > 0 && r.pagerduty.requests() > 0 &&
               r.alertmanager.requests() > 0;
      },
      20s, "first attempts"));
  Simulate(clock, *service, 5 * 60'000, 10'000);

  // The restart: a new service over the same Redis outbox. The producer
  // replays what it enqueued before (as after a crash), then new alerts.
  service.reset();
  service = NewService(config, &clock);
  ASSERT_TRUE(service);
  service->Start();
  for (const auto& a : first) ASSERT_TRUE(service->Enqueue(a).ok());
  for (const auto& a : second) ASSERT_TRUE(service->Enqueue(a).ok());
  Simulate(clock, *service, 5 * 60'000, 10'000);
  for (TestReceiver* receiver : r.all())
    EXPECT_TRUE(receiver->accepted().empty()) << receiver->url();

  // Recovery.
  r.slack.SetMode(TestReceiver::Mode::kHealthy);
  r.pagerduty.SetMode(TestReceiver::Mode::kHealthy);
  r.alertmanager.SetMode(TestReceiver::Mode::kHealthy);
  r.webhook.Up();

  std::map<std::string, int> want;
  for (const auto* list : {&first, &second}) {
    for (const auto& a : *list) want[a.TransitionKey()] = 1;
  }
  const auto all_delivered = [&] {
    for (TestReceiver* receiver : r.all()) {
      if (receiver->accepted().size() < want.size()) return false;
    }
    return true;
  };
  for (int step = 0; step < 200 && !all_delivered(); ++step)
    Simulate(clock, *service, 10'000, 10'000);
  // Another ten minutes: nothing more may arrive.
  Simulate(clock, *service, 10 * 60'000, 30'000);
  ASSERT_TRUE(
      testing::WaitFor([&] { return service->Stats().pending == 0; }, 10s, "outbox drained"));

  for (TestReceiver* receiver : r.all()) {
    EXPECT_EQ(receiver->accepted(), want) << receiver->url();
    EXPECT_TRUE(receiver->errors().empty()) << receiver->errors().front();
    // A receiver sees an alert fire before it resolves.
    const auto order = receiver->accepted_order();
    for (const char* id : {"before-0", "before-1"}) {
      const auto fired = std::find(order.begin(), order.end(), std::string(id) + ":firing");
      const auto resolved = std::find(order.begin(), order.end(), std::string(id) + ":resolved");
      EXPECT_LT(fired, resolved) << receiver->url() << " " << id;
    }
  }
  EXPECT_GT(r.slack.requests(), static_cast<int>(want.size()));  // it really was retried
  const auto stats = service->Stats();
  EXPECT_EQ(stats.dead_letters, 0);
  EXPECT_EQ(stats.firing, 6);  // 8 fired, 2 resolved
}

TEST_F(AlertDeliveryIntegration, GivesUpIntoTheDeadLetterList) {
  Receivers r;
  AlertingConfig config = FourReceivers(r);
  config.outbox.give_up_after_ms = 10 * 60'000;
  ManualAlertClock clock(WallClockMs());
  r.webhook.Down();
  auto service = NewService(config, &clock);
  ASSERT_TRUE(service);
  service->Start();
  ASSERT_TRUE(service->Enqueue(MakeTestAlert("doomed")).ok());
  Simulate(clock, *service, 12 * 60'000, 20'000);
  ASSERT_TRUE(
      testing::WaitFor([&] { return service->Stats().dead_letters == 1; }, 10s, "dead letter"));
  const auto dead = service->outbox().DeadLetters(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  const auto j = nlohmann::json::parse(dead->front());
  EXPECT_EQ(j["receiver"], "hook");
  EXPECT_EQ(j["idempotency_key"], "doomed:firing");
  EXPECT_EQ(j["alert"]["alert_id"], "doomed");
  // The dead letter names the failure but never the URL or a secret.
  EXPECT_EQ(dead->front().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(dead->front().find("hmac-test-secret"), std::string::npos);
  // The healthy receivers got it.
  EXPECT_EQ(r.slack.accepted().count("doomed:firing"), 1u);
}

TEST_F(AlertDeliveryIntegration, RedisRestartIsAnErrorToTheProducerThenDeliveryResumes) {
  Receivers r;
  const AlertingConfig config = FourReceivers(r);
  redis_.redis.timeout_ms = 500;
  auto service = NewService(config, nullptr);
  ASSERT_TRUE(service);
  service->Start();
  ASSERT_TRUE(service->Enqueue(MakeTestAlert("before")).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return r.webhook.accepted().count("before:firing") == 1; },
                               20s, "before"));

  testing::StopService("redis", /*kill9=*/false);
  const Alert during = MakeTestAlert("during");
  const absl::Status refused = service->Enqueue(during);
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;  // the producer keeps it and tries again
  testing::StartService("redis");

  // The producer's retry; the outbox reconnects by itself.
  ASSERT_TRUE(testing::WaitFor([&] { return service->Enqueue(during).ok(); }, 20s,
                               "enqueue after restart"));
  ASSERT_TRUE(service->Enqueue(MakeTestAlert("after")).ok());
  const std::map<std::string, int> want = {
      {"before:firing", 1}, {"during:firing", 1}, {"after:firing", 1}};
  for (TestReceiver* receiver : r.all()) {
    ASSERT_TRUE(
        testing::WaitFor([&] { return receiver->accepted() == want; }, 30s, receiver->url()))
        << receiver->accepted().size() << " transitions accepted";
  }
  EXPECT_GT(service->Stats().outbox_errors + service->Stats().enqueue_errors, 0u);
}

TEST_F(AlertDeliveryIntegration, KafkaReceiverWritesTheAlertJson) {
  const auto& stack = testing::Stack();
  const std::string topic = testing::CreateTopic(1, "alerts");
  KafkaConfig kafka;
  kafka.brokers = stack.kafka_brokers;
  auto producer = KafkaProducer::Create(kafka);
  ASSERT_TRUE(producer.ok()) << producer.status();
  AlertingConfig config;
  ReceiverConfig stream;
  stream.name = "stream";
  stream.type = "kafka";
  stream.kafka.topic = topic;
  config.receivers.push_back(stream);
  config.route.receiver = "stream";
  auto service = NewService(config, nullptr, producer->get());
  ASSERT_TRUE(service);
  service->Start();
  ASSERT_TRUE(service->Enqueue(MakeTestAlert("k1")).ok());
  ASSERT_TRUE(service->Enqueue(MakeTestAlert("k1", AlertStatus::kResolved)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return service->Stats().receivers[0].ok == 2; }, 30s,
                               "kafka deliveries"));
  service->Stop();
  const auto messages = testing::ReadAll(topic, 30s);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].first, "k1");
  EXPECT_EQ(nlohmann::json::parse(messages[0].second)["status"], "firing");
  EXPECT_EQ(nlohmann::json::parse(messages[1].second)["status"], "resolved");
}

}  // namespace
}  // namespace burnrate
