// A Kafka consumer-group member on librdkafka's high-level consumer:
// cooperative-sticky assignment, batch polling, no automatic commits (offsets
// are committed by the engine only after the state they produced is durable).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "consumers/source.h"

namespace burnrate {

// Not thread-safe: one polling thread owns it; the listener is called from
// inside Poll() on that thread.
class KafkaSource {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSource>> Create(const KafkaConfig& config,
                                                             PartitionListener& listener);
  ~KafkaSource();
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Waits up to timeout_ms for messages, then hands up to max_messages to
  // `handle`, stopping early once their payloads reach max_bytes (so at most
  // one message past it). Returns how many were handled. Transient broker
  // errors are retried by librdkafka and not returned.
  absl::StatusOr<size_t> Poll(size_t max_messages, size_t max_bytes, int timeout_ms,
                              const std::function<void(const SourceMessage&)>& handle);

  // Commits "next offset to read" per partition, asynchronously (the state
  // store, not Kafka, is where a partition's position is authoritative).
  // While the member is rejoining its group the offsets are held back (a
  // commit then would cost it its whole assignment, see the .cc). Offsets
  // held back or whose commit failed (a rebalance, no coordinator) are sent
  // with a later call, while the partition is still assigned here, so the
  // group's lag does not stay behind a partition that went quiet.
  absl::Status Commit(const std::vector<std::pair<int32_t, int64_t>>& next_offsets);

  // Partitions currently assigned to this member.
  std::vector<int32_t> Assigned() const;
  // A partition's log start and high watermark (the offset after its last
  // message), as of the consumer's latest fetch; {-1, -1} when unknown.
  std::pair<int64_t, int64_t> LogBounds(int32_t partition) const;
  // Number of partitions of the topic (broker metadata); error if unknown.
  absl::StatusOr<int32_t> PartitionCount(int timeout_ms);
  // Moves a partition's fetch position (after the state store refused a
  // checkpoint and the partition's state was reloaded).
  absl::Status Seek(int32_t partition, int64_t offset);
  // Stops / restarts fetching on every assigned partition (back-pressure
  // while the state store is unavailable).
  void PauseAll();
  void ResumeAll();
  bool paused() const;
  // Leaves the group cleanly (revokes partitions through the listener).
  void Close();

 private:
  struct Impl;
  explicit KafkaSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace burnrate
