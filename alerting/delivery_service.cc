#include "alerting/delivery_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

#include "alerting/router.h"
#include "alerting/sink_registry.h"
#include "config/config.h"
#include "core/concat.h"
#include "core/thread_name.h"

namespace burnrate {
namespace {

constexpr size_t kDispatchBatch = 100;
constexpr size_t kClaimBatch = 8;
constexpr int64_t kSilenceRefreshMs = 1000;  // real time
constexpr int64_t kResolveBehindFiringMs = 1000;
constexpr int64_t kCountsRefreshMs = 100;  // real time

uint64_t Mix(uint64_t seed, std::string_view name) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

void CollectReceivers(const RouteConfig& route, std::set<std::string>& out) {
  if (!route.receiver.empty()) out.insert(route.receiver);
  for (const auto& child : route.routes) CollectReceivers(child, out);
}

}  // namespace

struct AlertDeliveryService::Receiver {
  std::string name;
  std::string type;
  AlertSinkPtr sink;
  double rate_per_second = 0;
  int64_t timeout_ms = 5000;
  int64_t resend_interval_ms = 0;  // Alertmanager: reminders whatever the route says
  std::mt19937_64 rng;
  // Token bucket in clock time; only the receiver's own thread touches these.
  double tokens = 1;
  int64_t refilled_at_ms = -1;
  int64_t blocked_until_ms = 0;  // after a 429 with Retry-After
  std::atomic<uint64_t> ok{0}, retry{0}, fatal{0}, dead{0};
  std::thread thread;

  // Whether a message may go now (refills first).
  bool TokenReady(int64_t now) {
    if (rate_per_second <= 0) return true;
    const double burst = std::max(1.0, rate_per_second);
    if (refilled_at_ms < 0) {
      tokens = burst;
    } else if (now > refilled_at_ms) {
      tokens = std::min(
          burst, tokens + static_cast<double>(now - refilled_at_ms) * rate_per_second / 1000.0);
    }
    refilled_at_ms = std::max(refilled_at_ms, now);
    return tokens >= 1;
  }
  void TakeToken() {
    if (rate_per_second > 0) tokens -= 1;
  }
};

AlertDeliveryService::AlertDeliveryService(AlertingConfig config, AlertOutboxPtr outbox,
                                           AlertingServiceOptions options)
    : config_(std::move(config)),
      outbox_(std::move(outbox)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &system_clock_) {
  silences_ = std::make_unique<SilenceRegistry>(config_.silences, *outbox_, *clock_);
}

absl::StatusOr<std::unique_ptr<AlertDeliveryService>> AlertDeliveryService::Create(
    const AlertingConfig& config, AlertOutboxPtr outbox, AlertingServiceOptions options) {
  if (!outbox) return absl::InvalidArgumentError("alerting: no outbox");
  std::unique_ptr<AlertDeliveryService> service(
      new AlertDeliveryService(config, std::move(outbox), std::move(options)));
  SinkDeps deps;
  deps.links = {config.dashboard_url, config.quota_url};
  deps.kafka_producer = service->options_.kafka_producer;
  std::set<std::string> names;
  for (const auto& rc : config.receivers) {
    if (!names.insert(rc.name).second)
      return absl::InvalidArgumentError(Concat("alerting: receiver ", rc.name, " defined twice"));
    auto r = std::make_unique<Receiver>();
    r->name = rc.name;
    r->type = rc.type;
    r->rate_per_second = rc.rate_limit_per_second;
    r->timeout_ms = rc.timeout_ms;
    if (rc.type == "alertmanager") r->resend_interval_ms = rc.alertmanager.resend_interval_ms;
    r->rng.seed(Mix(service->options_.seed, rc.name));
    if (auto it = service->options_.sink_overrides.find(rc.name);
        it != service->options_.sink_overrides.end()) {
      r->sink = std::move(it->second);
    } else {
      auto sink = CreateSink(rc, deps);
      if (!sink.ok()) return sink.status();
      r->sink = std::move(*sink);
    }
    service->receiver_names_.push_back(rc.name);
    service->receivers_.push_back(std::move(r));
  }
  std::set<std::string> used;
  CollectReceivers(config.route, used);
  for (const auto& name : used) {
    if (!names.count(name))
      return absl::InvalidArgumentError(Concat("alerting: route names unknown receiver ", name));
  }
  return service;
}

absl::StatusOr<std::unique_ptr<AlertDeliveryService>> AlertDeliveryService::CreateWithRedis(
    const AlertingConfig& config, AlertRedisOptions redis, AlertingServiceOptions options) {
  redis.marker_ttl_ms = config.outbox.give_up_after_ms + 7 * 86'400'000LL;
  auto outbox = RedisAlertOutbox::Connect(redis, options.clock);
  if (!outbox.ok()) return outbox.status();
  return Create(config, AlertOutboxPtr(std::move(*outbox)), std::move(options));
}

AlertDeliveryService::~AlertDeliveryService() { Stop(); }

void AlertDeliveryService::Start() {
  if (started_) return;
  started_ = true;
  stop_ = false;
  if (auto s = silences_->Refresh(); !s.ok()) {
    ++outbox_errors_;
    spdlog::warn("alerting: cannot load silences yet: {}", std::string(s.message()));
  }
  dispatcher_ = std::thread([this] {
    NameThisThread("br-alert-queue");
    DispatchLoop();
  });
  for (auto& r : receivers_) {
    Receiver* raw = r.get();
    r->thread = std::thread([this, raw] {
      NameThisThread("br-alert-send");
      ReceiverLoop(*raw);
    });
  }
}

void AlertDeliveryService::Stop() {
  if (!started_) return;
  stop_ = true;
  Wake();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& r : receivers_) {
    if (r->thread.joinable()) r->thread.join();
  }
  started_ = false;
}

absl::Status AlertDeliveryService::Enqueue(const Alert& alert) {
  auto s = outbox_->Enqueue(alert);
  if (!s.ok()) {
    ++enqueue_errors_;
    return s;
  }
  ++enqueued_;
  Wake();
  return s;
}

void AlertDeliveryService::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    ++generation_;
  }
  wake_cv_.notify_all();
}

bool AlertDeliveryService::WaitForWork(uint64_t seen_generation) {
  std::unique_lock lock(wake_mu_);
  wake_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms),
                    [&] { return stop_.load() || generation_ != seen_generation; });
  return !stop_.load();
}

AlertingStatsSnapshot AlertDeliveryService::Stats() const {
  AlertingStatsSnapshot s;
  for (const auto& r : receivers_) {
    s.receivers.push_back(
        {r->name, r->type, r->ok.load(), r->retry.load(), r->fatal.load(), r->dead.load()});
  }
  s.enqueued = enqueued_.load();
  s.enqueue_errors = enqueue_errors_.load();
  s.routed = routed_.load();
  s.silenced = silenced_.load();
  s.unrouted = unrouted_.load();
  s.outbox_errors = outbox_errors_.load();
  s.incoming = incoming_.load();
  s.pending = pending_.load();
  s.reminders = reminders_.load();
  s.dead_letters = dead_letters_.load();
  s.firing = firing_.load();
  return s;
}

void AlertDeliveryService::RefreshCounts() {
  auto c = outbox_->Counts(receiver_names_);
  if (!c.ok()) {
    ++outbox_errors_;
    return;
  }
  incoming_ = c->incoming;
  pending_ = c->pending;
  reminders_ = c->reminders;
  dead_letters_ = c->dead_letters;
  firing_ = c->firing;
}

void AlertDeliveryService::DispatchLoop() {
  auto last_silence_refresh = std::chrono::steady_clock::now();
  auto last_counts = std::chrono::steady_clock::time_point();
  std::map<std::string, const Receiver*> by_name;
  for (const auto& r : receivers_) by_name[r->name] = r.get();
  while (!stop_) {
    uint64_t seen;
    {
      std::lock_guard lock(wake_mu_);
      seen = generation_;
    }
    if (std::chrono::steady_clock::now() - last_silence_refresh >
        std::chrono::milliseconds(kSilenceRefreshMs)) {
      last_silence_refresh = std::chrono::steady_clock::now();
      if (!silences_->Refresh().ok()) ++outbox_errors_;
    }
    auto incoming = outbox_->PeekIncoming(kDispatchBatch);
    bool routed_any = false;
    if (!incoming.ok()) {
      ++outbox_errors_;
    } else {
      for (const auto& [alert, enqueued_ms] : *incoming) {
        std::vector<RouteTarget> targets;
        if (silences_->Match(alert)) {
          ++silenced_;
        } else {
          const bool firing = alert.status == AlertStatus::kFiring;
          for (const auto& decision : RouteAlert(config_.route, alert)) {
            const Receiver* r =
                by_name.count(decision.receiver) ? by_name[decision.receiver] : nullptr;
            if (!r) continue;
            RouteTarget t;
            t.receiver = decision.receiver;
            // group_wait holds back a new alert so a flapping one can be
            // resolved before anyone is paged; resolves go out at once.
            t.due_ms = enqueued_ms + (firing ? decision.group_wait_ms : 0);
            int64_t repeat = firing ? decision.repeat_interval_ms : 0;
            if (firing && r->resend_interval_ms > 0) {
              repeat = repeat > 0 ? std::min(repeat, r->resend_interval_ms) : r->resend_interval_ms;
            }
            t.repeat_interval_ms = repeat;
            targets.push_back(std::move(t));
          }
          if (targets.empty()) ++unrouted_;
        }
        if (auto s = outbox_->Route(alert.TransitionKey(), enqueued_ms, targets); !s.ok()) {
          ++outbox_errors_;
          break;
        }
        ++routed_;
        routed_any = routed_any || !targets.empty();
      }
    }
    // The counts are for metrics; a few per second are plenty.
    if (std::chrono::steady_clock::now() - last_counts >
        std::chrono::milliseconds(kCountsRefreshMs)) {
      last_counts = std::chrono::steady_clock::now();
      RefreshCounts();
    }
    if (routed_any) Wake();
    if (incoming.ok() && incoming->size() == kDispatchBatch) continue;  // more waiting
    if (!WaitForWork(seen)) break;
  }
}

void AlertDeliveryService::ReceiverLoop(Receiver& r) {
  while (!stop_) {
    uint64_t seen;
    {
      std::lock_guard lock(wake_mu_);
      seen = generation_;
    }
    const int64_t now = clock_->NowMs();
    if (now < r.blocked_until_ms || !r.TokenReady(now)) {
      if (!WaitForWork(seen)) break;
      continue;
    }
    // The lease outlasts the request time-out, so nobody else takes a
    // delivery this thread is still sending.
    auto batch = outbox_->Claim(r.name, now, r.timeout_ms + 30'000, kClaimBatch);
    if (!batch.ok()) {
      ++outbox_errors_;
      if (!WaitForWork(seen)) break;
      continue;
    }
    size_t i = 0;
    for (; i < batch->size(); ++i) {
      const int64_t t = clock_->NowMs();
      if (stop_ || t < r.blocked_until_ms || !r.TokenReady(t)) break;
      Deliver(r, (*batch)[i]);
    }
    // Hand back what this thread will not send now.
    for (; i < batch->size(); ++i) {
      if (!outbox_->Reschedule((*batch)[i], clock_->NowMs(), /*failed=*/false).ok())
        ++outbox_errors_;
    }
    if (batch->size() < kClaimBatch && !WaitForWork(seen)) break;
  }
}

void AlertDeliveryService::Deliver(Receiver& r, const PendingDelivery& d) {
  const int64_t now = clock_->NowMs();
  const Alert& alert = d.alert;
  if (d.repeat > 0) {
    // A reminder: only while the alert still fires.
    auto resolved = outbox_->IsResolved(alert.alert_id);
    if (!resolved.ok()) {
      ++outbox_errors_;
      (void)outbox_->Reschedule(d, now, false);
      return;
    }
    if (*resolved) {
      if (!outbox_->Cancel(d.id, r.name).ok()) ++outbox_errors_;
      return;
    }
  }
  if (alert.status == AlertStatus::kResolved) {
    // A receiver must see firing before resolved: a resolve that overtook
    // its firing (still retrying, or in group_wait) waits for it.
    const std::string firing_id = DeliveryId(Concat(alert.alert_id, ":firing"), r.name);
    auto repeat = outbox_->PendingRepeat(firing_id);
    if (!repeat.ok()) {
      ++outbox_errors_;
      (void)outbox_->Reschedule(d, now, false);
      return;
    }
    if (*repeat == 0) {
      if (!outbox_->Reschedule(d, now + kResolveBehindFiringMs, false).ok()) ++outbox_errors_;
      return;
    }
    if (*repeat > 0 && !outbox_->Cancel(firing_id, r.name).ok())
      ++outbox_errors_;  // no reminders after resolve
  }

  DeliveryContext context;
  context.now_ms = now;
  context.repeat = d.repeat;
  context.idempotency_key =
      d.repeat > 0 ? Concat(d.transition_key, ":repeat:", d.repeat) : d.transition_key;
  r.TakeToken();
  const SinkResult result = r.sink->Deliver(alert, context);
  const int64_t after = clock_->NowMs();

  absl::Status stored;
  switch (result.outcome) {
    case SinkResult::Outcome::kOk: {
      ++r.ok;
      const bool remind = alert.status == AlertStatus::kFiring && d.repeat_interval_ms > 0;
      stored = outbox_->Complete(d, remind ? after + d.repeat_interval_ms : -1);
      break;
    }
    case SinkResult::Outcome::kRetry: {
      ++r.retry;
      if (after - d.enqueued_ms >= config_.outbox.give_up_after_ms) {
        spdlog::warn("alerting: giving up on {} to receiver {} after {} attempts: {}",
                     d.transition_key, r.name, d.attempts + 1, result.error);
        stored = outbox_->DeadLetter(
            d,
            Concat("gave up after ", FormatDurationMs(config_.outbox.give_up_after_ms), ": ",
                   result.error),
            after);
        ++r.dead;  // once stored: whoever reads the count can read the dead letter
        break;
      }
      int64_t delay;
      if (result.retry_after_ms >= 0) {
        delay = std::max<int64_t>(result.retry_after_ms, 1);
        r.blocked_until_ms = after + delay;  // the whole receiver waits, not just this message
      } else {
        const int shift = std::min(d.attempts, 20);
        const int64_t base =
            std::min(config_.outbox.max_backoff_ms, config_.outbox.initial_backoff_ms << shift);
        std::uniform_int_distribution<int64_t> jitter(base / 2, std::max<int64_t>(base / 2, base));
        delay = jitter(r.rng);
      }
      stored = outbox_->Reschedule(d, after + delay, /*failed=*/true);
      break;
    }
    case SinkResult::Outcome::kFatal:
      ++r.fatal;
      spdlog::warn("alerting: receiver {} refused {}: {}", r.name, d.transition_key, result.error);
      stored = outbox_->DeadLetter(d, result.error, after);
      ++r.dead;
      break;
  }
  if (!stored.ok()) {
    // The send happened but the outbox did not record it; after the lease it
    // may be sent again (receivers dedup by the idempotency key).
    ++outbox_errors_;
    spdlog::warn("alerting: outbox update failed for {}: {}", d.transition_key,
                 std::string(stored.message()));
  }
}

}  // namespace burnrate
