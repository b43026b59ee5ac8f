// What every librdkafka handle burnrate opens shares: its settings are
// built one way (NewKafkaConf), librdkafka's own log lines and the errors it
// reports go through spdlog like the rest of the engine's output, and a
// broker's refusal of the connection's security settings (SASL credentials,
// TLS) is kept, so that start-up can stop with the broker's reason rather
// than time out on something else.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"

namespace burnrate {

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
// rd_kafka_new takes the configuration over only when it succeeds (see
// NewKafkaHandle, which releases it then).
using KafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

// What a handle is for. kafka.properties is shared by every handle burnrate
// opens; settings only a consumer understands are left out of the others
// (librdkafka would warn at each start that it ignores them).
enum class KafkaRole : uint8_t { kConsumer, kProducer };

// A handle's librdkafka configuration: `defaults` first, then
// kafka.properties (so the last setting of a name wins, as in librdkafka),
// then kafka.secret_properties, and its log lines routed to spdlog. A
// setting librdkafka refuses is an InvalidArgument naming `what` (e.g.
// "kafka producer"), the setting and, unless it is a secret, its value.
absl::StatusOr<KafkaConfPtr> NewKafkaConf(
    const KafkaConfig& config, KafkaRole role,
    const std::vector<std::pair<std::string, std::string>>& defaults, std::string_view what);

// rd_kafka_new with `conf`, which the handle takes over when it is made (and
// which is destroyed otherwise). A refusal is an InvalidArgument
// "<what>: <librdkafka's reason>".
absl::StatusOr<rd_kafka_t*> NewKafkaHandle(rd_kafka_type_t type, KafkaConfPtr conf,
                                           std::string_view what);

// Whether librdkafka knows `name` as a setting for consumers only.
bool IsConsumerOnlySetting(std::string_view name);

// Sends the log lines of handles made from `conf` to spdlog, as
// "kafka <handle> <facility>: <text>", instead of librdkafka's "%3|..." lines
// on stderr.
void RouteKafkaLogs(rd_kafka_conf_t* conf);
// What RouteKafkaLogs installs, for a handle's own log callback to call.
void LogKafkaLine(const rd_kafka_t* rk, int level, const char* facility, const char* text);

// The errors librdkafka reports for one handle: through its error callback,
// or, for a consumer, as messages with an error code. Thread-safe: the
// callback runs on librdkafka's threads.
class KafkaClientErrors {
 public:
  static constexpr std::chrono::milliseconds kLogInterval{10'000};

  explicit KafkaClientErrors(std::chrono::milliseconds log_interval = kLogInterval)
      : log_interval_(log_interval) {}
  // Logs the error (each error code at most once per log interval, with
  // how many were left out since), and keeps it when it refuses the
  // security settings.
  void Note(rd_kafka_t* rk, int err, const char* reason);
  // The broker's last refusal of the credentials or of the TLS handshake;
  // empty when there was none. librdkafka keeps retrying after one.
  std::string SecurityRefusal() const;

 private:
  struct Logged {
    std::chrono::steady_clock::time_point at;
    int64_t left_out = 0;
  };
  const std::chrono::milliseconds log_interval_;
  mutable std::mutex mutex_;
  std::string security_refusal_;
  absl::flat_hash_map<int, Logged> logged_;  // by error code
};

// The start-up error for such a refusal (Unauthenticated), naming what to check.
absl::Status SecurityRefusalError(const std::string& refusal);

}  // namespace burnrate
