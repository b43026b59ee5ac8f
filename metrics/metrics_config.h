// Settings of the metrics module (the `metrics:` section of the config file,
// docs/configuration.md). Header-only so config/ can parse it without
// depending on prometheus-cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace burnrate {

struct MetricsConfig {
  // Spend series: at most this many (tenant, feature, environment) keys get
  // a label set of their own; all other spend is summed under "other".
  size_t top_keys = 200;
  // The same for burnrate_model_cost_usd_total{model}.
  size_t top_models = 50;
  // Label values (tenant, feature, environment, model names from events) are
  // cut to this many bytes, at a UTF-8 character boundary.
  size_t max_label_bytes = 64;
  // How fast past spend stops counting when choosing the top keys: a key's
  // spend weighs half as much after this long (event time).
  int64_t spend_half_life_ms = 3'600'000;
};

}  // namespace burnrate
