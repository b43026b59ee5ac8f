#include "budgets/quota.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {

std::string_view QuotaStateName(QuotaState state) {
  switch (state) {
    case QuotaState::kOk:
      return "ok";
    case QuotaState::kWarn:
      return "warn";
    case QuotaState::kThrottle:
      return "throttle";
    case QuotaState::kDowngrade:
      return "downgrade";
    case QuotaState::kBlock:
      return "block";
  }
  return "ok";
}

std::optional<QuotaState> ParseQuotaState(std::string_view name) {
  for (QuotaState s : {QuotaState::kOk, QuotaState::kWarn, QuotaState::kThrottle,
                       QuotaState::kDowngrade, QuotaState::kBlock}) {
    if (QuotaStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string QuotaSignalToJson(const QuotaSignal& s) {
  nlohmann::json j;
  const size_t slash = s.subject.find('/');
  j["tenant"] = slash == std::string::npos ? s.subject : s.subject.substr(0, slash);
  if (slash != std::string::npos) j["feature"] = s.subject.substr(slash + 1);
  j["state"] = QuotaStateName(s.state);
  j["rate_factor"] = s.rate_factor;
  j["downgrade_model"] = s.downgrade_model;
  j["reason"] = s.reason;
  j["until"] =
      s.until_ms > 0 ? nlohmann::json(FormatRfc3339Ms(s.until_ms)) : nlohmann::json(nullptr);
  j["until_ms"] = s.until_ms;
  j["updated_at"] = FormatRfc3339Ms(s.updated_at_ms);
  j["updated_at_ms"] = s.updated_at_ms;
  j["source"] = s.source;
  j["expires_at_ms"] = s.expires_at_ms;
  // Untrusted strings (tenant names, reasons) must not break the JSON.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<QuotaSignal> QuotaSignalFromJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("quota signal is not a JSON object");
  QuotaSignal s;
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* key, double fallback) -> double {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
  };
  s.subject = str("tenant");
  if (const std::string feature = str("feature"); !feature.empty())
    s.subject = Concat(s.subject, "/", feature);
  auto state = ParseQuotaState(str("state"));
  if (!state) return absl::InvalidArgumentError(Concat("unknown quota state '", str("state"), "'"));
  s.state = *state;
  s.rate_factor = num("rate_factor", 1.0);
  s.downgrade_model = str("downgrade_model");
  s.reason = str("reason");
  s.until_ms = static_cast<int64_t>(num("until_ms", 0));
  s.updated_at_ms = static_cast<int64_t>(num("updated_at_ms", 0));
  s.source = str("source");
  s.expires_at_ms = static_cast<int64_t>(num("expires_at_ms", 0));
  return s;
}

QuotaSignal CombineQuotaInputs(std::string_view subject, const std::optional<QuotaSignal>& budget,
                               const std::optional<QuotaSignal>& alert,
                               const std::optional<QuotaSignal>& override_pin, int64_t now_ms) {
  auto live = [now_ms](const std::optional<QuotaSignal>& s) {
    return s.has_value() && (s->expires_at_ms == 0 || s->expires_at_ms > now_ms);
  };
  QuotaSignal out;
  if (live(override_pin)) {
    out = *override_pin;
  } else if (live(budget) && (!live(alert) || budget->state >= alert->state)) {
    out = *budget;
  } else if (live(alert)) {
    out = *alert;
  } else {
    out.source = "none";
  }
  out.subject = std::string(subject);
  if (out.state != QuotaState::kThrottle) out.rate_factor = 1.0;
  if (out.state != QuotaState::kDowngrade) out.downgrade_model.clear();
  return out;
}

QuotaState StateForUsage(const QuotaTierPolicy& p, double usage) {
  if (p.block_at > 0 && usage >= p.block_at) return QuotaState::kBlock;
  if (p.downgrade_at > 0 && usage >= p.downgrade_at) return QuotaState::kDowngrade;
  if (p.throttle_at > 0 && usage >= p.throttle_at) return QuotaState::kThrottle;
  if (p.warn_at > 0 && usage >= p.warn_at) return QuotaState::kWarn;
  return QuotaState::kOk;
}

bool QuotaMachine::Update(const QuotaTierPolicy& policy, double usage, int64_t now_ms) {
  const QuotaState wanted = StateForUsage(policy, usage);
  if (wanted > state) {
    state = wanted;
    since_ms = now_ms;
    return true;
  }
  if (wanted == state) return false;
  // Relaxing: only once usage is clearly below the current level and the
  // state has been held long enough, so a boundary does not flap.
  const QuotaState relaxed = StateForUsage(policy, usage + policy.hysteresis);
  if (relaxed < state && now_ms - since_ms >= policy.min_hold_ms) {
    state = relaxed;
    since_ms = now_ms;
    return true;
  }
  return false;
}

void ApplyPolicyDetails(const QuotaTierPolicy& policy, QuotaSignal& signal) {
  signal.rate_factor = signal.state == QuotaState::kThrottle ? policy.throttle_rate_factor : 1.0;
  signal.downgrade_model = signal.state == QuotaState::kDowngrade ? policy.downgrade_model : "";
}

const QuotaTierPolicy& PolicyForTenant(const QuotaConfig& config, std::string_view tenant) {
  static const QuotaTierPolicy kBuiltIn;
  std::string tier = "default";
  if (auto it = config.tenant_tiers.find(std::string(tenant)); it != config.tenant_tiers.end())
    tier = it->second;
  if (auto it = config.tiers.find(tier); it != config.tiers.end()) return it->second;
  if (auto it = config.tiers.find("default"); it != config.tiers.end()) return it->second;
  return kBuiltIn;
}

struct MemoryQuotaStore::Impl {
  std::mutex mu;
  struct Entry {
    std::optional<QuotaSignal> parts[3];
    QuotaSignal effective;
    bool published = false;
  };
  std::map<std::string, Entry> subjects;

  QuotaStore::Outcome Recompute(const std::string& subject, Entry& e, int64_t now_ms) {
    QuotaSignal next = CombineQuotaInputs(subject, e.parts[0], e.parts[1], e.parts[2], now_ms);
    // updated_at only moves when the decision does, so an unchanged decision
    // is not republished.
    QuotaSignal cmp = e.effective;
    cmp.updated_at_ms = next.updated_at_ms;
    const bool changed = !e.published || !(cmp == next);
    if (changed) {
      next.updated_at_ms = now_ms;
      e.effective = next;
      e.published = true;
    }
    if (!e.parts[2].has_value() ||
        (e.parts[2]->expires_at_ms != 0 && e.parts[2]->expires_at_ms <= now_ms)) {
      e.parts[2].reset();
    }
    return {e.effective, changed};
  }
};

MemoryQuotaStore::MemoryQuotaStore() : impl_(std::make_unique<Impl>()) {}
MemoryQuotaStore::~MemoryQuotaStore() = default;

absl::StatusOr<QuotaStore::Outcome> MemoryQuotaStore::SetPart(
    const std::string& subject, Part part, const std::optional<QuotaSignal>& value,
    int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& e = impl_->subjects[subject];
  e.parts[static_cast<int>(part)] = value;
  return impl_->Recompute(subject, e, now_ms);
}

absl::StatusOr<QuotaStore::Outcome> MemoryQuotaStore::Recompute(const std::string& subject,
                                                                int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& e = impl_->subjects[subject];
  return impl_->Recompute(subject, e, now_ms);
}

absl::StatusOr<std::vector<QuotaSignal>> MemoryQuotaStore::Effective() {
  std::lock_guard lock(impl_->mu);
  std::vector<QuotaSignal> out;
  for (const auto& [subject, e] : impl_->subjects) {
    if (e.published) out.push_back(e.effective);
  }
  return out;
}

absl::StatusOr<std::vector<QuotaSignal>> MemoryQuotaStore::Overrides() {
  std::lock_guard lock(impl_->mu);
  std::vector<QuotaSignal> out;
  for (const auto& [subject, e] : impl_->subjects) {
    if (e.parts[2]) out.push_back(*e.parts[2]);
  }
  return out;
}

}  // namespace burnrate
