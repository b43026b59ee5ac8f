// Text helpers the sinks share: figures as a human reads them, UTF-8-safe
// truncation, links to the dashboard and the quota endpoint.
#pragma once

#include <string>
#include <string_view>

#include "core/alert.h"

namespace burnrate {

// Links that messages carry; empty URLs mean no link.
struct AlertLinks {
  std::string dashboard_url;
  std::string quota_url;
};

// Cuts `s` to at most max_bytes without splitting a UTF-8 sequence, ending
// with "…" when something was cut.
std::string TruncateUtf8(std::string_view s, size_t max_bytes);

// "$12.34" for usd, "0.0123 usd_per_call", "1523 calls", ...
std::string FormatFigure(double value, std::string_view unit);
// "3.20x", or "n/a" when there was no baseline to compare with.
std::string FormatRatio(double ratio);

// "acme / chat / prod": the non-empty dimensions, or "all" when none.
std::string AlertKeyText(const Alert& alert);

// The dashboard URL filtered to the alert's tenant, and the quota endpoint
// for the tenant; empty when not configured.
std::string DashboardLink(const AlertLinks& links, const Alert& alert);
std::string QuotaLink(const AlertLinks& links, const Alert& alert);

std::string UrlEncode(std::string_view s);

}  // namespace burnrate
