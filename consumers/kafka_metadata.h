// Topic metadata from any librdkafka handle (consumer or producer), shared by
// the source and the producers.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace burnrate {

// Asks the brokers for `topic` (on a broker that auto-creates topics, this
// lookup starts the creation) and returns its partition count. Errors read
// "kafka topic <topic>: <reason>".
absl::StatusOr<int32_t> TopicPartitionCount(rd_kafka_t* rk, const std::string& topic,
                                            int timeout_ms);

}  // namespace burnrate
