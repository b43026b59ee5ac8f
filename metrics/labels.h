// Making untrusted strings (tenant, feature, environment and model names from
// events) safe to use as Prometheus label values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace burnrate {

// Returns `value` cut to at most `max_bytes` bytes without splitting a UTF-8
// character, with every byte sequence that is not valid UTF-8 replaced by
// U+FFFD and control characters (below 0x20, and 0x7f) replaced by '?'.
// An empty value becomes "unknown", the decoder's word for a missing
// dimension. Quotes, backslashes and newlines that remain are escaped by the
// text serializer; replacing control characters also keeps Grafana legends
// and log lines readable.
std::string SanitizeLabelValue(std::string_view value, size_t max_bytes);

}  // namespace burnrate
