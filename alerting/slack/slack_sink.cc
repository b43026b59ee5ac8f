#include "alerting/slack/slack_sink.h"

#include <nlohmann/json.hpp>

#include "alerting/http_client.h"
#include "core/concat.h"

namespace burnrate {
namespace {

constexpr size_t kHeaderMax = 150;
constexpr size_t kSectionMax = 3000;
constexpr size_t kFieldMax = 2000;
constexpr size_t kLinkMax = 1000;

// Escapes first, then truncates on a character boundary that does not split
// an entity like "&amp;".
std::string EscapedWithin(std::string_view s, size_t max_bytes) {
  std::string escaped = SlackEscape(s);
  if (escaped.size() <= max_bytes) return escaped;
  std::string cut = TruncateUtf8(escaped, max_bytes);
  const size_t amp = cut.rfind('&');
  if (amp != std::string::npos && cut.find(';', amp) == std::string::npos) {
    cut = Concat(std::string_view(cut).substr(0, amp), "\xE2\x80\xA6");
  }
  return cut;
}

nlohmann::json Field(std::string_view label, std::string_view value) {
  return {{"type", "mrkdwn"}, {"text", EscapedWithin(Concat("*", label, "*\n", value), kFieldMax)}};
}

}  // namespace

std::string SlackEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

std::string SlackPayload(const Alert& a, const DeliveryContext& context, const AlertLinks& links) {
  const bool resolved = a.status == AlertStatus::kResolved;
  const std::string state =
      resolved ? "RESOLVED" : (context.repeat > 0 ? "STILL FIRING" : "FIRING");
  const std::string title = Concat("[", state, "] ", AlertKindName(a.kind), " (",
                                   SeverityName(a.severity), "): ", AlertKeyText(a));
  nlohmann::json blocks = nlohmann::json::array();
  // Header text is plain_text: no mrkdwn escaping, only the length limit.
  blocks.push_back(
      {{"type", "header"},
       {"text",
        {{"type", "plain_text"}, {"text", TruncateUtf8(title, kHeaderMax)}, {"emoji", true}}}});
  if (!a.summary.empty()) {
    blocks.push_back(
        {{"type", "section"},
         {"text", {{"type", "mrkdwn"}, {"text", EscapedWithin(a.summary, kSectionMax)}}}});
  }
  auto or_dash = [](const std::string& s) -> std::string_view {
    return s.empty() ? std::string_view("-") : s;
  };
  nlohmann::json fields = nlohmann::json::array();
  fields.push_back(Field("Tenant", or_dash(a.tenant)));
  fields.push_back(Field("Feature", or_dash(a.feature)));
  fields.push_back(Field("Environment", or_dash(a.environment)));
  fields.push_back(Field("Observed", FormatFigure(a.observed, a.unit)));
  fields.push_back(Field("Expected", FormatFigure(a.baseline, a.unit)));
  fields.push_back(Field("Ratio", FormatRatio(a.ratio)));
  fields.push_back(Field("Severity", SeverityName(a.severity)));
  fields.push_back(Field("Status", resolved ? "resolved" : "firing"));
  if (!a.model.empty()) fields.push_back(Field("Model", a.model));
  if (!a.subject.empty()) fields.push_back(Field("Subject", a.subject));
  blocks.push_back({{"type", "section"}, {"fields", fields}});  // at most 10 by construction

  std::vector<std::string> context_parts;
  const std::string dashboard = DashboardLink(links, a);
  const std::string quota = QuotaLink(links, a);
  // A link is only useful whole: a huge tenant name would cut it, so such a
  // link falls back to the unfiltered URL.
  auto link = [](const std::string& filtered, const std::string& base, std::string_view label) {
    return Concat("<", filtered.size() <= kLinkMax ? filtered : base, "|", label, ">");
  };
  if (!dashboard.empty())
    context_parts.push_back(link(dashboard, links.dashboard_url, "Grafana dashboard"));
  if (!quota.empty()) context_parts.push_back(link(quota, links.quota_url, "Quota"));
  context_parts.push_back(Concat("alert `", EscapedWithin(a.alert_id, 200), "`"));
  blocks.push_back({{"type", "context"},
                    {"elements",
                     {{{"type", "mrkdwn"},
                       {"text", TruncateUtf8(JoinStrings(context_parts, " · "), kSectionMax)}}}}});

  nlohmann::json body;
  body["text"] =
      EscapedWithin(Concat(title, a.summary.empty() ? "" : ": ", a.summary), kSectionMax);
  body["blocks"] = std::move(blocks);
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SinkResult SlackSink::Deliver(const Alert& alert, const DeliveryContext& context) {
  const HttpPostResult r = http_.Post(url_.value, SlackPayload(alert, context, links_),
                                      {{"Content-Type", "application/json"}}, timeout_ms_);
  return SinkResultFromHttp(r, "slack");
}

}  // namespace burnrate
