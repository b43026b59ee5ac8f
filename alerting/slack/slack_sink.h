// Slack incoming webhooks with Block Kit: a header, the summary, fields for
// the figures, a context line with links, and a plain `text` fallback for
// notifications. Every block stays within Slack's limits (header 150 chars,
// section text 3000, at most 10 fields of 2000, at most 50 blocks) and
// untrusted strings are escaped for mrkdwn.
#pragma once

#include <string>
#include <string_view>

#include "alerting/format.h"
#include "alerting/http_client.h"
#include "alerting/sink.h"
#include "config/secret.h"

namespace burnrate {

// Escapes &, < and > as Slack's mrkdwn requires.
std::string SlackEscape(std::string_view s);

// The JSON body for one transition (a reminder when context.repeat > 0).
std::string SlackPayload(const Alert& alert, const DeliveryContext& context,
                         const AlertLinks& links);

// One Slack webhook. Not thread-safe (the delivery service calls it from one thread).
class SlackSink : public AlertSink {
 public:
  SlackSink(Secret webhook_url, AlertLinks links, int64_t timeout_ms)
      : url_(std::move(webhook_url)), links_(std::move(links)), timeout_ms_(timeout_ms) {}
  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) override;

 private:
  Secret url_;
  AlertLinks links_;
  int64_t timeout_ms_;
  HttpClient http_;
};

}  // namespace burnrate
