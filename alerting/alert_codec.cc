#include "alerting/alert_codec.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/concat.h"

namespace burnrate {
namespace {

// JSON has no infinity; a ratio against a zero baseline is stored as a string.
nlohmann::json Number(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

double ReadNumber(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.is_string() ? j.get<std::string>() : "nan";
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::string EncodeStoredAlert(const Alert& a) {
  nlohmann::json j = {{"id", a.alert_id},
                      {"kind", AlertKindName(a.kind)},
                      {"status", AlertStatusName(a.status)},
                      {"severity", SeverityName(a.severity)},
                      {"tenant", a.tenant},
                      {"feature", a.feature},
                      {"environment", a.environment},
                      {"model", a.model},
                      {"subject", a.subject},
                      {"ws", a.window_start_ms},
                      {"wsize", a.window_size_ms},
                      {"observed", Number(a.observed)},
                      {"baseline", Number(a.baseline)},
                      {"ratio", Number(a.ratio)},
                      {"unit", a.unit},
                      {"started", a.started_at_ms},
                      {"resolved", a.resolved_at_ms},
                      {"summary", a.summary}};
  nlohmann::json details = nlohmann::json::array();
  for (const auto& [k, v] : a.details) details.push_back({k, v});
  j["details"] = std::move(details);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<Alert> DecodeStoredAlert(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("stored alert is not JSON");
  try {
    Alert a;
    a.alert_id = j.at("id").get<std::string>();
    const auto kind = ParseAlertKind(j.at("kind").get<std::string>());
    const auto severity = ParseSeverity(j.at("severity").get<std::string>());
    if (!kind || !severity)
      return absl::DataLossError("stored alert has an unknown kind or severity");
    a.kind = *kind;
    a.severity = *severity;
    a.status = j.at("status").get<std::string>() == "resolved" ? AlertStatus::kResolved
                                                               : AlertStatus::kFiring;
    a.tenant = j.at("tenant").get<std::string>();
    a.feature = j.at("feature").get<std::string>();
    a.environment = j.at("environment").get<std::string>();
    a.model = j.at("model").get<std::string>();
    a.subject = j.at("subject").get<std::string>();
    a.window_start_ms = j.at("ws").get<int64_t>();
    a.window_size_ms = j.at("wsize").get<int64_t>();
    a.observed = ReadNumber(j.at("observed"));
    a.baseline = ReadNumber(j.at("baseline"));
    a.ratio = ReadNumber(j.at("ratio"));
    a.unit = j.at("unit").get<std::string>();
    a.started_at_ms = j.at("started").get<int64_t>();
    a.resolved_at_ms = j.at("resolved").get<int64_t>();
    a.summary = j.at("summary").get<std::string>();
    for (const auto& d : j.at("details"))
      a.details.emplace_back(d.at(0).get<std::string>(), d.at(1).get<std::string>());
    return a;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(Concat("stored alert: ", e.what()));
  }
}

}  // namespace burnrate
