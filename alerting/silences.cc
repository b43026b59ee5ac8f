#include "alerting/silences.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "alerting/router.h"
#include "config/config.h"
#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {
namespace {

constexpr size_t kMaxBody = 64 * 1024;
constexpr size_t kMaxReason = 1024;
constexpr size_t kMaxValue = 256;

nlohmann::json SilenceObject(const Silence& s) {
  return {
      {"id", s.id},         {"match", s.match},   {"until", FormatRfc3339Ms(s.until_ms)},
      {"reason", s.reason}, {"origin", s.origin}, {"created_at", FormatRfc3339Ms(s.created_ms)}};
}

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse Problem(int status, std::string_view message) {
  return Json(status, {{"error", message}});
}

}  // namespace

std::string SilenceToJson(const Silence& s) {
  return SilenceObject(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<Silence> SilenceFromJson(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("stored silence is not JSON");
  try {
    Silence s;
    s.id = j.at("id").get<std::string>();
    s.match = j.at("match").get<std::map<std::string, std::string>>();
    const auto until = ParseRfc3339Ms(j.at("until").get<std::string>());
    const auto created = ParseRfc3339Ms(j.at("created_at").get<std::string>());
    if (!until || !created) return absl::DataLossError("stored silence has a bad time");
    s.until_ms = *until;
    s.created_ms = *created;
    s.reason = j.at("reason").get<std::string>();
    s.origin = j.at("origin").get<std::string>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(Concat("stored silence: ", e.what()));
  }
}

SilenceRegistry::SilenceRegistry(const std::vector<SilenceConfig>& from_config, AlertOutbox& outbox,
                                 const AlertClock& clock)
    : outbox_(outbox),
      clock_(clock),
      next_id_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {
  for (size_t i = 0; i < from_config.size(); ++i) {
    Silence s;
    s.id = Concat("config-", i + 1);
    s.match = from_config[i].match;
    s.until_ms = from_config[i].until_ms;
    s.reason = from_config[i].reason;
    s.origin = "config";
    config_.push_back(std::move(s));
  }
}

absl::Status SilenceRegistry::Refresh() {
  auto stored = outbox_.Silences();
  if (!stored.ok()) return stored.status();
  const int64_t now = clock_.NowMs();
  std::vector<Silence> api;
  for (const auto& [id, json] : *stored) {
    auto s = SilenceFromJson(json);
    if (!s.ok() || s->until_ms <= now) {
      (void)outbox_.DeleteSilence(id);  // expired or unreadable: garbage
      continue;
    }
    api.push_back(std::move(*s));
  }
  std::lock_guard lock(mu_);
  api_ = std::move(api);
  return absl::OkStatus();
}

std::optional<std::string> SilenceRegistry::Match(const Alert& alert) const {
  const int64_t now = clock_.NowMs();
  std::lock_guard lock(mu_);
  for (const auto* list : {&config_, &api_}) {
    for (const auto& s : *list) {
      if (s.until_ms > now && LabelsMatch(s.match, alert)) return s.id;
    }
  }
  return std::nullopt;
}

absl::StatusOr<Silence> SilenceRegistry::Add(std::map<std::string, std::string> match,
                                             int64_t until_ms, std::string reason) {
  const int64_t now = clock_.NowMs();
  if (match.empty()) return absl::InvalidArgumentError("a silence needs at least one matcher");
  for (const auto& [label, value] : match) {
    const auto& names = AlertLabelNames();
    if (std::find(names.begin(), names.end(), label) == names.end()) {
      return absl::InvalidArgumentError(
          Concat("unknown label '", label, "' (expected one of: ", JoinStrings(names, ", "), ")"));
    }
    if (value.empty() || value.size() > kMaxValue) {
      return absl::InvalidArgumentError(
          Concat("label '", label, "' needs a value of 1 to ", kMaxValue, " bytes"));
    }
  }
  if (until_ms <= now) return absl::InvalidArgumentError("the silence would already have ended");
  if (reason.size() > kMaxReason)
    return absl::InvalidArgumentError("reason is longer than 1024 bytes");
  Silence s;
  {
    std::lock_guard lock(mu_);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(next_id_ * 0x9E3779B97F4A7C15ULL));
    ++next_id_;
    s.id = buf;
  }
  s.match = std::move(match);
  s.until_ms = until_ms;
  s.reason = std::move(reason);
  s.origin = "api";
  s.created_ms = now;
  if (auto st = outbox_.PutSilence(s.id, SilenceToJson(s)); !st.ok()) return st;
  std::lock_guard lock(mu_);
  api_.push_back(s);
  return s;
}

absl::Status SilenceRegistry::Remove(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    for (const auto& s : config_) {
      if (s.id == id)
        return absl::FailedPreconditionError("this silence comes from the config file");
    }
  }
  auto deleted = outbox_.DeleteSilence(id);
  if (!deleted.ok()) return deleted.status();
  std::lock_guard lock(mu_);
  const auto before = api_.size();
  api_.erase(std::remove_if(api_.begin(), api_.end(), [&](const Silence& s) { return s.id == id; }),
             api_.end());
  if (!*deleted && before == api_.size()) return absl::NotFoundError("no such silence");
  return absl::OkStatus();
}

std::vector<Silence> SilenceRegistry::Active() const {
  const int64_t now = clock_.NowMs();
  std::lock_guard lock(mu_);
  std::vector<Silence> out;
  for (const auto* list : {&config_, &api_}) {
    for (const auto& s : *list) {
      if (s.until_ms > now) out.push_back(s);
    }
  }
  return out;
}

HttpHandler MakeSilencesHandler(SilenceRegistry& registry) {
  return [&registry](const HttpRequest& req) -> HttpResponse {
    constexpr std::string_view kBase = "/v1/silences";
    if (req.path.compare(0, kBase.size(), kBase) != 0) return Problem(404, "not found");
    std::string_view rest = std::string_view(req.path).substr(kBase.size());
    if (req.body.size() > kMaxBody) return Problem(413, "body larger than 64 KiB");
    if (req.method == "GET" && (rest.empty() || rest == "/")) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& s : registry.Active()) list.push_back(SilenceObject(s));
      return Json(200, {{"silences", list}});
    }
    if (req.method == "POST" && (rest.empty() || rest == "/")) {
      const auto j = nlohmann::json::parse(req.body, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return Problem(400, "body must be a JSON object");
      std::map<std::string, std::string> match;
      const auto m = j.find("match");
      if (m == j.end() || !m->is_object())
        return Problem(400, "match must be an object of label: value");
      for (const auto& [k, v] : m->items()) {
        if (!v.is_string()) return Problem(400, Concat("match.", k, " must be a string"));
        match[k] = v.get<std::string>();
      }
      int64_t until = 0;
      if (const auto u = j.find("until"); u != j.end()) {
        const auto parsed = u->is_string() ? ParseRfc3339Ms(u->get<std::string>()) : std::nullopt;
        if (!parsed) return Problem(400, "until must be an RFC 3339 time");
        until = *parsed;
      } else if (const auto d = j.find("duration"); d != j.end()) {
        const auto parsed = d->is_string() ? ParseDurationMs(d->get<std::string>())
                                           : absl::InvalidArgumentError("");
        if (!parsed.ok()) return Problem(400, "duration must be like 30m, 2h, 1d");
        until = registry.NowMs() + *parsed;
      } else {
        return Problem(400, "give until (RFC 3339) or duration (e.g. 2h)");
      }
      std::string reason;
      if (const auto r = j.find("reason"); r != j.end()) {
        if (!r->is_string()) return Problem(400, "reason must be a string");
        reason = r->get<std::string>();
      }
      auto added = registry.Add(std::move(match), until, std::move(reason));
      if (!added.ok()) {
        return Problem(absl::IsInvalidArgument(added.status()) ? 400 : 503,
                       std::string(added.status().message()));
      }
      return Json(201, SilenceObject(*added));
    }
    if (req.method == "DELETE") {
      std::string id(req.Query("id"));
      if (rest.size() > 1 && rest[0] == '/') id = std::string(rest.substr(1));
      if (id.empty()) return Problem(400, "name the silence: DELETE /v1/silences/<id>");
      const auto s = registry.Remove(id);
      if (s.ok()) return Json(200, {{"deleted", id}});
      if (absl::IsNotFound(s)) return Problem(404, std::string(s.message()));
      if (absl::IsFailedPrecondition(s)) return Problem(409, std::string(s.message()));
      return Problem(503, std::string(s.message()));
    }
    if (rest.empty() || rest == "/" || req.method == "DELETE") {
      HttpResponse r = Problem(405, "method not allowed");
      r.headers.emplace_back("Allow", "GET, POST, DELETE");
      return r;
    }
    return Problem(404, "not found");
  };
}

}  // namespace burnrate
