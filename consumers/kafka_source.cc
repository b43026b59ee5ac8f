#include "consumers/kafka_source.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string_view>

#include "consumers/commit_retries.h"
#include "consumers/kafka_client.h"
#include "consumers/kafka_metadata.h"
#include "core/concat.h"

namespace burnrate {

struct KafkaSource::Impl {
  rd_kafka_t* consumer = nullptr;
  std::string topic;
  PartitionListener* listener = nullptr;
  std::vector<int32_t> assigned;
  bool closed = false;
  bool paused = false;
  // Whether the group has given this member an assignment (even an empty
  // one) since it subscribed: see Close().
  bool assignment_received = false;
  // Whether the configured assignors rebalance cooperatively (librdkafka
  // requires all of them to share one protocol). Not asked of librdkafka
  // at each rebalance: once the member has left the group it answers NULL,
  // and Close() can still serve a rebalance then (it crashed a replica
  // stopped while another one left).
  bool cooperative = false;
  KafkaClientErrors errors;
  CommitRetries commit_retries;
  // Whether the member is between leaving its steady state and reaching it
  // again: it has asked to rejoin the group (a member came or went). An
  // offset commit sent then reaches the coordinator after the new
  // generation began, and librdkafka 2.0.2 answers its ILLEGAL_GENERATION
  // by dropping the member's whole assignment as lost (librdkafka issue
  // 4059, fixed in 2.10): every partition reloaded, everything not yet
  // durable counted again. So commits wait until the member is steady.
  // Set from librdkafka's main thread, through its `cgrp` debug lines.
  std::atomic<bool> rejoining{false};
  bool show_debug_lines = false;  // kafka.properties asked for `debug`

  rd_kafka_topic_partition_list_t* AssignedList() const {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(assigned.size()) + 1);
    for (int32_t p : assigned) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
    return list;
  }

  ~Impl() {
    if (consumer) rd_kafka_destroy(consumer);
  }

  static void Warn(const char* what, rd_kafka_error_t* error) {
    spdlog::warn("kafka {}: {}", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->errors.Note(rk, err, reason);
  }

  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
    auto* self = static_cast<Impl*>(rd_kafka_opaque(rk));
    if (self && std::string_view(facility) == "CGRPJOINSTATE") {
      // `Group "G" changed join state wait-sync -> steady (state up)`. If a
      // later librdkafka words it otherwise, this stays false and commits
      // go out as before.
      const std::string_view line(text);
      const size_t arrow = line.find(" -> ");
      if (arrow != std::string_view::npos)
        self->rejoining = !line.substr(arrow + 4).starts_with("steady");
    }
    if (level >= 7 && self && !self->show_debug_lines) return;  // asked for by us, not the user
    LogKafkaLine(rk, level, facility, text);
  }

  static void OnCommitted(rd_kafka_t*, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (!offsets) return;
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < offsets->cnt; ++i) {
      const rd_kafka_topic_partition_t& o = offsets->elems[i];
      if (o.offset < 0) continue;
      // librdkafka logs the failure itself (COMMITFAIL).
      const bool failed =
          o.err != RD_KAFKA_RESP_ERR_NO_ERROR ||
          (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET);
      if (failed) {
        self->commit_retries.Failed(o.partition, o.offset, now);
      } else {
        self->commit_retries.Succeeded(o.partition, o.offset);
      }
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                          void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    std::vector<int32_t> ids;
    for (int i = 0; i < parts->cnt; ++i) ids.push_back(parts->elems[i].partition);
    // Each life of a partition here commits its own positions; one that
    // moved away is committed by its next owner.
    for (int32_t p : ids) self->commit_retries.Forget(p);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Start where the state store says this partition's state ends, so
      // nothing is counted twice and nothing is skipped.
      const auto starts = self->listener->OnAssigned(ids);
      for (int i = 0; i < parts->cnt; ++i) {
        if (static_cast<size_t>(i) < starts.size() && starts[i]) parts->elems[i].offset = *starts[i];
      }
      if (self->cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) Warn("assign", e);
      } else {
        rd_kafka_assign(rk, parts);
      }
      for (int32_t p : ids) self->assigned.push_back(p);
      self->assignment_received = true;
      // New partitions follow the source's current back-pressure state.
      if (self->paused) rd_kafka_pause_partitions(rk, parts);
    } else {
      if (rd_kafka_assignment_lost(rk)) {
        self->listener->OnLost(ids);
      } else {
        self->listener->OnRevoked(ids);
      }
      if (self->cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) Warn("unassign", e);
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      std::erase_if(self->assigned, [&](int32_t p) { return std::find(ids.begin(), ids.end(), p) != ids.end(); });
    }
  }
};

KafkaSource::KafkaSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaSource::~KafkaSource() { Close(); }

absl::StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(const KafkaConfig& config,
                                                                 PartitionListener& listener) {
  auto impl = std::make_unique<Impl>();
  impl->topic = config.topic;
  impl->listener = &listener;
  auto conf = NewKafkaConf(config, KafkaRole::kConsumer,
                           {
                               {"bootstrap.servers", config.brokers},
                               {"group.id", config.group_id},
                               {"partition.assignment.strategy", "cooperative-sticky"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"auto.offset.reset", "earliest"},
                               // Large fetches: the engine is throughput-bound, not latency-bound.
                               {"fetch.max.bytes", "52428800"},
                               {"queued.max.messages.kbytes", "262144"},
                               // Prefetch bounded by bytes (above), not by librdkafka's default of
                               // 100k messages: with that, a drain spent over half its time with an
                               // empty queue, the fetcher pausing whenever a partition's queue
                               // reached the count and resuming late (docs/benchmarks.md).
                               {"queued.min.messages", "1000000"},
                               {"client.id", "burnrate"},
                           },
                           "kafka");
  if (!conf.ok()) return conf.status();
  char strategy[256];
  size_t strategy_size = sizeof strategy;
  if (rd_kafka_conf_get(conf->get(), "partition.assignment.strategy", strategy, &strategy_size) ==
      RD_KAFKA_CONF_OK) {
    impl->cooperative =
        std::string_view(strategy).find("cooperative-sticky") != std::string_view::npos;
  }
  // The group's join state is told only in librdkafka's `cgrp` debug lines
  // (see Impl::rejoining); they are shown only if the user asked for debug.
  char debug[512] = "";
  size_t debug_size = sizeof debug;
  if (rd_kafka_conf_get(conf->get(), "debug", debug, &debug_size) != RD_KAFKA_CONF_OK)
    debug[0] = '\0';
  impl->show_debug_lines = debug[0] != '\0';
  const std::string_view user_debug(debug);
  if (user_debug.find("cgrp") == std::string_view::npos &&
      user_debug.find("all") == std::string_view::npos) {
    const std::string with_cgrp = user_debug.empty() ? "cgrp" : Concat(user_debug, ",cgrp");
    char error[256];
    if (rd_kafka_conf_set(conf->get(), "debug", with_cgrp.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK)
      return absl::InternalError(Concat("kafka debug=", with_cgrp, ": ", error));
  }
  rd_kafka_conf_set_log_cb(conf->get(), &Impl::OnLog);
  rd_kafka_conf_set_opaque(conf->get(), impl.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Impl::OnRebalance);
  rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &Impl::OnCommitted);
  auto consumer = NewKafkaHandle(RD_KAFKA_CONSUMER, *std::move(conf), "kafka consumer");
  if (!consumer.ok()) return consumer.status();
  impl->consumer = *consumer;
  rd_kafka_poll_set_consumer(impl->consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, config.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t sub = rd_kafka_subscribe(impl->consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (sub)
    return absl::UnavailableError(
        Concat("kafka subscribe ", config.topic, ": ", rd_kafka_err2str(sub)));
  return std::unique_ptr<KafkaSource>(new KafkaSource(std::move(impl)));
}

absl::StatusOr<size_t> KafkaSource::Poll(size_t max_messages, size_t max_bytes, int timeout_ms,
                                         const std::function<void(const SourceMessage&)>& handle) {
  // rd_kafka_consumer_poll, not the batch API: it is the call librdkafka's
  // consumer-group machinery is built around (rebalances, fetch resumption),
  // and after the first message the rest of a batch comes from the local
  // queue without waiting.
  size_t handled = 0;
  size_t bytes = 0;
  int wait_ms = timeout_ms;
  while (handled < max_messages && bytes < max_bytes) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->consumer, wait_ms);
    if (!m) break;
    wait_ms = 0;
    if (m->err) {
      // The consumer keeps retrying by itself; the error is logged (a topic
      // not authorised, all brokers down, refused credentials).
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        impl_->errors.Note(impl_->consumer, m->err, rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    handle(
        {m->partition, m->offset, std::string_view(static_cast<const char*>(m->payload), m->len)});
    ++handled;
    bytes += m->len;
    rd_kafka_message_destroy(m);
  }
  return handled;
}

absl::Status KafkaSource::Commit(const std::vector<std::pair<int32_t, int64_t>>& next_offsets) {
  if (impl_->rejoining) {
    for (const auto& [p, offset] : next_offsets) impl_->commit_retries.Defer(p, offset);
    return absl::OkStatus();
  }
  std::vector<std::pair<int32_t, int64_t>> offsets = next_offsets;
  const std::vector<int32_t>& assigned = impl_->assigned;
  impl_->commit_retries.TakeDue(
      std::chrono::steady_clock::now(),
      [&assigned](int32_t p) {
        return std::find(assigned.begin(), assigned.end(), p) != assigned.end();
      },
      offsets);
  if (offsets.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [p, off] : offsets) {
    rd_kafka_topic_partition_list_add(list, impl_->topic.c_str(), p)->offset = off;
  }
  // Asynchronous: a synchronous commit can block while a rebalance waits for
  // this very thread to poll. Nothing depends on it finishing, since the
  // state store holds the authoritative position; it keeps group lag visible.
  const rd_kafka_resp_err_t err = rd_kafka_commit(impl_->consumer, list, 1);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) return absl::UnavailableError(Concat("kafka commit: ", rd_kafka_err2str(err)));
  return absl::OkStatus();
}

std::vector<int32_t> KafkaSource::Assigned() const { return impl_->assigned; }

std::pair<int64_t, int64_t> KafkaSource::LogBounds(int32_t partition) const {
  int64_t low = -1, high = -1;
  if (rd_kafka_get_watermark_offsets(impl_->consumer, impl_->topic.c_str(), partition, &low, &high)) {
    return {-1, -1};
  }
  return {low, high};
}

absl::StatusOr<int32_t> KafkaSource::PartitionCount(int timeout_ms) {
  return TopicPartitionCount(impl_->consumer, impl_->topic, timeout_ms);
}

absl::Status KafkaSource::Seek(int32_t partition, int64_t offset) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, impl_->topic.c_str(), partition)->offset = offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(impl_->consumer, list, 10'000);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string why = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return absl::UnavailableError(Concat("kafka seek: ", why));
  }
  return absl::OkStatus();
}

void KafkaSource::PauseAll() {
  if (impl_->paused) return;
  impl_->paused = true;
  rd_kafka_topic_partition_list_t* list = impl_->AssignedList();
  rd_kafka_pause_partitions(impl_->consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaSource::ResumeAll() {
  if (!impl_->paused) return;
  impl_->paused = false;
  rd_kafka_topic_partition_list_t* list = impl_->AssignedList();
  rd_kafka_resume_partitions(impl_->consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
}

bool KafkaSource::paused() const { return impl_->paused; }

void KafkaSource::Close() {
  if (!impl_ || impl_->closed) return;
  impl_->closed = true;
  // librdkafka 2.0.2 aborts the process when it destroys a member that had
  // its JoinGroup answer but not its first assignment yet
  // (rdkafka_sticky_assignor.c: Assertion `assignor_state' failed;
  // librdkafka issue 4312, fixed in 2.3.0): a replica stopped while it
  // joined its group crashed. The assignment follows the answer within a
  // round trip to the coordinator, so such a member waits for it, briefly;
  // what it fetches meanwhile is dropped (its next owner reads it from the
  // stored position). A member with no answer yet has no assignor to crash.
  if (!impl_->assignment_received) {
    const char* protocol = rd_kafka_rebalance_protocol(impl_->consumer);
    const bool joined = protocol != nullptr && std::string_view(protocol) != "NONE";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (joined && !impl_->assignment_received && std::chrono::steady_clock::now() < until) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->consumer, 100))
        rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_consumer_close(impl_->consumer);
}

}  // namespace burnrate
