// `burnrate run`: the service. Kafka in (a consumer-group member), Redis
// state, closed windows and dead letters out to Kafka.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "alerting/delivery_service.h"
#include "app/commands.h"
#include "app/startup.h"
#include "app/version.h"
#include "budgets/budgets_runtime.h"
#include "config/config.h"
#include "consumers/kafka_producer.h"
#include "consumers/kafka_source.h"
#include "core/alert.h"
#include "core/concat.h"
#include "core/json_output.h"
#include "core/thread_name.h"
#include "core/time_format.h"
#include "detectors/detector_engine.h"
#include "detectors/history_store.h"
#include "detectors/runaway/runaway_detector.h"
#include "engine/checkpoint_committer.h"
#include "engine/closer_lease.h"
#include "engine/run_engine.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "state/redis_client.h"
#include "state/redis_state_store.h"

namespace burnrate {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

// The engine reads the clock for every message (time bounds, idleness);
// the coarse clock is a few milliseconds behind, which neither cares about,
// and costs far less than the precise one on a VM (2-3% of a drain's CPU).
int64_t CoarseWallClockMs() {
  timespec ts;
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0) return WallClockMs();
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sleeps up to `ms` in short steps, so a stop is prompt.
void SleepUnlessStopped(int64_t ms) {
  for (int64_t slept = 0; slept < ms && !g_stop.load(); slept += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool Enabled(const DetectorsConfig& config, std::string_view name) {
  return std::find(config.enabled.begin(), config.enabled.end(), name) != config.enabled.end();
}

// Where every alert transition goes (detectors on the closing thread,
// runaway on the polling thread): one log line, the alert metrics, and the
// alerting outbox, from which the delivery service's own threads deliver.
// An outbox write that fails (Redis down) is kept and retried by Retry(),
// except the detectors', which go in at once or not at all (SubmitDurably);
// nothing here ever waits on a receiver. Thread-safe.
class AlertFanout {
 public:
  AlertFanout(AlertProbe& probe, AlertDeliveryService* service)
      : probe_(probe), service_(service) {}

  void Submit(const std::vector<Alert>& alerts) {
    if (alerts.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    Record(alerts, /*keep_unsent=*/true);
    EnqueueLocked();
  }

  // Enqueues every transition on the outbox now, or fails having recorded
  // nothing: the caller decides them again and offers them again (the
  // outbox takes each transition once). For the detectors, whose saved
  // histories must never get ahead of the outbox.
  absl::Status SubmitDurably(const std::vector<Alert>& alerts) {
    if (alerts.empty()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    if (service_ != nullptr) {
      for (const Alert& a : alerts) {
        if (absl::Status s = service_->Enqueue(a); !s.ok()) return s;
      }
    }
    Record(alerts, /*keep_unsent=*/false);
    return absl::OkStatus();
  }

  // Detector transitions not yet applied to quota (budgets' ApplyAlert runs
  // on the closing thread, which owns the tracker).
  void EnableQuotaFeed() { for_quota_enabled_ = true; }
  std::vector<Alert> TakeForQuota() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(for_quota_, {});
  }

  // Tries the transitions the outbox refused before again.
  void Retry() {
    std::lock_guard<std::mutex> lock(mu_);
    EnqueueLocked();
  }

  size_t unsent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return unsent_.size();
  }

 private:
  // Logs and counts the transitions; keeps them for the outbox when asked.
  void Record(const std::vector<Alert>& alerts, bool keep_unsent) {
    for (const Alert& a : alerts) {
      std::vector<std::string_view> parts;
      for (const std::string* part : {&a.tenant, &a.feature, &a.environment, &a.model}) {
        if (!part->empty()) parts.push_back(*part);
      }
      spdlog::info("alert {} {} key={}{}{} id={}: {}", AlertStatusName(a.status),
                   AlertKindName(a.kind), JoinStrings(parts, "/"),
                   a.subject.empty() ? "" : " subject=", a.subject, a.alert_id, a.summary);
      probe_.RecordTransition(a.kind, a.status);
      int64_t& firing = firing_[static_cast<size_t>(a.kind)];
      firing = a.status == AlertStatus::kFiring ? firing + 1 : std::max<int64_t>(0, firing - 1);
      probe_.SetFiring(a.kind, firing);
      if (service_ != nullptr && keep_unsent) unsent_.push_back(a);
      if (for_quota_enabled_ && a.kind != AlertKind::kBudgetThreshold &&
          a.kind != AlertKind::kBudgetBurnRate && a.kind != AlertKind::kBudgetForecast) {
        for_quota_.push_back(a);
      }
    }
  }

  void EnqueueLocked() {
    while (!unsent_.empty()) {
      if (absl::Status s = service_->Enqueue(unsent_.front()); !s.ok()) {
        if (WallClockMs() - last_warning_ > 10'000) {
          spdlog::warn("alert outbox: {} ({} transitions kept for retry)", std::string(s.message()),
                       unsent_.size());
          last_warning_ = WallClockMs();
        }
        return;
      }
      unsent_.pop_front();
    }
  }

  AlertProbe& probe_;
  AlertDeliveryService* service_;
  mutable std::mutex mu_;
  std::deque<Alert> unsent_;
  bool for_quota_enabled_ = false;
  std::vector<Alert> for_quota_;
  std::array<int64_t, static_cast<size_t>(AlertKind::kBudgetForecast) + 1> firing_{};
  int64_t last_warning_ = 0;
};

// The closing thread's sink: closed windows to the windows topic (one JSON
// row per message, keyed by window and key so a compacted topic keeps the
// latest of each), to the spend metrics, and through the key detectors.
class ClosedWindowSink final : public WindowRecordSink {
 public:
  ClosedWindowSink(KafkaProducer& producer, std::string topic, Metrics& metrics,
                   DetectorEngine* detectors, BudgetTracker* budgets, AlertFanout& alerts,
                   CloserLease& lease)
      : lease_(lease),
        producer_(producer),
        topic_(std::move(topic)),
        metrics_(metrics),
        baselines_op_(metrics.redis().Operation("baselines")),
        detectors_(detectors),
        budgets_(budgets),
        alerts_(alerts) {}

  void Publish(const WindowRecord& r) override {
    value_.clear();
    AppendWindowRecordJson(r, value_);
    key_ = Concat(r.start.value(), "/", WindowScopeName(r.scope), "/", r.tenant, "/", r.feature,
                  "/", r.environment, "/", r.model);
    producer_.Produce(topic_, key_, value_);
    metrics_.spend().Record(r);
    if (detectors_ != nullptr) detectors_->Observe(r);
    if (budgets_ != nullptr) budgets_->Observe(r);
  }

  void WindowDone(WindowStartMs start, int64_t size_ms) override {
    // A long catch-up closes many windows in one go: keep the lease meanwhile.
    (void)lease_.Hold();
    metrics_.engine().RecordWindowClosed(std::max<double>(
        0, static_cast<double>(WallClockMs() - (start.value() + size_ms)) / 1000.0));
    // The window is claimed: nobody else judges it, so its rows are kept
    // (inside the detector engine and the budget tracker) and judged again
    // until Redis answers. Only a stop gives up.
    if (detectors_ != nullptr) {
      Retry("detectors", start, [&]() -> absl::Status {
        // The outbox has the transitions before the histories are saved.
        return detectors_
            ->EndWindow(start, size_ms, [&](const std::vector<Alert>& a) { return alerts_.SubmitDurably(a); })
            .status();
      });
    }
    if (budgets_ != nullptr) {
      // Detector transitions drive quota (ApplyAlert: e.g. throttle a runaway).
      for (const Alert& a : alerts_.TakeForQuota()) {
        if (absl::Status s = budgets_->ApplyAlert(a); !s.ok()) {
          spdlog::warn("quota: alert {} not applied: {}", a.alert_id, std::string(s.message()));
        }
      }
      Retry("budgets", start, [&]() -> absl::Status {
        auto judged = budgets_->EndWindow(start, size_ms);
        if (judged.ok()) alerts_.Submit(*judged);
        return judged.status();
      });
    }
  }

  absl::Status Flush() override { return producer_.Flush(30'000); }

 private:
  template <typename Judge>
  void Retry(std::string_view what, WindowStartMs start, Judge judge) {
    int64_t delay_ms = 200;
    for (;;) {
      const auto t0 = std::chrono::steady_clock::now();
      const absl::Status s = judge();
      baselines_op_.Observe(SecondsSince(t0));
      if (s.ok()) return;
      baselines_op_.Error();
      if (g_stop.load()) {
        spdlog::warn("stopping before window {} was judged by the {}: {}", start.value(), what,
                     std::string(s.message()));
        return;
      }
      spdlog::warn("{}: {}; judging window {} again in {} ms", what, std::string(s.message()),
                   start.value(), delay_ms);
      SleepUnlessStopped(delay_ms);
      (void)lease_.Hold();
      delay_ms = std::min<int64_t>(delay_ms * 2, 5000);
    }
  }

  CloserLease& lease_;
  KafkaProducer& producer_;
  std::string topic_;
  Metrics& metrics_;
  RedisOperationMetrics baselines_op_;
  DetectorEngine* detectors_;
  BudgetTracker* budgets_;
  AlertFanout& alerts_;
  std::string key_, value_;
};

EngineProbe::CheckpointOutcome ProbeOutcome(RunEngine::CommitResult r) {
  switch (r) {
    case RunEngine::CommitResult::kApplied:
      return EngineProbe::CheckpointOutcome::kApplied;
    case RunEngine::CommitResult::kStalePosition:
      return EngineProbe::CheckpointOutcome::kStalePosition;
    case RunEngine::CommitResult::kDuplicateEvents:
      return EngineProbe::CheckpointOutcome::kDuplicateEvents;
    case RunEngine::CommitResult::kWindowClosed:
      return EngineProbe::CheckpointOutcome::kWindowClosed;
    case RunEngine::CommitResult::kError:
      break;
  }
  return EngineProbe::CheckpointOutcome::kError;
}

// Delivery counters from the delivery service's cumulative stats: each
// receiver's growth since the last call.
class DeliveryMetricsPublisher {
 public:
  explicit DeliveryMetricsPublisher(AlertProbe& probe) : probe_(probe) {}
  void Publish(const AlertingStatsSnapshot& stats) {
    for (const ReceiverStatsSnapshot& r : stats.receivers) {
      auto it = receivers_.find(r.name);
      if (it == receivers_.end()) {
        it = receivers_.emplace(r.name, Receiver{probe_.Delivery(r.name, r.type), {}}).first;
      }
      Receiver& seen = it->second;
      Add(seen, DeliveryOutcome::kOk, r.ok, seen.last.ok);
      Add(seen, DeliveryOutcome::kRetry, r.retry, seen.last.retry);
      Add(seen, DeliveryOutcome::kFatal, r.fatal, seen.last.fatal);
      Add(seen, DeliveryOutcome::kDeadLetter, r.dead_lettered, seen.last.dead_lettered);
    }
    probe_.SetOutboxPending(stats.pending + stats.incoming);
  }

 private:
  struct Receiver {
    AlertDeliveryMetrics metrics;
    ReceiverStatsSnapshot last;
  };
  static void Add(Receiver& r, DeliveryOutcome outcome, uint64_t now, uint64_t& last) {
    for (; last < now; ++last) r.metrics.Record(outcome);
  }
  AlertProbe& probe_;
  std::map<std::string, Receiver> receivers_;
};

// Starts one listener; nullptr (after logging why) when it cannot bind.
std::unique_ptr<HttpServer> StartListener(
    const HttpConfig& http, const HttpListenConfig& listen, bool admin,
    const std::vector<std::tuple<std::string, std::string, HttpHandler>>& routes) {
  auto server = std::make_unique<HttpServer>(HttpServerOptionsFrom(http, admin));
  for (const auto& [method, path, handler] : routes) server->Route(method, path, handler);
  if (absl::Status s = server->Start(listen.host, listen.port); !s.ok()) {
    spdlog::error("cannot listen on {}:{}: {}", listen.host, listen.port, std::string(s.message()));
    return nullptr;
  }
  std::string paths;
  for (const auto& [method, path, handler] : routes) {
    if (paths.find(path) == std::string::npos) paths += (paths.empty() ? "" : ", ") + path;
  }
  spdlog::info("{} listener on http://{}:{} serving {}", admin ? "admin" : "read-only", listen.host,
               server->port(), paths);
  return server;
}

int RunService(const std::string& config_path) {
  const std::optional<Startup> startup = LoadStartup(config_path);
  if (!startup) return kExitBadUsage;
  const Config& config = startup->config;
  const PriceTable* prices = startup->prices;
  spdlog::set_default_logger(spdlog::stderr_color_mt("burnrate"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  // Checked before anything starts: an unknown detector name is a config error.
  auto key_detectors = CreateKeyDetectors(config.detectors);
  if (!key_detectors.ok()) {
    std::cerr << "burnrate: " << key_detectors.status().message() << "\n";
    return kExitBadUsage;
  }
  const bool runaway_enabled = Enabled(config.detectors, "runaway");

  const char* revision = std::getenv("BURNRATE_REVISION");
  Metrics metrics(config.metrics, revision != nullptr && *revision != '\0' ? revision : "unknown");

  // Redis is asked once before anything starts: credentials it refuses, or
  // an ACL user that may not even PING, cannot mend themselves; a Redis that
  // is not up yet is waited for later, like any outage.
  if (auto pong = RedisClient(config.redis).Command({"PING"}); !pong.ok()) {
    if (absl::IsUnauthenticated(pong.status())) {
      std::cerr << "burnrate: " << pong.status().message()
                << " (check redis.username and redis.password)\n";
      return kExitRuntimeFailure;
    }
    if (absl::IsPermissionDenied(pong.status())) {
      std::cerr << "burnrate: " << pong.status().message()
                << " (redis.username needs every command on the keys under redis.key_prefix)\n";
      return kExitRuntimeFailure;
    }
    spdlog::warn("{} (retried while running)", std::string(pong.status().message()));
  }

  auto producer = KafkaProducer::Create(config.kafka);
  if (!producer.ok()) {
    std::cerr << "burnrate: " << producer.status().message() << "\n";
    return kExitBadUsage;
  }
  // The window closer has its own producer: each thread's Flush() then
  // answers only for its own messages.
  auto window_producer = KafkaProducer::Create(config.kafka);
  if (!window_producer.ok()) {
    std::cerr << "burnrate: " << window_producer.status().message() << "\n";
    return kExitBadUsage;
  }
  // Output topics looked up (or auto-created) before consuming: otherwise
  // the first checkpoint waits while the broker creates the dead-letter
  // topic, and consuming stops meanwhile (about a second, measured).
  for (const auto& [output, topic] :
       {std::pair{producer->get(), &config.kafka.dead_letter_topic},
        std::pair{window_producer->get(), &config.kafka.windows_topic}}) {
    if (absl::Status s = output->Prepare(*topic, 5'000); !s.ok()) {
      // Refused credentials or TLS cannot mend themselves: stop with the
      // brokers' reason rather than start a replica that reads nothing.
      if (absl::IsUnauthenticated(s)) {
        std::cerr << "burnrate: " << s.message() << "\n";
        return kExitRuntimeFailure;
      }
      spdlog::warn("{}", std::string(s.message()));
    }
  }

  // Alert delivery: its own threads, its own producer for a Kafka receiver,
  // the outbox in Redis shared by every replica.
  std::unique_ptr<KafkaProducer> alert_producer;
  std::unique_ptr<AlertDeliveryService> delivery;
  if (config.alerting.enabled()) {
    AlertingServiceOptions options;
    if (std::any_of(config.alerting.receivers.begin(), config.alerting.receivers.end(),
                    [](const ReceiverConfig& r) { return r.type == "kafka"; })) {
      auto made = KafkaProducer::Create(config.kafka);
      if (!made.ok()) {
        std::cerr << "burnrate: " << made.status().message() << "\n";
        return kExitBadUsage;
      }
      alert_producer = *std::move(made);
      options.kafka_producer = alert_producer.get();
    }
    AlertRedisOptions outbox;
    outbox.redis = config.redis;
    auto service =
        AlertDeliveryService::CreateWithRedis(config.alerting, outbox, std::move(options));
    if (!service.ok()) {
      std::cerr << "burnrate: alerting: " << service.status().message() << "\n";
      return kExitRuntimeFailure;
    }
    delivery = *std::move(service);
  }
  AlertFanout alerts(metrics.alerts(), delivery.get());

  RedisStateStore store(RedisStoreOptionsFrom(config));
  // Checkpoints are committed on a thread of their own, with their own
  // Redis connection, so consuming goes on while Redis applies them.
  RedisStateStore commit_store(RedisStoreOptionsFrom(config));
  const RedisOperationMetrics checkpoint_op = metrics.redis().Operation("checkpoint");
  CheckpointCommitterOptions committer_options;
  committer_options.max_queued_events = config.max_pending_events;
  // Each failed attempt is counted and (every 10 s at most) logged; the
  // committer retries with backoff, and consuming goes on meanwhile.
  std::atomic<int64_t> last_commit_warning{0};
  committer_options.on_store_error = [&metrics, &checkpoint_op,
                                      &last_commit_warning](const absl::Status& s) {
    metrics.engine().RecordCheckpoint(EngineProbe::CheckpointOutcome::kError);
    checkpoint_op.Error();
    if (WallClockMs() - last_commit_warning.load() > 10'000) {
      spdlog::warn("checkpoint failed, retrying: {}", std::string(s.message()));
      last_commit_warning.store(WallClockMs());
    }
  };
  CheckpointCommitter committer(commit_store, config.kafka.topic, committer_options,
                                [] { return g_stop.load(); });
  KafkaDeadLetterSink dead_letters(**producer, config.kafka.dead_letter_topic, config.kafka.topic,
                                   config.pipeline.decoder.max_message_bytes);
  RunEngine engine(
      config, *prices, store, committer, dead_letters,
      [&dead_letters](int32_t p, int64_t o) { dead_letters.SetSource(p, o); },
      [&producer](std::chrono::milliseconds timeout) {
        return (*producer)->Flush(static_cast<int>(timeout.count()));
      },
      CoarseWallClockMs);
  auto source = KafkaSource::Create(config.kafka, engine);
  if (!source.ok()) {
    std::cerr << "burnrate: " << source.status().message() << "\n";
    return kExitBadUsage;
  }
  engine.set_seeker([&source](int32_t p, int64_t o) { return (*source)->Seek(p, o); });
  engine.set_log_bounds([&source](int32_t p) { return (*source)->LogBounds(p); });
  engine.set_stop_requested([] { return g_stop.load(); });
  if (runaway_enabled) {
    // One runaway detector per partition pipeline: a run (keyed by tenant)
    // is seen whole by the partition that holds it.
    // Its runs are saved with each checkpoint and restored with the
    // partition's state.
    engine.set_observer_factory([&config](int32_t) -> std::unique_ptr<EventObserver> {
      auto detector = std::make_unique<RunawayDetector>(config.detectors.runaway,
                                                        config.pipeline.windows.size_ms);
      detector->KeepStateForCheckpoints();
      return detector;
    });
  }
  engine.set_commit_listener([&metrics, &checkpoint_op](int32_t, RunEngine::CommitResult result,
                                                        double store_seconds) {
    metrics.engine().RecordCheckpoint(ProbeOutcome(result));
    checkpoint_op.Observe(store_seconds);
    if (result == RunEngine::CommitResult::kError) checkpoint_op.Error();
  });
  if (runaway_enabled) {
    // The runaway transitions decided so far, handed on once the events
    // behind them are durable; the observer is only ever a RunawayDetector
    // (see the factory above).
    engine.set_seal_listener([&alerts](int32_t, EventObserver* observer,
                                       int64_t watermark_ms) -> RunEngine::DurableAction {
      if (observer == nullptr) return nullptr;
      auto* detector = static_cast<RunawayDetector*>(observer);
      std::vector<Alert> taken = detector->TakeAlerts(watermark_ms);
      if (taken.empty()) return nullptr;
      // Once handed on, a resolved run may be forgotten (until then it stays
      // in the saved state, so a crash offers its resolve again).
      return [&alerts, taken = std::move(taken), confirm = detector->ConfirmDelivery()] {
        alerts.Submit(taken);
        confirm();
      };
    });
  }

  // Budgets and quota: state in Redis, decisions to Redis and the compacted
  // quota topic; the tracker runs on the closing thread, the snapshot behind
  // the decision endpoint is refreshed on its own thread.
  auto budgets = MakeRedisBudgets(config);
  if (!budgets.ok()) {
    std::cerr << "burnrate: budgets: " << budgets.status().message() << "\n";
    return kExitRuntimeFailure;
  }
  alerts.EnableQuotaFeed();
  BudgetTracker* const tracker = budgets->tracker.get();

  // Readiness, read by the HTTP threads.
  std::atomic<bool> partitions_assigned{false};
  std::atomic<bool> redis_ok{false};
  std::vector<std::tuple<std::string, std::string, HttpHandler>> read_routes = {
      {"GET", "/metrics", MetricsHandler(metrics)},
      {"HEAD", "/metrics", MetricsHandler(metrics)},
      {"GET", "/healthz", HealthHandler()},
      {"GET", "/readyz", ReadinessHandler([&partitions_assigned, &redis_ok]() {
         return ReadyState{partitions_assigned.load(), redis_ok.load()};
       })},
  };
  {
    // The gateway decision endpoint (ext_authz forwards the original method,
    // so every method is a check), counted per answer.
    HttpHandler decide = MakeDecisionHandler(budgets->snapshot, DecisionOptionsFrom(config.quota));
    HttpHandler counted = [decide, &metrics](const HttpRequest& request) {
      HttpResponse response = decide(request);
      metrics.quota().RecordDecision(response.status == 200);
      return response;
    };
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
      read_routes.emplace_back(method, config.quota.decision_path + "/*", counted);
    }
  }
  std::unique_ptr<HttpServer> read_server, admin_server;
  if (config.http.listen.enabled) {
    read_server = StartListener(config.http, config.http.listen, false, read_routes);
    if (!read_server) return kExitRuntimeFailure;
  }
  if (config.http.admin_listen.enabled) {
    std::vector<std::tuple<std::string, std::string, HttpHandler>> admin_routes;
    HttpHandler overrides = MakeQuotaOverridesHandler(budgets->publisher, config.quota);
    admin_routes.emplace_back("GET", "/v1/quota/overrides", overrides);
    admin_routes.emplace_back("PUT", "/v1/quota/overrides/*", overrides);
    admin_routes.emplace_back("DELETE", "/v1/quota/overrides/*", overrides);
    if (delivery) {
      for (const char* method : {"GET", "POST"})
        admin_routes.emplace_back(method, "/v1/silences", delivery->SilencesHandler());
      admin_routes.emplace_back("DELETE", "/v1/silences/*", delivery->SilencesHandler());
    }
    if (admin_routes.empty()) {
      spdlog::info(
          "admin listener not started: nothing to administer (no alert receivers configured)");
    } else {
      admin_server = StartListener(config.http, config.http.admin_listen, true, admin_routes);
      if (!admin_server) return kExitRuntimeFailure;
    }
  }
  if (delivery) delivery->Start();
  if (absl::Status s = budgets->refresher->RefreshOnce(); !s.ok()) {
    spdlog::warn("quota snapshot: {}", std::string(s.message()));
  }
  budgets->refresher->Start();

  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  spdlog::info("burnrate {} consuming {} as group {} from {}", kVersion, config.kafka.topic,
               config.kafka.group_id, config.kafka.brokers);
  spdlog::info("detectors: {}{}", JoinStrings(config.detectors.enabled, ", "),
               delivery ? Concat("; alerts to ", config.alerting.receivers.size(),
                                 " receiver(s) via the Redis outbox")
                        : std::string("; no alert receivers configured (alerts are only logged)"));

  // Closing windows (reading them back from Redis, publishing their rows,
  // judging them with the detectors) runs on its own thread with its own
  // Redis connections, so consuming and checkpointing never wait for it.
  // The closer needs the topic's partition count. Asked now, before
  // consuming: asked from the polling thread while fetches are in flight, the
  // answer took about half a second, and consuming stopped meanwhile. If the
  // broker cannot say yet, the polling thread asks again after checkpoints.
  std::atomic<int32_t> partition_count{-1};
  if (auto count = (*source)->PartitionCount(5'000); count.ok()) partition_count.store(*count);
  std::atomic<int64_t> closed_through{INT64_MIN};
  std::thread closer_thread([&config, &partition_count, &closed_through, &window_producer, &metrics,
                             &alerts, &key_detectors, tracker]() {
    NameThisThread("br-closer");
    RedisStateStore closer_store(RedisStoreOptionsFrom(config));
    RedisHistoryStore history(config.redis);
    std::unique_ptr<DetectorEngine> detectors;
    if (!key_detectors->empty()) {
      detectors =
          std::make_unique<DetectorEngine>(config.detectors, std::move(*key_detectors), history);
      // Same thread as the spend rows: the probe needs no lock for it.
      detectors->set_baseline_listener([&metrics](const KeyIdentity& key, double expected_usd) {
        metrics.spend().SetBaseline(key.tenant, key.feature, key.environment, Money::FromDollars(expected_usd));
      });
    }
    // One replica of the group closes (and judges) windows at a time, in
    // order; the others take over when its lease lapses.
    CloserLease lease(config.redis, Concat(config.redis.key_prefix, "closer:", config.kafka.topic),
                      ThisProcessHolderName(),
                      std::max<int64_t>(15'000, 10 * config.checkpoint_interval_ms));
    ClosedWindowSink windows(**window_producer, config.kafka.windows_topic, metrics,
                             detectors.get(), tracker, alerts, lease);
    WindowCloser closer(config, closer_store, windows);
    closer.set_stop_requested([] { return g_stop.load(); });
    const RedisOperationMetrics close_op = metrics.redis().Operation("close_window");
    int64_t last_warning = 0;
    bool was_closer = false;
    while (!g_stop.load()) {
      if (const int32_t count = partition_count.load(); count > 0) {
        const auto t0 = std::chrono::steady_clock::now();
        auto held = lease.Hold();
        if (held.ok() && *held != was_closer) {
          spdlog::info(*held ? "closing windows for the group"
                             : "another replica closes windows now");
          was_closer = *held;
        }
        absl::Status status = held.status();
        if (held.ok() && *held) {
          auto closed = closer.CloseReady(count);
          status = closed.status();
        } else if (held.ok()) {
          status = closer.RefreshClosedThrough();
        }
        close_op.Observe(SecondsSince(t0));
        if (!status.ok()) {
          close_op.Error();
          if (WallClockMs() - last_warning > 10'000) {
            spdlog::warn("closing windows: {}", std::string(status.message()));
            last_warning = WallClockMs();
          }
        }
        if (closer.closed_through()) closed_through.store(closer.closed_through()->value());
      }
      SleepUnlessStopped(config.checkpoint_interval_ms);
    }
    (void)lease.Release();
  });

  int64_t last_checkpoint = WallClockMs();
  int64_t last_store_warning = 0;
  const auto warn_store = [&](const absl::Status& s) {
    // Keep consuming into memory (bounded below), commit nothing, retry.
    if (WallClockMs() - last_store_warning > 10'000) {
      spdlog::warn("checkpoint failed, retrying: {}", std::string(s.message()));
      last_store_warning = WallClockMs();
    }
  };
  // Positions whose state is durable go to Kafka too (the store is the
  // truth; the Kafka commit keeps group lag visible), gathered and sent once
  // per checkpoint interval.
  std::map<int32_t, int64_t> durable_positions;
  const auto note_durable = [&](const std::vector<std::pair<int32_t, int64_t>>& durable) {
    for (const auto& [p, offset] : durable) {
      int64_t& at = durable_positions[p];
      at = std::max(at, offset);
    }
  };
  const auto commit_offsets = [&]() {
    // Only for partitions still held: a moved one is its new owner's to commit.
    const std::vector<int32_t> held = (*source)->Assigned();
    std::vector<std::pair<int32_t, int64_t>> positions;
    for (const auto& [p, offset] : durable_positions) {
      if (std::find(held.begin(), held.end(), p) != held.end()) positions.emplace_back(p, offset);
    }
    durable_positions.clear();
    if (auto s = (*source)->Commit(positions); !s.ok()) {
      spdlog::warn("kafka offset commit: {}", std::string(s.message()));
    }
  };
  const auto after_checkpoint = [&]() {
    if (partition_count.load() < 0) {
      if (auto count = (*source)->PartitionCount(5'000); count.ok()) partition_count.store(*count);
    }
    if (const int64_t through = closed_through.load(); through != INT64_MIN) {
      engine.MarkClosedThrough(WindowStartMs(through));
    }
  };
  // Hands what was counted to the committer's thread; never waits for Redis.
  const auto seal = [&]() {
    if (absl::Status s = engine.Seal(); absl::IsDataLoss(s)) {
      // Outputs refused for good (RunEngine::Seal): nothing more can become
      // durable, so carry on no further. Exiting with an error lets the
      // supervisor restart the replica, which reads those messages again.
      if (!g_stop.exchange(true)) spdlog::error("stopping: {}", std::string(s.message()));
    } else if (!s.ok()) {
      warn_store(s);
    }
    commit_offsets();
    after_checkpoint();
  };
  // Makes everything durable and waits for it (on stopping).
  const auto checkpoint_now = [&]() {
    auto durable = engine.Checkpoint();
    if (!durable.ok()) {
      if (absl::IsDataLoss(durable.status())) {
        spdlog::error("state not saved: {}", std::string(durable.status().message()));
      } else {
        warn_store(durable.status());
      }
      return false;
    }
    note_durable(*durable);
    commit_offsets();
    after_checkpoint();
    return true;
  };

  // About once a second: the engine's counters to the metrics (a snapshot of
  // the plain per-partition integers, never a label lookup per event),
  // readiness, alert delivery figures, and a retry of refused alerts.
  DeliveryMetricsPublisher delivery_metrics(metrics.alerts());
  int64_t last_publish = 0;
  const auto publish = [&]() {
    metrics.engine().Publish({engine.TotalStats(), engine.OverflowedEvents()});
    metrics.engine().SetConsumerLag(engine.ConsumerLag());
    partitions_assigned.store(engine.partitions_owned() > 0);
    // With partitions the last checkpoint says whether Redis answers;
    // without any there is no checkpoint, so ask.
    redis_ok.store(engine.partitions_owned() > 0 ? engine.store_healthy() : store.Ping().ok());
    metrics.engine().SetReady(partitions_assigned.load() && redis_ok.load());
    alerts.Retry();
    if (delivery) delivery_metrics.Publish(delivery->Stats());
    QuotaStateCounts counts;
    const auto decisions = budgets->snapshot->Get();  // kept while counting
    for (const auto& [subject, signal] : *decisions) {
      switch (signal.state) {
        case QuotaState::kOk:
          ++counts.ok;
          break;
        case QuotaState::kWarn:
          ++counts.warn;
          break;
        case QuotaState::kThrottle:
          ++counts.throttle;
          break;
        case QuotaState::kDowngrade:
          ++counts.downgrade;
          break;
        case QuotaState::kBlock:
          ++counts.block;
          break;
      }
    }
    metrics.quota().SetTenants(counts);
  };

  while (!g_stop.load()) {
    // A batch stops at the pending-bytes bound (below), not a batch later:
    // with large messages a batch can be gigabytes.
    const int64_t bytes_left = config.max_pending_bytes - engine.pending_bytes();
    auto polled = (*source)->Poll(static_cast<size_t>(config.kafka.batch_size),
                                  static_cast<size_t>(std::max<int64_t>(bytes_left, 1)), 100,
                                  [&engine](const SourceMessage& m) { engine.Handle(m); });
    if (!polled.ok()) spdlog::warn("{}", std::string(polled.status().message()));
    const int64_t now = WallClockMs();
    // A poll that found nothing means every partition has read what there
    // is: what they counted is sealed at once rather than at the end of the
    // interval, so a pause in traffic (or the end of a backlog) does not
    // leave state waiting up to a whole interval to become durable.
    const bool caught_up = polled.ok() && *polled == 0 && engine.unsealed_events() > 0;
    if (now - last_checkpoint >= config.checkpoint_interval_ms || caught_up) {
      last_checkpoint = now;
      seal();
    }
    note_durable(engine.CollectCommits());
    if (now - last_publish >= 1000) {
      last_publish = now;
      publish();
    }
    // Back-pressure: never hold more than the bounds in memory. The queue to
    // the committer is full: give it a moment to catch up before pausing.
    const auto over_bound = [&] {
      return engine.pending_events() >= config.max_pending_events ||
             engine.pending_bytes() >= config.max_pending_bytes;
    };
    if (over_bound()) {
      seal();
      engine.WaitForCommits(std::chrono::milliseconds(100));
      note_durable(engine.CollectCommits());
    }
    if (over_bound()) {
      if (!(*source)->paused()) {
        spdlog::warn("state store behind; pausing consumption ({} events, {} bytes of messages not durable yet)",
                     engine.pending_events(), engine.pending_bytes());
      }
      (*source)->PauseAll();
    } else if ((*source)->paused() && engine.store_healthy()) {
      spdlog::info("resuming consumption");
      (*source)->ResumeAll();
    }
  }

  spdlog::info("stopping: saving state");
  closer_thread.join();
  const bool saved = checkpoint_now();
  (*source)->Close();  // leaves the group; revoked partitions are saved once more
  alerts.Retry();
  if (const size_t unsent = alerts.unsent(); unsent > 0) {
    spdlog::warn("{} alert transitions could not be written to the outbox", unsent);
  }
  budgets->refresher->Stop();
  if (delivery) delivery->Stop();
  if (admin_server) admin_server->Stop();
  if (read_server) read_server->Stop();
  const PipelineStats stats = engine.TotalStats();
  spdlog::info("stopped: {} messages, {} events counted, {} dead-lettered, {} unpriced",
               stats.messages, stats.events, stats.total_rejected(), stats.unpriced_events);
  return saved ? kExitOk : kExitRuntimeFailure;
}

}  // namespace

CommandRunner AddRunCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("run",
                                 "The service: consume cost events from Kafka as a consumer-group "
                                 "member, keep state in Redis, "
                                 "publish closed windows and dead letters to Kafka");
  auto path = std::make_shared<std::string>();
  cmd->add_option("--config", *path, "Config file")->required();
  return [path]() { return RunService(*path); };
}

}  // namespace burnrate
