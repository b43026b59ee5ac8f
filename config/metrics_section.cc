// The `metrics:` section (metrics/metrics_config.h, docs/metrics.md): how
// many tenants and models get spend series of their own, and how long label
// values may be.
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "config/yaml_reader.h"
#include "core/concat.h"
#include "metrics/metrics_config.h"

namespace burnrate {

absl::Status ParseMetricsSection(const YamlReader& r, const YAML::Node& node, MetricsConfig& c) {
  if (!node) return absl::OkStatus();
  BR_RETURN_IF_ERROR(r.OnlyKeys(node, "metrics",
                                {"top_keys", "top_models", "max_label_bytes", "spend_half_life"}));
  // 2,000 keys are ~16,000 spend series: beyond that a scrape gets heavy and
  // the point of bounding cardinality is lost.
  BR_RETURN_IF_ERROR(r.IntAs(node["top_keys"], "metrics.top_keys", 0, 2'000, c.top_keys));
  BR_RETURN_IF_ERROR(r.IntAs(node["top_models"], "metrics.top_models", 0, 1'000, c.top_models));
  BR_RETURN_IF_ERROR(
      r.IntAs(node["max_label_bytes"], "metrics.max_label_bytes", 8, 256, c.max_label_bytes));
  BR_RETURN_IF_ERROR(r.Duration(node["spend_half_life"], "metrics.spend_half_life", 60'000,
                                30 * 86'400'000LL, c.spend_half_life_ms));
  return absl::OkStatus();
}

std::string ExplainMetricsConfig(const MetricsConfig& c) {
  std::ostringstream o;
  o << "metrics: spend series for the top " << c.top_keys << " (tenant, feature, environment) keys"
    << " and the top " << c.top_models << " models, the rest under \"other\"; label values cut to "
    << c.max_label_bytes << " bytes; past spend halves in weight every "
    << FormatDurationMs(c.spend_half_life_ms) << "\n";
  return o.str();
}

}  // namespace burnrate
