#include "budgets/quota_http.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/concat.h"
#include "core/thread_name.h"
#include "core/time_format.h"
#include "http/http_server.h"

namespace burnrate {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

HttpResponse JsonError(int status, std::string_view message) {
  nlohmann::json j;
  j["error"] = std::string(message);
  return Json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// A header value must not carry CR/LF (the server would refuse it) and
// should stay short.
std::string HeaderSafe(std::string_view s) {
  std::string out;
  out.reserve(std::min<size_t>(s.size(), 200));
  for (char c : s.substr(0, 200)) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

uint64_t NextRandom(uint64_t seed) {
  // splitmix64 per thread: no lock on the hot path, reproducible per seed.
  static std::atomic<uint64_t> threads{0};
  thread_local uint64_t state = seed + 0x9e3779b97f4a7c15ULL * (threads.fetch_add(1) + 1);
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

QuotaSnapshot::QuotaSnapshot() : map_(std::make_shared<Map>()) {}

void QuotaSnapshot::Replace(std::vector<QuotaSignal> signals, int64_t refreshed_at_ms) {
  auto next = std::make_shared<Map>();
  next->reserve(signals.size());
  for (auto& s : signals) {
    std::string key = s.subject;
    (*next)[std::move(key)] = std::move(s);
  }
  {
    std::lock_guard lock(mu_);
    map_ = std::move(next);
  }
  refreshed_at_ms_.store(refreshed_at_ms);
}

std::shared_ptr<const QuotaSnapshot::Map> QuotaSnapshot::Get() const {
  std::lock_guard lock(mu_);
  return map_;
}

QuotaRefresher::QuotaRefresher(std::shared_ptr<QuotaPublisher> publisher,
                               std::shared_ptr<QuotaSnapshot> snapshot, int64_t interval_ms)
    : publisher_(std::move(publisher)),
      snapshot_(std::move(snapshot)),
      interval_ms_(std::max<int64_t>(10, interval_ms)) {}

QuotaRefresher::~QuotaRefresher() { Stop(); }

absl::Status QuotaRefresher::RefreshOnce() {
  absl::Status expired = publisher_->RefreshExpired();
  auto effective = publisher_->store().Effective();
  if (!effective.ok()) {
    failures_.fetch_add(1);
    return effective.status();
  }
  snapshot_->Replace(std::move(*effective), publisher_->now_ms());
  if (!expired.ok()) failures_.fetch_add(1);
  return expired;
}

void QuotaRefresher::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    NameThisThread("br-quota-load");
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      (void)RefreshOnce();  // a failure keeps the last snapshot; counted
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
    }
  });
}

void QuotaRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DecisionOptions DecisionOptionsFrom(const QuotaConfig& config) {
  DecisionOptions o;
  o.tenant_header = config.tenant_header;
  o.feature_header = config.feature_header;
  return o;
}

HttpHandler MakeDecisionHandler(std::shared_ptr<QuotaSnapshot> snapshot, DecisionOptions options) {
  if (!options.clock) options.clock = SystemWallClock();
  return [snapshot = std::move(snapshot),
          options = std::move(options)](const HttpRequest& request) {
    HttpResponse response;
    response.body.clear();
    const std::string_view tenant = request.Header(options.tenant_header);
    if (tenant.empty()) {
      response.headers.emplace_back("x-burnrate-state", "ok");
      return response;
    }
    const auto map = snapshot->Get();
    const QuotaSignal* decision = nullptr;
    if (auto it = map->find(std::string(tenant)); it != map->end()) decision = &it->second;
    const std::string_view feature = request.Header(options.feature_header);
    if (!feature.empty()) {
      if (auto it = map->find(Concat(tenant, "/", feature)); it != map->end()) {
        if (decision == nullptr || it->second.state > decision->state) decision = &it->second;
      }
    }
    if (decision == nullptr || decision->state == QuotaState::kOk) {
      response.headers.emplace_back("x-burnrate-state", "ok");
      return response;
    }
    const QuotaSignal& d = *decision;
    response.headers.emplace_back("x-burnrate-state", std::string(QuotaStateName(d.state)));
    if (!d.reason.empty()) response.headers.emplace_back("x-burnrate-reason", HeaderSafe(d.reason));
    if (d.until_ms > 0)
      response.headers.emplace_back("x-burnrate-until", FormatRfc3339Ms(d.until_ms));
    switch (d.state) {
      case QuotaState::kOk:
      case QuotaState::kWarn:
        return response;
      case QuotaState::kDowngrade:
        response.headers.emplace_back("x-burnrate-downgrade-model", HeaderSafe(d.downgrade_model));
        return response;
      case QuotaState::kThrottle: {
        char factor[32];
        std::snprintf(factor, sizeof(factor), "%.3g", d.rate_factor);
        response.headers.emplace_back("x-burnrate-rate-factor", factor);
        const double u = static_cast<double>(NextRandom(options.seed) >> 11) * 0x1.0p-53;
        if (u < d.rate_factor) return response;
        response.status = 429;
        response.headers.emplace_back("Retry-After", "1");
        response.body = "throttled\n";
        return response;
      }
      case QuotaState::kBlock: {
        int64_t retry_s = 60;
        if (d.until_ms > 0) {
          retry_s = std::clamp<int64_t>((d.until_ms - options.clock() + 999) / 1000, 1, 31 * 86400);
        }
        response.status = 429;
        response.headers.emplace_back("Retry-After", std::to_string(retry_s));
        response.body = "blocked\n";
        return response;
      }
    }
    return response;
  };
}

HttpHandler MakeQuotaOverridesHandler(std::shared_ptr<QuotaPublisher> publisher, QuotaConfig config,
                                      std::string prefix) {
  return [publisher = std::move(publisher), config = std::move(config),
          prefix = std::move(prefix)](const HttpRequest& request) -> HttpResponse {
    if (request.method == "GET" && (request.path == prefix || request.path == prefix + "/")) {
      auto overrides = publisher->store().Overrides();
      if (!overrides.ok()) return JsonError(503, overrides.status().ToString());
      std::string body = "{\"overrides\":[";
      bool first = true;
      const int64_t now = publisher->now_ms();
      for (const auto& o : *overrides) {
        if (o.expires_at_ms != 0 && o.expires_at_ms <= now) continue;
        if (!first) body += ',';
        first = false;
        body += QuotaSignalToJson(o);
      }
      body += "]}";
      return Json(200, std::move(body));
    }
    if (request.path.size() <= prefix.size() + 1 ||
        request.path.compare(0, prefix.size() + 1, prefix + "/") != 0) {
      return JsonError(404, "expected /v1/quota/overrides/<tenant>");
    }
    const std::string subject = request.path.substr(prefix.size() + 1);
    if (subject.size() > 256 || std::any_of(subject.begin(), subject.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20;
        })) {
      return JsonError(400, "bad tenant in path");
    }
    if (request.method == "DELETE") {
      auto set = publisher->Set(subject, QuotaStore::Part::kOverride, std::nullopt);
      if (!set.ok()) return JsonError(503, set.status().ToString());
      return Json(200, QuotaSignalToJson(*set));
    }
    if (request.method != "PUT") return JsonError(405, "use PUT or DELETE");

    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) return JsonError(400, "body must be a JSON object");
    for (const auto& [key, value] : body.items()) {
      if (key != "state" && key != "rate_factor" && key != "downgrade_model" && key != "until" &&
          key != "reason") {
        return JsonError(400, Concat("unknown field '", key, "'"));
      }
    }
    QuotaSignal pin;
    pin.subject = subject;
    pin.source = "override";
    if (!body.contains("state") || !body["state"].is_string())
      return JsonError(400, "state is required");
    auto state = ParseQuotaState(body["state"].get<std::string>());
    if (!state) return JsonError(400, "state must be ok, warn, throttle, downgrade or block");
    pin.state = *state;
    if (!body.contains("reason") || !body["reason"].is_string() ||
        body["reason"].get<std::string>().empty()) {
      return JsonError(400, "reason is required");
    }
    pin.reason = body["reason"].get<std::string>().substr(0, 512);
    const nlohmann::json& until = body.contains("until") ? body["until"] : nlohmann::json();
    if (until.is_string()) {
      auto parsed = ParseRfc3339Ms(until.get<std::string>());
      if (!parsed) return JsonError(400, "until must be an RFC 3339 time or epoch milliseconds");
      pin.until_ms = *parsed;
    } else if (until.is_number_integer()) {
      pin.until_ms = until.get<int64_t>();
    } else {
      return JsonError(400, "until is required (RFC 3339 time or epoch milliseconds)");
    }
    if (pin.until_ms <= publisher->now_ms()) return JsonError(400, "until must be in the future");
    pin.expires_at_ms = pin.until_ms;
    const std::string tenant = subject.substr(0, subject.find('/'));
    const QuotaTierPolicy& policy = PolicyForTenant(config, tenant);
    ApplyPolicyDetails(policy, pin);
    if (body.contains("rate_factor")) {
      if (!body["rate_factor"].is_number()) return JsonError(400, "rate_factor must be a number");
      const double f = body["rate_factor"].get<double>();
      if (!(f > 0 && f <= 1)) return JsonError(400, "rate_factor must be in (0, 1]");
      if (pin.state == QuotaState::kThrottle) pin.rate_factor = f;
    }
    if (body.contains("downgrade_model")) {
      if (!body["downgrade_model"].is_string())
        return JsonError(400, "downgrade_model must be a string");
      if (pin.state == QuotaState::kDowngrade)
        pin.downgrade_model = body["downgrade_model"].get<std::string>();
    }
    if (pin.state == QuotaState::kDowngrade && pin.downgrade_model.empty()) {
      return JsonError(400, "downgrade needs downgrade_model (the tier names none)");
    }
    auto set = publisher->Set(subject, QuotaStore::Part::kOverride, pin);
    if (!set.ok()) return JsonError(503, set.status().ToString());
    return Json(200, QuotaSignalToJson(*set));
  };
}

void RegisterQuotaRoutes(HttpServer& read_only, HttpServer* admin,
                         std::shared_ptr<QuotaSnapshot> snapshot,
                         std::shared_ptr<QuotaPublisher> publisher, const QuotaConfig& config) {
  HttpHandler decision = MakeDecisionHandler(std::move(snapshot), DecisionOptionsFrom(config));
  // ext_authz forwards the original method, so every method is a check.
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    read_only.Route(method, config.decision_path + "/*", decision);
  }
  if (admin != nullptr) {
    HttpHandler overrides = MakeQuotaOverridesHandler(std::move(publisher), config);
    admin->Route("GET", "/v1/quota/overrides", overrides);
    admin->Route("PUT", "/v1/quota/overrides/*", overrides);
    admin->Route("DELETE", "/v1/quota/overrides/*", overrides);
  }
}

}  // namespace burnrate
