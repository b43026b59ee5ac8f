#include "core/pricing.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/concat.h"
#include "core/time_format.h"

namespace burnrate {
namespace internal {
// Generated at build time from core/prices/default.yaml (core/prices/embed.cmake).
extern const char kDefaultPriceTableYaml[];
extern const size_t kDefaultPriceTableYamlSize;
}  // namespace internal

// A precompiled glob. Most model names miss most patterns, so cheap
// necessary conditions (length, literal prefix, longest literal run) reject
// them before the backtracking matcher runs; the literal run matters for
// patterns that start with '*', such as Bedrock's "*anthropic.claude-...".
struct PriceTable::Pattern {
  std::string glob;            // '*' matches any run of bytes, '?' exactly one
  std::string literal_prefix;  // the bytes before the first wildcard
  std::string longest_run;     // the longest stretch without wildcards
  size_t min_length = 0;       // the number of non-'*' bytes
  std::string model;           // canonical name it resolves to

  static Pattern Compile(std::string_view glob, std::string_view model) {
    Pattern p;
    p.glob = std::string(glob);
    p.model = std::string(model);
    p.literal_prefix = std::string(glob.substr(0, glob.find_first_of("*?")));
    for (size_t begin = 0; begin < glob.size();) {
      const size_t end = std::min(glob.find_first_of("*?", begin), glob.size());
      if (end - begin > p.longest_run.size()) p.longest_run = glob.substr(begin, end - begin);
      begin = end + 1;
    }
    p.min_length = glob.size() - static_cast<size_t>(std::count(glob.begin(), glob.end(), '*'));
    return p;
  }

  bool Matches(std::string_view name) const {
    if (name.size() < min_length || name.substr(0, literal_prefix.size()) != literal_prefix ||
        name.find(longest_run) == std::string_view::npos) {
      return false;
    }
    // Iterative glob with single-star backtracking: O(len(glob) * len(name))
    // in the worst case, no recursion and no allocation.
    const std::string_view g(glob);
    size_t gi = literal_prefix.size();
    size_t ni = literal_prefix.size();
    size_t star_gi = std::string_view::npos;
    size_t star_ni = 0;
    while (ni < name.size()) {
      if (gi < g.size() && g[gi] == '*') {
        star_gi = gi++;
        star_ni = ni;
      } else if (gi < g.size() && (g[gi] == '?' || g[gi] == name[ni])) {
        ++gi;
        ++ni;
      } else if (star_gi != std::string_view::npos) {
        gi = star_gi + 1;
        ni = ++star_ni;
      } else {
        return false;
      }
    }
    while (gi < g.size() && g[gi] == '*') ++gi;
    return gi == g.size();
  }
};

namespace {

// Debian's Abseil is built with its own absl::string_view, which does not
// convert from std::string_view; hash lookups go through this.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Returns early with a failed status; the parser has one check per line.
#define BURNRATE_RETURN_IF_ERROR(expr)                                \
  do {                                                                \
    if (absl::Status status_ = (expr); !status_.ok()) return status_; \
  } while (false)

// Names longer than this never resolve: real model identifiers are far
// shorter, and the cap bounds the pattern-matching work an untrusted event
// can cause.
constexpr size_t kMaxModelNameLength = 256;
constexpr int32_t kFullPriceBasisPoints = 10'000;
// The table says USD per million tokens with up to six decimals, which is
// exactly whole picodollars per token: 1e12 / 1e6 = 1e6 units per dollar.
constexpr int kPriceDecimals = 6;
constexpr int kBatchDecimals = 4;  // a multiplier with 4 decimals is basis points
constexpr size_t kMaxTableBytes = 16 << 20;

// ---------------------------------------------------------------------------
// Scalars. Prices are parsed by hand so that no value passes through a double
// and no locale can change the result.

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses an unsigned decimal with at most `max_decimals` fractional digits
// into an integer scaled by 10^max_decimals. Returns the reason on failure.
std::optional<std::string> ParseFixedPoint(std::string_view text, int max_decimals, int64_t* out) {
  if (text.empty()) return "expected a number, got an empty value";
  if (text[0] == '-') return Concat("'", text, "' is negative");
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), IsDigit);
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(frac) ||
      (dot != std::string_view::npos && frac.empty())) {
    return Concat("'", text, "' is not a plain decimal number (write e.g. 3.75)");
  }
  if (max_decimals == 0 && dot != std::string_view::npos) {
    return Concat("'", text, "' is not a whole number");
  }
  if (frac.size() > static_cast<size_t>(max_decimals)) {
    return Concat("'", text, "' has more than ", max_decimals, " decimal places");
  }
  int64_t scale = 1;
  for (int i = 0; i < max_decimals; ++i) scale *= 10;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  for (char c : whole) {
    if (value > (kMax / scale - (c - '0')) / 10) return Concat("'", text, "' is too large");
    value = value * 10 + (c - '0');
  }
  value *= scale;
  int64_t frac_scale = scale;
  for (char c : frac) {
    frac_scale /= 10;
    value += (c - '0') * frac_scale;
  }
  *out = value;
  return std::nullopt;
}

// Parses "YYYY-MM-DD" (midnight UTC) or, when `allow_time`, also an RFC 3339
// timestamp, with the same parser as event times so both agree to the
// millisecond.
std::optional<int64_t> ParseDateMs(std::string_view text, bool allow_time) {
  if (text.size() == 10) return ParseRfc3339Ms(Concat(text, "T00:00:00Z"));
  if (!allow_time) return std::nullopt;
  return ParseRfc3339Ms(text);
}

// Model names, aliases and patterns: printable ASCII without spaces, so that
// what the table says is what an event must carry.
std::optional<std::string> CheckName(std::string_view name, std::string_view what,
                                     bool is_pattern) {
  if (name.empty()) return Concat(what, " must not be empty");
  if (name.size() > kMaxModelNameLength) {
    return Concat(what, " '", name.substr(0, 40), "...' is longer than ", kMaxModelNameLength,
                  " bytes");
  }
  for (char c : name) {
    if (c <= ' ' || c > '~') {
      return Concat(what, " '", name, "' contains whitespace or a non-printable byte");
    }
  }
  const bool has_wildcard = name.find_first_of("*?") != std::string_view::npos;
  if (is_pattern && !has_wildcard) {
    return Concat("pattern '", name, "' has no '*' or '?'; list it under aliases");
  }
  if (!is_pattern && has_wildcard) {
    return Concat(what, " '", name, "' contains '*' or '?'; list it under patterns");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// The YAML walk. Every check names the line of the node it is about.

struct NamedEntry {
  std::string text;
  int line = 0;
};

struct ParsedModel {
  NamedEntry name;
  std::string provider;
  std::vector<NamedEntry> aliases;
  std::vector<NamedEntry> patterns;
  std::vector<ModelPrice> periods;
};

struct ParsedTable {
  std::string version;
  std::string compiled_on;
  std::vector<ParsedModel> models;
};

struct Field {
  YAML::Node key;
  YAML::Node value;
  int line = 0;  // of the key; values without a mark of their own use it
};

class TableParser {
 public:
  explicit TableParser(std::string_view source) : source_(source) {}

  absl::Status Error(int line, std::string_view reason) const {
    return absl::InvalidArgumentError(Concat(source_, ":", std::max(line, 1), ": ", reason));
  }

  static int LineOf(const YAML::Node& node, int fallback) {
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? fallback : mark.line + 1;
  }

  // yaml-cpp marks an empty value ("input:") at the next token, often on the
  // following line; the key's own line is the one to report.
  static int ValueLine(const Field& field) {
    return field.value.IsNull() ? field.line : LineOf(field.value, field.line);
  }

  absl::StatusOr<ParsedTable> ParseRoot(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) return Error(1, "the price table is empty");
    absl::flat_hash_map<std::string, Field> fields;
    BURNRATE_RETURN_IF_ERROR(
        ReadMap(root, 1, "the price table", {"version", "compiled_on", "models"}, &fields));
    const int root_line = LineOf(root, 1);
    ParsedTable table;
    const Field* field = nullptr;

    BURNRATE_RETURN_IF_ERROR(Require(fields, "version", root_line, &field));
    BURNRATE_RETURN_IF_ERROR(ReadString(*field, "version", &table.version));

    BURNRATE_RETURN_IF_ERROR(Require(fields, "compiled_on", root_line, &field));
    BURNRATE_RETURN_IF_ERROR(ReadString(*field, "compiled_on", &table.compiled_on));
    if (!ParseDateMs(table.compiled_on, /*allow_time=*/false)) {
      return Error(ValueLine(*field),
                   Concat("compiled_on: '", table.compiled_on, "' is not a date YYYY-MM-DD"));
    }

    BURNRATE_RETURN_IF_ERROR(Require(fields, "models", root_line, &field));
    const int models_line = ValueLine(*field);
    if (!field->value.IsSequence()) return Error(models_line, "'models' must be a list");
    if (field->value.size() == 0) return Error(models_line, "'models' must not be empty");
    for (const YAML::Node& entry : field->value) {
      ParsedModel model;
      BURNRATE_RETURN_IF_ERROR(ParseModel(entry, models_line, &model));
      table.models.push_back(std::move(model));
    }
    BURNRATE_RETURN_IF_ERROR(CheckUniqueNames(table));
    return table;
  }

 private:
  // Collects a mapping's keys, rejecting unknown and repeated ones: a typo
  // such as "cache_raed" must fail loudly instead of pricing at the default.
  absl::Status ReadMap(const YAML::Node& node, int fallback_line, std::string_view what,
                       std::initializer_list<std::string_view> allowed,
                       absl::flat_hash_map<std::string, Field>* out) {
    const int line = LineOf(node, fallback_line);
    if (!node.IsMap()) return Error(line, Concat(what, " must be a mapping of keys"));
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int key_line = LineOf(it->first, line);
      if (!it->first.IsScalar()) return Error(key_line, "keys must be plain names");
      const std::string& key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return Error(key_line, Concat("unknown key '", key, "' in ", what,
                                      " (expected one of: ", JoinStrings(allowed, ", "), ")"));
      }
      if (out->contains(key)) {
        return Error(key_line,
                     Concat("key '", key, "' repeated (first at line ", out->at(key).line, ")"));
      }
      out->emplace(key, Field{it->first, it->second, key_line});
    }
    return absl::OkStatus();
  }

  absl::Status Require(const absl::flat_hash_map<std::string, Field>& fields, std::string_view key,
                       int map_line, const Field** out) const {
    auto it = fields.find(AbslView(key));
    if (it == fields.end()) return Error(map_line, Concat("missing required key '", key, "'"));
    *out = &it->second;
    return absl::OkStatus();
  }

  absl::Status ReadString(const Field& field, std::string_view key, std::string* out) const {
    const int line = ValueLine(field);
    if (!field.value.IsScalar()) return Error(line, Concat("'", key, "' must be a string"));
    *out = field.value.Scalar();
    if (out->empty()) return Error(line, Concat("'", key, "' must not be empty"));
    return absl::OkStatus();
  }

  absl::Status ReadFixedPoint(const Field& field, std::string_view key, int decimals,
                              int64_t* out) const {
    const int line = ValueLine(field);
    if (field.value.IsNull()) {
      return Error(line, Concat(key, ": expected a number, found no value"));
    }
    if (!field.value.IsScalar()) return Error(line, Concat(key, ": expected a number"));
    if (auto reason = ParseFixedPoint(field.value.Scalar(), decimals, out)) {
      return Error(line, Concat(key, ": ", *reason));
    }
    return absl::OkStatus();
  }

  // A list of names; a single string is accepted as a one-element list.
  absl::Status ReadNameList(const Field& field, std::string_view key, std::string_view item_kind,
                            bool is_pattern, std::vector<NamedEntry>* out) const {
    const int line = ValueLine(field);
    std::vector<YAML::Node> items;
    if (field.value.IsScalar()) {
      items.push_back(field.value);
    } else if (field.value.IsSequence()) {
      for (const YAML::Node& item : field.value) items.push_back(item);
    } else {
      return Error(line, Concat("'", key, "' must be a list of strings"));
    }
    for (const YAML::Node& item : items) {
      const int item_line = LineOf(item, line);
      if (!item.IsScalar()) return Error(item_line, Concat("'", key, "' must hold strings"));
      if (auto reason = CheckName(item.Scalar(), item_kind, is_pattern)) {
        return Error(item_line, *reason);
      }
      out->push_back({item.Scalar(), item_line});
    }
    return absl::OkStatus();
  }

  absl::Status ParseModel(const YAML::Node& node, int fallback_line, ParsedModel* model) {
    absl::flat_hash_map<std::string, Field> fields;
    BURNRATE_RETURN_IF_ERROR(ReadMap(node, fallback_line, "a model entry",
                                     {"model", "provider", "aliases", "patterns", "prices"},
                                     &fields));
    const int line = LineOf(node, fallback_line);
    const Field* field = nullptr;

    BURNRATE_RETURN_IF_ERROR(Require(fields, "model", line, &field));
    BURNRATE_RETURN_IF_ERROR(ReadString(*field, "model", &model->name.text));
    model->name.line = ValueLine(*field);
    if (auto reason = CheckName(model->name.text, "model", /*is_pattern=*/false)) {
      return Error(model->name.line, *reason);
    }

    BURNRATE_RETURN_IF_ERROR(Require(fields, "provider", line, &field));
    BURNRATE_RETURN_IF_ERROR(ReadString(*field, "provider", &model->provider));

    if (auto it = fields.find("aliases"); it != fields.end()) {
      BURNRATE_RETURN_IF_ERROR(
          ReadNameList(it->second, "aliases", "alias", /*is_pattern=*/false, &model->aliases));
    }
    if (auto it = fields.find("patterns"); it != fields.end()) {
      BURNRATE_RETURN_IF_ERROR(
          ReadNameList(it->second, "patterns", "pattern", /*is_pattern=*/true, &model->patterns));
    }

    BURNRATE_RETURN_IF_ERROR(Require(fields, "prices", line, &field));
    const int prices_line = ValueLine(*field);
    if (!field->value.IsSequence() || field->value.size() == 0) {
      return Error(prices_line, "'prices' must be a non-empty list of price periods");
    }
    int previous_line = 0;
    for (const YAML::Node& entry : field->value) {
      ModelPrice period;
      period.model = model->name.text;
      period.provider = model->provider;
      int from_line = 0;
      BURNRATE_RETURN_IF_ERROR(ParsePeriod(entry, prices_line, &period, &from_line));
      if (!model->periods.empty() &&
          period.effective_from <= model->periods.back().effective_from) {
        return Error(from_line, Concat("effective_from must be later than the previous "
                                       "period's (line ",
                                       previous_line, "); list periods oldest first"));
      }
      previous_line = from_line;
      model->periods.push_back(std::move(period));
    }
    return absl::OkStatus();
  }

  // Reads input/output/cache_read/cache_write; the cache prices default to
  // the input price, which is what providers without a cache discount charge.
  absl::Status ReadTokenPrices(const absl::flat_hash_map<std::string, Field>& fields, int line,
                               std::string_view prefix, TokenPrices* prices) {
    const Field* field = nullptr;
    BURNRATE_RETURN_IF_ERROR(Require(fields, "input", line, &field));
    BURNRATE_RETURN_IF_ERROR(
        ReadFixedPoint(*field, Concat(prefix, "input"), kPriceDecimals, &prices->input));
    BURNRATE_RETURN_IF_ERROR(Require(fields, "output", line, &field));
    BURNRATE_RETURN_IF_ERROR(
        ReadFixedPoint(*field, Concat(prefix, "output"), kPriceDecimals, &prices->output));
    prices->cache_read = prices->input;
    prices->cache_write = prices->input;
    if (auto it = fields.find("cache_read"); it != fields.end()) {
      BURNRATE_RETURN_IF_ERROR(ReadFixedPoint(it->second, Concat(prefix, "cache_read"),
                                              kPriceDecimals, &prices->cache_read));
    }
    if (auto it = fields.find("cache_write"); it != fields.end()) {
      BURNRATE_RETURN_IF_ERROR(ReadFixedPoint(it->second, Concat(prefix, "cache_write"),
                                              kPriceDecimals, &prices->cache_write));
    }
    return absl::OkStatus();
  }

  absl::Status ParsePeriod(const YAML::Node& node, int fallback_line, ModelPrice* period,
                           int* from_line) {
    absl::flat_hash_map<std::string, Field> fields;
    BURNRATE_RETURN_IF_ERROR(ReadMap(
        node, fallback_line, "a price period",
        {"effective_from", "input", "output", "cache_read", "cache_write", "batch", "long_context"},
        &fields));
    const int line = LineOf(node, fallback_line);
    const Field* field = nullptr;

    BURNRATE_RETURN_IF_ERROR(Require(fields, "effective_from", line, &field));
    *from_line = ValueLine(*field);
    if (!field->value.IsScalar()) return Error(*from_line, "effective_from must be a date");
    const std::optional<int64_t> from_ms = ParseDateMs(field->value.Scalar(), /*allow_time=*/true);
    if (!from_ms) {
      return Error(*from_line, Concat("effective_from: '", field->value.Scalar(),
                                      "' is not a date YYYY-MM-DD or an RFC 3339 timestamp "
                                      "such as 2025-06-10T17:00:00Z"));
    }
    period->effective_from = EventTimeMs(*from_ms);

    BURNRATE_RETURN_IF_ERROR(ReadTokenPrices(fields, line, "", &period->prices));

    if (auto it = fields.find("batch"); it != fields.end()) {
      int64_t basis_points = 0;
      BURNRATE_RETURN_IF_ERROR(ReadFixedPoint(it->second, "batch", kBatchDecimals, &basis_points));
      if (basis_points <= 0 || basis_points > kFullPriceBasisPoints) {
        return Error(ValueLine(it->second),
                     "batch: the batch multiplier must be above 0 and at most 1 (0.5 is half "
                     "price)");
      }
      period->batch_basis_points = static_cast<int32_t>(basis_points);
    }

    if (auto it = fields.find("long_context"); it != fields.end()) {
      absl::flat_hash_map<std::string, Field> tier;
      const int tier_line = ValueLine(it->second);
      BURNRATE_RETURN_IF_ERROR(
          ReadMap(it->second.value, tier_line, "long_context",
                  {"threshold_tokens", "input", "output", "cache_read", "cache_write"}, &tier));
      BURNRATE_RETURN_IF_ERROR(Require(tier, "threshold_tokens", tier_line, &field));
      int64_t threshold = 0;
      BURNRATE_RETURN_IF_ERROR(
          ReadFixedPoint(*field, "long_context.threshold_tokens", 0, &threshold));
      if (threshold <= 0) {
        return Error(ValueLine(*field), "long_context.threshold_tokens must be positive");
      }
      period->long_context_threshold = threshold;
      BURNRATE_RETURN_IF_ERROR(
          ReadTokenPrices(tier, tier_line, "long_context.", &period->long_context));
    }
    return absl::OkStatus();
  }

  // An event name must lead to one model: no name, alias or pattern may be
  // claimed twice across the table.
  absl::Status CheckUniqueNames(const ParsedTable& table) const {
    struct Claim {
      std::string_view model;
      int line;
    };
    absl::flat_hash_map<std::string_view, Claim> names;
    absl::flat_hash_map<std::string_view, Claim> patterns;
    const auto claim = [&](absl::flat_hash_map<std::string_view, Claim>& map,
                           const NamedEntry& entry, std::string_view model,
                           std::string_view kind) -> absl::Status {
      auto [it, inserted] = map.try_emplace(entry.text, Claim{model, entry.line});
      if (inserted) return absl::OkStatus();
      return Error(entry.line, Concat(kind, " '", entry.text, "' is already claimed by model '",
                                      it->second.model, "' at line ", it->second.line));
    };
    for (const ParsedModel& model : table.models) {
      BURNRATE_RETURN_IF_ERROR(claim(names, model.name, model.name.text, "model name"));
      for (const NamedEntry& alias : model.aliases) {
        BURNRATE_RETURN_IF_ERROR(claim(names, alias, model.name.text, "alias"));
      }
      for (const NamedEntry& pattern : model.patterns) {
        BURNRATE_RETURN_IF_ERROR(claim(patterns, pattern, model.name.text, "pattern"));
      }
    }
    return absl::OkStatus();
  }

  std::string_view source_;
};

}  // namespace

absl::StatusOr<PriceTable> PriceTable::Parse(std::string_view yaml_text,
                                             std::string_view source_name) {
  TableParser parser(source_name);
  absl::StatusOr<ParsedTable> parsed;
  // yaml-cpp reports syntax errors and some accessor misuse by throwing;
  // callers get a Status with the line instead.
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    parsed = parser.ParseRoot(root);
  } catch (const YAML::Exception& e) {
    return parser.Error(e.mark.is_null() ? 1 : e.mark.line + 1, e.msg);
  } catch (const std::exception& e) {
    return parser.Error(1, e.what());
  }
  if (!parsed.ok()) return parsed.status();

  PriceTable table;
  table.version_ = std::move(parsed->version);
  table.compiled_on_ = std::move(parsed->compiled_on);
  for (ParsedModel& model : parsed->models) {
    for (const NamedEntry& alias : model.aliases) {
      table.aliases_.emplace(alias.text, model.name.text);
    }
    for (const NamedEntry& glob : model.patterns) {
      table.patterns_.push_back(
          std::make_shared<const Pattern>(Pattern::Compile(glob.text, model.name.text)));
    }
    table.by_model_.emplace(model.name.text, std::move(model.periods));
  }
  return table;
}

absl::StatusOr<PriceTable> PriceTable::LoadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, Concat(path, ": cannot open price table"));
  }
  std::string text;
  char buffer[64 * 1024];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxTableBytes) {
      std::fclose(file);
      return absl::InvalidArgumentError(
          Concat(path, ": price table is larger than ", kMaxTableBytes >> 20, " MiB"));
    }
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) return absl::ErrnoToStatus(read_errno, Concat(path, ": cannot read price table"));
  return Parse(text, path);
}

const PriceTable& PriceTable::Default() {
  // Parsed once, never destroyed (no static destructor ordering issues at
  // exit). The shipped table is validated by a unit test, so failing here is
  // a build defect, not a runtime condition to recover from.
  static const PriceTable* const kTable = [] {
    absl::StatusOr<PriceTable> table = Parse(
        std::string_view(internal::kDefaultPriceTableYaml, internal::kDefaultPriceTableYamlSize),
        "core/prices/default.yaml (built in)");
    if (!table.ok()) {
      std::fprintf(stderr, "FATAL: the built-in price table is invalid: %s\n",
                   table.status().ToString().c_str());
      std::abort();
    }
    return new PriceTable(*std::move(table));
  }();
  return *kTable;
}

const ModelPrice* PriceTable::Find(std::string_view model, EventTimeMs at) const {
  return PeriodAt(PeriodsFor(model), at);
}

std::span<const ModelPrice> PriceTable::PeriodsFor(std::string_view model) const {
  if (model.empty() || model.size() > kMaxModelNameLength) return {};

  const auto by_name = [this](std::string_view name) -> const std::vector<ModelPrice>* {
    if (auto it = by_model_.find(AbslView(name)); it != by_model_.end()) return &it->second;
    auto alias = aliases_.find(AbslView(name));
    if (alias == aliases_.end()) return nullptr;
    auto it = by_model_.find(AbslView(alias->second));
    return it == by_model_.end() ? nullptr : &it->second;
  };
  const auto by_pattern = [this](std::string_view name) -> const std::vector<ModelPrice>* {
    for (const auto& pattern : patterns_) {
      if (!pattern->Matches(name)) continue;
      auto it = by_model_.find(AbslView(pattern->model));
      return it == by_model_.end() ? nullptr : &it->second;
    }
    return nullptr;
  };
  // Gateways such as LiteLLM and OpenRouter prefix the provider
  // ("openai/gpt-4o", "openrouter/anthropic/claude-3.5-sonnet"), so the
  // candidates are the whole name and then each suffix after a '/'. Names
  // are tried before any pattern: an exact name is the stronger statement,
  // and most events resolve without scanning the patterns at all.
  const auto first_candidate = [model](const auto& lookup) -> const std::vector<ModelPrice>* {
    std::string_view name = model;
    while (true) {
      if (const std::vector<ModelPrice>* periods = lookup(name)) return periods;
      const size_t slash = name.find('/');
      if (slash == std::string_view::npos) return nullptr;
      name.remove_prefix(slash + 1);
    }
  };
  const std::vector<ModelPrice>* periods = first_candidate(by_name);
  if (periods == nullptr) periods = first_candidate(by_pattern);
  if (periods == nullptr) return {};
  return *periods;
}

const ModelPrice* PriceTable::PeriodAt(std::span<const ModelPrice> periods, EventTimeMs at) {
  // The last period starting at or before `at`.
  auto next = std::upper_bound(
      periods.begin(), periods.end(), at,
      [](EventTimeMs t, const ModelPrice& period) { return t < period.effective_from; });
  return next == periods.begin() ? nullptr : &*std::prev(next);
}

const ModelPrice* ModelPriceCache::Find(const HashedStringView& model, EventTimeMs at) {
  auto it = entries_.find(model);
  if (it == entries_.end()) {
    if (entries_.size() >= max_entries_) return table_.Find(model.text, at);
    it = entries_.try_emplace(std::string(model.text), Entry{table_.PeriodsFor(model.text)}).first;
    PickPeriod(it->second, at);
  }
  Entry& entry = it->second;
  if (at.value() < entry.from || at.value() >= entry.until) PickPeriod(entry, at);
  return entry.current;
}

void ModelPriceCache::PickPeriod(Entry& entry, EventTimeMs at) {
  entry.current = PriceTable::PeriodAt(entry.periods, at);
  // The stretch in which the same answer holds: from the picked period's
  // start (or the beginning of time) to the next period's start (or the end).
  const ModelPrice* next = entry.current == nullptr ? entry.periods.data() : entry.current + 1;
  const ModelPrice* end = entry.periods.data() + entry.periods.size();
  entry.from = entry.current == nullptr ? INT64_MIN : entry.current->effective_from.value();
  entry.until = next == end ? INT64_MAX : next->effective_from.value();
}

Money ComputeCost(const CostEvent& event, const ModelPrice& price) {
  // Token counts are validated by the decoder; negative ones are treated as
  // zero here so that a bad event cannot produce a negative cost.
  const auto count = [&event](TokenKind kind) {
    return static_cast<unsigned __int128>(std::max<int64_t>(event.tokens[kind], 0));
  };
  const unsigned __int128 input = count(TokenKind::kInput);
  const unsigned __int128 cache_read = count(TokenKind::kCacheRead);
  const unsigned __int128 cache_write = count(TokenKind::kCacheWrite);
  // Reasoning tokens are part of output_tokens and must not be added again.
  const unsigned __int128 output = count(TokenKind::kOutput);
  // Input includes the cached parts; an event whose parts exceed the whole
  // is inconsistent, and pricing its uncached part at zero is the least wrong.
  const unsigned __int128 cached = cache_read + cache_write;
  const unsigned __int128 uncached = input > cached ? input - cached : 0;

  const bool long_context = price.long_context_threshold > 0 &&
                            event.tokens[TokenKind::kInput] > price.long_context_threshold;
  const TokenPrices& p = long_context ? price.long_context : price.prices;
  const auto rate = [](int64_t picos) {
    return static_cast<unsigned __int128>(std::max<int64_t>(picos, 0));
  };
  // Each product is below 2^126 and the sum below 2^128, so nothing wraps
  // even for absurd counts; only the final figure saturates.
  unsigned __int128 cost = uncached * rate(p.input) + cache_read * rate(p.cache_read) +
                           cache_write * rate(p.cache_write) + output * rate(p.output);
  if (event.service_tier == "batch" && price.batch_basis_points != kFullPriceBasisPoints) {
    // The batch share is a discount; a hand-built share outside [0, 1] is
    // clamped so the arithmetic below cannot wrap.
    const auto basis_points = static_cast<unsigned __int128>(
        std::clamp<int32_t>(price.batch_basis_points, 0, kFullPriceBasisPoints));
    // round_half_up(cost * bp / 10000), split so that cost * bp is never
    // formed: cost = 10000 q + r gives q * bp + (r * bp + 5000) / 10000.
    cost = cost / kFullPriceBasisPoints * basis_points +
           (cost % kFullPriceBasisPoints * basis_points + kFullPriceBasisPoints / 2) /
               kFullPriceBasisPoints;
  }
  constexpr auto kMax = static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max());
  if (cost > kMax) cost = kMax;
  return Money::FromPicodollars(static_cast<int64_t>(cost));
}

#undef BURNRATE_RETURN_IF_ERROR

}  // namespace burnrate
