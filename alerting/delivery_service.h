// The alert delivery service: takes transitions off the outbox, routes them
// (routes, silences, group_wait), and delivers each to its receivers with
// per-receiver rate limits, retries with exponential backoff and jitter,
// Retry-After, reminders while firing, and dead letters after give_up_after.
//
// Producers only call Enqueue (one outbox write). Delivery runs on the
// service's own threads: one dispatcher and one per receiver, so a slow or
// dead receiver delays nobody else. Everything durable is in the outbox; a
// service destroyed and created again over the same Redis outbox resumes
// where it stopped and sends no transition twice to a receiver.
//
// Owned by the app; Start/Stop from one thread. Enqueue, Stats and the
// silences handler are thread-safe. Stats never take a lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/alerting_config.h"
#include "alerting/clock.h"
#include "alerting/outbox.h"
#include "alerting/redis_outbox.h"
#include "alerting/silences.h"
#include "alerting/sink.h"
#include "core/http_types.h"

namespace burnrate {

class KafkaProducer;

struct AlertingServiceOptions {
  // Borrowed; nullptr: the system clock. Tests inject a ManualAlertClock.
  const AlertClock* clock = nullptr;
  // Seeds the backoff jitter (per receiver, mixed with its name).
  uint64_t seed = 0x5eed;
  // Real time between outbox polls when nothing woke a thread (Enqueue
  // through the service wakes it at once; this bounds the latency for
  // transitions enqueued by another process or replica).
  int64_t poll_interval_ms = 50;
  // Required when a `kafka` receiver is configured; borrowed.
  KafkaProducer* kafka_producer = nullptr;
  // Receiver name -> sink used instead of the one the config names
  // (tests, embedded use). Receivers still come from the config.
  std::map<std::string, AlertSinkPtr> sink_overrides;
};

struct ReceiverStatsSnapshot {
  std::string name;
  std::string type;
  uint64_t ok = 0;
  uint64_t retry = 0;
  uint64_t fatal = 0;
  uint64_t dead_lettered = 0;
};

struct AlertingStatsSnapshot {
  std::vector<ReceiverStatsSnapshot> receivers;  // in config order
  uint64_t enqueued = 0;                         // Enqueue calls through the service that succeeded
  uint64_t enqueue_errors = 0;
  uint64_t routed = 0;         // transitions routed
  uint64_t silenced = 0;       // transitions dropped by a silence
  uint64_t unrouted = 0;       // transitions no route sent anywhere
  uint64_t outbox_errors = 0;  // outbox (Redis) calls that failed; retried
  // Refreshed from the outbox by the dispatcher, at most a poll interval old.
  int64_t incoming = 0;
  int64_t pending = 0;    // transitions not yet delivered, per receiver
  int64_t reminders = 0;  // scheduled reminders of firing alerts
  int64_t dead_letters = 0;
  int64_t firing = 0;
};

class AlertDeliveryService {
 public:
  // Builds every receiver's sink (unknown types and missing secrets are
  // errors) and checks the routes name known receivers.
  static absl::StatusOr<std::unique_ptr<AlertDeliveryService>> Create(
      const AlertingConfig& config, AlertOutboxPtr outbox, AlertingServiceOptions options = {});
  // The same over a RedisAlertOutbox it connects itself.
  static absl::StatusOr<std::unique_ptr<AlertDeliveryService>> CreateWithRedis(
      const AlertingConfig& config, AlertRedisOptions redis, AlertingServiceOptions options = {});
  ~AlertDeliveryService();  // Stop()s
  AlertDeliveryService(const AlertDeliveryService&) = delete;
  AlertDeliveryService& operator=(const AlertDeliveryService&) = delete;

  // Loads silences and starts the threads.
  void Start();
  // Finishes the sends in flight, hands claimed deliveries back to the
  // outbox and joins the threads. Idempotent.
  void Stop();

  // Enqueues on the outbox and wakes the dispatcher. Idempotent per
  // Alert::TransitionKey(). Fails (Unavailable) when the outbox cannot take
  // it; the caller keeps the alert and tries again.
  absl::Status Enqueue(const Alert& alert);
  // Wakes the delivery threads (e.g. after an Enqueue on another outbox object).
  void Wake();

  AlertingStatsSnapshot Stats() const;
  AlertOutbox& outbox() { return *outbox_; }
  SilenceRegistry& silences() { return *silences_; }
  // POST/GET/DELETE /v1/silences (see alerting/silences.h).
  HttpHandler SilencesHandler() { return MakeSilencesHandler(*silences_); }

 private:
  struct Receiver;
  AlertDeliveryService(AlertingConfig config, AlertOutboxPtr outbox,
                       AlertingServiceOptions options);
  void DispatchLoop();
  void ReceiverLoop(Receiver& r);
  void Deliver(Receiver& r, const PendingDelivery& d);
  bool WaitForWork(uint64_t seen_generation);
  void RefreshCounts();

  AlertingConfig config_;
  AlertOutboxPtr outbox_;
  AlertingServiceOptions options_;
  SystemAlertClock system_clock_;
  const AlertClock* clock_;
  std::unique_ptr<SilenceRegistry> silences_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::vector<std::string> receiver_names_;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t generation_ = 0;  // under wake_mu_
  std::atomic<bool> stop_{false};
  bool started_ = false;
  std::thread dispatcher_;

  std::atomic<uint64_t> enqueued_{0}, enqueue_errors_{0}, routed_{0}, silenced_{0}, unrouted_{0},
      outbox_errors_{0};
  std::atomic<int64_t> incoming_{0}, pending_{0}, reminders_{0}, dead_letters_{0}, firing_{0};
};

}  // namespace burnrate
