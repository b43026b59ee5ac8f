// The delivery service over the in-memory outbox with mock sinks and a
// manual clock: ordering, retries and backoff, Retry-After, give-up, fatal
// answers, reminders, routing, silences and rate limits, each in simulated
// time.
#include "alerting/delivery_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerting/memory_outbox.h"
#include "alerting/mock/mock_sink.h"
#include "tests/alerting/test_alerts.h"

namespace burnrate {
namespace {

using testing::MakeTestAlert;
using namespace std::chrono_literals;

constexpr int64_t kStart = 1'795'000'000'000;

// Polls `pred` until true or `deadline` of real time passes.
bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 5s) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

ReceiverConfig Receiver(std::string name, double rate = 0) {
  ReceiverConfig r;
  r.name = std::move(name);
  r.type = "log";
  r.rate_limit_per_second = rate;
  return r;
}

struct Harness {
  ManualAlertClock clock{kStart};
  std::shared_ptr<MemoryAlertOutbox> outbox = std::make_shared<MemoryAlertOutbox>(&clock);
  std::map<std::string, std::shared_ptr<MockAlertSink>> mocks;
  std::unique_ptr<AlertDeliveryService> service;

  explicit Harness(AlertingConfig config) {
    AlertingServiceOptions options;
    options.clock = &clock;
    options.poll_interval_ms = 2;
    for (const auto& r : config.receivers) {
      mocks[r.name] = std::make_shared<MockAlertSink>();
      options.sink_overrides[r.name] = MockAlertSink::Handle(mocks[r.name]);
    }
    auto s = AlertDeliveryService::Create(config, outbox, std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    service = std::move(*s);
  }
  // Advances simulated time in steps until pred holds.
  bool AdvanceUntil(const std::function<bool()>& pred, int64_t step_ms, int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
      if (Eventually(pred, 20ms)) return true;
      clock.Advance(step_ms);
      service->Wake();
    }
    return Eventually(pred, 1s);
  }
};

AlertingConfig OneReceiver(double rate = 0) {
  AlertingConfig c;
  c.receivers.push_back(Receiver("r", rate));
  c.route.receiver = "r";
  c.outbox.give_up_after_ms = 10 * 60'000;
  c.outbox.initial_backoff_ms = 1000;
  c.outbox.max_backoff_ms = 60'000;
  return c;
}

TEST(DeliveryService, DeliversFiringThenResolvedOnceEach) {
  Harness h(OneReceiver());
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());  // a replayed duplicate
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1", AlertStatus::kResolved)).ok());
  auto& mock = *h.mocks["r"];
  ASSERT_TRUE(Eventually([&] { return mock.ok_count() == 2; }));
  const auto calls = mock.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].context.idempotency_key, "a1:firing");
  EXPECT_EQ(calls[1].context.idempotency_key, "a1:resolved");
  ASSERT_TRUE(Eventually([&] { return h.service->Stats().pending == 0; }));
  const auto stats = h.service->Stats();
  EXPECT_EQ(stats.receivers[0].ok, 2u);
  EXPECT_EQ(stats.enqueued, 3u);
  EXPECT_EQ(stats.firing, 0);
}

TEST(DeliveryService, RetriesWithGrowingBackoffUntilTheReceiverRecovers) {
  Harness h(OneReceiver());
  auto& mock = *h.mocks["r"];
  mock.Script({SinkResult::Retry("HTTP 500"), SinkResult::Retry("HTTP 500"),
               SinkResult::Retry("HTTP 500")});
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.ok_count() == 1; }, 250, 400));
  const auto calls = mock.calls();
  ASSERT_EQ(calls.size(), 4u);
  // Backoff 1s, 2s, 4s, each with jitter in [half, full].
  for (int i = 1; i < 4; ++i) {
    const int64_t gap = calls[i].context.now_ms - calls[i - 1].context.now_ms;
    EXPECT_GE(gap, (1000 << (i - 1)) / 2) << i;
    EXPECT_LE(gap, (1000 << (i - 1)) + 500) << i;
  }
}

TEST(DeliveryService, HonoursRetryAfterForTheWholeReceiver) {
  Harness h(OneReceiver());
  auto& mock = *h.mocks["r"];
  mock.Script({SinkResult::Retry("HTTP 429", 120'000)});
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(Eventually([&] { return mock.calls().size() == 1; }));
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a2")).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.ok_count() == 2; }, 5000, 100));
  const auto calls = mock.calls();
  ASSERT_EQ(calls.size(), 3u);
  // Neither a1 nor the new a2 went out before Retry-After had passed.
  EXPECT_GE(calls[1].context.now_ms - calls[0].context.now_ms, 120'000);
  EXPECT_GE(calls[2].context.now_ms - calls[0].context.now_ms, 120'000);
}

TEST(DeliveryService, DeadLettersAfterGiveUpTime) {
  Harness h(OneReceiver());
  auto& mock = *h.mocks["r"];
  mock.SetDefault(SinkResult::Retry("connection refused"));
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return h.service->Stats().receivers[0].dead_lettered == 1; },
                             10'000, 200));
  const auto dead = h.outbox->DeadLetters(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  const auto j = nlohmann::json::parse(dead->front());
  EXPECT_EQ(j["idempotency_key"], "a1:firing");
  EXPECT_EQ(j["receiver"], "r");
  EXPECT_NE(j["reason"].get<std::string>().find("connection refused"), std::string::npos);
  EXPECT_GE(mock.calls().back().context.now_ms - kStart, 10 * 60'000);
  ASSERT_TRUE(Eventually(
      [&] { return h.service->Stats().dead_letters == 1 && h.service->Stats().pending == 0; }));
}

TEST(DeliveryService, FatalAnswerIsDeadLetteredAtOnce) {
  Harness h(OneReceiver());
  h.mocks["r"]->Script({SinkResult::Fatal("HTTP 400")});
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(Eventually([&] { return h.service->Stats().receivers[0].dead_lettered == 1; }));
  EXPECT_EQ(h.mocks["r"]->calls().size(), 1u);
}

TEST(DeliveryService, ResolveWaitsForItsFiringToBeDelivered) {
  Harness h(OneReceiver());
  auto& mock = *h.mocks["r"];
  mock.Script({SinkResult::Retry("HTTP 503"), SinkResult::Retry("HTTP 503")});
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(Eventually([&] { return mock.calls().size() == 1; }));
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1", AlertStatus::kResolved)).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.ok_count() == 2; }, 250, 400));
  std::vector<std::string> ok_keys;
  for (const auto& c : mock.calls()) {
    if (c.result.ok()) ok_keys.push_back(c.context.idempotency_key);
  }
  EXPECT_EQ(ok_keys, (std::vector<std::string>{"a1:firing", "a1:resolved"}));
}

TEST(DeliveryService, RemindsWhileFiringAndStopsOnResolve) {
  AlertingConfig c = OneReceiver();
  c.route.repeat_interval_ms = 3'600'000;
  Harness h(c);
  auto& mock = *h.mocks["r"];
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(Eventually([&] { return mock.calls().size() == 1; }));
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.calls().size() == 2; }, 60'000, 120));
  EXPECT_EQ(mock.calls()[1].context.repeat, 1);
  EXPECT_EQ(mock.calls()[1].context.idempotency_key, "a1:firing:repeat:1");
  EXPECT_GE(mock.calls()[1].context.now_ms - mock.calls()[0].context.now_ms, 3'600'000);
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1", AlertStatus::kResolved)).ok());
  ASSERT_TRUE(Eventually([&] { return mock.calls().size() == 3; }));
  EXPECT_EQ(mock.calls()[2].context.idempotency_key, "a1:resolved");
  h.clock.Advance(5 * 3'600'000);
  h.service->Wake();
  ASSERT_TRUE(Eventually([&] { return h.service->Stats().pending == 0; }));
  EXPECT_EQ(mock.calls().size(), 3u);
}

TEST(DeliveryService, AlertmanagerIsResentEveryResendIntervalWhileFiring) {
  AlertingConfig c = OneReceiver();
  c.receivers[0].type = "alertmanager";
  c.receivers[0].alertmanager.url = "http://unused.invalid";
  c.receivers[0].alertmanager.resend_interval_ms = 60'000;
  Harness h(c);
  auto& mock = *h.mocks["r"];
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.calls().size() == 4; }, 10'000, 100));
  const auto calls = mock.calls();
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(calls[i].context.repeat, i);
    EXPECT_GE(calls[i].context.now_ms - calls[i - 1].context.now_ms, 60'000);
    EXPECT_LE(calls[i].context.now_ms - calls[i - 1].context.now_ms, 70'000);
  }
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1", AlertStatus::kResolved)).ok());
  ASSERT_TRUE(
      Eventually([&] { return mock.calls().back().alert.status == AlertStatus::kResolved; }));
  const size_t after_resolve = mock.calls().size();
  h.clock.Advance(10 * 60'000);
  h.service->Wake();
  ASSERT_TRUE(Eventually(
      [&] { return h.service->Stats().pending == 0 && h.service->Stats().reminders == 0; }));
  EXPECT_EQ(mock.calls().size(), after_resolve);
}

TEST(DeliveryService, GroupWaitHoldsBackNewAlerts) {
  AlertingConfig c = OneReceiver();
  c.route.group_wait_ms = 30'000;
  Harness h(c);
  h.service->Start();
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("a1")).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return h.mocks["r"]->calls().size() == 1; }, 1000, 100));
  EXPECT_GE(h.mocks["r"]->calls()[0].context.now_ms - kStart, 30'000);
}

TEST(DeliveryService, RoutesBySeverityWithContinue) {
  AlertingConfig c;
  c.receivers = {Receiver("oncall"), Receiver("finops"), Receiver("acme-team")};
  c.route.receiver = "finops";
  RouteConfig critical;
  critical.match = {{"severity", "critical"}};
  critical.receiver = "oncall";
  critical.continue_matching = true;
  RouteConfig acme;
  acme.match = {{"tenant", "acme"}};
  acme.receiver = "acme-team";
  c.route.routes = {critical, acme};
  Harness h(c);
  h.service->Start();
  ASSERT_TRUE(
      h.service->Enqueue(MakeTestAlert("crit-acme", AlertStatus::kFiring, Severity::kCritical))
          .ok());
  ASSERT_TRUE(
      h.service
          ->Enqueue(MakeTestAlert("warn-other", AlertStatus::kFiring, Severity::kWarning, "other"))
          .ok());
  ASSERT_TRUE(Eventually([&] {
    return h.mocks["oncall"]->calls().size() == 1 && h.mocks["acme-team"]->calls().size() == 1 &&
           h.mocks["finops"]->calls().size() == 1;
  }));
  EXPECT_EQ(h.mocks["oncall"]->calls()[0].alert.alert_id, "crit-acme");
  EXPECT_EQ(h.mocks["acme-team"]->calls()[0].alert.alert_id, "crit-acme");
  EXPECT_EQ(h.mocks["finops"]->calls()[0].alert.alert_id, "warn-other");
}

TEST(DeliveryService, RateLimitSpacesMessages) {
  Harness h(OneReceiver(/*rate=*/1));
  auto& mock = *h.mocks["r"];
  h.service->Start();
  for (const char* id : {"a1", "a2", "a3"}) ASSERT_TRUE(h.service->Enqueue(MakeTestAlert(id)).ok());
  ASSERT_TRUE(h.AdvanceUntil([&] { return mock.calls().size() == 3; }, 100, 200));
  const auto calls = mock.calls();
  EXPECT_GE(calls[1].context.now_ms - calls[0].context.now_ms, 1000);
  EXPECT_GE(calls[2].context.now_ms - calls[1].context.now_ms, 1000);
}

TEST(DeliveryService, ConfigSilenceDropsMatchingTransitions) {
  AlertingConfig c = OneReceiver();
  c.silences.push_back({{{"tenant", "loadtest"}}, kStart + 3'600'000, "planned load test"});
  Harness h(c);
  h.service->Start();
  ASSERT_TRUE(
      h.service
          ->Enqueue(MakeTestAlert("quiet", AlertStatus::kFiring, Severity::kWarning, "loadtest"))
          .ok());
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("loud")).ok());
  ASSERT_TRUE(Eventually(
      [&] { return h.mocks["r"]->calls().size() == 1 && h.service->Stats().silenced == 1; }));
  EXPECT_EQ(h.mocks["r"]->calls()[0].alert.alert_id, "loud");
  // After the silence has expired, a new incident of the tenant goes out.
  h.clock.Advance(3'600'001);
  ASSERT_TRUE(
      h.service
          ->Enqueue(MakeTestAlert("later", AlertStatus::kFiring, Severity::kWarning, "loadtest"))
          .ok());
  ASSERT_TRUE(Eventually([&] { return h.mocks["r"]->calls().size() == 2; }));
}

HttpRequest Request(std::string method, std::string path, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

TEST(SilencesHandler, CreatesListsAndDeletesSilences) {
  Harness h(OneReceiver());
  h.service->Start();
  HttpHandler handler = h.service->SilencesHandler();
  auto created = handler(Request(
      "POST", "/v1/silences",
      R"({"match":{"tenant":"acme","severity":"warning"},"duration":"2h","reason":"deploy"})"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = nlohmann::json::parse(created.body)["id"];
  auto listed = handler(Request("GET", "/v1/silences"));
  ASSERT_EQ(listed.status, 200);
  const auto list = nlohmann::json::parse(listed.body)["silences"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["reason"], "deploy");
  EXPECT_EQ(list[0]["match"]["tenant"], "acme");

  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("muted")).ok());
  ASSERT_TRUE(Eventually([&] { return h.service->Stats().silenced == 1; }));
  EXPECT_TRUE(h.mocks["r"]->calls().empty());

  EXPECT_EQ(handler(Request("DELETE", "/v1/silences/" + id)).status, 200);
  EXPECT_EQ(handler(Request("DELETE", "/v1/silences/" + id)).status, 404);
  ASSERT_TRUE(h.service->Enqueue(MakeTestAlert("heard")).ok());
  ASSERT_TRUE(Eventually([&] { return h.mocks["r"]->calls().size() == 1; }));
}

TEST(SilencesHandler, RejectsBadRequests) {
  AlertingConfig c = OneReceiver();
  c.silences.push_back({{{"tenant", "loadtest"}}, kStart + 3'600'000, "from config"});
  Harness h(c);
  HttpHandler handler = h.service->SilencesHandler();
  EXPECT_EQ(handler(Request("POST", "/v1/silences", "not json")).status, 400);
  EXPECT_EQ(handler(Request("POST", "/v1/silences", R"({"match":{}, "duration":"1h"})")).status,
            400);
  EXPECT_EQ(
      handler(Request("POST", "/v1/silences", R"({"match":{"colour":"red"}, "duration":"1h"})"))
          .status,
      400);
  EXPECT_EQ(handler(Request("POST", "/v1/silences", R"({"match":{"tenant":"a"}})")).status, 400);
  EXPECT_EQ(handler(Request("POST", "/v1/silences",
                            R"({"match":{"tenant":"a"},"until":"2000-01-01T00:00:00Z"})"))
                .status,
            400);
  EXPECT_EQ(handler(Request("POST", "/v1/silences", std::string(70'000, ' '))).status, 413);
  EXPECT_EQ(handler(Request("PUT", "/v1/silences")).status, 405);
  EXPECT_EQ(handler(Request("DELETE", "/v1/silences/config-1")).status, 409);
}

TEST(DeliveryService, UnknownRouteReceiverIsAnError) {
  AlertingConfig c = OneReceiver();
  c.route.receiver = "nobody";
  auto s = AlertDeliveryService::Create(c, std::make_shared<MemoryAlertOutbox>());
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace burnrate
