#include "core/decode.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/time_format.h"

namespace burnrate {

std::string_view RejectReasonName(RejectReason reason) {
  static constexpr std::array<std::string_view, kRejectReasonCount> kNames = {
      "oversized",          "malformed_json",    "invalid_utf8",      "wrong_type",
      "missing_field",      "field_too_long",    "invalid_token_count", "invalid_cost",
      "invalid_timestamp",  "timestamp_out_of_range", "duplicate",   "late"};
  return kNames[static_cast<size_t>(reason)];
}

namespace {

namespace od = simdjson::ondemand;

// What a JSON key means to the decoder. String fields first, then counts.
enum class Field : uint8_t {
  kEventId, kTenant, kFeature, kEnvironment, kTeam, kUserId, kAgentRunId, kWorkflowStep,
  kRequestOrigin, kCorrelationId, kProvider, kModel, kResponseModel, kServiceTier,
  // counts
  kInputTokens, kOutputTokens, kCacheRead, kCacheWrite, kReasoning,
  kLayerPrompt, kLayerTool, kLayerMemory, kLayerResponse,
  // specials
  kTs, kCostUsd, kLayers, kResourceSpans, kUnknown,
};
constexpr size_t kStringFields = static_cast<size_t>(Field::kInputTokens);
constexpr size_t kCountFields = static_cast<size_t>(Field::kTs) - kStringFields;

constexpr bool IsString(Field f) { return static_cast<size_t>(f) < kStringFields; }
constexpr bool IsCount(Field f) {
  return static_cast<size_t>(f) >= kStringFields && f < Field::kTs;
}
constexpr size_t CountIndex(Field f) { return static_cast<size_t>(f) - kStringFields; }

// The name a rejection gives for each field: every Field but kUnknown has one,
// so any field a value is read for can be named.
constexpr std::string_view kFieldNames[] = {
    "event_id", "tenant", "feature", "environment", "team", "user_id", "agent_run_id",
    "workflow_step", "request_origin", "correlation_id", "provider", "model", "response_model",
    "service_tier", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "layers.prompt", "layers.tool", "layers.memory", "layers.response", "ts",
    "cost_usd", "layers", "resourceSpans"};
static_assert(std::size(kFieldNames) == static_cast<size_t>(Field::kUnknown));

// The facts of one event as they are read, before defaults and validation.
struct PartialEvent {
  std::array<std::string_view, kStringFields> strings{};
  uint32_t strings_set = 0;
  std::array<int64_t, kCountFields> counts{};
  uint32_t counts_set = 0;
  int64_t ts_ms = 0;
  bool ts_set = false;
  double cost_usd = 0;
  bool cost_set = false;
  bool failed = false;
  Rejection rejection{RejectReason::kMalformedJson, "", -1};

  bool Has(Field f) const {
    return IsString(f) ? (strings_set >> static_cast<size_t>(f)) & 1
                       : (counts_set >> CountIndex(f)) & 1;
  }
  // A string field given and not empty (an empty one reads as absent).
  bool HasText(Field f) const { return Has(f) && !strings[static_cast<size_t>(f)].empty(); }
  void Fail(RejectReason reason, std::string_view detail) {
    if (failed) return;  // the first problem is the one reported
    failed = true;
    rejection = {reason, detail, -1};
  }
};

// Key lookup: a name is matched against the key's bytes in 8-byte words,
// among the few names that share the key's first two bytes, which beats
// hashing for the short keys of an event.
class FieldTable {
 public:
  explicit FieldTable(const DecoderOptions& options) {
    static constexpr std::pair<std::string_view, Field> kBuiltIn[] = {
        {"event_id", Field::kEventId},
        {"ts", Field::kTs},
        {"tenant", Field::kTenant},
        {"feature", Field::kFeature},
        {"environment", Field::kEnvironment},
        {"team", Field::kTeam},
        {"user_id", Field::kUserId},
        {"agent_run_id", Field::kAgentRunId},
        {"workflow_step", Field::kWorkflowStep},
        {"request_origin", Field::kRequestOrigin},
        {"correlation_id", Field::kCorrelationId},
        {"provider", Field::kProvider},
        {"model", Field::kModel},
        {"service_tier", Field::kServiceTier},
        {"input_tokens", Field::kInputTokens},
        {"output_tokens", Field::kOutputTokens},
        {"cache_read_tokens", Field::kCacheRead},
        {"cache_write_tokens", Field::kCacheWrite},
        {"reasoning_tokens", Field::kReasoning},
        {"layers", Field::kLayers},
        {"layers.prompt", Field::kLayerPrompt},
        {"layers.tool", Field::kLayerTool},
        {"layers.memory", Field::kLayerMemory},
        {"layers.response", Field::kLayerResponse},
        {"cost_usd", Field::kCostUsd},
        {"resourceSpans", Field::kResourceSpans},
        // OpenTelemetry GenAI semantic conventions.
        {"gen_ai.usage.input_tokens", Field::kInputTokens},
        {"gen_ai.usage.output_tokens", Field::kOutputTokens},
        {"gen_ai.usage.cache_read.input_tokens", Field::kCacheRead},
        {"gen_ai.usage.cache_creation.input_tokens", Field::kCacheWrite},
        {"gen_ai.usage.reasoning.output_tokens", Field::kReasoning},
        {"gen_ai.request.model", Field::kModel},
        {"gen_ai.response.model", Field::kResponseModel},
        {"gen_ai.provider.name", Field::kProvider},
        {"gen_ai.system", Field::kProvider},
        {"gen_ai.conversation.id", Field::kCorrelationId},
        {"gen_ai.agent.id", Field::kAgentRunId},
        {"openai.response.service_tier", Field::kServiceTier},
        {"gen_ai.openai.response.service_tier", Field::kServiceTier},
    };
    for (const auto& [name, field] : kBuiltIn) Add(name, field);
    for (const auto& k : options.tenant_keys) Add(k, Field::kTenant);
    for (const auto& k : options.feature_keys) Add(k, Field::kFeature);
    for (const auto& k : options.environment_keys) Add(k, Field::kEnvironment);
  }

  // A key as it stands in the padded input, `raw` pointing just past its
  // opening quote, without unescaping it first (simdjson's unescape is a
  // call and a copy per key). A raw key equals a name when its bytes are the
  // name's followed by the closing quote; names hold no quote or backslash,
  // so a key written with escapes never matches here and kUnknown sends the
  // caller to Lookup() on the unescaped key. Keys are compared in 8-byte
  // words, the last one masked; the words read stop within eight bytes of
  // the closing quote, well inside simdjson's padding.
  Field LookupRaw(const char* raw) const {
    for (const RawName& candidate : buckets_[FirstBytes(raw[0], raw[1])]) {
      if (candidate.Matches(raw)) return candidate.field;
    }
    return Field::kUnknown;
  }

  // A key already unescaped (one the input wrote with escapes, an OTLP
  // attribute's name): copied with its closing quote into a zeroed buffer
  // long enough for any name's words, then matched as above. A key holding a
  // quote is no name, and must not match the name before its quote.
  Field Lookup(std::string_view key) const {
    if (key.size() >= kMaxKey || key.find('"') != std::string_view::npos) return Field::kUnknown;
    std::array<char, kMaxKey + 8> quoted{};
    std::memcpy(quoted.data(), key.data(), key.size());
    quoted[key.size()] = '"';
    return LookupRaw(quoted.data());
  }

 private:
  static constexpr size_t kMaxKey = 96;
  // A bucket for a key's first two bytes (for a one-byte key, its closing
  // quote stands second).
  static size_t FirstBytes(char a, char b) {
    return (static_cast<unsigned char>(a) * 31u + static_cast<unsigned char>(b)) & 255u;
  }
  // A name followed by its closing quote, as 8-byte words (the last one
  // zero-padded, with the mask of its bytes that count).
  struct RawName {
    RawName(std::string_view name, Field f) : field(f) {
      std::string quoted = std::string(name) + '"';
      const size_t length = quoted.size();
      quoted.resize((length + 7) / 8 * 8, '\0');
      words.resize(quoted.size() / 8);
      std::memcpy(words.data(), quoted.data(), quoted.size());
      // Built as bytes, so that it picks the same bytes on any byte order.
      char mask[8] = {};
      std::memset(mask, 0xff, length % 8 == 0 ? 8 : length % 8);
      std::memcpy(&last_mask, mask, 8);
    }
    bool Matches(const char* raw) const {
      const size_t last = words.size() - 1;
      uint64_t w;
      for (size_t i = 0; i < last; ++i) {
        std::memcpy(&w, raw + 8 * i, 8);
        if (w != words[i]) return false;
      }
      std::memcpy(&w, raw + 8 * last, 8);
      return (w & last_mask) == words[last];
    }
    std::vector<uint64_t> words;
    uint64_t last_mask;
    Field field;
  };
  void Add(std::string_view name, Field field) {
    if (name.empty() || name.size() >= kMaxKey) return;
    RawName entry(name, field);
    auto& bucket = buckets_[FirstBytes(name[0], name.size() > 1 ? name[1] : '"')];
    for (RawName& e : bucket) {
      if (e.words == entry.words) {  // configured keys override built-in ones
        e.field = field;
        return;
      }
    }
    bucket.push_back(std::move(entry));
  }
  std::array<std::vector<RawName>, 256> buckets_;
};

bool ParseIntText(std::string_view s, int64_t& out) {
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// Why reading a string value failed: a value of another type, or a string
// simdjson could not unescape ("\q"), which is broken JSON.
constexpr RejectReason StringFailure(simdjson::error_code error) {
  return error == simdjson::INCORRECT_TYPE ? RejectReason::kWrongType : RejectReason::kMalformedJson;
}

// Event times outside [2000-01-01, 2100-01-01) are producer bugs (seconds
// sent as milliseconds, nanoseconds, zero), whatever the clock says.
constexpr int64_t kMinSaneMs = 946'684'800'000;
constexpr int64_t kMaxSaneMs = 4'102'444'800'000;

}  // namespace

struct EventDecoder::Impl {
  explicit Impl(const DecoderOptions& options) : fields(options) {}

  FieldTable fields;
  od::parser parser;
  // The message copied with simdjson's padding behind it.
  std::unique_ptr<char[]> buffer;
  size_t buffer_capacity = 0;
  // Strings the decoder had to make (span ids joined into event ids).
  std::deque<std::string> scratch;
  std::vector<PartialEvent> spans;
  std::vector<int32_t> span_index;
};

EventDecoder::EventDecoder(DecoderOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}
EventDecoder::~EventDecoder() = default;

namespace {

class DecodeRun {
 public:
  DecodeRun(const DecoderOptions& options, const FieldTable& fields, std::deque<std::string>& scratch)
      : options_(options), fields_(fields), scratch_(scratch) {}

  void SetString(PartialEvent& p, Field f, std::string_view s) {
    if (s.size() > options_.max_field_bytes) {
      p.Fail(RejectReason::kFieldTooLong, kFieldNames[static_cast<size_t>(f)]);
      return;
    }
    p.strings[static_cast<size_t>(f)] = s;
    p.strings_set |= 1u << static_cast<size_t>(f);
  }

  void SetCount(PartialEvent& p, Field f, int64_t v) {
    if (v < 0 || v > options_.max_tokens) {
      p.Fail(RejectReason::kInvalidTokenCount, kFieldNames[static_cast<size_t>(f)]);
      return;
    }
    p.counts[CountIndex(f)] = v;
    p.counts_set |= 1u << CountIndex(f);
  }

  void SetTimestampMs(PartialEvent& p, int64_t ms) {
    if (ms < kMinSaneMs || ms >= kMaxSaneMs) {
      p.Fail(RejectReason::kTimestampOutOfRange, "ts");
      return;
    }
    p.ts_ms = ms;
    p.ts_set = true;
  }

  void SetTimestampText(PartialEvent& p, std::string_view s) {
    int64_t ms;
    if (ParseIntText(s, ms)) return SetTimestampMs(p, ms);
    auto parsed = ParseRfc3339Ms(s);
    if (!parsed) return p.Fail(RejectReason::kInvalidTimestamp, "ts");
    SetTimestampMs(p, *parsed);
  }

  // A number that must be integral: a JSON integer, an integral double, or
  // (OTLP writes 64-bit integers as strings) a string of digits.
  bool ReadInteger(od::value v, int64_t& out, bool& wrong_type) {
    wrong_type = false;
    od::json_type type;
    if (v.type().get(type)) return wrong_type = true, false;
    switch (type) {
      case od::json_type::number: {
        if (!v.get_int64().get(out)) return true;
        double d;
        if (v.get_double().get(d) || !std::isfinite(d) || std::trunc(d) != d ||
            std::fabs(d) > 9e15) {
          return false;  // a fraction or a huge value: a bad count, not a bad type
        }
        out = static_cast<int64_t>(d);
        return true;
      }
      case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s) || !ParseIntText(s, out)) return wrong_type = true, false;
        return true;
      }
      default:
        wrong_type = true;
        return false;
    }
  }

  // The usual value of a string or count field (a JSON string, an integer),
  // read without ReadValue's type dispatch. Everything else takes ReadValue:
  // null, a count written as a string or as 12.0, a wrong type, the special
  // fields. get_string() on a value that is not a string, and a failed
  // get_int64(), consume nothing: ReadValue reads the same value again.
  void ReadFlatValue(PartialEvent& p, Field f, od::value v) {
    if (IsString(f)) {
      std::string_view s;
      const simdjson::error_code error = v.get_string().get(s);
      if (!error) return SetString(p, f, s);
      // A value of another type goes on to ReadValue (it may be null).
      if (error != simdjson::INCORRECT_TYPE) {
        return p.Fail(StringFailure(error), kFieldNames[static_cast<size_t>(f)]);
      }
    } else if (IsCount(f)) {
      int64_t n;
      if (!v.get_int64().get(n)) return SetCount(p, f, n);
    }
    ReadValue(p, f, v);
  }

  // Reads a flat-schema value for `f` into p.
  void ReadValue(PartialEvent& p, Field f, od::value v) {
    bool is_null;
    // A token that starts like null and is not one is malformed JSON.
    if (v.is_null().get(is_null)) return p.Fail(RejectReason::kMalformedJson, kFieldNames[static_cast<size_t>(f)]);
    if (is_null) return;  // null reads as absent
    if (IsString(f)) {
      std::string_view s;
      if (const simdjson::error_code error = v.get_string().get(s)) {
        return p.Fail(StringFailure(error), kFieldNames[static_cast<size_t>(f)]);
      }
      return SetString(p, f, s);
    }
    if (IsCount(f)) {
      int64_t n;
      bool wrong_type;
      if (!ReadInteger(v, n, wrong_type)) {
        return p.Fail(wrong_type ? RejectReason::kWrongType : RejectReason::kInvalidTokenCount,
                      kFieldNames[static_cast<size_t>(f)]);
      }
      return SetCount(p, f, n);
    }
    switch (f) {
      case Field::kTs: {
        od::json_type type;
        if (v.type().get(type)) return p.Fail(RejectReason::kMalformedJson, "ts");
        if (type == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s)) return p.Fail(RejectReason::kWrongType, "ts");
          return SetTimestampText(p, s);
        }
        int64_t ms;
        bool wrong_type;
        if (!ReadInteger(v, ms, wrong_type)) {
          return p.Fail(wrong_type ? RejectReason::kWrongType : RejectReason::kInvalidTimestamp, "ts");
        }
        return SetTimestampMs(p, ms);
      }
      case Field::kCostUsd: {
        double d;
        od::json_type type;
        if (v.type().get(type)) return p.Fail(RejectReason::kMalformedJson, "cost_usd");
        if (type == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s)) return p.Fail(RejectReason::kWrongType, "cost_usd");
          auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
          if (ptr != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
            return p.Fail(RejectReason::kWrongType, "cost_usd");
          }
          if (ec == std::errc::result_out_of_range) return p.Fail(RejectReason::kInvalidCost, "cost_usd");
        } else if (type != od::json_type::number) {
          return p.Fail(RejectReason::kWrongType, "cost_usd");
        } else if (v.get_double().get(d)) {
          return p.Fail(RejectReason::kInvalidCost, "cost_usd");  // beyond a double's range
        }
        // Above the ceiling is a producer bug (micro-dollars sent as dollars),
        // not a call: trusted, it would swamp every total it lands in.
        if (!std::isfinite(d) || d < 0 || d > options_.max_cost_usd) {
          return p.Fail(RejectReason::kInvalidCost, "cost_usd");
        }
        p.cost_usd = d;
        p.cost_set = true;
        return;
      }
      case Field::kLayers: {
        od::object layers;
        if (v.get_object().get(layers)) return p.Fail(RejectReason::kWrongType, "layers");
        for (auto member : layers) {
          std::string_view key;
          if (member.unescaped_key().get(key)) return p.Fail(RejectReason::kMalformedJson, "layers");
          Field lf = key == "prompt"     ? Field::kLayerPrompt
                     : key == "tool"     ? Field::kLayerTool
                     : key == "memory"   ? Field::kLayerMemory
                     : key == "response" ? Field::kLayerResponse
                                         : Field::kUnknown;
          if (lf == Field::kUnknown) continue;
          od::value layer;
          if (member.value().get(layer)) return p.Fail(RejectReason::kMalformedJson, "layers");
          ReadValue(p, lf, layer);
        }
        return;
      }
      default:
        return;
    }
  }

  // An OTLP AnyValue object: {"stringValue": ...} | {"intValue": ...} | ...
  void ReadAnyValue(PartialEvent& p, Field f, od::object any) {
    for (auto member : any) {
      std::string_view kind;
      if (member.unescaped_key().get(kind)) return p.Fail(RejectReason::kMalformedJson, "attributes");
      od::value v;
      if (member.value().get(v)) return p.Fail(RejectReason::kMalformedJson, "attributes");
      if (kind == "stringValue") {
        if (f == Field::kTs || f == Field::kCostUsd || IsCount(f) || IsString(f)) ReadValue(p, f, v);
      } else if (kind == "intValue" || kind == "doubleValue") {
        if (IsString(f)) {
          // Numeric ids (tenant 42) keep their JSON text.
          std::string_view raw = v.raw_json_token();
          while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                  raw.back() == '\t')) {
            raw.remove_suffix(1);
          }
          if (!raw.empty() && raw.front() == '"') raw = raw.substr(1, raw.size() >= 2 ? raw.size() - 2 : 0);
          SetString(p, f, raw);
        } else {
          ReadValue(p, f, v);
        }
      } else if (f != Field::kUnknown) {
        p.Fail(RejectReason::kWrongType, kFieldNames[static_cast<size_t>(f)]);
      }
    }
  }

  void ReadAttributes(PartialEvent& p, od::array attributes) {
    for (auto item : attributes) {
      od::object attr;
      if (item.get_object().get(attr)) return p.Fail(RejectReason::kMalformedJson, "attributes");
      Field f = Field::kUnknown;
      for (auto member : attr) {
        std::string_view name;
        if (member.unescaped_key().get(name)) return p.Fail(RejectReason::kMalformedJson, "attributes");
        if (name == "key") {
          std::string_view key;
          if (member.value().get_string().get(key)) return p.Fail(RejectReason::kMalformedJson, "attributes");
          f = fields_.Lookup(key);
          if (f == Field::kLayers || f == Field::kResourceSpans) f = Field::kUnknown;
        } else if (name == "value" && f != Field::kUnknown) {
          od::object any;
          if (member.value().get_object().get(any)) return p.Fail(RejectReason::kMalformedJson, "attributes");
          ReadAnyValue(p, f, any);
        }
      }
    }
  }

  std::string_view Keep(std::string s) {
    scratch_.push_back(std::move(s));
    return scratch_.back();
  }

  // Fills resource-level facts into a span that lacks them.
  static void Inherit(PartialEvent& span, const PartialEvent& resource) {
    for (size_t i = 0; i < kStringFields; ++i) {
      if (((resource.strings_set >> i) & 1) && !((span.strings_set >> i) & 1)) {
        span.strings[i] = resource.strings[i];
        span.strings_set |= 1u << i;
      }
    }
    if (resource.failed && !span.failed) span.Fail(resource.rejection.reason, resource.rejection.detail);
  }

  // Turns a partial event into a CostEvent: defaults for missing dimensions,
  // then the checks that need the whole event. `e` is a fresh CostEvent.
  bool Finalize(PartialEvent& p, CostEvent& e) {
    if (p.failed) return false;
    // An empty id is no id: every event sent with one would be the same
    // event to the dedup filter, and all but the first refused as copies.
    if (!p.HasText(Field::kEventId)) return p.Fail(RejectReason::kMissingField, "event_id"), false;
    if (!p.ts_set) return p.Fail(RejectReason::kMissingField, "ts"), false;
    const auto count = [&p](Field f) { return p.counts[CountIndex(f)]; };
    if (count(Field::kCacheRead) + count(Field::kCacheWrite) > count(Field::kInputTokens)) {
      return p.Fail(RejectReason::kInvalidTokenCount, "cache tokens exceed input_tokens"), false;
    }
    if (count(Field::kReasoning) > count(Field::kOutputTokens)) {
      return p.Fail(RejectReason::kInvalidTokenCount, "reasoning_tokens exceed output_tokens"), false;
    }
    const auto str = [&p](Field f) { return p.strings[static_cast<size_t>(f)]; };
    e.event_id = str(Field::kEventId);
    e.time = EventTimeMs(p.ts_ms);
    const Field dims[] = {Field::kTenant, Field::kFeature, Field::kEnvironment};
    std::string_view* dim_out[] = {&e.tenant, &e.feature, &e.environment};
    for (size_t i = 0; i < 3; ++i) {
      if (p.HasText(dims[i])) {
        *dim_out[i] = str(dims[i]);
      } else {
        *dim_out[i] = kUnknownDimension;
        e.missing_dimensions |= static_cast<uint8_t>(1u << i);
      }
    }
    e.team = str(Field::kTeam);
    e.user_id = str(Field::kUserId);
    e.agent_run_id = str(Field::kAgentRunId);
    e.workflow_step = str(Field::kWorkflowStep);
    e.request_origin = str(Field::kRequestOrigin);
    e.correlation_id = str(Field::kCorrelationId);
    e.provider = str(Field::kProvider);
    // The model that answered is the one billed; the requested one may be an alias.
    e.model = p.Has(Field::kResponseModel) ? str(Field::kResponseModel) : str(Field::kModel);
    if (e.model.empty()) e.model = kUnknownDimension;
    e.service_tier = str(Field::kServiceTier);
    e.tokens[TokenKind::kInput] = count(Field::kInputTokens);
    e.tokens[TokenKind::kOutput] = count(Field::kOutputTokens);
    e.tokens[TokenKind::kCacheRead] = count(Field::kCacheRead);
    e.tokens[TokenKind::kCacheWrite] = count(Field::kCacheWrite);
    e.tokens[TokenKind::kReasoning] = count(Field::kReasoning);
    e.tokens[Layer::kPrompt] = count(Field::kLayerPrompt);
    e.tokens[Layer::kTool] = count(Field::kLayerTool);
    e.tokens[Layer::kMemory] = count(Field::kLayerMemory);
    e.tokens[Layer::kResponse] = count(Field::kLayerResponse);
    e.has_reported_cost = p.cost_set;
    e.reported_cost_usd = p.cost_usd;
    return true;
  }

  // Walks resourceSpans → scopeSpans → spans. Returns false when the JSON
  // itself is broken (then the whole message is dead-lettered).
  bool ReadResourceSpans(od::value v, std::vector<PartialEvent>& spans, std::vector<int32_t>& index,
                         std::vector<CostEvent>& events, std::vector<Rejection>& rejections,
                         uint64_t& skipped) {
    od::array resource_spans;
    if (v.get_array().get(resource_spans)) return false;
    int32_t next_index = 0;
    for (auto rs_item : resource_spans) {
      od::object rs;
      if (rs_item.get_object().get(rs)) return false;
      PartialEvent resource;
      spans.clear();
      index.clear();
      for (auto rs_member : rs) {
        std::string_view key;
        if (rs_member.unescaped_key().get(key)) return false;
        if (key == "resource") {
          od::object res;
          if (rs_member.value().get_object().get(res)) return false;
          for (auto res_member : res) {
            std::string_view rkey;
            if (res_member.unescaped_key().get(rkey)) return false;
            if (rkey != "attributes") continue;
            od::array attrs;
            if (res_member.value().get_array().get(attrs)) return false;
            ReadAttributes(resource, attrs);
          }
        } else if (key == "scopeSpans") {
          od::array scope_spans;
          if (rs_member.value().get_array().get(scope_spans)) return false;
          for (auto ss_item : scope_spans) {
            od::object ss;
            if (ss_item.get_object().get(ss)) return false;
            for (auto ss_member : ss) {
              std::string_view skey;
              if (ss_member.unescaped_key().get(skey)) return false;
              if (skey != "spans") continue;
              od::array span_array;
              if (ss_member.value().get_array().get(span_array)) return false;
              for (auto span_item : span_array) {
                od::object span;
                if (span_item.get_object().get(span)) return false;
                if (!ReadSpan(span, spans.emplace_back())) return false;
                index.push_back(next_index++);
              }
            }
          }
        }
      }
      for (size_t i = 0; i < spans.size(); ++i) {
        PartialEvent& span = spans[i];
        if (!span.failed && !span.Has(Field::kInputTokens) && !span.Has(Field::kOutputTokens)) {
          ++skipped;  // not an LLM call: an HTTP span, a tool span, ...
          continue;
        }
        Inherit(span, resource);
        if (!Finalize(span, events.emplace_back())) {
          events.pop_back();
          Rejection r = span.rejection;
          r.item = index[i];
          rejections.push_back(r);
        }
      }
    }
    return true;
  }

  bool ReadSpan(od::object span, PartialEvent& p) {
    std::string_view trace_id, span_id;
    for (auto member : span) {
      std::string_view key;
      if (member.unescaped_key().get(key)) return false;
      if (key == "attributes") {
        od::array attrs;
        if (member.value().get_array().get(attrs)) return false;
        ReadAttributes(p, attrs);
      } else if (key == "traceId") {
        if (member.value().get_string().get(trace_id)) trace_id = {};
      } else if (key == "spanId") {
        if (member.value().get_string().get(span_id)) span_id = {};
      } else if (key == "endTimeUnixNano") {
        int64_t nanos;
        bool wrong_type;
        od::value end_time;
        if (member.value().get(end_time)) return false;
        if (ReadInteger(end_time, nanos, wrong_type)) {
          if (!p.ts_set) SetTimestampMs(p, nanos / 1'000'000);
        } else {
          p.Fail(RejectReason::kInvalidTimestamp, "endTimeUnixNano");
        }
      }
    }
    if (!p.HasText(Field::kEventId) && !trace_id.empty() && !span_id.empty()) {
      std::string id;
      id.reserve(trace_id.size() + 1 + span_id.size());
      id.append(trace_id).append(":").append(span_id);
      SetString(p, Field::kEventId, Keep(std::move(id)));
    }
    return true;
  }

 private:
  const DecoderOptions& options_;
  const FieldTable& fields_;
  std::deque<std::string>& scratch_;
};

RejectReason ReasonFor(simdjson::error_code error) {
  return error == simdjson::UTF8_ERROR ? RejectReason::kInvalidUtf8 : RejectReason::kMalformedJson;
}

}  // namespace

void EventDecoder::Decode(std::string_view message, std::vector<CostEvent>& events,
                          std::vector<Rejection>& rejections) {
  events.clear();
  rejections.clear();
  if (!impl_->scratch.empty()) impl_->scratch.clear();  // clearing a deque is not free
  if (message.size() > options_.max_message_bytes) {
    rejections.push_back({RejectReason::kOversized, "message", -1});
    return;
  }
  const size_t needed = message.size() + simdjson::SIMDJSON_PADDING;
  if (impl_->buffer_capacity < needed) {
    impl_->buffer_capacity = std::max(needed, size_t{4096});
    impl_->buffer = std::make_unique<char[]>(impl_->buffer_capacity);
  }
  std::memcpy(impl_->buffer.get(), message.data(), message.size());
  std::memset(impl_->buffer.get() + message.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  auto error = impl_->parser.iterate(impl_->buffer.get(), message.size(), impl_->buffer_capacity).get(doc);
  if (error) {
    rejections.push_back({ReasonFor(error), "document", -1});
    return;
  }
  od::object top;
  if ((error = doc.get_object().get(top))) {
    rejections.push_back({ReasonFor(error), "top level is not an object", -1});
    return;
  }
  DecodeRun run(options_, impl_->fields, impl_->scratch);
  PartialEvent flat;
  bool saw_otlp = false;
  for (auto member : top) {
    if ((error = member.error())) {
      rejections.push_back({ReasonFor(error), "document", -1});
      return;
    }
    Field f = impl_->fields.LookupRaw(member.value_unsafe().key().raw());
    if (f == Field::kUnknown) {
      // Not a known key as written: unescaped, it may still be one.
      std::string_view key;
      if ((error = member.unescaped_key().get(key))) {
        rejections.push_back({ReasonFor(error), "document", -1});
        return;
      }
      f = impl_->fields.Lookup(key);
      if (f == Field::kUnknown) continue;
    }
    if (f == Field::kResourceSpans) {
      saw_otlp = true;
      if (!run.ReadResourceSpans(member.value_unsafe().value(), impl_->spans, impl_->span_index, events, rejections,
                                 skipped_spans_)) {
        events.clear();
        rejections.assign(1, {RejectReason::kMalformedJson, "resourceSpans", -1});
        return;
      }
      continue;
    }
    run.ReadFlatValue(flat, f, member.value_unsafe().value());  // its error was checked above
  }
  // Trailing bytes, or an error the iteration surfaced late (e.g. a truncated
  // document), make the whole message malformed.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    events.clear();
    rejections.assign(1, {RejectReason::kMalformedJson, "trailing content", -1});
    return;
  }
  if (saw_otlp) return;
  // Built in place: a CostEvent is a few hundred bytes.
  if (!run.Finalize(flat, events.emplace_back())) {
    events.pop_back();
    rejections.push_back(flat.rejection);
  }
}

}  // namespace burnrate
