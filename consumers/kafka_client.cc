#include "consumers/kafka_client.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/concat.h"

namespace burnrate {

void LogKafkaLine(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  // librdkafka's levels are syslog's: 0-3 errors, 4 warnings, 5-7 the
  // rest. Its debugging lines (7) come only when kafka.properties asks for
  // them (`debug`), so they are shown at info, which the engine logs.
  const spdlog::level::level_enum spd = level <= 3   ? spdlog::level::err
                                        : level == 4 ? spdlog::level::warn
                                                     : spdlog::level::info;
  spdlog::log(spd, "kafka {} {}: {}", rd_kafka_name(rk), facility, text);
}

void RouteKafkaLogs(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, &LogKafkaLine); }

bool IsConsumerOnlySetting(std::string_view name) {
  // librdkafka's consumer settings (its CONFIGURATION.md, column C/P "C").
  static constexpr std::string_view kPrefixes[] = {"group.",
                                                   "partition.assignment",
                                                   "session.",
                                                   "heartbeat.",
                                                   "max.poll",
                                                   "enable.auto.",
                                                   "auto.commit",
                                                   "auto.offset",
                                                   "queued.",
                                                   "fetch.",
                                                   "max.partition.",
                                                   "isolation.level",
                                                   "check.crcs",
                                                   "enable.partition.eof",
                                                   "coordinator.query",
                                                   "offset.store",
                                                   "consume.callback"};
  for (std::string_view prefix : kPrefixes) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

absl::StatusOr<KafkaConfPtr> NewKafkaConf(
    const KafkaConfig& config, KafkaRole role,
    const std::vector<std::pair<std::string, std::string>>& defaults, std::string_view what) {
  KafkaConfPtr conf(rd_kafka_conf_new());
  char err[512];
  const auto set = [&](const std::string& name, const std::string& value, bool secret) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) ==
        RD_KAFKA_CONF_OK) {
      return absl::OkStatus();
    }
    // librdkafka's reason may quote the value ("Invalid value ..."): a
    // secret's is then left out.
    const std::string_view reason(err);
    if (secret && !value.empty() && reason.find(value) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          Concat(what, " setting ", name, ": librdkafka refused its value (not shown: a secret)"));
    }
    return absl::InvalidArgumentError(
        Concat(what, " setting ", name, secret ? "" : Concat("=", value), ": ", reason));
  };
  for (const auto& [name, value] : defaults) {
    if (absl::Status s = set(name, value, false); !s.ok()) return s;
  }
  for (const auto& [name, value] : config.properties) {
    if (role != KafkaRole::kConsumer && IsConsumerOnlySetting(name)) continue;
    if (absl::Status s = set(name, value, false); !s.ok()) return s;
  }
  for (const auto& [name, secret] : config.secret_properties) {
    if (absl::Status s = set(name, secret.value, true); !s.ok()) return s;
  }
  RouteKafkaLogs(conf.get());
  return conf;
}

absl::StatusOr<rd_kafka_t*> NewKafkaHandle(rd_kafka_type_t type, KafkaConfPtr conf,
                                           std::string_view what) {
  char err[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (handle == nullptr) return absl::InvalidArgumentError(Concat(what, ": ", err));
  conf.release();  // now the handle's
  return handle;
}

void KafkaClientErrors::Note(rd_kafka_t* rk, int err, const char* reason) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  // A refusal of the credentials or of the TLS handshake: retrying cannot
  // help until someone changes the settings (or the broker's side).
  const bool security = code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL;
  int64_t left_out = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (security) security_refusal_ = reason;
    // A consumer hears of some errors at every fetch: one line per code
    // and interval is enough to see them.
    const auto now = std::chrono::steady_clock::now();
    auto [it, first] = logged_.try_emplace(err, Logged{now, 0});
    if (!first) {
      if (now - it->second.at < log_interval_) {
        ++it->second.left_out;
        return;
      }
      left_out = std::exchange(it->second.left_out, 0);
      it->second.at = now;
    }
  }
  spdlog::log(
      security || code == RD_KAFKA_RESP_ERR__FATAL ? spdlog::level::err : spdlog::level::warn,
      "kafka {}: {} ({}{})", rd_kafka_name(rk), reason, rd_kafka_err2name(code),
      left_out > 0 ? Concat("; ", left_out, " more since the last such line") : "");
}

std::string KafkaClientErrors::SecurityRefusal() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return security_refusal_;
}

absl::Status SecurityRefusalError(const std::string& refusal) {
  return absl::UnauthenticatedError(
      Concat("kafka: authentication with the brokers failed: ", refusal,
             " (check security.protocol and the sasl.* and ssl.* settings under kafka.properties "
             "and kafka.secret_properties)"));
}

}  // namespace burnrate
