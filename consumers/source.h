// Where cost-event messages come from: a Kafka consumer group (`run`) or a
// JSON Lines file (`replay`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace burnrate {

// One message as the pipeline sees it. The payload is valid only during the
// callback it is passed to.
struct SourceMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string_view payload;
};

// Told when partitions arrive and leave, on the polling thread, so partition
// state can be reloaded before the first message and made durable before the
// partition goes to another replica.
class PartitionListener {
 public:
  virtual ~PartitionListener() = default;
  // Returns, per partition, the offset to start from (the position the state
  // store holds), or nullopt to start from the committed offset.
  virtual std::vector<std::optional<int64_t>> OnAssigned(const std::vector<int32_t>& partitions) = 0;
  // The partitions leave in an orderly rebalance (or on close): make their
  // state durable first.
  virtual void OnRevoked(const std::vector<int32_t>& partitions) = 0;
  // The partitions were lost: this member's session timed out (a broker
  // outage, a stalled process) and the group may have given them to another
  // member already. Nothing can be handed over any more; drop them.
  virtual void OnLost(const std::vector<int32_t>& partitions) = 0;
};

}  // namespace burnrate
