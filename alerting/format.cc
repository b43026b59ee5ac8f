#include "alerting/format.h"

#include <cmath>
#include <cstdio>

#include "core/concat.h"

namespace burnrate {

std::string TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (max_bytes < kEllipsis.size()) return {};
  size_t cut = max_bytes - kEllipsis.size();
  // Step back over continuation bytes so the cut lands on a character start.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return Concat(s.substr(0, cut), kEllipsis);
}

std::string FormatFigure(double value, std::string_view unit) {
  char buf[64];
  if (!std::isfinite(value)) return "n/a";
  if (unit == "usd") {
    std::snprintf(buf, sizeof buf, "$%.2f", value);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return Concat(std::string_view(buf), " ", unit);
}

std::string FormatRatio(double ratio) {
  if (!std::isfinite(ratio) || ratio <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", ratio);
  return buf;
}

std::string AlertKeyText(const Alert& a) {
  std::string out;
  for (const std::string* part : {&a.tenant, &a.feature, &a.environment, &a.subject}) {
    if (part->empty()) continue;
    if (!out.empty()) out += " / ";
    out += *part;
  }
  return out.empty() ? "all" : out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {
std::string WithQuery(const std::string& base, std::string_view name, std::string_view value) {
  if (base.empty()) return {};
  if (value.empty()) return base;
  return Concat(base, base.find('?') == std::string::npos ? "?" : "&", name, "=", UrlEncode(value));
}
}  // namespace

std::string DashboardLink(const AlertLinks& links, const Alert& a) {
  return WithQuery(links.dashboard_url, "var-tenant", a.tenant);
}

std::string QuotaLink(const AlertLinks& links, const Alert& a) {
  return WithQuery(links.quota_url, "tenant", a.tenant);
}

}  // namespace burnrate
