// Issue 5, end to end: how far past a hard budget can a tenant spend while
// enforcement lags by a window? Two `burnrate run` replicas (one consumer
// group, a 4-partition topic, the real Kafka and Redis), and the test as the
// gateway: before each call it asks the decision endpoint (alternating
// replicas, each answer cached kGatewayCache), and when allowed it produces
// the call's cost event with event time = now, at a steady kCallsPerSecond.
// Background traffic of another tenant on every partition keeps the
// watermarks moving. The spend admitted past the budget must stay within the
// bound docs/budgets.md documents, computed from the config the replicas run:
// in steady state, and when the replica closing windows is killed.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/time_format.h"
#include "tests/integration/run_harness.h"
#include "tests/support/stack.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::HttpGet;
using testing::ScratchDir;
using testing::WaitFor;

constexpr char kBurnrate[] = BURNRATE_BIN;

constexpr char kCappedTenant[] = "capped";      // the tenant with the hard budget
constexpr char kBackgroundTenant[] = "steady";  // keeps every partition's watermark moving
constexpr char kBudgetName[] = "capped-monthly";
constexpr int64_t kBudgetNanos = 10'000'000'000;  // $10
// Every call costs the same and calls never come faster than kCallsPerSecond,
// so the peak spend rate is known: $0.60/s. The budget runs out at call 167.
constexpr int64_t kCallNanos = 60'000'000;  // $0.06
constexpr int kCallsPerSecond = 10;
constexpr auto kGatewayCache = 1000ms;
constexpr auto kBackgroundInterval = 100ms;  // one event per partition this often
constexpr int kPartitions = 4;
// The stack's own latency in the bound: Kafka delivery and the Redis calls of
// checkpointing, closing and judging a window. Tens of milliseconds on an idle
// machine; a loaded 2-core test machine is allowed this much.
constexpr std::chrono::milliseconds kStackLatencyAllowance = 1000ms;

double Dollars(int64_t nanos) { return static_cast<double>(nanos) / 1e9; }
double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// A producer kept open for the whole test (tests/support's Produce opens one
// per call, far too slow for steady traffic). Thread-safe, as librdkafka is;
// delivery failures are counted, and Flush() reports them.
class EventProducer {
 public:
  EventProducer() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{
             {"bootstrap.servers", testing::Stack().kafka_brokers},
             {"enable.idempotence", "true"},
             {"linger.ms", "5"}}) {
      if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(err);
      }
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++static_cast<EventProducer*>(self)->failed_;
    });
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (producer_ == nullptr) throw std::runtime_error(err);
  }
  ~EventProducer() {
    rd_kafka_flush(producer_, 10'000);
    rd_kafka_destroy(producer_);
  }
  EventProducer(const EventProducer&) = delete;
  EventProducer& operator=(const EventProducer&) = delete;

  // partition: a partition number, or RD_KAFKA_PARTITION_UA to partition by key.
  void Send(const std::string& topic, int32_t partition, const std::string& key,
            const std::string& value) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) ++failed_;
    rd_kafka_poll(producer_, 0);  // serve delivery reports
  }
  // Everything sent so far delivered; false if anything failed.
  bool Flush() { return rd_kafka_flush(producer_, 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR && failed_ == 0; }
  int failed() const { return failed_; }

 private:
  rd_kafka_t* producer_ = nullptr;
  std::atomic<int> failed_{0};
};

std::string CostEvent(const std::string& id, int64_t ts_ms, const std::string& tenant,
                      int64_t cost_nanos) {
  return json{{"event_id", id},
              {"ts", ts_ms},
              {"tenant", tenant},
              {"feature", "chat"},
              {"environment", "prod"},
              {"provider", "openai"},
              {"model", "gpt-4o"},
              {"input_tokens", 1000},
              {"output_tokens", 200},
              {"cost_usd", Dollars(cost_nanos)}}
      .dump();
}

// The gateway's view of the decision endpoints: asks the replicas in turn,
// keeps each answer kGatewayCache. Not thread-safe.
class Gateway {
 public:
  explicit Gateway(std::vector<int> ports) : unanswered_(ports.size(), 0) {
    for (int port : ports) {
      clients_.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
      clients_.back()->set_connection_timeout(2, 0);
      clients_.back()->set_read_timeout(5, 0);
    }
  }
  // True when the tenant is blocked, as of an answer at most kGatewayCache
  // old. A replica that does not answer is skipped for the next one, as a
  // load balancer would; with none answering the last decision stands.
  bool Blocked() {
    const auto now = std::chrono::steady_clock::now();
    if (asked_ && now - answered_at_ < kGatewayCache) return blocked_;
    for (size_t tries = 0; tries < clients_.size(); ++tries) {
      const size_t replica = next_++ % clients_.size();
      auto answer =
          clients_[replica]->Get("/v1/decision/v1/chat/completions", {{"x-tenant-id", kCappedTenant}});
      if (!answer) {
        ++unanswered_[replica];
        continue;
      }
      asked_ = true;
      answered_at_ = std::chrono::steady_clock::now();
      blocked_ = answer->status == 429 && answer->get_header_value("x-burnrate-state") == "block";
      if (!blocked_ && answer->status != 200) ++unexpected_;
      break;
    }
    return blocked_;
  }
  // Requests each replica left without an answer.
  const std::vector<int>& unanswered() const { return unanswered_; }
  int unexpected() const { return unexpected_; }

 private:
  std::vector<std::unique_ptr<httplib::Client>> clients_;
  size_t next_ = 0;
  bool asked_ = false;
  bool blocked_ = false;
  std::chrono::steady_clock::time_point answered_at_;
  std::vector<int> unanswered_;
  int unexpected_ = 0;
};

// Monthly periods start at local midnight: pick a zone whose midnight is hours
// away, so the period never rolls over (and resets the spend) mid-test.
std::string ZoneFarFromMidnight() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  return utc.tm_hour >= 6 && utc.tm_hour < 18 ? "UTC" : "Etc/GMT-12";  // UTC+12
}

struct Replica {
  int port = 0;
  std::unique_ptr<ChildProcess> process;
};

// What the gateway loop saw.
struct GatewayRun {
  int64_t admitted_nanos = 0;
  int64_t crossed_at_ms = -1;  // event time of the call that reached the budget
  int64_t blocked_at_ms = -1;  // when the gateway first saw "block"
};

// Two replicas of one group on a fresh topic, a producer, and background
// traffic on every partition from SetUp to TearDown.
class RunBudgetOvershootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = testing::CreateTopic(kPartitions, "overshoot");
    quota_topic_ = topic_ + "-quota";  // the engine creates it, compacted
    prefix_ = testing::UniqueRedisPrefix();
    const std::string extra_yaml =
        "windows: {size: 10s, allowed_lateness: 2s}\n"
        "pricing: {trust_reported_cost: true}\n"
        "detectors: {enabled: []}\n"  // no detector throttles mixed into the decision
        "quota:\n"
        "  kafka_topic: \"" + quota_topic_ + "\"\n"
        "  refresh_interval: 1s\n"
        "  tiers:\n"
        "    default: {warn_at: 0.8, block_at: 1.0}\n"
        "budgets:\n"
        "  time_zone: " + ZoneFarFromMidnight() + "\n"
        "  list:\n"
        "    - {name: " + kBudgetName + ", tenant: " + kCappedTenant +
        ", period: month, amount_usd: " + std::to_string(Dollars(kBudgetNanos)) +
        ", hard: true}\n";
    std::string config_path;
    for (size_t i = 0; i < replicas_.size(); ++i) {
      Replica& r = replicas_[i];
      r.port = testing::FreeLoopbackPort();
      config_path = dir_.File("replica" + std::to_string(i) + ".yaml");
      testing::WriteReplicaConfig(config_path,
                                  {topic_, topic_ + "-group", prefix_, r.port, extra_yaml});
      ChildProcessOptions options;
      options.argv = {kBurnrate, "run", "--config", config_path};
      options.stderr_path = dir_.File("replica" + std::to_string(i) + ".log");
      options.stdout_path = dir_.File("replica" + std::to_string(i) + ".stdout");
      r.process = std::make_unique<ChildProcess>(std::move(options));
    }
    // The bound's terms come from the config exactly as the replicas parse it.
    auto config = LoadConfig(config_path);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *std::move(config);
    ASSERT_EQ(config_.budgets.list.size(), 1u);
    ASSERT_EQ(std::llround(config_.budgets.list[0].amount_usd * 1e9), kBudgetNanos);

    ASSERT_TRUE(WaitFor(
        [&] {
          for (Replica& r : replicas_) {
            if (HttpGet(r.port, "/readyz").status != 200) return false;
          }
          return true;
        },
        90s, "both replicas ready (each owns partitions)"));

    producer_ = std::make_unique<EventProducer>();
    background_ = std::thread([this] {
      int64_t n = 0;
      auto next = std::chrono::steady_clock::now();
      while (!stop_background_.load()) {
        for (int32_t p = 0; p < kPartitions; ++p) {
          producer_->Send(topic_, p, kBackgroundTenant,
                          CostEvent(topic_ + "-bg-" + std::to_string(n++), WallClockMs(),
                                    kBackgroundTenant, 1'000'000));
        }
        next += kBackgroundInterval;
        std::this_thread::sleep_until(next);
      }
    });
  }

  void TearDown() override {
    stop_background_.store(true);
    if (background_.joinable()) background_.join();
    producer_.reset();
    for (Replica& r : replicas_) {
      if (r.process && r.process->Running()) r.process->Kill(SIGTERM);
    }
    for (Replica& r : replicas_) {
      if (!r.process || stopped_on_purpose_ == r.process.get()) continue;
      const auto status = r.process->Wait(60s);
      EXPECT_TRUE(status.has_value()) << "a replica did not stop on SIGTERM";
      if (status) {
        EXPECT_TRUE(status->ok()) << status->ToString();
      }
    }
    testing::RedisClient().DeleteKeysWithPrefix(prefix_);
  }

  int64_t window_ms() const { return config_.pipeline.windows.size_ms; }
  int64_t lateness_ms() const { return config_.pipeline.windows.allowed_lateness_ms; }

  // The steady-state lag (docs/budgets.md): window + lateness + 2 checkpoint
  // intervals + refresh + gateway cache + longest event gap on a partition +
  // the stack's own latency.
  int64_t SteadyLagMs() const {
    return window_ms() + lateness_ms() + 2 * config_.checkpoint_interval_ms +
           config_.quota.refresh_interval_ms +
           std::chrono::milliseconds(kGatewayCache).count() +
           std::chrono::milliseconds(kBackgroundInterval).count() +
           kStackLatencyAllowance.count();
  }

  // The gateway: asks before each call, makes the call (produces its event,
  // event time now) when allowed, at most kCallsPerSecond, until blocked.
  // The call that uses up the budget is timed to land just after a window
  // starts, so the window term of the bound is (almost) all used: the hardest
  // case. Calls can only come later than planned, never earlier.
  // `during(now_ms, planned_crossing_ms)` runs before each call.
  GatewayRun AdmitUntilBlocked(const std::function<void(int64_t, int64_t)>& during = {}) {
    const int64_t calls_to_budget = (kBudgetNanos + kCallNanos - 1) / kCallNanos;
    const int64_t ms_to_budget = (calls_to_budget - 1) * 1000 / kCallsPerSecond;
    const int64_t crossing_plan =
        (WallClockMs() + 2000 + ms_to_budget + window_ms() - 1) / window_ms() * window_ms() + 200;
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(
        std::chrono::milliseconds(crossing_plan - ms_to_budget)));

    Gateway gateway({replicas_[0].port, replicas_[1].port});
    GatewayRun run;
    const int64_t give_up_ms = WallClockMs() + ms_to_budget + 120'000;
    auto next_call = std::chrono::steady_clock::now();
    for (int64_t call = 0; WallClockMs() < give_up_ms; ++call) {
      std::this_thread::sleep_until(next_call);  // never faster than kCallsPerSecond
      if (during) during(WallClockMs(), crossing_plan);
      if (gateway.Blocked()) {
        run.blocked_at_ms = WallClockMs();
        break;
      }
      const int64_t ts = WallClockMs();
      producer_->Send(topic_, RD_KAFKA_PARTITION_UA, kCappedTenant,
                      CostEvent(topic_ + "-call-" + std::to_string(call), ts, kCappedTenant,
                                kCallNanos));
      run.admitted_nanos += kCallNanos;
      if (run.crossed_at_ms < 0 && run.admitted_nanos >= kBudgetNanos) run.crossed_at_ms = ts;
      next_call = std::max(next_call + std::chrono::milliseconds(1000 / kCallsPerSecond),
                           std::chrono::steady_clock::now());
    }
    unanswered_ = gateway.unanswered();
    EXPECT_EQ(gateway.unexpected(), 0) << "decisions other than 200 or a 429 block";
    return run;
  }

  // Prints the figures, checks the overshoot against `lag_ms` at peak rate,
  // then checks the other places a gateway reads the decision and that the
  // engine counted every admitted call.
  void CheckOvershoot(const GatewayRun& run, int64_t lag_ms) {
    ASSERT_GE(run.crossed_at_ms, 0) << "the gateway was blocked before the budget ran out";
    ASSERT_GE(run.blocked_at_ms, 0) << "no block within 120 s of the budget running out";
    const double peak_usd_per_s = Dollars(kCallNanos) * kCallsPerSecond;
    // Discrete calls add at most one call to what the rate alone admits.
    const double bound = peak_usd_per_s * Seconds(lag_ms) + Dollars(kCallNanos);
    const double overshoot = Dollars(run.admitted_nanos - kBudgetNanos);
    const int64_t crossing_window_end = (run.crossed_at_ms / window_ms() + 1) * window_ms();
    std::printf(
        "overshoot: $%.2f admitted past the $%.2f budget; bound $%.2f (%.2f s at peak); "
        "ratio %.2f\n"
        "  peak $%.2f/s; budget reached %.2f s into its window; block seen %.2f s later "
        "(%.2f s after the window's end)\n",
        overshoot, Dollars(kBudgetNanos), bound, Seconds(lag_ms), overshoot / bound,
        peak_usd_per_s, Seconds(run.crossed_at_ms % window_ms()),
        Seconds(run.blocked_at_ms - run.crossed_at_ms),
        Seconds(run.blocked_at_ms - crossing_window_end));
    EXPECT_GT(overshoot, 0.0);
    EXPECT_LE(overshoot, bound);

    // Where else gateways read the decision: the Redis key and the compacted topic.
    testing::RedisClient redis;
    const std::string decision_key = prefix_ + config_.quota.redis_key_prefix + kCappedTenant;
    std::string redis_state;
    int64_t decided_at_ms = -1;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto reply = redis.Command("GET %s", decision_key.c_str());
          if (reply->type != REDIS_REPLY_STRING) return false;
          const json decision = json::parse(std::string(reply->str, reply->len));
          redis_state = decision.value("state", "");
          decided_at_ms = decision.value("updated_at_ms", int64_t{-1});
          return redis_state == "block";
        },
        30s, "the Redis decision key says block"))
        << decision_key << " = " << redis_state;
    // Where the lag after the window went: closing and judging, then serving.
    std::printf("  decided %.2f s after the window's end; gateway saw it %.2f s after that\n",
                Seconds(decided_at_ms - crossing_window_end),
                Seconds(run.blocked_at_ms - decided_at_ms));
    std::string topic_state;
    EXPECT_TRUE(WaitFor(
        [&] {
          for (const auto& [key, value] : testing::ReadAll(quota_topic_, 10s)) {
            if (key == kCappedTenant) topic_state = json::parse(value).value("state", "");
          }
          return topic_state == "block";
        },
        30s, "the compacted quota topic's latest record for the tenant says block"))
        << topic_state;

    // The engine counted exactly what the gateway admitted: the overshoot is
    // the engine's own spend, not just the gateway's tally.
    ASSERT_TRUE(producer_->Flush()) << producer_->failed() << " events not delivered";
    const std::string budget_key = prefix_ + "budget:{" + kBudgetName + "}:state";
    int64_t counted_nanos = -1;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto reply = redis.Command("HGET %s spend_nanos", budget_key.c_str());
          if (reply->type == REDIS_REPLY_STRING) counted_nanos = std::stoll(reply->str);
          return counted_nanos == run.admitted_nanos;
        },
        90s, "every admitted call counted in the budget"))
        << "budget counted $" << Dollars(counted_nanos) << ", gateway admitted $"
        << Dollars(run.admitted_nanos);
  }

  ScratchDir dir_;
  std::string topic_, quota_topic_, prefix_;
  Config config_;
  std::vector<Replica> replicas_{2};
  std::unique_ptr<EventProducer> producer_;
  std::atomic<bool> stop_background_{false};
  std::thread background_;
  std::vector<int> unanswered_;                  // per replica, from the last gateway run
  const ChildProcess* stopped_on_purpose_ = nullptr;  // a replica the test killed
};

TEST_F(RunBudgetOvershootTest, SpendPastAHardBudgetStaysWithinTheDocumentedBound) {
  const GatewayRun run = AdmitUntilBlocked();
  EXPECT_EQ(unanswered_, std::vector<int>(replicas_.size(), 0)) << "decision requests unanswered";
  CheckOvershoot(run, SteadyLagMs());
}

// The replica closing windows dies (SIGKILL) just as the window in which the
// budget ran out becomes closable. The other replica takes its partitions
// (after the consumer-group session timeout) and the closer lease (once it
// expires), then closes the window: the bound grows by the longer of the two.
TEST_F(RunBudgetOvershootTest, ClosingReplicaKilledAtTheCrossingWindowStaysWithinTheBound) {
  // Which replica holds the closer lease: its value starts "<host>:<pid>:".
  const std::string lease_key = prefix_ + "closer:" + topic_;
  size_t closer = replicas_.size();
  testing::RedisClient redis;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto reply = redis.Command("GET %s", lease_key.c_str());
        if (reply->type != REDIS_REPLY_STRING) return false;
        const std::string holder(reply->str, reply->len);
        for (size_t i = 0; i < replicas_.size(); ++i) {
          const std::string pid = ":" + std::to_string(replicas_[i].process->pid()) + ":";
          if (holder.find(pid) != std::string::npos) closer = i;
        }
        return closer < replicas_.size();
      },
      30s, "a replica holds the closer lease"));

  bool killed = false;
  const GatewayRun run = AdmitUntilBlocked([&](int64_t now_ms, int64_t crossing_plan) {
    const int64_t closable_at =
        (crossing_plan / window_ms() + 1) * window_ms() + lateness_ms() - 100;
    if (!killed && now_ms >= closable_at) {
      replicas_[closer].process->Kill(SIGKILL);
      killed = true;
    }
  });
  ASSERT_TRUE(killed);
  ASSERT_TRUE(replicas_[closer].process->Wait(30s).has_value());
  stopped_on_purpose_ = replicas_[closer].process.get();
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (i != closer) {
      EXPECT_EQ(unanswered_[i], 0) << "the surviving replica left requests unanswered";
    }
  }

  // The lease lasts max(15 s, 10 checkpoint intervals) after its last
  // extension (app/run_command.cc); the dead replica's partitions move after
  // the group's session timeout.
  const int64_t lease_ttl_ms = std::max<int64_t>(15'000, 10 * config_.checkpoint_interval_ms);
  const int64_t session_timeout_ms = std::stoll(config_.kafka.properties.at("session.timeout.ms"));
  CheckOvershoot(run, SteadyLagMs() + std::max(lease_ttl_ms, session_timeout_ms));
}

}  // namespace
}  // namespace burnrate
