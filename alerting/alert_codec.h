// Alerts as stored in the outbox: JSON with every field at full precision
// (AlertToJson is the public format, rounded for humans; this one must give
// back exactly what was enqueued).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/alert.h"

namespace burnrate {

std::string EncodeStoredAlert(const Alert& alert);
absl::StatusOr<Alert> DecodeStoredAlert(std::string_view text);

}  // namespace burnrate
