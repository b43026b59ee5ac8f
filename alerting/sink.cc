#include "alerting/sink.h"

namespace burnrate {

std::string_view SinkOutcomeName(SinkResult::Outcome outcome) {
  switch (outcome) {
    case SinkResult::Outcome::kOk:
      return "ok";
    case SinkResult::Outcome::kRetry:
      return "retry";
    case SinkResult::Outcome::kFatal:
      return "fatal";
  }
  return "unknown";
}

}  // namespace burnrate
