#include "alerting/log/log_sink.h"

namespace burnrate {

SinkResult LogAlertSink::Deliver(const Alert& alert, const DeliveryContext& context) {
  (void)context;
  std::string line = AlertToJson(alert);
  line += '\n';
  std::lock_guard lock(mu_);
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0) {
    return SinkResult::Retry("log: write failed");
  }
  return SinkResult::Ok();
}

}  // namespace burnrate
