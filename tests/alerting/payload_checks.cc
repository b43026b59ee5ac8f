#include "tests/alerting/payload_checks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/time_format.h"

namespace burnrate::testing {
namespace {

using nlohmann::json;

std::string CheckMrkdwn(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      const std::string_view rest = std::string_view(s).substr(i);
      if (rest.rfind("&amp;", 0) != 0 && rest.rfind("&lt;", 0) != 0 && rest.rfind("&gt;", 0) != 0) {
        return "unescaped & in mrkdwn: " + s.substr(0, 80);
      }
    } else if (s[i] == '<') {
      const size_t close = s.find('>', i);
      const std::string link = close == std::string::npos ? "" : s.substr(i + 1, close - i - 1);
      if (link.rfind("http", 0) != 0 || link.find('<') != std::string::npos) {
        return "unescaped < in mrkdwn: " + s.substr(i, 80);
      }
      i = close;
    } else if (s[i] == '>') {
      return "unescaped > in mrkdwn: " + s.substr(0, 80);
    }
  }
  return "";
}

std::string CheckText(const json& t, size_t max, bool plain_only) {
  if (!t.is_object() || !t.contains("type") || !t.contains("text") || !t["text"].is_string())
    return "bad text object";
  const std::string type = t["type"];
  if (type != "plain_text" && (plain_only || type != "mrkdwn")) return "bad text type " + type;
  const std::string text = t["text"];
  if (text.empty()) return "empty text";
  if (text.size() > max)
    return "text longer than " + std::to_string(max) + ": " + std::to_string(text.size());
  return type == "mrkdwn" ? CheckMrkdwn(text) : "";
}

std::string HmacHex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &n);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    out += buf;
  }
  return out;
}

bool IsRfc3339(const json& v) {
  return v.is_string() && ParseRfc3339Ms(v.get<std::string>()).has_value();
}

}  // namespace

std::string CheckSlackPayload(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "not a JSON object";
  if (!j.contains("text") || !j["text"].is_string() || j["text"].get<std::string>().empty()) {
    return "no text fallback";
  }
  if (auto e = CheckMrkdwn(j["text"]); !e.empty()) return "text: " + e;
  if (!j.contains("blocks")) return "";
  const json& blocks = j["blocks"];
  if (!blocks.is_array() || blocks.empty() || blocks.size() > 50) return "blocks must be 1 to 50";
  for (const auto& b : blocks) {
    const std::string type = b.value("type", "");
    if (type == "header") {
      if (auto e = CheckText(b["text"], 150, true); !e.empty()) return "header: " + e;
    } else if (type == "section") {
      if (!b.contains("text") && !b.contains("fields")) return "section without text or fields";
      if (b.contains("text")) {
        if (auto e = CheckText(b["text"], 3000, false); !e.empty()) return "section: " + e;
      }
      if (b.contains("fields")) {
        if (!b["fields"].is_array() || b["fields"].empty() || b["fields"].size() > 10)
          return "fields must be 1 to 10";
        for (const auto& f : b["fields"]) {
          if (auto e = CheckText(f, 2000, false); !e.empty()) return "field: " + e;
        }
      }
    } else if (type == "context") {
      if (!b["elements"].is_array() || b["elements"].empty() || b["elements"].size() > 10) {
        return "context elements must be 1 to 10";
      }
      for (const auto& el : b["elements"]) {
        if (auto e = CheckText(el, 3000, false); !e.empty()) return "context: " + e;
      }
    } else if (type != "divider") {
      return "unknown block type " + type;
    }
  }
  return "";
}

std::string CheckPagerDutyPayload(std::string_view body, std::string_view routing_key) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "not a JSON object";
  if (j.value("routing_key", "") != routing_key) return "wrong routing_key";
  const std::string action = j.value("event_action", "");
  if (action != "trigger" && action != "acknowledge" && action != "resolve")
    return "bad event_action " + action;
  if (j.contains("dedup_key") &&
      (!j["dedup_key"].is_string() || j["dedup_key"].get<std::string>().size() > 255)) {
    return "bad dedup_key";
  }
  if (action != "trigger") return j.contains("dedup_key") ? "" : "resolve without dedup_key";
  if (!j.contains("payload") || !j["payload"].is_object()) return "trigger without payload";
  const json& p = j["payload"];
  if (!p.contains("summary") || !p["summary"].is_string() ||
      p["summary"].get<std::string>().empty())
    return "no summary";
  if (p["summary"].get<std::string>().size() > 1024) return "summary longer than 1024";
  if (!p.contains("source") || !p["source"].is_string() || p["source"].get<std::string>().empty())
    return "no source";
  static const std::set<std::string> kSeverities = {"critical", "error", "warning", "info"};
  if (!p.contains("severity") || !p["severity"].is_string() || !kSeverities.count(p["severity"]))
    return "bad severity";
  if (p.contains("timestamp") && !IsRfc3339(p["timestamp"])) return "bad timestamp";
  if (p.contains("custom_details") && !p["custom_details"].is_object())
    return "custom_details not an object";
  for (const char* k : {"component", "group", "class"}) {
    if (p.contains(k) && !p[k].is_string()) return std::string(k) + " not a string";
  }
  if (j.contains("links")) {
    for (const auto& l : j["links"]) {
      if (!l.contains("href") || !l["href"].is_string()) return "link without href";
    }
  }
  return "";
}

std::string CheckAlertmanagerPayload(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) return "not a non-empty JSON array";
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::set<std::string> kKeys = {"labels", "annotations", "startsAt", "endsAt",
                                              "generatorURL"};
  for (const auto& a : j) {
    if (!a.is_object()) return "alert is not an object";
    for (const auto& [k, v] : a.items()) {
      if (!kKeys.count(k)) return "unknown field " + k;
    }
    if (!a.contains("labels") || !a["labels"].is_object() || a["labels"].empty())
      return "no labels";
    if (!a["labels"].contains("alertname")) return "no alertname label";
    for (const auto& [k, v] : a["labels"].items()) {
      if (!std::regex_match(k, kLabelName)) return "bad label name " + k;
      if (!v.is_string()) return "label " + k + " is not a string";
    }
    if (a.contains("annotations")) {
      for (const auto& [k, v] : a["annotations"].items()) {
        if (!v.is_string()) return "annotation " + k + " is not a string";
      }
    }
    if (a.contains("startsAt") && !IsRfc3339(a["startsAt"])) return "bad startsAt";
    if (a.contains("endsAt") && !IsRfc3339(a["endsAt"])) return "bad endsAt";
    if (a.contains("generatorURL") &&
        (!a["generatorURL"].is_string() ||
         a["generatorURL"].get<std::string>().rfind("http", 0) != 0)) {
      return "bad generatorURL";
    }
  }
  return "";
}

std::string CheckWebhookRequest(std::string_view body, std::string_view timestamp,
                                std::string_view signature, std::string_view secret) {
  if (timestamp.empty()) return "no timestamp header";
  const std::string expected =
      "v1=" + HmacHex(secret, std::string(timestamp) + "." + std::string(body));
  if (signature != expected) return "signature does not verify";
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("alert_id") || !j.contains("status"))
    return "not an alert";
  return "";
}

}  // namespace burnrate::testing
