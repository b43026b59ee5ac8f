#include "tools/event_stream.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace burnrate::testgen {

std::string_view MalformedKindName(MalformedKind kind) {
  static constexpr std::array<std::string_view, kMalformedKindCount> kNames = {
      "broken_json",  "wrong_type",         "negative_tokens",  "missing_event_id",
      "invalid_utf8", "inconsistent_parts", "ancient_timestamp"};
  return kNames[static_cast<size_t>(kind)];
}

namespace {

// xoshiro256** seeded through splitmix64: fast, and the same sequence on
// every platform, which std:: distributions do not promise.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t operator()() {
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
  double Uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>((*this)()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  // Log-uniform in [lo, hi]: token counts span orders of magnitude.
  int64_t LogUniform(double lo, double hi) {
    return static_cast<int64_t>(std::exp(std::log(lo) + Uniform() * (std::log(hi) - std::log(lo))));
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Walker/Vose alias table: O(1) draws from a fixed discrete distribution,
// which matters when there are a million keys to pick from.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights)
      : prob_(weights.size(), 1.0), alias_(weights.size()) {
    const size_t n = weights.size();
    double sum = 0;
    for (double w : weights) sum += w;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / sum;
      alias_[i] = static_cast<uint32_t>(i);
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t s = small.back();
      small.pop_back();
      const uint32_t l = large.back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
  }
  uint32_t Sample(Rng& rng) const {
    const uint64_t i = rng.Below(prob_.size());
    return rng.Uniform() < prob_[i] ? static_cast<uint32_t>(i) : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

// ---------------------------------------------------------------------------
// Time and text, written out here rather than taken from core/ (see header).

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// H. Hinnant's civil_from_days.
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

void AppendDigits(std::string& out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 || n < width);
  while (n > 0) out.push_back(buf[--n]);
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ptr);
}

enum class TimeStyle : uint8_t { kMillisZ, kSecondsZ, kOffset, kDateOnly };

// RFC 3339 in UTC ("Z") or at a UTC offset in minutes.
void AppendTime(std::string& out, int64_t epoch_ms, TimeStyle style, int offset_minutes = 0) {
  const int64_t local = epoch_ms + int64_t{offset_minutes} * 60'000;
  const int64_t days = FloorDiv(local, 86'400'000);
  const int64_t in_day = local - days * 86'400'000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  AppendDigits(out, y, 4);
  out.push_back('-');
  AppendDigits(out, m, 2);
  out.push_back('-');
  AppendDigits(out, d, 2);
  if (style == TimeStyle::kDateOnly) return;
  out.push_back('T');
  AppendDigits(out, in_day / 3'600'000, 2);
  out.push_back(':');
  AppendDigits(out, in_day / 60'000 % 60, 2);
  out.push_back(':');
  AppendDigits(out, in_day / 1000 % 60, 2);
  if (style != TimeStyle::kSecondsZ) {
    out.push_back('.');
    AppendDigits(out, in_day % 1000, 3);
  }
  if (style != TimeStyle::kOffset) {
    out.push_back('Z');
    return;
  }
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  out.push_back(offset_minutes < 0 ? '-' : '+');
  AppendDigits(out, off / 60, 2);
  out.push_back(':');
  AppendDigits(out, off % 60, 2);
}

// The body of a JSON string literal for UTF-8 `s`. With `ascii`, every
// non-ASCII character becomes \uXXXX (a surrogate pair above U+FFFF), so the
// same name reaches the engine in two spellings that must decode alike.
std::string JsonBody(std::string_view s, bool ascii) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const auto u_escape = [&](uint32_t cp) {
    out.append("\\u");
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 15]);
  };
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      u_escape(c);
      ++i;
    } else if (c < 0x80 || !ascii) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else {
      // Names here are valid UTF-8 by construction.
      const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      uint32_t cp = c & (0xff >> (len + 1));
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        u_escape(0xd800 + (cp >> 10));
        u_escape(0xdc00 + (cp & 0x3ff));
      } else {
        u_escape(cp);
      }
      i += static_cast<size_t>(len);
    }
  }
  return out;
}

// A dimension value: its bytes, and its JSON spellings.
struct Name {
  std::string bytes;
  std::string json;        // raw UTF-8, only quotes, backslashes and controls escaped
  std::string json_ascii;  // everything outside ASCII as \u escapes

  explicit Name(std::string s)
      : bytes(std::move(s)), json(JsonBody(bytes, false)), json_ascii(JsonBody(bytes, true)) {}
};

constexpr std::string_view kTenantWords[] = {
    "acme",     "globex",    "initech",  "umbrella",  "hooli",    "vandelay",  "stark",
    "wayne",    "tyrell",    "soylent",  "cyberdyne", "wonka",    "gringotts", "oscorp",
    "aperture", "blackmesa", "nakatomi", "dunder",    "pied",     "massive",   "monarch",
    "vault",    "zorg",      "krusty",   "bluth",     "prestige", "sterling",  "pawnee",
    "dharma",   "weyland",   "abstergo", "rekall",    "virtucon", "genco",     "duff",
    "paper",    "octan",     "altman",   "lacuna",    "ingen",    "nexus",     "omni",
    "roxxon",   "sirius",    "spacely",  "tricell",   "veidt",    "yoyodyne"};
constexpr std::string_view kTenantSuffixes[] = {
    "corp",  "labs",     "inc",     "gmbh",    "ltd",      "ai",        "systems", "group",
    "cloud", "health",   "bank",    "retail",  "media",    "games",     "energy",  "legal",
    "edu",   "travel",   "foods",   "motors",  "pharma",   "realty",    "studio",  "logistics",
    "data",  "robotics", "telecom", "capital", "security", "insurance", "sports",  "farms"};
// Names that test escaping and Unicode on the way through the engine.
constexpr std::string_view kSpecialTenants[] = {
    "caf\xc3\xa9-gmbh", "\xe6\x9d\xb1\xe4\xba\xac-ai-labs", "o'neil \"quoted\" ltd",
    "back\\slash-inc", "rocket-\xf0\x9f\x9a\x80-co"};
constexpr std::string_view kFeatures[] = {
    "support-chat",    "code-review",    "search-summarize", "doc-qa",
    "email-draft",     "agent-planner",  "sql-assistant",    "translation",
    "meeting-notes",   "onboarding-bot", "ticket-triage",    "contract-review",
    "sales-copilot",   "churn-analysis", "report-writer",    "voice-agent",
    "image-caption",   "pr-summary",     "test-generator",   "release-notes",
    "kb-ingest",       "faq-bot",        "invoice-extract",  "resume-screen",
    "lead-scoring",    "fraud-explain",  "sentiment",        "classification",
    "rag-answer",      "deep-research",  "slack-digest",     "crm-enrich",
    "product-tagging", "moderation",     "alt-text",         "legal-redline",
    "medical-scribe",  "tutor",          "data-cleaning",    "eval-judge"};
constexpr std::string_view kEnvironments[] = {"prod", "staging", "dev", "eval", "canary"};
constexpr std::string_view kTeams[] = {"platform", "growth",       "support-eng", "search",
                                       "ml-infra", "finance-apps", "mobile",      "data"};
constexpr std::string_view kWorkflowSteps[] = {"plan", "retrieve", "tool-call", "reflect",
                                               "respond"};
constexpr std::string_view kOrigins[] = {"api", "web", "batch-job", "slack-bot", "mobile"};
constexpr std::string_view kUnknownModels[] = {"gen-experimental-9", "legacy-model-0"};
constexpr int kOffsets[] = {60, 120, -300, 330, -480, 540};

std::string TenantName(uint32_t i) {
  constexpr size_t kWords = std::size(kTenantWords);
  constexpr size_t kSuffixes = std::size(kTenantSuffixes);
  if (i >= 1 && i <= std::size(kSpecialTenants)) return std::string(kSpecialTenants[i - 1]);
  std::string name(kTenantWords[i % kWords]);
  name.push_back('-');
  name.append(kTenantSuffixes[i / kWords % kSuffixes]);
  if (i >= kWords * kSuffixes) {
    name.push_back('-');
    name.append(std::to_string(i / (kWords * kSuffixes)));
  }
  return name;
}

struct PricePeriod {
  int64_t from_ms;
  TimeStyle from_style;
  // As written to the YAML, and as doubles parsed back from that very text.
  std::string text[4];  // input, output, cache_read, cache_write
  double usd_per_million[4];
};

struct Model {
  std::string name;
  std::string family;  // what an OTel request names; the response names `name`
  std::string provider;
  std::vector<PricePeriod> periods;
  double batch = 1.0;  // share of list price for service_tier "batch"
  std::string batch_text;
  double weight;
  double reasoning_share;  // events of this model that carry reasoning tokens
};

PricePeriod MakePeriod(int64_t from_ms, TimeStyle style, std::string_view in, std::string_view out,
                       std::string_view cache_read, std::string_view cache_write) {
  PricePeriod p{
      from_ms,
      style,
      {std::string(in), std::string(out), std::string(cache_read), std::string(cache_write)},
      {}};
  for (int i = 0; i < 4; ++i) p.usd_per_million[i] = std::strtod(p.text[i].c_str(), nullptr);
  return p;
}

// Everything about one generated call before it is written out.
struct Facts {
  uint64_t id_hi = 0, id_lo = 0;
  int64_t ts_ms = 0;
  TimeStyle ts_style = TimeStyle::kMillisZ;
  bool ts_epoch = false;
  int offset_minutes = 0;
  uint32_t key = 0;
  bool missing_environment = false;
  int model = -1;          // index into models, or -1 for an unknown model
  int unknown_model = 0;   // which unknown name; -1: no model field at all
  int64_t tokens[5] = {};  // input, output, cache_read, cache_write, reasoning
  bool has_layers = false;
  int64_t layers[4] = {};  // prompt, tool, memory, response
  int service_tier = 0;    // 0 absent, 1 "batch", 2 "default"
  bool otel = false;
  bool ascii_names = false;
  bool explicit_zeros = false;
  bool response_model = false;  // OTel: request names the family, response the model
  bool system_key = false;      // OTel: the older gen_ai.system for the provider
  uint32_t user = 0;
  bool has_provider = true;  // flat schema only: the model implies it
  bool has_user = false;
  int team = -1;
  int workflow = -1, origin = -1;
  uint64_t run = 0, correlation = 0;
  bool has_run = false, has_correlation = false;
};

struct Mutation {
  bool active = false;
  MalformedKind kind = MalformedKind::kBrokenJson;
  uint32_t variant = 0;
};

// Writes one JSON object member by member.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) {}
  void Key(std::string_view key) {
    out_.append(first_ ? "{\"" : ",\"");
    first_ = false;
    out_.append(key);
    out_.append("\":");
  }
  void Str(std::string_view key, std::string_view json_body) {
    Key(key);
    out_.push_back('"');
    out_.append(json_body);
    out_.push_back('"');
  }
  void Int(std::string_view key, int64_t v) {
    Key(key);
    AppendInt(out_, v);
  }
  void Raw(std::string_view key, std::string_view raw) {
    Key(key);
    out_.append(raw);
  }
  std::string& out() { return out_; }
  void End() { out_.append(first_ ? "{}" : "}"); }

 private:
  std::string& out_;
  bool first_ = true;
};

void AppendHex(std::string& out, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 15]);
}

struct AggKey {
  int64_t window;
  uint32_t tenant;
  uint16_t feature;
  uint16_t environment;  // kUnknownEnvironment when the event had none
  bool operator==(const AggKey&) const = default;
};
constexpr uint16_t kUnknownEnvironment = 0xffff;

struct AggKeyHash {
  size_t operator()(const AggKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.window) * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t{k.tenant} << 32 | uint64_t{k.feature} << 16 | k.environment) +
         0xbf58476d1ce4e5b9ull + (h << 6) + (h >> 2);
    return static_cast<size_t>(h ^ (h >> 31));
  }
};

struct Totals {
  int64_t events = 0;
  int64_t unpriced = 0;
  int64_t tokens[5] = {};
  int64_t layers[4] = {};
  double cost_usd = 0;
};

}  // namespace

struct EventStream::Impl {
  explicit Impl(StreamOptions o) : options(o), rng(o.seed) {
    if (options.rate <= 0) {
      options.rate = options.events > 0 ? static_cast<double>(options.events) / 1800.0 : 1.0;
    }
    if (options.keys == 0) throw std::invalid_argument("keys must be at least 1");
    if (options.keys > 50'000'000) throw std::invalid_argument("keys must be at most 50,000,000");
    if (options.window_ms <= 0) throw std::invalid_argument("window_ms must be positive");
    BuildNames();
    BuildKeys();
    BuildModels();
  }

  void BuildNames() {
    const uint64_t tenant_count = (options.keys + 19) / 20;
    tenants.reserve(tenant_count);
    for (uint32_t i = 0; i < tenant_count; ++i) tenants.emplace_back(TenantName(i));
    for (auto f : kFeatures) features.emplace_back(std::string(f));
    for (auto e : kEnvironments) environments.emplace_back(std::string(e));
  }

  // Picks `keys` distinct (tenant, feature, environment) triples at random
  // from ten times as many; their order is their popularity rank.
  void BuildKeys() {
    const uint64_t nf = features.size(), ne = environments.size();
    const uint64_t combos = tenants.size() * nf * ne;
    std::unordered_set<uint64_t> taken;
    taken.reserve(options.keys * 2);
    keys.reserve(options.keys);
    while (keys.size() < options.keys) {
      const uint64_t c = rng.Below(combos);
      if (!taken.insert(c).second) continue;
      keys.push_back({static_cast<uint32_t>(c / (nf * ne)), static_cast<uint16_t>(c / ne % nf),
                      static_cast<uint16_t>(c % ne)});
    }
    std::vector<double> weights(keys.size());
    for (size_t r = 0; r < weights.size(); ++r)
      weights[r] = std::pow(static_cast<double>(r + 1), -1.1);
    key_popularity = std::make_unique<AliasTable>(weights);
  }

  void BuildModels() {
    // Every model's first period starts well before the stream.
    const int64_t first_from =
        FloorDiv(options.start_ms - options.disorder_ms, 86'400'000) * 86'400'000 -
        30 * int64_t{86'400'000};
    constexpr auto kDay = TimeStyle::kDateOnly;
    // Prices: with at most 6 decimals (whole picodollars per token), and
    // even picodollars for the batch model, so that half price is exact too.
    models.push_back({"gen-large-1",
                      "gen-large",
                      "acme-ai",
                      {MakePeriod(first_from, kDay, "3.00", "15.00", "0.30", "3.75")},
                      0.5,
                      "0.5",
                      0.28,
                      0.3});
    // One price change in the middle of the stream: events before and after
    // it must be priced differently (effective-dated prices).
    price_change_ms = options.start_ms + FloorDiv(span_ms() / 2, 60'000) * 60'000;
    models.push_back(
        {"gen-medium-2",
         "gen-medium",
         "acme-ai",
         {MakePeriod(first_from, kDay, "0.80", "4.00", "0.08", "1.00"),
          MakePeriod(price_change_ms, TimeStyle::kSecondsZ, "0.70", "3.50", "0.07", "0.875")},
         1.0,
         "",
         0.25,
         0.0});
    models.push_back(
        {"gen-small-3",
         "gen-small",
         "bolt-labs",
         {MakePeriod(first_from, kDay, "0.150000", "0.600000", "0.075000", "0.150000")},
         1.0,
         "",
         0.20,
         0.0});
    models.push_back(
        {"gen-mini-4",
         "gen-mini",
         "bolt-labs",
         {MakePeriod(first_from, kDay, "0.037625", "0.150125", "0.009406", "0.047031")},
         1.0,
         "",
         0.12,
         0.0});
    models.push_back({"gen-reason-5",
                      "gen-reason",
                      "deepthink",
                      {MakePeriod(first_from, kDay, "1.10", "4.40", "0.275", "1.375")},
                      1.0,
                      "",
                      0.09,
                      1.0});
    models.push_back({"gen-vision-6",
                      "gen-vision",
                      "pixelworks",
                      {MakePeriod(first_from, kDay, "2.5", "10", "1.25", "3.125")},
                      1.0,
                      "",
                      0.06,
                      0.0});
    std::vector<double> weights;
    for (const Model& m : models) weights.push_back(m.weight);
    model_popularity = std::make_unique<AliasTable>(weights);
  }

  int64_t span_ms() const {
    return static_cast<int64_t>(static_cast<double>(options.events) * 1000.0 / options.rate);
  }

  int64_t BaseTime(uint64_t line) const {
    return options.start_ms +
           static_cast<int64_t>(static_cast<double>(line) * 1000.0 / options.rate);
  }

  Facts MakeFacts(int64_t base_ms) {
    Facts f;
    f.id_hi = rng();
    f.id_lo = rng();
    f.ts_ms = base_ms - (options.disorder_ms > 0 ? rng.Between(0, options.disorder_ms) : 0);
    const double style = rng.Uniform();
    if (style < 0.40) {
      f.ts_epoch = true;
    } else if (style < 0.85) {
      f.ts_style = TimeStyle::kMillisZ;
    } else if (style < 0.95) {
      f.ts_style = TimeStyle::kSecondsZ;
      f.ts_ms = FloorDiv(f.ts_ms, 1000) * 1000;  // what the text says is the time
    } else {
      f.ts_style = TimeStyle::kOffset;
      f.offset_minutes = kOffsets[rng.Below(std::size(kOffsets))];
    }
    f.key = key_popularity->Sample(rng);
    f.missing_environment = rng.Chance(options.missing_dimension_fraction);
    f.otel =
        options.format == Format::kOtel || (options.format == Format::kMixed && rng.Chance(0.2));
    f.ascii_names = rng.Chance(0.5);
    if (rng.Chance(options.unknown_model_fraction)) {
      f.model = -1;
      f.unknown_model =
          rng.Chance(0.2) ? -1 : static_cast<int>(rng.Below(std::size(kUnknownModels)));
    } else {
      f.model = static_cast<int>(model_popularity->Sample(rng));
    }
    int64_t* t = f.tokens;
    t[0] = rng.LogUniform(30, 60'000);
    t[1] = rng.LogUniform(5, 4'000);
    if (rng.Chance(0.45))
      t[2] = static_cast<int64_t>(static_cast<double>(t[0]) * (0.1 + 0.8 * rng.Uniform()));
    if (rng.Chance(0.15))
      t[3] = static_cast<int64_t>(static_cast<double>(t[0] - t[2]) * 0.5 * rng.Uniform());
    const double reasoning_share = f.model >= 0 ? models[f.model].reasoning_share : 0.0;
    if (rng.Chance(reasoning_share)) {
      t[4] = static_cast<int64_t>(static_cast<double>(t[1]) * (0.2 + 0.7 * rng.Uniform()));
    }
    f.explicit_zeros = rng.Chance(0.2);
    f.has_provider = rng.Chance(0.7);
    if (!f.otel && rng.Chance(0.6)) {
      f.has_layers = true;
      f.layers[0] = static_cast<int64_t>(static_cast<double>(t[0]) * (0.3 + 0.5 * rng.Uniform()));
      f.layers[1] = static_cast<int64_t>(static_cast<double>(t[0] - f.layers[0]) * rng.Uniform());
      f.layers[2] = t[0] - f.layers[0] - f.layers[1];
      f.layers[3] = t[1];
    }
    const double tier = rng.Uniform();
    f.service_tier = tier < 0.05 ? 1 : tier < 0.15 ? 2 : 0;
    f.response_model = f.otel && rng.Chance(0.6);
    f.system_key = f.otel && rng.Chance(0.2);
    f.has_user = rng.Chance(0.7);
    f.user = static_cast<uint32_t>(rng.Below(2'000'000));
    f.team = rng.Chance(0.6) ? static_cast<int>(rng.Below(std::size(kTeams))) : -1;
    f.has_run = rng.Chance(0.3);
    f.run = rng();
    f.workflow = rng.Chance(0.2) ? static_cast<int>(rng.Below(std::size(kWorkflowSteps))) : -1;
    f.origin = rng.Chance(0.3) ? static_cast<int>(rng.Below(std::size(kOrigins))) : -1;
    f.has_correlation = rng.Chance(0.15);
    f.correlation = rng();
    return f;
  }

  const Name& TenantOf(const Facts& f) const { return tenants[keys[f.key].tenant]; }

  // Writes the event; a mutation breaks it in one specific way.
  void Render(const Facts& f, const Mutation& m, std::string& out) {
    const auto is = [&m](MalformedKind kind, uint32_t variant) {
      return m.active && m.kind == kind && m.variant == variant;
    };
    const auto is_kind = [&m](MalformedKind kind) { return m.active && m.kind == kind; };
    const bool otel = f.otel;
    ObjectWriter w(out);

    if (!is_kind(MalformedKind::kMissingEventId)) {
      w.Key("event_id");
      out.push_back('"');
      AppendHex(out, f.id_hi >> 32, 8);
      out.push_back('-');
      AppendHex(out, f.id_hi >> 16, 4);
      out.push_back('-');
      AppendHex(out, 0x4000 | (f.id_hi & 0x0fff), 4);
      out.push_back('-');
      AppendHex(out, 0x8000 | (f.id_lo >> 48 & 0x3fff), 4);
      out.push_back('-');
      AppendHex(out, f.id_lo, 12);
      out.push_back('"');
    }

    w.Key("ts");
    if (is(MalformedKind::kWrongType, 3)) {
      out.append("{\"ms\":");
      AppendInt(out, f.ts_ms);
      out.push_back('}');
    } else {
      // 1990-06-15T09:30:00Z and the like: a clock that was never set.
      const int64_t ts = is_kind(MalformedKind::kAncientTimestamp)
                             ? 645'433'800'000 + static_cast<int64_t>(m.variant) * 86'400'000
                             : f.ts_ms;
      if (f.ts_epoch) {
        AppendInt(out, ts);
      } else {
        out.push_back('"');
        AppendTime(out, ts, f.ts_style, f.offset_minutes);
        out.push_back('"');
      }
    }

    const Name& tenant = TenantOf(f);
    const Key& key = keys[f.key];
    if (is(MalformedKind::kWrongType, 1)) {
      w.Int(otel ? "tenant.id" : "tenant", 42);
    } else {
      w.Str(otel ? "tenant.id" : "tenant", f.ascii_names ? tenant.json_ascii : tenant.json);
    }
    w.Str(otel ? "feature.name" : "feature", features[key.feature].json);
    if (!f.missing_environment) {
      w.Str(otel ? "deployment.environment.name" : "environment",
            environments[key.environment].json);
    }
    if (f.team >= 0) w.Str(otel ? "team.name" : "team", kTeams[f.team]);

    if (f.has_user || is_kind(MalformedKind::kInvalidUtf8)) {
      w.Key(otel ? "user.id" : "user_id");
      out.append("\"u-");
      AppendDigits(out, f.user, 7);
      if (is_kind(MalformedKind::kInvalidUtf8)) {
        static constexpr std::string_view kBad[] = {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf",
                                                    "\xf8\x88\x80\x80\x80"};
        out.append(kBad[m.variant % std::size(kBad)]);
      }
      out.push_back('"');
    }

    const Model* model = f.model >= 0 ? &models[f.model] : nullptr;
    const std::string_view provider = model ? std::string_view(model->provider) : "acme-ai";
    std::string_view model_name =
        model ? std::string_view(model->name)
              : (f.unknown_model >= 0 ? kUnknownModels[f.unknown_model] : std::string_view());
    if (otel) {
      w.Str(f.system_key ? "gen_ai.system" : "gen_ai.provider.name", provider);
      if (is(MalformedKind::kWrongType, 4)) {
        w.Raw("gen_ai.request.model", "[\"gen-large-1\"]");
      } else if (!model_name.empty()) {
        if (f.response_model && model) {
          w.Str("gen_ai.request.model", model->family);
          w.Str("gen_ai.response.model", model_name);
        } else {
          w.Str("gen_ai.request.model", model_name);
        }
      }
    } else {
      if (f.workflow >= 0) w.Str("workflow_step", kWorkflowSteps[f.workflow]);
      if (f.origin >= 0) w.Str("request_origin", kOrigins[f.origin]);
      if (f.has_run) {
        w.Key("agent_run_id");
        out.append("\"run-");
        AppendHex(out, f.run, 12);
        out.push_back('"');
      }
      if (f.has_correlation) {
        w.Key("correlation_id");
        out.append("\"corr-");
        AppendHex(out, f.correlation, 16);
        out.push_back('"');
      }
      if (f.has_provider) w.Str("provider", provider);
      if (is(MalformedKind::kWrongType, 4)) {
        w.Raw("model", "[\"gen-large-1\"]");
      } else if (!model_name.empty()) {
        w.Str("model", model_name);
      }
    }

    int64_t t[5];
    std::copy(std::begin(f.tokens), std::end(f.tokens), t);
    if (is_kind(MalformedKind::kInconsistentParts)) {
      switch (m.variant % 3) {
        case 0:
          t[2] = t[0] + 1 + t[0] / 3;
          break;  // cache read above input
        case 1:
          t[2] = t[0] / 2 + 1, t[3] = t[0] / 2 + 1;
          break;  // the parts sum above it
        default:
          t[4] = t[1] + 1 + static_cast<int64_t>(m.variant);  // reasoning above output
      }
    }
    if (is(MalformedKind::kNegativeTokens, 0)) t[1] = -t[1] - 1;
    if (is(MalformedKind::kNegativeTokens, 1)) t[2] = -t[2] - 1;
    if (is(MalformedKind::kNegativeTokens, 2)) t[0] = -1;
    static constexpr std::string_view kFlatNames[] = {"input_tokens", "output_tokens",
                                                      "cache_read_tokens", "cache_write_tokens",
                                                      "reasoning_tokens"};
    static constexpr std::string_view kOtelNames[] = {
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens"};
    for (int i = 0; i < 5; ++i) {
      const std::string_view name = otel ? kOtelNames[i] : kFlatNames[i];
      if (i == 0 && is(MalformedKind::kWrongType, 0)) {
        w.Raw(name, "\"many\"");
      } else if (i == 0 && is(MalformedKind::kWrongType, 5)) {
        w.Raw(name, "[1200]");
      } else if (i == 1 && is(MalformedKind::kWrongType, 2)) {
        w.Raw(name, "true");
      } else if (i < 2 || t[i] != 0 || f.explicit_zeros ||
                 is_kind(MalformedKind::kInconsistentParts)) {
        w.Int(name, t[i]);
      }
    }
    if (f.has_layers && !otel) {
      w.Key("layers");
      static constexpr std::string_view kLayerNames[] = {"prompt", "tool", "memory", "response"};
      for (int i = 0; i < 4; ++i) {
        out.append(i == 0 ? "{\"" : ",\"");
        out.append(kLayerNames[i]);
        out.append("\":");
        AppendInt(out,
                  i == 0 && is(MalformedKind::kNegativeTokens, 3) ? -f.layers[0] - 1 : f.layers[i]);
      }
      out.push_back('}');
    }
    if (otel) {
      if (f.has_run) {
        w.Key("gen_ai.agent.id");
        out.append("\"run-");
        AppendHex(out, f.run, 12);
        out.push_back('"');
      }
      if (f.has_correlation) {
        w.Key("gen_ai.conversation.id");
        out.append("\"corr-");
        AppendHex(out, f.correlation, 16);
        out.push_back('"');
      }
    }
    if (f.service_tier) {
      w.Str(otel ? "openai.response.service_tier" : "service_tier",
            f.service_tier == 1 ? "batch" : "default");
    }
    w.End();
  }

  // Breaks the syntax of an otherwise good line.
  void BreakJson(uint32_t variant, std::string& line) {
    switch (variant % 6) {
      case 0:  // cut short, as by a producer that died mid-write
        line.resize(static_cast<size_t>(rng.Between(10, static_cast<int64_t>(line.size()) - 2)));
        break;
      case 1:  // a stray closing brace
        line.push_back('}');
        break;
      case 2:  // an unquoted key
        line.replace(0, 11, "{event_id");
        break;
      case 3:  // a missing comma between two members
        if (auto pos = line.find(",\"", 12); pos != std::string::npos) line[pos] = ' ';
        break;
      case 4:  // the event wrapped in an array
        line.insert(line.begin(), '[');
        line.push_back(']');
        break;
      default:  // a log line where an event should be
        line = "upstream request failed: connection reset by peer (retrying in 250ms)";
    }
  }

  void Accumulate(const Facts& f) {
    const Key& key = keys[f.key];
    const AggKey agg{FloorDiv(f.ts_ms, options.window_ms), key.tenant, key.feature,
                     f.missing_environment ? kUnknownEnvironment : key.environment};
    Totals& t = expected[agg];
    ++t.events;
    for (int i = 0; i < 5; ++i) t.tokens[i] += f.tokens[i];
    if (f.has_layers && !f.otel) {
      for (int i = 0; i < 4; ++i) t.layers[i] += f.layers[i];
    }
    if (f.model < 0) {
      ++t.unpriced;
      ++summary.unpriced;
      return;
    }
    const Model& model = models[f.model];
    const PricePeriod* period = &model.periods.front();
    for (const PricePeriod& p : model.periods) {
      if (p.from_ms <= f.ts_ms) period = &p;
    }
    const double* price = period->usd_per_million;
    const auto n = [&f](int i) { return static_cast<double>(f.tokens[i]); };
    double cost =
        ((n(0) - n(2) - n(3)) * price[0] + n(2) * price[2] + n(3) * price[3] + n(1) * price[1]) /
        1e6;
    if (f.service_tier == 1) cost *= model.batch;
    t.cost_usd += cost;
  }

  LineKind Next(std::string& out) {
    const int64_t base = BaseTime(summary.lines);
    ++summary.lines;
    const size_t begin = out.size();
    const double u = rng.Uniform();
    LineKind kind = LineKind::kAccepted;
    if (u < options.malformed_fraction) {
      kind = LineKind::kMalformed;
      Facts f = MakeFacts(base);
      f.model = static_cast<int>(model_popularity->Sample(rng));  // keep the line plausible
      Mutation m{true, static_cast<MalformedKind>(rng.Below(kMalformedKindCount)),
                 static_cast<uint32_t>(rng.Below(6))};
      if (m.kind == MalformedKind::kNegativeTokens) m.variant %= 4;
      // Only a line with layers can carry a negative layer count.
      if (m.kind == MalformedKind::kNegativeTokens && m.variant == 3 && !f.has_layers)
        m.variant = 0;
      if (m.kind == MalformedKind::kBrokenJson) {
        scratch.clear();
        Render(f, {}, scratch);
        BreakJson(m.variant, scratch);
        out.append(scratch);
      } else {
        Render(f, m, out);
      }
      ++summary.malformed;
      ++summary.malformed_by_kind[static_cast<size_t>(m.kind)];
    } else if (u < options.malformed_fraction + options.duplicate_fraction &&
               AppendDuplicate(base, out)) {
      kind = LineKind::kDuplicate;
      ++summary.duplicates;
    } else {
      Facts f = MakeFacts(base);
      Render(f, {}, out);
      if (options.track_expected)
        Accumulate(f);
      else if (f.model < 0)
        ++summary.unpriced;
      ++summary.accepted;
      if (f.missing_environment) ++summary.missing_dimension;
      Remember(base, std::string_view(out).substr(begin));
    }
    summary.bytes += out.size() - begin;
    return kind;
  }

  // Recently accepted lines, the candidates for re-sending.
  static constexpr size_t kRecent = 512;
  void Remember(int64_t base, std::string_view line) {
    if (recent_lines.size() < kRecent) {
      recent_lines.emplace_back(line);
      recent_base.push_back(base);
    } else {
      recent_lines[recent_next].assign(line);
      recent_base[recent_next] = base;
    }
    recent_next = (recent_next + 1) % kRecent;
  }

  bool AppendDuplicate(int64_t base, std::string& out) {
    const size_t n = recent_lines.size();
    if (n == 0) return false;
    const size_t newest = (recent_next + kRecent - 1) % kRecent;
    size_t pick = (recent_next + kRecent - 1 - rng.Below(n)) % kRecent;
    if (base - recent_base[pick] > options.max_duplicate_delay_ms) pick = newest;
    if (base - recent_base[pick] > options.max_duplicate_delay_ms) return false;
    out.append(recent_lines[pick]);
    return true;
  }

  std::string PriceTableYaml() const {
    std::string y;
    y.append(
        "# Written by burnrate-gen-events for its own stream: made-up models,\n"
        "# USD per million tokens (docs/pricing.md).\n");
    y.append("version: \"gen-events-seed-");
    y.append(std::to_string(options.seed));
    y.append("\"\ncompiled_on: \"");
    AppendTime(y, options.start_ms - 7 * int64_t{86'400'000}, TimeStyle::kDateOnly);
    y.append("\"\nmodels:\n");
    for (const Model& m : models) {
      y.append("  - model: ").append(m.name).append("\n");
      y.append("    provider: ").append(m.provider).append("\n");
      y.append("    prices:\n");
      for (const PricePeriod& p : m.periods) {
        y.append("      - effective_from: \"");
        AppendTime(y, p.from_ms, p.from_style);
        y.append("\"\n");
        static constexpr std::string_view kKeys[] = {"input", "output", "cache_read",
                                                     "cache_write"};
        for (int i = 0; i < 4; ++i) {
          y.append("        ").append(kKeys[i]).append(": ").append(p.text[i]).append("\n");
        }
        if (!m.batch_text.empty()) y.append("        batch: ").append(m.batch_text).append("\n");
      }
    }
    return y;
  }

  std::string ExpectedJsonl() const {
    if (!options.track_expected) throw std::logic_error("expected totals were not tracked");
    std::vector<const std::pair<const AggKey, Totals>*> rows;
    rows.reserve(expected.size());
    for (const auto& row : expected) rows.push_back(&row);
    const auto env_bytes = [this](const AggKey& k) -> const std::string& {
      static const std::string kUnknown = "unknown";
      return k.environment == kUnknownEnvironment ? kUnknown : environments[k.environment].bytes;
    };
    std::sort(rows.begin(), rows.end(), [&](const auto* a, const auto* b) {
      const AggKey& x = a->first;
      const AggKey& y = b->first;
      if (x.window != y.window) return x.window < y.window;
      if (x.tenant != y.tenant) return tenants[x.tenant].bytes < tenants[y.tenant].bytes;
      if (x.feature != y.feature) return features[x.feature].bytes < features[y.feature].bytes;
      return env_bytes(x) < env_bytes(y);
    });
    std::string out;
    out.reserve(rows.size() * 400);
    static constexpr std::string_view kTokenNames[] = {"input_tokens", "output_tokens",
                                                       "cache_read_tokens", "cache_write_tokens",
                                                       "reasoning_tokens"};
    static constexpr std::string_view kLayerNames[] = {"prompt", "tool", "memory", "response"};
    for (const auto* row : rows) {
      const AggKey& k = row->first;
      const Totals& t = row->second;
      const int64_t start = k.window * options.window_ms;
      out.append("{\"window_start\":\"");
      AppendTime(out, start, TimeStyle::kMillisZ);
      out.append("\",\"window_end\":\"");
      AppendTime(out, start + options.window_ms, TimeStyle::kMillisZ);
      out.append("\",\"scope\":\"key\",\"tenant\":\"");
      out.append(tenants[k.tenant].json);
      out.append("\",\"feature\":\"");
      out.append(features[k.feature].json);
      out.append("\",\"environment\":\"");
      out.append(JsonBody(env_bytes(k), false));
      out.append("\",\"events\":");
      AppendInt(out, t.events);
      out.append(",\"unpriced_events\":");
      AppendInt(out, t.unpriced);
      for (int i = 0; i < 5; ++i) {
        out.append(",\"").append(kTokenNames[i]).append("\":");
        AppendInt(out, t.tokens[i]);
      }
      out.append(",\"layers\":{");
      for (int i = 0; i < 4; ++i) {
        out.append(i ? ",\"" : "\"").append(kLayerNames[i]).append("\":");
        AppendInt(out, t.layers[i]);
      }
      char cost[40];
      std::snprintf(cost, sizeof cost, "%.17g", t.cost_usd);
      out.append("},\"cost_usd\":").append(cost).append("}\n");
    }
    out.append(SummaryJson()).append("\n");
    return out;
  }

  std::string SummaryJson() const {
    std::string s = "{\"summary\":{\"lines\":";
    AppendInt(s, static_cast<int64_t>(summary.lines));
    s.append(",\"events\":");
    AppendInt(s, static_cast<int64_t>(summary.accepted));
    s.append(",\"duplicates\":");
    AppendInt(s, static_cast<int64_t>(summary.duplicates));
    s.append(",\"malformed\":");
    AppendInt(s, static_cast<int64_t>(summary.malformed));
    s.append(",\"unpriced_events\":");
    AppendInt(s, static_cast<int64_t>(summary.unpriced));
    s.append(",\"missing_dimension_events\":");
    AppendInt(s, static_cast<int64_t>(summary.missing_dimension));
    s.append(",\"malformed_by_kind\":{");
    for (size_t i = 0; i < kMalformedKindCount; ++i) {
      s.append(i ? ",\"" : "\"").append(MalformedKindName(static_cast<MalformedKind>(i)));
      s.append("\":");
      AppendInt(s, static_cast<int64_t>(summary.malformed_by_kind[i]));
    }
    s.append("}");
    if (options.track_expected) {
      s.append(",\"window_rows\":");
      AppendInt(s, static_cast<int64_t>(expected.size()));
    }
    s.append("}}");
    return s;
  }

  struct Key {
    uint32_t tenant;
    uint16_t feature;
    uint16_t environment;
  };

  StreamOptions options;
  Rng rng;
  std::vector<Name> tenants, features, environments;
  std::vector<Key> keys;  // in popularity order
  std::unique_ptr<AliasTable> key_popularity;
  std::vector<Model> models;
  std::unique_ptr<AliasTable> model_popularity;
  int64_t price_change_ms = 0;
  std::unordered_map<AggKey, Totals, AggKeyHash> expected;
  StreamSummary summary;
  std::vector<std::string> recent_lines;
  std::vector<int64_t> recent_base;
  size_t recent_next = 0;
  std::string scratch;
};

EventStream::EventStream(StreamOptions options) : impl_(std::make_unique<Impl>(options)) {}
EventStream::~EventStream() = default;
bool EventStream::done() const { return impl_->summary.lines >= impl_->options.events; }
LineKind EventStream::Next(std::string& out) { return impl_->Next(out); }
std::string EventStream::PriceTableYaml() const { return impl_->PriceTableYaml(); }
std::string EventStream::ExpectedJsonl() const { return impl_->ExpectedJsonl(); }
std::string EventStream::SummaryJson() const { return impl_->SummaryJson(); }
const StreamSummary& EventStream::summary() const { return impl_->summary; }
const StreamOptions& EventStream::options() const { return impl_->options; }
int64_t EventStream::span_ms() const { return impl_->span_ms(); }

}  // namespace burnrate::testgen
