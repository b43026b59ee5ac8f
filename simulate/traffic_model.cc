#include "simulate/traffic_model.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>

#include "absl/status/status.h"
#include "core/concat.h"
#include "core/pricing.h"
#include "core/time_format.h"

namespace burnrate::simulate {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// ------------------------------------------------------------------ random
// splitmix64: seeds the generator and hashes (seed, key, hour) into the
// stateless noise factors, so noise does not depend on generation order.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double HashUniform(uint64_t h) { return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53; }
double HashNormal(uint64_t a, uint64_t b, uint64_t c) {
  const uint64_t h1 = Mix(a ^ Mix(b ^ Mix(c)));
  const uint64_t h2 = Mix(h1 ^ 0x5851f42d4c957f2dULL);
  return std::sqrt(-2.0 * std::log(HashUniform(h1))) * std::cos(2 * std::numbers::pi * HashUniform(h2));
}

// xoshiro256**: fast, and ours, so a seed gives the same stream on every
// standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) {
      x += 0x9e3779b97f4a7c15ULL;
      s = Mix(x);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(Uniform()));
    const double a = 2 * std::numbers::pi * Uniform();
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  int64_t Poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda < 30) {
      const double limit = std::exp(-lambda);
      double p = Uniform();
      int64_t k = 0;
      while (p > limit) {
        p *= Uniform();
        ++k;
      }
      return k;
    }
    return std::max<int64_t>(0, std::llround(lambda + std::sqrt(lambda) * Normal()));
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// ------------------------------------------------------------------ catalogue
enum class Tier : uint8_t { kCheap, kMid, kPremium, kUnpriced };
struct ModelInfo {
  std::string_view name;
  std::string_view provider;
  Tier tier;
  bool reasoning;  // output includes reasoning tokens
};
constexpr std::array<ModelInfo, 18> kModels = {{
    {"gpt-4o-mini", "openai", Tier::kCheap, false},
    {"claude-haiku-4-5", "anthropic", Tier::kCheap, false},
    {"gemini-2.5-flash", "google", Tier::kCheap, false},
    {"gpt-4.1-mini", "openai", Tier::kCheap, false},
    {"gemini-2.0-flash", "google", Tier::kCheap, false},
    {"gpt-5-mini", "openai", Tier::kCheap, true},
    {"claude-3-5-haiku", "anthropic", Tier::kCheap, false},
    {"claude-sonnet-4-5", "anthropic", Tier::kMid, false},
    {"gpt-4.1", "openai", Tier::kMid, false},
    {"gpt-4o", "openai", Tier::kMid, false},
    {"gemini-2.5-pro", "google", Tier::kMid, true},
    {"o4-mini", "openai", Tier::kMid, true},
    {"claude-opus-4-1", "anthropic", Tier::kPremium, false},
    {"claude-opus-4-5", "anthropic", Tier::kPremium, false},
    {"o3", "openai", Tier::kPremium, true},
    {"gpt-5", "openai", Tier::kPremium, true},
    {"acme-internal-llm-v2", "acme", Tier::kUnpriced, false},
    {"northwind-ft-llm-3", "northwind", Tier::kUnpriced, false},
}};
std::vector<int> ModelsOfTier(Tier tier) {
  std::vector<int> out;
  for (size_t i = 0; i < kModels.size(); ++i) {
    if (kModels[i].tier == tier) out.push_back(static_cast<int>(i));
  }
  return out;
}
// Reasoning tokens relative to the visible output, as a median.
constexpr double kReasoningMedian = 1.0;
constexpr double kReasoningSigma = 0.5;

struct FeatureProfile {
  std::string_view name;
  double in_median, in_sigma, out_median, out_sigma;
  double cache_probability;  // share of calls that read a prompt cache
  bool agentic;              // calls grouped in agent runs
  double tool_share, memory_share;  // of the input tokens
};
constexpr std::array<FeatureProfile, 14> kFeatures = {{
    {"chat", 1800, 0.6, 350, 0.7, 0.5, false, 0.0, 0.3},
    {"search", 2500, 0.5, 250, 0.6, 0.3, false, 0.4, 0.0},
    {"summarize", 5000, 0.7, 400, 0.5, 0.1, false, 0.0, 0.0},
    {"support-bot", 2200, 0.6, 300, 0.6, 0.6, false, 0.2, 0.3},
    {"classify", 500, 0.4, 20, 0.5, 0.2, false, 0.0, 0.0},
    {"extract", 3000, 0.6, 500, 0.6, 0.2, false, 0.0, 0.0},
    {"translate", 900, 0.5, 900, 0.5, 0.0, false, 0.0, 0.0},
    {"rag-qa", 6000, 0.5, 400, 0.6, 0.4, false, 0.5, 0.1},
    {"code-review", 8000, 0.6, 700, 0.6, 0.5, false, 0.3, 0.0},
    {"email-draft", 1200, 0.5, 400, 0.5, 0.2, false, 0.0, 0.2},
    {"sql-assistant", 2000, 0.5, 250, 0.6, 0.4, false, 0.3, 0.0},
    {"agent", 4000, 0.6, 500, 0.7, 0.7, true, 0.4, 0.2},
    {"code-agent", 9000, 0.6, 800, 0.7, 0.7, true, 0.5, 0.1},
    {"research-agent", 6000, 0.6, 600, 0.7, 0.6, true, 0.5, 0.2},
}};
// Feature names no tenant starts with: the new_feature incidents' keys.
constexpr std::array<std::string_view, 8> kNewFeatureNames = {
    "bulk-export",   "doc-ingest",     "voice-notes", "invoice-parser",
    "meeting-notes", "contract-review", "lead-scoring", "image-captions"};
constexpr int kNewFeatureProfile = 5;  // "extract"-like token sizes
constexpr double kCacheShareMedian = 0.55;

constexpr std::array<std::string_view, 40> kTenantWords = {
    "acme",     "globex",   "initech",  "umbrella", "hooli",    "vandelay", "stark",    "wayne",
    "wonka",    "tyrell",   "cyberdyne", "soylent", "gringotts", "oscorp",  "massive",  "dunder",
    "pied",     "aperture", "blackmesa", "nakatomi", "monarch", "paper",    "sterling", "cogswell",
    "spacely",  "prestige", "bluth",    "krusty",   "duff",     "zorg",     "weyland",  "virtucon",
    "contoso",  "fabrikam", "northwind", "tailspin", "adatum",  "litware",  "proseware", "woodgrove"};

// Business hours (a lunchtime dip at 12:00) and consumer hours (lunch and
// evening peaks), by local hour; interpolated linearly between hours.
constexpr std::array<double, 25> kBusinessCurve = {0.10, 0.08, 0.07, 0.07, 0.08, 0.12, 0.25, 0.50, 0.85,
                                                   1.00, 1.00, 0.95, 0.72, 0.85, 1.00, 0.98, 0.90, 0.70,
                                                   0.45, 0.32, 0.25, 0.20, 0.15, 0.12, 0.10};
constexpr std::array<double, 25> kConsumerCurve = {0.35, 0.25, 0.18, 0.15, 0.15, 0.20, 0.35, 0.55, 0.65,
                                                   0.70, 0.72, 0.80, 0.95, 0.90, 0.75, 0.72, 0.75, 0.85,
                                                   0.95, 1.00, 1.00, 0.90, 0.70, 0.50, 0.35};

// ------------------------------------------------------------------ model
struct Tenant {
  std::string name;
  double size = 1;
  bool business = true;
  int tz_minutes = 0;
  double weekend_factor = 1;
  double monday_bump = 1;
  int64_t holiday_day = -1;  // local day number (days since epoch) at low traffic
  std::vector<int> features;  // profile indices
  std::vector<std::string> new_features;  // names taken by incidents
  std::vector<uint32_t> keys;
};

enum class EffectType : uint8_t { kRateMultiplier, kFlatRate, kRetry, kModelOverride, kRunaway };
struct Effect {
  EffectType type;
  int64_t from_ms, to_ms;
  double value = 1;  // multiplier, or calls per minute (flat, runaway)
  int model = -1;
  uint64_t id = 0;  // agent run id
  int64_t in0 = 0;  // retry prompt size; runaway first context size
  double step = 0;  // runaway context growth per call
  int64_t calls_total = 0;
  int64_t calls_done = 0;
};

struct Key {
  uint32_t tenant = 0;
  std::string feature;
  std::string environment;
  int profile = 0;
  double base_rate = 0;  // calls per minute at the daily peak, before scale
  double growth = 0;     // relative change over the whole run
  int64_t ramp_start_ms = -1;  // benign gradual rise, -1 for none
  std::array<int, 2> models{};
  double primary_weight = 1;
  // Some services tag each user request with its own correlation id; a
  // retry loop then shows up as many calls sharing one.
  bool sends_correlation = false;
  int64_t active_from_ms = std::numeric_limits<int64_t>::min();
  int64_t active_to_ms = std::numeric_limits<int64_t>::max();
  std::vector<Effect> effects;
  std::vector<std::pair<int64_t, int64_t>> busy;  // incident windows, no overlap
  std::string json_dims;  // ,"tenant":..,"feature":..,"environment":..
  // Normal agent runs: current id and calls left in it.
  uint64_t run_id = 0;
  int64_t run_left = 0;
  int64_t noise_hour = -1;
  double noise = 1;
};

struct Call {
  int64_t ts;
  uint32_t seq;
  uint32_t key;
  int16_t model;
  bool incident;
  int64_t input, output, cache_read, reasoning;
  int64_t prompt, tool, memory;
  uint64_t run_id, correlation_id;
};

struct Benign {
  std::string json;
};

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}
void AppendHex(std::string& out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = kDigits[v & 15];
    v >>= 4;
  }
  out.append(buf, 16);
}
std::string HexId(std::string_view prefix, uint64_t v) {
  std::string s(prefix);
  AppendHex(s, v);
  return s;
}
std::string Fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

struct TrafficModel::Impl {
  TrafficOptions opt;
  int64_t end_ms = 0;
  int64_t warmup_end_ms = 0;
  Rng rng;       // population and incidents
  Rng call_rng;  // the traffic itself
  std::vector<Tenant> tenants;
  std::vector<Key> keys;
  size_t base_keys = 0;
  std::vector<IncidentLabel> labels;
  std::vector<Benign> benign;
  std::array<double, kModels.size()> in_price{}, out_price{}, cache_price{};  // USD per token
  int64_t now_ms = 0;
  uint64_t next_event = 0;
  uint32_t next_seq = 0;
  std::string id_prefix;
  std::vector<double> tenant_factor;
  double material_floor_ = 0;  // see Material()
  std::vector<Call> calls;
  TrafficStats stats;

  explicit Impl(const TrafficOptions& o) : opt(o), rng(Mix(o.seed) ^ 0x1234), call_rng(Mix(o.seed + 77)) {}

  // ---------------------------------------------------------------- shape
  double Season(const Tenant& t, int64_t at_ms) const {
    const int64_t local = at_ms + t.tz_minutes * kMinuteMs;
    const int64_t day = local >= 0 ? local / kDayMs : (local - kDayMs + 1) / kDayMs;
    const int64_t in_day = local - day * kDayMs;
    const double hour = static_cast<double>(in_day) / kHourMs;
    const int h = static_cast<int>(hour);
    const auto& curve = t.business ? kBusinessCurve : kConsumerCurve;
    double f = curve[h] + (curve[h + 1] - curve[h]) * (hour - h);
    const int64_t dow = ((day + 3) % 7 + 7) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
    if (dow >= 5) f *= t.weekend_factor;
    if (dow == 0 && hour >= 7 && hour < 12) f *= t.monday_bump;
    if (day == t.holiday_day) f *= 0.15;
    return f;
  }
  double Growth(const Key& k, int64_t at_ms) const {
    const double frac = static_cast<double>(at_ms - opt.start_ms) / static_cast<double>(end_ms - opt.start_ms);
    double f = 1 + k.growth * frac;
    if (k.ramp_start_ms >= 0 && at_ms > k.ramp_start_ms) {
      f *= 1 + 0.5 * std::min(1.0, static_cast<double>(at_ms - k.ramp_start_ms) / (7.0 * kDayMs));
    }
    return f;
  }
  // Expected calls per minute without noise or incidents: what an incident
  // planner (and a perfect seasonal baseline) would expect.
  double ExpectedRate(const Key& k, int64_t at_ms) const {
    if (at_ms < k.active_from_ms || at_ms >= k.active_to_ms) return 0;
    return k.base_rate * opt.scale * Season(tenants[k.tenant], at_ms) * Growth(k, at_ms);
  }

  // Expected USD per call of a key's token profile on a model.
  double CostPerCall(int profile, int model, double in_override = 0, double cache_share_override = -1) const {
    const FeatureProfile& p = kFeatures[profile];
    const double in = in_override > 0 ? in_override : p.in_median * std::exp(p.in_sigma * p.in_sigma / 2);
    double out = p.out_median * std::exp(p.out_sigma * p.out_sigma / 2);
    if (kModels[model].reasoning) out *= 1 + kReasoningMedian * std::exp(kReasoningSigma * kReasoningSigma / 2);
    const double cache = cache_share_override >= 0 ? cache_share_override : p.cache_probability * kCacheShareMedian;
    return in * (1 - cache) * in_price[model] + in * cache * cache_price[model] + out * out_price[model];
  }
  double KeyCostPerCall(const Key& k) const {
    return k.primary_weight * CostPerCall(k.profile, k.models[0]) +
           (1 - k.primary_weight) * CostPerCall(k.profile, k.models[1]);
  }
  // What a key is expected to spend per hour at `at_ms`.
  double KeyUsdPerHour(const Key& k, int64_t at_ms) const { return ExpectedRate(k, at_ms) * 60 * KeyCostPerCall(k); }
  // Whether an incident adding `extra_usd_per_hour` is big enough to label:
  // random incidents must be (material_floor_), scheduled ones are placed as asked.
  bool Material(double extra_usd_per_hour) const { return extra_usd_per_hour >= material_floor_; }

  // ---------------------------------------------------------------- population
  void BuildPopulation() {
    const PriceTable& table = PriceTable::Default();
    for (size_t m = 0; m < kModels.size(); ++m) {
      const ModelPrice* price = table.Find(kModels[m].name, EventTimeMs(opt.start_ms));
      if (price == nullptr) continue;  // the unpriced ones
      in_price[m] = static_cast<double>(price->prices.input) * 1e-12;
      out_price[m] = static_cast<double>(price->prices.output) * 1e-12;
      cache_price[m] = static_cast<double>(price->prices.cache_read) * 1e-12;
    }
    const std::vector<int> cheap = ModelsOfTier(Tier::kCheap);
    const std::vector<int> mid = ModelsOfTier(Tier::kMid);
    const int64_t days = opt.days;
    double total = 0;
    tenants.resize(opt.tenants);
    // Heavy-tailed sizes: a few big spenders and a long tail; no one tenant
    // above ~6% of the platform, or its own curve would be the aggregate's.
    std::vector<double> sizes(opt.tenants);
    double size_sum = 0;
    for (double& size : sizes) size_sum += size = rng.LogNormal(1.0, 1.5);
    for (double& size : sizes) size = std::min(size, std::max(0.06 * size_sum, 1.0));
    for (int i = 0; i < opt.tenants; ++i) {
      Tenant& t = tenants[i];
      t.name = Concat(kTenantWords[rng.Below(kTenantWords.size())], "-", i < 10 ? "00" : i < 100 ? "0" : "", i);
      t.size = sizes[i];
      t.business = rng.Chance(0.7);
      const double tz = rng.Uniform();
      // Most tenants share the platform's time zone; some are elsewhere, so
      // the aggregate curve is smoother than any one tenant's.
      t.tz_minutes = tz < 0.75 ? 0 : tz < 0.85 ? -300 : tz < 0.9 ? -480 : tz < 0.95 ? 60 : 330;
      t.weekend_factor = t.business ? rng.Uniform(0.2, 0.5) : rng.Uniform(0.8, 1.05);
      t.monday_bump = t.business ? rng.Uniform(1.1, 1.4) : 1.0;
      if (t.business && rng.Chance(0.06) && days > 1) {
        const int64_t first_day = (opt.start_ms + t.tz_minutes * kMinuteMs) / kDayMs;
        t.holiday_day = first_day + 1 + static_cast<int64_t>(rng.Below(days - 1));
        int64_t y;
        unsigned mo, d;
        CivilFromDays(t.holiday_day, y, mo, d);
        benign.push_back({Concat("{\"kind\":\"holiday\",\"tenant\":\"", t.name, "\",\"local_date\":\"", y, "-",
                                 mo < 10 ? "0" : "", mo, "-", d < 10 ? "0" : "", d, "\",\"factor\":0.15}")});
      }
      const int n_features = 2 + static_cast<int>(rng.Below(5));
      std::vector<int> pool(kFeatures.size());
      for (size_t f = 0; f < pool.size(); ++f) pool[f] = static_cast<int>(f);
      for (int f = 0; f < n_features; ++f) {
        const size_t pick = f + rng.Below(pool.size() - f);
        std::swap(pool[f], pool[pick]);
        t.features.push_back(pool[f]);
      }
      for (int profile : t.features) {
        const double share = rng.LogNormal(1.0, 0.8);
        // About half the features run on a cheap model with a mid-tier one
        // for hard cases, the rest the other way round.
        const bool cheap_first = rng.Chance(0.55);
        const int primary = cheap_first ? cheap[rng.Below(cheap.size())] : mid[rng.Below(mid.size())];
        const int secondary = cheap_first ? mid[rng.Below(mid.size())] : cheap[rng.Below(cheap.size())];
        const double primary_weight = rng.Uniform(0.8, 0.97);
        struct Env {
          std::string_view name;
          double probability, lo, hi;
        };
        for (const Env& env : {Env{"prod", 1.0, 1.0, 1.0}, Env{"staging", 0.5, 0.01, 0.05},
                               Env{"dev", 0.35, 0.003, 0.02}}) {
          if (!rng.Chance(env.probability)) continue;
          Key k;
          k.tenant = static_cast<uint32_t>(i);
          k.feature = std::string(kFeatures[profile].name);
          k.environment = std::string(env.name);
          k.profile = profile;
          k.base_rate = t.size * share * rng.Uniform(env.lo, env.hi);
          k.growth = rng.Chance(0.15) ? rng.Uniform(-0.1, 0.0) : rng.Uniform(0.0, 0.3);
          k.models = {primary, secondary};
          k.primary_weight = primary_weight;
          k.sends_correlation = !kFeatures[profile].agentic && rng.Chance(0.3);
          if (env.name == "prod") total += k.base_rate;
          t.keys.push_back(static_cast<uint32_t>(keys.size()));
          keys.push_back(std::move(k));
        }
      }
    }
    // Scale so the population makes ~2.8 calls/min per tenant at peak: with
    // the daily and weekly shape that is ~10M events for the default run.
    const double target = 2.8 * opt.tenants;
    for (Key& k : keys) k.base_rate *= target / total;
    // Benign gradual rises (x1.5 over a week): real growth, not incidents.
    for (Key& k : keys) {
      if (k.environment != "prod" || !rng.Chance(0.08) || days < 8) continue;
      k.ramp_start_ms = opt.start_ms + static_cast<int64_t>(rng.Below(days - 7)) * kDayMs +
                        static_cast<int64_t>(rng.Below(24)) * kHourMs;
      benign.push_back({Concat("{\"kind\":\"gradual_rise\",\"tenant\":\"", tenants[k.tenant].name,
                               "\",\"feature\":\"", k.feature, "\",\"environment\":\"", k.environment,
                               "\",\"start\":\"", FormatRfc3339Ms(k.ramp_start_ms), "\",\"end\":\"",
                               FormatRfc3339Ms(k.ramp_start_ms + 7 * kDayMs), "\",\"factor\":1.5}")});
    }
    base_keys = keys.size();
  }

  // ---------------------------------------------------------------- incidents
  bool Free(const Key& k, int64_t from, int64_t to) const {
    for (const auto& [a, b] : k.busy) {
      if (from < b && a < to) return false;
    }
    return from >= k.active_from_ms && to <= k.active_to_ms;
  }
  int64_t AlignMinute(int64_t ms) const { return opt.start_ms + (ms - opt.start_ms) / kMinuteMs * kMinuteMs; }
  // A start for an incident of `duration`: the requested one, else random
  // after the warm-up.
  bool PickWindow(std::optional<int64_t> fixed, int64_t duration, int64_t& from, int64_t& to) {
    if (fixed) {
      from = AlignMinute(*fixed);
    } else {
      const int64_t room = end_ms - warmup_end_ms - duration;
      if (room <= 0) return false;
      from = AlignMinute(warmup_end_ms + static_cast<int64_t>(rng.Uniform() * static_cast<double>(room)));
    }
    to = std::min(end_ms, AlignMinute(from + duration));
    return to > from;
  }
  // A random key among those passing `ok`, or -1.
  template <typename Pred>
  int PickKey(Pred ok) {
    std::vector<int> candidates;
    for (size_t i = 0; i < base_keys; ++i) {
      if (ok(keys[i])) candidates.push_back(static_cast<int>(i));
    }
    if (candidates.empty()) return -1;
    return candidates[rng.Below(candidates.size())];
  }
  IncidentLabel& NewLabel(IncidentKind kind, const Key& k, int64_t from, int64_t to) {
    IncidentLabel& l = labels.emplace_back();
    l.kind = kind;
    l.tenant = tenants[k.tenant].name;
    l.feature = k.feature;
    l.environment = k.environment;
    l.start_ms = from;
    l.end_ms = to;
    return l;
  }
  static std::string Minutes(int64_t from, int64_t to) { return Fixed(static_cast<double>(to - from) / kMinuteMs, 0); }
  static std::string Hours(int64_t from, int64_t to) { return Fixed(static_cast<double>(to - from) / kHourMs, 1); }

  bool PlanRetryLoop(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(10, 90)) * kMinuteMs, from, to)) return false;
    for (double min_rate : {1.0, 0.3}) {
      const int ki = PickKey([&](const Key& k) {
        // At least x10 (drawn below): the loop adds 9x the key's spend or more.
        return k.environment == "prod" && ExpectedRate(k, from) >= min_rate && Material(9 * KeyUsdPerHour(k, from)) &&
               Free(k, from, to);
      });
      if (ki < 0) continue;
      Key& k = keys[ki];
      const double m = rng.Uniform(10, 50);
      const FeatureProfile& p = kFeatures[k.profile];
      Effect e{EffectType::kRetry, from, to};
      e.value = m;
      e.model = k.models[0];
      e.in0 = std::max<int64_t>(50, std::llround(rng.LogNormal(p.in_median, p.in_sigma)));
      k.effects.push_back(e);
      k.busy.emplace_back(from, to);
      IncidentLabel& l = NewLabel(IncidentKind::kRetryLoop, k, from, to);
      l.magnitude = m;
      l.expected_cost_per_hour_usd = ExpectedRate(k, from) * m * 60 * KeyCostPerCall(k);
      l.description = Concat("retry loop: calls x", Fixed(m, 1), " for ", Minutes(from, to),
                             " min, same prompt size, each retried request's calls share a correlation_id");
      return true;
    }
    return false;
  }

  bool PlanRunawayAgent(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(15, 120)) * kMinuteMs, from, to)) return false;
    // Prefer a key with steady traffic of its own, so the run stands out by
    // its shape (one id, growing context) more than by the key's total.
    int ki = -1;
    for (double min_rate : {0.5, 0.0}) {
      ki = PickKey([&](const Key& k) {
        return kFeatures[k.profile].agentic && k.environment == "prod" && ExpectedRate(k, from) >= min_rate &&
               Free(k, from, to);
      });
      if (ki >= 0) break;
    }
    if (ki < 0) return false;
    Key& k = keys[ki];
    const FeatureProfile& p = kFeatures[k.profile];
    Effect e{EffectType::kRunaway, from, to};
    e.calls_total = 300 + static_cast<int64_t>(rng.Below(2701));
    e.value = static_cast<double>(e.calls_total) / (static_cast<double>(to - from) / kMinuteMs);
    e.model = k.models[0];
    e.id = rng.Next();
    e.in0 = static_cast<int64_t>(p.in_median);
    const double last = std::min(180'000.0, static_cast<double>(e.in0) * rng.Uniform(8, 20));
    e.step = (last - static_cast<double>(e.in0)) / static_cast<double>(e.calls_total);
    k.effects.push_back(e);
    k.busy.emplace_back(from, to);
    IncidentLabel& l = NewLabel(IncidentKind::kRunawayAgent, k, from, to);
    l.agent_run_id = HexId("run-", e.id);
    const double run_cost_per_min = e.value * CostPerCall(k.profile, e.model, (static_cast<double>(e.in0) + last) / 2, 0.8);
    const double base_cost_per_min = ExpectedRate(k, from) * KeyCostPerCall(k);
    l.magnitude = base_cost_per_min > 0 ? (base_cost_per_min + run_cost_per_min) / base_cost_per_min : 1000;
    l.expected_cost_per_hour_usd = (base_cost_per_min + run_cost_per_min) * 60;
    l.description = Concat("runaway agent run: ", e.calls_total, " calls in ", Minutes(from, to),
                           " min, context growing from ", e.in0, " to ", static_cast<int64_t>(last), " tokens");
    return true;
  }

  bool PlanTenantScripting(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(2, 12) * kHourMs), from, to)) return false;
    const double m = rng.Uniform(3, 5);
    if (rng.Chance(0.5)) {
      int ki = -1;
      for (double min_rate : {1.0, 0.3}) {
        ki = PickKey([&](const Key& k) {
          return k.environment == "prod" && ExpectedRate(k, from) >= min_rate &&
                 Material((m - 1) * KeyUsdPerHour(k, from)) && Free(k, from, to);
        });
        if (ki >= 0) break;
      }
      if (ki < 0) return false;
      Key& k = keys[ki];
      k.effects.push_back(Effect{EffectType::kRateMultiplier, from, to, m});
      k.busy.emplace_back(from, to);
      IncidentLabel& l = NewLabel(IncidentKind::kTenantScripting, k, from, to);
      l.magnitude = m;
      l.expected_cost_per_hour_usd = ExpectedRate(k, from) * m * 60 * KeyCostPerCall(k);
      l.description = Concat("tenant scripting: one feature at x", Fixed(m, 1), " for ", Hours(from, to), " h");
      return true;
    }
    std::vector<int> candidates;
    for (size_t t = 0; t < tenants.size(); ++t) {
      double rate = 0, usd_per_hour = 0;
      bool free = true;
      for (uint32_t ki : tenants[t].keys) {
        if (keys[ki].environment != "prod") continue;
        rate += ExpectedRate(keys[ki], from);
        usd_per_hour += KeyUsdPerHour(keys[ki], from);
        free &= Free(keys[ki], from, to);
      }
      if (free && rate >= 2 && Material((m - 1) * usd_per_hour)) candidates.push_back(static_cast<int>(t));
    }
    if (candidates.empty()) return false;
    const Tenant& t = tenants[candidates[rng.Below(candidates.size())]];
    double cost_rate = 0;
    for (uint32_t ki : t.keys) {
      Key& k = keys[ki];
      if (k.environment != "prod") continue;
      k.effects.push_back(Effect{EffectType::kRateMultiplier, from, to, m});
      k.busy.emplace_back(from, to);
      cost_rate += ExpectedRate(k, from) * m * 60 * KeyCostPerCall(k);
    }
    IncidentLabel& l = NewLabel(IncidentKind::kTenantScripting, keys[t.keys[0]], from, to);
    l.feature.reset();
    l.environment = "prod";
    l.magnitude = m;
    l.expected_cost_per_hour_usd = cost_rate;
    l.description = Concat("tenant scripting: all prod features of the tenant at x", Fixed(m, 1), " for ",
                           Hours(from, to), " h");
    return true;
  }

  bool PlanPremiumRouting(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(6, 72) * kHourMs), from, to)) return false;
    const int ki = PickKey([&](const Key& k) {
      // From a cheap model, so the premium one costs x5-20 per call.
      // The premium model costs x5 or more per call: 4x the key's spend extra, at least.
      return k.environment == "prod" && kModels[k.models[0]].tier == Tier::kCheap && k.base_rate * opt.scale >= 0.5 &&
             Material(4 * KeyUsdPerHour(k, from)) && Free(k, from, to);
    });
    if (ki < 0) return false;
    Key& k = keys[ki];
    const double target = rng.Uniform(5, 20);
    const double base = KeyCostPerCall(k);
    int best = -1;
    double best_distance = 1e9, ratio = 1;
    for (int m : ModelsOfTier(Tier::kPremium)) {
      const double r = CostPerCall(k.profile, m) / base;
      const double d = std::abs(std::log(r / target));
      if (d < best_distance) {
        best_distance = d;
        best = m;
        ratio = r;
      }
    }
    if (!Material((ratio - 1) * KeyUsdPerHour(k, from))) return false;  // the nearest model was too cheap
    Effect e{EffectType::kModelOverride, from, to};
    e.model = best;
    k.effects.push_back(e);
    k.busy.emplace_back(from, to);
    IncidentLabel& l = NewLabel(IncidentKind::kPremiumRouting, k, from, to);
    l.model = std::string(kModels[best].name);
    l.magnitude = ratio;
    l.expected_cost_per_hour_usd = ExpectedRate(k, from) * 60 * CostPerCall(k.profile, best);
    l.description = Concat("premium routing: every call of the feature goes to ", kModels[best].name,
                           " (cost per call x", Fixed(ratio, 1), ") for ", Hours(from, to), " h, calls steady");
    return true;
  }

  // A key that did not exist before `from` and calls at a steady rate.
  uint32_t AddIncidentKey(uint32_t tenant, std::string feature, std::string environment, int profile, int model,
                          int64_t from, int64_t to, double rate) {
    Key k;
    k.tenant = tenant;
    k.feature = std::move(feature);
    k.environment = std::move(environment);
    k.profile = profile;
    k.models = {model, model};
    k.active_from_ms = from;
    k.active_to_ms = to;
    k.effects.push_back(Effect{EffectType::kFlatRate, from, to, rate});
    k.busy.emplace_back(from, to);
    keys.push_back(std::move(k));
    return static_cast<uint32_t>(keys.size() - 1);
  }

  bool PlanNewFeature(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(4, 48) * kHourMs), from, to)) return false;
    const uint32_t t = static_cast<uint32_t>(rng.Below(tenants.size()));
    std::vector<std::string_view> unused;
    for (std::string_view n : kNewFeatureNames) {
      if (std::find(tenants[t].new_features.begin(), tenants[t].new_features.end(), n) ==
          tenants[t].new_features.end()) {
        unused.push_back(n);
      }
    }
    if (unused.empty()) return false;
    const std::string name(unused[rng.Below(unused.size())]);
    tenants[t].new_features.push_back(name);
    const std::vector<int> mid = ModelsOfTier(Tier::kMid);
    const int model = mid[rng.Below(mid.size())];
    const double dollars_per_hour = rng.Uniform(6, 40);
    const double rate = dollars_per_hour / 60 / CostPerCall(kNewFeatureProfile, model);
    const uint32_t ki = AddIncidentKey(t, name, "prod", kNewFeatureProfile, model, from, to, rate);
    IncidentLabel& l = NewLabel(IncidentKind::kNewFeature, keys[ki], from, to);
    l.magnitude = dollars_per_hour;
    l.expected_cost_per_hour_usd = dollars_per_hour;
    l.description = Concat("new feature: a never-seen key on ", kModels[model].name, " spending ~$",
                           Fixed(dollars_per_hour, 2), "/h (", Fixed(rate, 1), " calls/min) for ", Hours(from, to),
                           " h");
    return true;
  }

  bool PlanDebugScriptWeekend(std::optional<int64_t> fixed) {
    const uint32_t t = static_cast<uint32_t>(rng.Below(tenants.size()));
    const Tenant& tenant = tenants[t];
    const int64_t tz = tenant.tz_minutes * kMinuteMs;
    int64_t from, to;
    if (fixed) {
      from = AlignMinute(*fixed);
      to = std::min(end_ms, from + 62 * kHourMs);
    } else {
      // Fridays (local) whose evening is after the warm-up and whose Monday
      // morning is before the end.
      std::vector<int64_t> fridays;
      for (int64_t day = (opt.start_ms + tz) / kDayMs; day * kDayMs - tz < end_ms; ++day) {
        if (((day + 3) % 7 + 7) % 7 != 4) continue;
        const int64_t evening = day * kDayMs - tz + 17 * kHourMs;
        if (evening >= warmup_end_ms && evening + 3 * kDayMs - 7 * kHourMs <= end_ms) fridays.push_back(day);
      }
      if (fridays.empty()) return false;
      const int64_t day = fridays[rng.Below(fridays.size())];
      from = AlignMinute(day * kDayMs - tz + static_cast<int64_t>(rng.Uniform(17, 22) * kHourMs));
      to = AlignMinute(std::min(end_ms, (day + 3) * kDayMs - tz + static_cast<int64_t>(rng.Uniform(7, 10) * kHourMs)));
    }
    if (to <= from) return false;
    const std::vector<int> mid = ModelsOfTier(Tier::kMid);
    const int model = mid[rng.Below(mid.size())];
    const double rate = rng.Uniform(1, 6);
    int existing = -1;
    if (rng.Chance(0.5)) {
      for (uint32_t ki : tenant.keys) {
        if (keys[ki].environment == "dev" && Free(keys[ki], from, to)) existing = static_cast<int>(ki);
      }
    }
    IncidentLabel* l;
    if (existing >= 0) {
      Key& k = keys[existing];
      const double extra_per_hour =
          (rate * CostPerCall(k.profile, model) - k.base_rate * opt.scale * 0.5 * KeyCostPerCall(k)) * 60;
      if (!Material(extra_per_hour)) return false;
      Effect flat{EffectType::kFlatRate, from, to, rate};
      Effect route{EffectType::kModelOverride, from, to};
      route.model = model;
      k.effects.push_back(flat);
      k.effects.push_back(route);
      k.busy.emplace_back(from, to);
      const double normal = std::max(1e-6, k.base_rate * opt.scale * 0.5 * KeyCostPerCall(k));
      const double during = rate * CostPerCall(k.profile, model);
      l = &NewLabel(IncidentKind::kDebugScriptWeekend, k, from, to);
      l->magnitude = during / normal;
      l->expected_cost_per_hour_usd = during * 60;
      l->description = Concat("debug script over the weekend: the tenant's tiny dev key calls ", kModels[model].name,
                              " steadily at ", Fixed(rate, 1), " calls/min");
    } else {
      const int profile = tenant.features[rng.Below(tenant.features.size())];
      if (!Material(rate * CostPerCall(profile, model) * 60)) return false;
      const std::string name = Concat("debug-", kFeatures[profile].name);
      for (uint32_t ki = static_cast<uint32_t>(base_keys); ki < keys.size(); ++ki) {
        if (keys[ki].tenant == t && keys[ki].feature == name) return false;  // one per tenant and name
      }
      const uint32_t ki = AddIncidentKey(t, name, "dev", profile, model, from, to, rate);
      const double during = rate * CostPerCall(profile, model) * 60;
      l = &NewLabel(IncidentKind::kDebugScriptWeekend, keys[ki], from, to);
      l->magnitude = during;
      l->expected_cost_per_hour_usd = during;
      l->description = Concat("debug script over the weekend: a new dev key calls ", kModels[model].name,
                              " steadily at ", Fixed(rate, 1), " calls/min");
    }
    return true;
  }

  bool PlanStagingLeak(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(2, 8) * kHourMs), from, to)) return false;
    const double m = rng.Uniform(10, 30);
    // A leak big enough to matter: at least one call a minute during it.
    int ki = -1;
    for (double min_calls : {1.0, 0.2, 0.0}) {
      ki = PickKey([&](const Key& k) {
        return k.environment == "staging" && ExpectedRate(k, from) * m >= min_calls &&
               Material((m - 1) * KeyUsdPerHour(k, from)) && Free(k, from, to);
      });
      if (ki >= 0) break;
    }
    if (ki < 0) return false;
    Key& k = keys[ki];
    k.effects.push_back(Effect{EffectType::kRateMultiplier, from, to, m});
    k.busy.emplace_back(from, to);
    IncidentLabel& l = NewLabel(IncidentKind::kStagingLeak, k, from, to);
    l.magnitude = m;
    l.expected_cost_per_hour_usd = ExpectedRate(k, from) * m * 60 * KeyCostPerCall(k);
    l.description = Concat("staging leak: prod-level traffic on a staging key, x", Fixed(m, 1), " for ",
                           Hours(from, to), " h");
    return true;
  }

  bool PlanUnpricedModel(std::optional<int64_t> fixed) {
    int64_t from, to;
    if (!PickWindow(fixed, static_cast<int64_t>(rng.Uniform(5, 60)) * kMinuteMs, from, to)) return false;
    for (double min_rate : {0.5, 0.1}) {
      const int ki = PickKey([&](const Key& k) {
        return k.environment == "prod" && ExpectedRate(k, from) >= min_rate && Free(k, from, to);
      });
      if (ki < 0) continue;
      Key& k = keys[ki];
      const std::vector<int> unpriced = ModelsOfTier(Tier::kUnpriced);
      Effect e{EffectType::kModelOverride, from, to};
      e.model = unpriced[rng.Below(unpriced.size())];
      k.effects.push_back(e);
      k.busy.emplace_back(from, to);
      IncidentLabel& l = NewLabel(IncidentKind::kUnpricedModel, k, from, to);
      l.model = std::string(kModels[e.model].name);
      l.magnitude = 1;
      l.expected_cost_per_hour_usd = 0;
      l.description = Concat("unpriced model: every call of the key goes to ", kModels[e.model].name,
                             ", which the price table does not know, for ", Minutes(from, to), " min");
      return true;
    }
    return false;
  }

  bool Plan(IncidentKind kind, std::optional<int64_t> fixed) {
    switch (kind) {
      case IncidentKind::kRetryLoop: return PlanRetryLoop(fixed);
      case IncidentKind::kRunawayAgent: return PlanRunawayAgent(fixed);
      case IncidentKind::kTenantScripting: return PlanTenantScripting(fixed);
      case IncidentKind::kPremiumRouting: return PlanPremiumRouting(fixed);
      case IncidentKind::kNewFeature: return PlanNewFeature(fixed);
      case IncidentKind::kDebugScriptWeekend: return PlanDebugScriptWeekend(fixed);
      case IncidentKind::kStagingLeak: return PlanStagingLeak(fixed);
      case IncidentKind::kUnpricedModel: return PlanUnpricedModel(fixed);
    }
    return false;
  }

  absl::Status PlanIncidents() {
    for (const IncidentRequest& r : opt.scheduled) {
      bool ok = false;
      // Key choice is random; a few tries find a free one.
      for (int attempt = 0; attempt < 20 && !ok; ++attempt) ok = Plan(r.kind, r.start_ms);
      if (!ok) {
        return absl::InvalidArgumentError(Concat("cannot place a ", IncidentKindName(r.kind), " incident at ",
                                                 FormatRfc3339Ms(r.start_ms)));
      }
    }
    if (opt.random_incidents) {
      material_floor_ = opt.min_incident_usd_per_hour;
      const int64_t wanted = std::llround(opt.incidents_per_day * (opt.days - opt.warmup_days));
      std::vector<IncidentKind> cycle(kAllIncidentKinds.begin(), kAllIncidentKinds.end());
      for (int64_t n = 0; n < wanted; ++n) {
        if (n % static_cast<int64_t>(cycle.size()) == 0) {
          for (size_t i = cycle.size() - 1; i > 0; --i) std::swap(cycle[i], cycle[rng.Below(i + 1)]);
        }
        const IncidentKind kind = cycle[n % cycle.size()];
        bool ok = false;
        for (int attempt = 0; attempt < 30 && !ok; ++attempt) ok = Plan(kind, std::nullopt);
        // A kind with no room (e.g. no Friday in a short run) gives its
        // place to another kind, so the count holds.
        for (int attempt = 0; attempt < 30 && !ok; ++attempt) {
          ok = Plan(kAllIncidentKinds[rng.Below(kIncidentKindCount)], std::nullopt);
        }
      }
    }
    std::stable_sort(labels.begin(), labels.end(),
                     [](const IncidentLabel& a, const IncidentLabel& b) { return a.start_ms < b.start_ms; });
    for (size_t i = 0; i < labels.size(); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "inc-%04zu", i + 1);
      labels[i].incident_id = buf;
    }
    return absl::OkStatus();
  }

  void Finish() {
    for (Key& k : keys) {
      k.json_dims = Concat(",\"tenant\":\"", tenants[k.tenant].name, "\",\"feature\":\"", k.feature,
                           "\",\"environment\":\"", k.environment, "\"");
    }
    id_prefix = Concat("sim", opt.seed, "-");
    tenant_factor.resize(tenants.size());
    now_ms = opt.start_ms;
  }

  // ---------------------------------------------------------------- calls
  void AddCall(uint32_t ki, int model, bool incident, int64_t input, int64_t cache_read, uint64_t run,
               uint64_t correlation, int64_t minute_ms) {
    const Key& k = keys[ki];
    const FeatureProfile& p = kFeatures[k.profile];
    Call c{};
    c.ts = minute_ms + static_cast<int64_t>(call_rng.Below(kMinuteMs));
    c.seq = next_seq++;
    c.key = ki;
    c.model = static_cast<int16_t>(model);
    c.incident = incident;
    c.input = input;
    c.cache_read = cache_read;
    const int64_t visible = std::max<int64_t>(1, std::llround(call_rng.LogNormal(p.out_median, p.out_sigma)));
    c.reasoning = kModels[model].reasoning
                      ? std::llround(static_cast<double>(visible) * call_rng.LogNormal(kReasoningMedian, kReasoningSigma))
                      : 0;
    c.output = visible + c.reasoning;
    const double tool = p.tool_share > 0 ? p.tool_share * call_rng.Uniform(0.7, 1.3) : 0;
    const double memory = p.memory_share > 0 ? p.memory_share * call_rng.Uniform(0.7, 1.3) : 0;
    c.tool = static_cast<int64_t>(static_cast<double>(input) * std::min(0.6, tool));
    c.memory = static_cast<int64_t>(static_cast<double>(input) * std::min(0.35, memory));
    c.prompt = input - c.tool - c.memory;
    c.run_id = run;
    c.correlation_id = correlation;
    calls.push_back(c);
  }
  int PickModel(const Key& k) {
    return k.primary_weight >= 1 || call_rng.Uniform() < k.primary_weight ? k.models[0] : k.models[1];
  }
  void NormalCall(uint32_t ki, int model_override, bool incident, int64_t minute_ms) {
    Key& k = keys[ki];
    const FeatureProfile& p = kFeatures[k.profile];
    const int model = model_override >= 0 ? model_override : PickModel(k);
    const int64_t input = std::max<int64_t>(20, std::llround(call_rng.LogNormal(p.in_median, p.in_sigma)));
    int64_t cache = 0;
    if (p.cache_probability > 0 && call_rng.Chance(p.cache_probability)) {
      cache = static_cast<int64_t>(static_cast<double>(input) * call_rng.Uniform(0.3, 0.8));
    }
    uint64_t run = 0;
    if (p.agentic) {
      if (k.run_left <= 0) {
        k.run_id = call_rng.Next();
        k.run_left = 3 + static_cast<int64_t>(call_rng.Below(13));
      }
      run = k.run_id;
      --k.run_left;
    }
    AddCall(ki, model, incident, input, cache, run, k.sends_correlation ? call_rng.Next() | 1 : 0, minute_ms);
  }

  void GenerateMinute(int64_t minute_ms) {
    calls.clear();
    next_seq = 0;
    for (size_t t = 0; t < tenants.size(); ++t) {
      const Tenant& tenant = tenants[t];
      const int64_t local_day = (minute_ms + tenant.tz_minutes * kMinuteMs) / kDayMs;
      // Day-to-day swings of a whole tenant: what makes static thresholds fire.
      tenant_factor[t] = Season(tenant, minute_ms) * std::exp(0.15 * HashNormal(opt.seed, t + 1, local_day));
    }
    const int64_t hour = minute_ms / kHourMs;
    for (uint32_t ki = 0; ki < keys.size(); ++ki) {
      Key& k = keys[ki];
      if (minute_ms < k.active_from_ms || minute_ms >= k.active_to_ms) continue;
      double rate = 0;
      if (k.base_rate > 0) {
        if (k.noise_hour != hour) {
          k.noise_hour = hour;
          k.noise = std::exp(0.2 * HashNormal(opt.seed ^ 0xabcdef, ki + 1, static_cast<uint64_t>(hour)));
        }
        rate = k.base_rate * opt.scale * tenant_factor[k.tenant] * Growth(k, minute_ms) * k.noise;
      }
      int model_override = -1;
      bool incident = false;
      Effect* retry = nullptr;
      Effect* runaway = nullptr;
      for (Effect& e : k.effects) {
        if (minute_ms < e.from_ms || minute_ms >= e.to_ms) continue;
        switch (e.type) {
          case EffectType::kRateMultiplier:
            rate *= e.value;
            incident = true;
            break;
          case EffectType::kFlatRate:
            rate = std::max(rate, e.value);
            incident = true;
            break;
          case EffectType::kModelOverride:
            model_override = e.model;
            incident = true;
            break;
          case EffectType::kRetry: retry = &e; break;
          case EffectType::kRunaway: runaway = &e; break;
        }
      }
      if (rate > 0) {
        const int64_t n = call_rng.Poisson(rate);
        for (int64_t i = 0; i < n; ++i) NormalCall(ki, model_override, incident, minute_ms);
      }
      if (retry != nullptr) {
        int64_t n = call_rng.Poisson(rate * (retry->value - 1));
        while (n > 0) {
          // One failing request retried several times: its calls share a correlation id.
          const int64_t group = std::min<int64_t>(n, 3 + static_cast<int64_t>(call_rng.Below(10)));
          const uint64_t correlation = call_rng.Next();
          for (int64_t i = 0; i < group; ++i) {
            AddCall(ki, model_override >= 0 ? model_override : retry->model, true, retry->in0, 0, 0, correlation,
                    minute_ms);
          }
          n -= group;
        }
      }
      if (runaway != nullptr) {
        const bool last_minute = minute_ms + kMinuteMs >= runaway->to_ms;
        int64_t n = last_minute ? runaway->calls_total - runaway->calls_done : call_rng.Poisson(runaway->value);
        n = std::min(n, runaway->calls_total - runaway->calls_done);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t context =
              runaway->in0 + std::llround(runaway->step * static_cast<double>(runaway->calls_done));
          const int64_t previous =
              runaway->in0 + std::llround(runaway->step * static_cast<double>(std::max<int64_t>(0, runaway->calls_done - 1)));
          // The agent resends its growing history; most of it is a cache hit.
          AddCall(ki, model_override >= 0 ? model_override : runaway->model, true, context,
                  std::min(context, previous * 8 / 10), runaway->id, 0, minute_ms);
          ++runaway->calls_done;
        }
      }
    }
    std::sort(calls.begin(), calls.end(),
              [](const Call& a, const Call& b) { return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq; });
  }

  void FormatCall(const Call& c, std::string& out) {
    const Key& k = keys[c.key];
    const ModelInfo& m = kModels[c.model];
    out.append("{\"event_id\":\"");
    out.append(id_prefix);
    AppendHex(out, next_event++);
    out.append("\",\"ts\":");
    AppendInt(out, c.ts);
    out.append(k.json_dims);
    out.append(",\"provider\":\"");
    out.append(m.provider);
    out.append("\",\"model\":\"");
    out.append(m.name);
    out.append("\",\"input_tokens\":");
    AppendInt(out, c.input);
    out.append(",\"output_tokens\":");
    AppendInt(out, c.output);
    if (c.cache_read > 0) {
      out.append(",\"cache_read_tokens\":");
      AppendInt(out, c.cache_read);
    }
    if (c.reasoning > 0) {
      out.append(",\"reasoning_tokens\":");
      AppendInt(out, c.reasoning);
    }
    out.append(",\"layers\":{\"prompt\":");
    AppendInt(out, c.prompt);
    out.append(",\"tool\":");
    AppendInt(out, c.tool);
    out.append(",\"memory\":");
    AppendInt(out, c.memory);
    out.append(",\"response\":");
    AppendInt(out, c.output);
    out.push_back('}');
    if (c.run_id != 0) {
      out.append(",\"agent_run_id\":\"run-");
      AppendHex(out, c.run_id);
      out.push_back('"');
    }
    if (c.correlation_id != 0) {
      out.append(",\"correlation_id\":\"corr-");
      AppendHex(out, c.correlation_id);
      out.push_back('"');
    }
    out.push_back('}');
  }

  // Breaks the line just written (from `begin`) in one of the ways a real
  // producer does; the engine must refuse it.
  void Break(std::string& out, size_t begin) {
    switch (call_rng.Below(3)) {
      case 0:  // truncated
        out.resize(begin + (out.size() - begin) / 2);
        break;
      case 1: {  // no event_id
        const size_t comma = out.find(',', begin);
        out.erase(begin + 1, comma - begin);
        break;
      }
      default:  // a token count that is not a number
        const size_t at = out.find("\"input_tokens\":", begin);
        out.insert(at + 15, "\"lots\",\"x\":");
        break;
    }
  }

  bool Next(MinuteBatch& batch) {
    batch.text.clear();
    batch.lines.clear();
    if (now_ms >= end_ms) return false;
    batch.minute_start_ms = now_ms;
    GenerateMinute(now_ms);
    now_ms += kMinuteMs;
    for (const Call& c : calls) {
      const size_t begin = batch.text.size();
      FormatCall(c, batch.text);
      if (opt.malformed_fraction > 0 && call_rng.Chance(opt.malformed_fraction)) {
        Break(batch.text, begin);
        ++stats.malformed;
      }
      batch.lines.push_back(MinuteBatch::Line{c.ts, static_cast<uint32_t>(begin),
                                              static_cast<uint32_t>(batch.text.size() - begin),
                                              keys[c.key].tenant});
      batch.text.push_back('\n');
      stats.incident_events += c.incident;
    }
    stats.events += calls.size();
    return true;
  }
};

TrafficModel::TrafficModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrafficModel::~TrafficModel() = default;

absl::StatusOr<std::unique_ptr<TrafficModel>> TrafficModel::Create(const TrafficOptions& options) {
  if (options.days < 1 || options.days > 3660) return absl::InvalidArgumentError("days must be between 1 and 3660");
  if (options.warmup_days < 0 || options.warmup_days >= options.days) {
    return absl::InvalidArgumentError("warm-up days must be at least 0 and fewer than days");
  }
  if (options.tenants < 1 || options.tenants > 100'000) {
    return absl::InvalidArgumentError("tenants must be between 1 and 100000");
  }
  if (!(options.scale > 0) || options.scale > 10'000) return absl::InvalidArgumentError("scale must be in (0, 10000]");
  if (!(options.incidents_per_day >= 0) || options.incidents_per_day > 1000) {
    return absl::InvalidArgumentError("incidents per day must be in [0, 1000]");
  }
  if (!(options.min_incident_usd_per_hour >= 0)) {
    return absl::InvalidArgumentError("the minimum incident size must be at least 0 USD per hour");
  }
  if (!(options.malformed_fraction >= 0 && options.malformed_fraction <= 1)) {
    return absl::InvalidArgumentError("malformed fraction must be in [0, 1]");
  }
  if (options.start_ms < 946'684'800'000 || options.start_ms > 4'000'000'000'000) {
    return absl::InvalidArgumentError("start must be between 2000 and 2096");
  }
  auto impl = std::make_unique<Impl>(options);
  impl->end_ms = options.start_ms + options.days * kDayMs;
  impl->warmup_end_ms = options.start_ms + options.warmup_days * kDayMs;
  for (const IncidentRequest& r : options.scheduled) {
    if (r.start_ms < options.start_ms || r.start_ms >= impl->end_ms) {
      return absl::InvalidArgumentError(Concat(IncidentKindName(r.kind), " incident at ", FormatRfc3339Ms(r.start_ms),
                                               " is outside the simulated time ", FormatRfc3339Ms(options.start_ms),
                                               " to ", FormatRfc3339Ms(impl->end_ms)));
    }
  }
  impl->BuildPopulation();
  if (absl::Status s = impl->PlanIncidents(); !s.ok()) return s;
  impl->Finish();
  return std::unique_ptr<TrafficModel>(new TrafficModel(std::move(impl)));
}

bool TrafficModel::NextMinute(MinuteBatch& batch) { return impl_->Next(batch); }
bool TrafficModel::done() const { return impl_->now_ms >= impl_->end_ms; }
const std::vector<IncidentLabel>& TrafficModel::incidents() const { return impl_->labels; }
size_t TrafficModel::key_count() const { return impl_->base_keys; }
const std::string& TrafficModel::tenant_name(uint32_t index) const { return impl_->tenants[index].name; }
const TrafficOptions& TrafficModel::options() const { return impl_->opt; }
int64_t TrafficModel::end_ms() const { return impl_->end_ms; }
int64_t TrafficModel::warmup_end_ms() const { return impl_->warmup_end_ms; }
const TrafficStats& TrafficModel::stats() const { return impl_->stats; }

std::string TrafficModel::MetaJson() const {
  const Impl& m = *impl_;
  std::string out = Concat(
      "{\"seed\":", m.opt.seed, ",\"start\":\"", FormatRfc3339Ms(m.opt.start_ms), "\",\"end\":\"",
      FormatRfc3339Ms(m.end_ms), "\",\"warmup_end\":\"", FormatRfc3339Ms(m.warmup_end_ms),
      "\",\"start_ms\":", m.opt.start_ms, ",\"end_ms\":", m.end_ms, ",\"warmup_end_ms\":", m.warmup_end_ms,
      ",\"days\":", m.opt.days, ",\"warmup_days\":", m.opt.warmup_days, ",\"tenants\":", m.tenants.size(),
      ",\"keys\":", m.base_keys, ",\"incident_keys\":", m.keys.size() - m.base_keys,
      ",\"incidents\":", m.labels.size(), ",\"incidents_per_day\":", Fixed(m.opt.incidents_per_day, 3),
      ",\"min_incident_usd_per_hour\":", Fixed(m.opt.min_incident_usd_per_hour, 3),
      ",\"scale\":", Fixed(m.opt.scale, 3), ",\"malformed_fraction\":", Fixed(m.opt.malformed_fraction, 6),
      ",\"benign\":[");
  for (size_t i = 0; i < m.benign.size(); ++i) {
    if (i) out.push_back(',');
    out.append(m.benign[i].json);
  }
  out.append("]}");
  return out;
}

}  // namespace burnrate::simulate
