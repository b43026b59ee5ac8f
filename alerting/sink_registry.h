// The one place receiver types are created by name from config: an explicit
// registry (no static self-registration, which the linker may drop from a
// static library). An unknown type is a config error.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/alerting_config.h"
#include "alerting/format.h"
#include "alerting/sink.h"

namespace burnrate {

class KafkaProducer;

// What sinks may need beyond their own receiver config.
struct SinkDeps {
  AlertLinks links;
  KafkaProducer* kafka_producer = nullptr;  // required by `kafka` receivers
};

// The receiver types CreateSink knows.
const std::vector<std::string_view>& SinkTypeNames();

absl::StatusOr<AlertSinkPtr> CreateSink(const ReceiverConfig& receiver, const SinkDeps& deps);

}  // namespace burnrate
