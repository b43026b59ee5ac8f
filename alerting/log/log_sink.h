// Alerts as JSON Lines to a stream (stdout by default): the receiver of the
// embedded mode and of a service run without any other receiver.
#pragma once

#include <cstdio>
#include <mutex>

#include "alerting/sink.h"

namespace burnrate {

// Borrows the stream. Thread-safe (one line per write, under a mutex).
class LogAlertSink : public AlertSink {
 public:
  explicit LogAlertSink(std::FILE* out = stdout) : out_(out) {}
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  std::FILE* out_;
  std::mutex mu_;
};

}  // namespace burnrate
