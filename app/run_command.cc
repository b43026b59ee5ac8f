// `burnrate run`: the service. Kafka in (a consumer-group member), Redis
// state, closed windows and dead letters out to Kafka.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "app/commands.h"
#include "app/startup.h"
#include "app/version.h"
#include "config/config.h"
#include "consumers/kafka_producer.h"
#include "consumers/kafka_source.h"
#include "core/concat.h"
#include "core/json_output.h"
#include "engine/run_engine.h"
#include "state/redis_state_store.h"

namespace burnrate {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Closed windows to the windows topic, one JSON row per message, keyed by
// window and key so a compacted topic keeps the latest of each.
class KafkaWindowSink final : public WindowRecordSink {
 public:
  KafkaWindowSink(KafkaProducer& producer, std::string topic) : producer_(producer), topic_(std::move(topic)) {}
  void Publish(const WindowRecord& r) override {
    value_.clear();
    AppendWindowRecordJson(r, value_);
    key_ = Concat(r.start.value(), "/", WindowScopeName(r.scope), "/", r.tenant, "/", r.feature, "/",
                  r.environment, "/", r.model);
    producer_.Produce(topic_, key_, value_);
  }
  absl::Status Flush() override { return producer_.Flush(30'000); }

 private:
  KafkaProducer& producer_;
  std::string topic_;
  std::string key_, value_;
};

int RunService(const std::string& config_path) {
  const std::optional<Startup> startup = LoadStartup(config_path);
  if (!startup) return kExitBadUsage;
  const Config& config = startup->config;
  const PriceTable* prices = startup->prices;
  spdlog::set_default_logger(spdlog::stderr_color_mt("burnrate"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

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
  RedisStateStore store(RedisStoreOptionsFrom(config));
  KafkaDeadLetterSink dead_letters(**producer, config.kafka.dead_letter_topic, config.kafka.topic);
  RunEngine engine(
      config, *prices, store, dead_letters,
      [&dead_letters](int32_t p, int64_t o) { dead_letters.SetSource(p, o); },
      [&producer]() { return (*producer)->Flush(30'000); }, WallClockMs);
  auto source = KafkaSource::Create(config.kafka, engine);
  if (!source.ok()) {
    std::cerr << "burnrate: " << source.status().message() << "\n";
    return kExitBadUsage;
  }
  engine.set_seeker([&source](int32_t p, int64_t o) { return (*source)->Seek(p, o); });
  engine.set_log_bounds([&source](int32_t p) { return (*source)->LogBounds(p); });
  engine.set_stop_requested([] { return g_stop.load(); });

  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  spdlog::info("burnrate {} consuming {} as group {} from {}", kVersion, config.kafka.topic, config.kafka.group_id,
               config.kafka.brokers);

  // Closing windows (reading them back from Redis, publishing their rows)
  // runs on its own thread with its own Redis connection, so consuming and
  // checkpointing never wait for it.
  std::atomic<int32_t> partition_count{-1};
  std::atomic<int64_t> closed_through{INT64_MIN};
  std::thread closer_thread([&config, &partition_count, &closed_through, &window_producer]() {
    RedisStateStore closer_store(RedisStoreOptionsFrom(config));
    KafkaWindowSink windows(**window_producer, config.kafka.windows_topic);
    WindowCloser closer(config, closer_store, windows);
    int64_t last_warning = 0;
    while (!g_stop.load()) {
      if (const int32_t count = partition_count.load(); count > 0) {
        auto closed = closer.CloseReady(count);
        if (!closed.ok() && WallClockMs() - last_warning > 10'000) {
          spdlog::warn("closing windows: {}", std::string(closed.status().message()));
          last_warning = WallClockMs();
        }
        if (closer.closed_through()) closed_through.store(closer.closed_through()->value());
      }
      // Sleeps in short steps so a stop is prompt.
      for (int64_t slept = 0; slept < config.checkpoint_interval_ms && !g_stop.load(); slept += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });

  int64_t last_checkpoint = WallClockMs();
  int64_t last_store_warning = 0;
  const auto checkpoint = [&]() {
    const auto t0 = std::chrono::steady_clock::now();
    auto durable = engine.Checkpoint();
    const auto took = std::chrono::steady_clock::now() - t0;
    if (took > std::chrono::milliseconds(500)) {
      spdlog::info("checkpoint took {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    }
    if (!durable.ok()) {
      // Keep consuming into memory (bounded below), commit nothing, retry.
      if (WallClockMs() - last_store_warning > 10'000) {
        spdlog::warn("checkpoint failed, retrying: {}", std::string(durable.status().message()));
        last_store_warning = WallClockMs();
      }
      return false;
    }
    if (auto s = (*source)->Commit(*durable); !s.ok()) {
      spdlog::warn("kafka offset commit: {}", std::string(s.message()));  // the store is the truth
    }
    if (partition_count.load() < 0) {
      if (auto count = (*source)->PartitionCount(5'000); count.ok()) partition_count.store(*count);
    }
    if (const int64_t through = closed_through.load(); through != INT64_MIN) {
      engine.MarkClosedThrough(WindowStartMs(through));
    }
    return true;
  };

  while (!g_stop.load()) {
    auto polled = (*source)->Poll(static_cast<size_t>(config.kafka.batch_size), 100,
                                  [&engine](const SourceMessage& m) { engine.Handle(m); });
    if (!polled.ok()) spdlog::warn("{}", std::string(polled.status().message()));
    const int64_t now = WallClockMs();
    if (now - last_checkpoint >= config.checkpoint_interval_ms) {
      last_checkpoint = now;
      checkpoint();
    }
    // Back-pressure: never hold more than the bound in memory.
    if (engine.pending_events() >= config.max_pending_events) {
      if (!(*source)->paused()) spdlog::warn("state store behind; pausing consumption");
      (*source)->PauseAll();
    } else if ((*source)->paused() && engine.store_healthy()) {
      spdlog::info("resuming consumption");
      (*source)->ResumeAll();
    }
  }

  spdlog::info("stopping: saving state");
  closer_thread.join();
  const bool saved = checkpoint();
  (*source)->Close();  // leaves the group; revoked partitions are saved once more
  const PipelineStats stats = engine.TotalStats();
  spdlog::info("stopped: {} messages, {} events counted, {} dead-lettered, {} unpriced", stats.messages,
               stats.events, stats.total_rejected(), stats.unpriced_events);
  return saved ? kExitOk : kExitRuntimeFailure;
}

}  // namespace

CommandRunner AddRunCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "run", "The service: consume cost events from Kafka as a consumer-group member, keep state in Redis, "
             "publish closed windows and dead letters to Kafka");
  auto path = std::make_shared<std::string>();
  cmd->add_option("--config", *path, "Config file")->required();
  return [path]() { return RunService(*path); };
}

}  // namespace burnrate
