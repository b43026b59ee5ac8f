#include "detectors/detector.h"

#include <cstdio>

#include "core/concat.h"

namespace burnrate {
namespace {
constexpr char kSep = '\x1f';
}

std::string KeyIdentity::DisplayName() const {
  switch (scope) {
    case WindowScope::kKey:
      return Concat(tenant, "/", feature, "/", environment);
    case WindowScope::kTenant:
      return Concat("tenant ", tenant);
    case WindowScope::kFeature:
      return Concat("feature ", feature);
    case WindowScope::kEnvironment:
      return Concat("environment ", environment);
    case WindowScope::kModel:
      return Concat("model ", model);
  }
  return {};
}

std::string KeyIdentity::StoreKey() const {
  return Concat(WindowScopeName(scope), std::string(1, kSep), tenant, std::string(1, kSep), feature,
                std::string(1, kSep), environment, std::string(1, kSep), model);
}

std::optional<KeyIdentity> KeyIdentity::FromStoreKey(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t from = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == kSep) {
      parts.push_back(s.substr(from, i - from));
      from = i + 1;
    }
  }
  if (parts.size() != 5) return std::nullopt;
  KeyIdentity k;
  bool known = false;
  for (auto scope : {WindowScope::kKey, WindowScope::kTenant, WindowScope::kFeature, WindowScope::kEnvironment,
                     WindowScope::kModel}) {
    if (WindowScopeName(scope) == parts[0]) {
      k.scope = scope;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  k.tenant = parts[1];
  k.feature = parts[2];
  k.environment = parts[3];
  k.model = parts[4];
  return k;
}

std::string FormatUsd(double usd) {
  char buf[48];
  if (usd != 0 && usd < 0.01 && usd > -0.01) {
    std::snprintf(buf, sizeof buf, "$%.4f", usd);
  } else {
    std::snprintf(buf, sizeof buf, "$%.2f", usd);
  }
  return buf;
}

std::string FormatWeekdayHour(int64_t epoch_ms) {
  static constexpr const char* kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
  const int how = KeyHistory::HourOfWeek(epoch_ms / 3'600'000);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s %02d:00 UTC", kDays[how / 24], how % 24);
  return buf;
}

}  // namespace burnrate
