#include "core/window.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/string_hash.h"

namespace burnrate {

std::string_view WindowScopeName(WindowScope scope) {
  static constexpr std::array<std::string_view, 5> kNames = {"key", "tenant", "feature",
                                                             "environment", "model"};
  return kNames[static_cast<size_t>(scope)];
}

void WindowTotals::Add(const CostEvent& event, Money event_cost, bool priced) {
  ++events;
  if (!priced) ++unpriced_events;
  for (size_t i = 0; i < kTokenKindCount; ++i) tokens.by_kind[i] += event.tokens.by_kind[i];
  for (size_t i = 0; i < kLayerCount; ++i) tokens.by_layer[i] += event.tokens.by_layer[i];
  cost += event_cost;
}

void WindowTotals::Merge(const WindowTotals& other) {
  events += other.events;
  unpriced_events += other.unpriced_events;
  for (size_t i = 0; i < kTokenKindCount; ++i) tokens.by_kind[i] += other.tokens.by_kind[i];
  for (size_t i = 0; i < kLayerCount; ++i) tokens.by_layer[i] += other.tokens.by_layer[i];
  cost += other.cost;
}

void PackKey(std::string_view tenant, std::string_view feature, std::string_view environment,
             std::string& out) {
  out.clear();
  for (std::string_view part : {tenant, feature, environment}) {
    const size_t n = std::min<size_t>(part.size(), 0xffff);
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
    out.append(part.data(), n);
  }
}

bool UnpackKey(std::string_view packed, std::string_view& tenant, std::string_view& feature,
               std::string_view& environment) {
  std::string_view* parts[] = {&tenant, &feature, &environment};
  size_t pos = 0;
  for (auto* part : parts) {
    if (pos + 2 > packed.size()) return false;
    const size_t n = (static_cast<unsigned char>(packed[pos]) << 8) |
                     static_cast<unsigned char>(packed[pos + 1]);
    pos += 2;
    if (pos + n > packed.size()) return false;
    *part = packed.substr(pos, n);
    pos += n;
  }
  return pos == packed.size();
}

namespace {

// Bump allocator for the key strings of one window: keys live exactly as long
// as their window, and one allocation per 64 KiB beats one per key in both
// speed and memory.
class StringArena {
 public:
  std::string_view Copy(std::string_view s) {
    if (s.size() > kChunk) {
      big_.push_back(std::make_unique<char[]>(s.size()));
      std::copy(s.begin(), s.end(), big_.back().get());
      return {big_.back().get(), s.size()};
    }
    if (used_ + s.size() > kChunk || chunks_.empty()) {
      chunks_.push_back(std::make_unique<char[]>(kChunk));
      used_ = 0;
    }
    char* dst = chunks_.back().get() + used_;
    std::copy(s.begin(), s.end(), dst);
    used_ += s.size();
    return {dst, s.size()};
  }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::vector<std::unique_ptr<char[]>> big_;
  size_t used_ = 0;
};

// Bytes a packed key spends on each part's length.
constexpr size_t kPackedLengthBytes = 2;
constexpr size_t kMaxPartBytes = 0xffff;

// An event's (tenant, feature, environment), each cut to what PackKey keeps,
// with its hash: the window map is looked up with this directly, so no
// packed key is built for events whose key is already open.
struct KeyView {
  KeyView(std::string_view tenant_in, std::string_view feature_in,
          std::string_view environment_in);
  std::string_view tenant;
  std::string_view feature;
  std::string_view environment;
  size_t hash = 0;
};

// Seeded per process (the address of a global moves with ASLR), so a
// producer cannot choose names that all land in one probe sequence.
const char kKeyHashSeedAnchor = 0;

// Eight bytes or fewer, read without a variable-length memcpy. Covers every
// byte, so strings of one length that differ give different words.
inline uint64_t LoadShort(const char* p, size_t n) {
  if (n >= 4) {
    uint32_t head, tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    return head | static_cast<uint64_t>(tail) << 32;
  }
  if (n == 0) return 0;
  return static_cast<uint64_t>(static_cast<unsigned char>(p[0])) |
         static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
         static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16;
}

inline uint64_t MixWord(uint64_t h, uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

// Each part's length and then its bytes, eight at a time.
inline uint64_t MixPart(uint64_t h, std::string_view part) {
  h = MixWord(h, part.size());
  size_t i = 0;
  for (; i + 8 <= part.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, part.data() + i, 8);
    h = MixWord(h, word);
  }
  if (i < part.size()) h = MixWord(h, LoadShort(part.data() + i, part.size() - i));
  return h;
}

// Inline and word-wise: on the per-event path this replaces Abseil's
// out-of-line string hash over a freshly packed copy of the key. Murmur3's
// finaliser at the end, since Abseil's maps use both the low bits (the
// in-group tag) and the high bits (the probe start).
inline size_t HashKeyParts(std::string_view tenant, std::string_view feature,
                           std::string_view environment) {
  uint64_t h = reinterpret_cast<uintptr_t>(&kKeyHashSeedAnchor);
  h = MixPart(MixPart(MixPart(h, tenant), feature), environment);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<size_t>(h);
}

KeyView::KeyView(std::string_view tenant_in, std::string_view feature_in,
                 std::string_view environment_in)
    : tenant(tenant_in.substr(0, kMaxPartBytes)),
      feature(feature_in.substr(0, kMaxPartBytes)),
      environment(environment_in.substr(0, kMaxPartBytes)),
      hash(HashKeyParts(tenant, feature, environment)) {}

// The window map stores packed keys (in the window's arena) and is looked up
// with a KeyView; both hash as the unpacked parts do.
struct PackedKeyHash {
  using is_transparent = void;
  size_t operator()(const KeyView& key) const noexcept { return key.hash; }
  size_t operator()(std::string_view packed) const noexcept {
    std::string_view tenant, feature, environment;
    UnpackKey(packed, tenant, feature, environment);
    return HashKeyParts(tenant, feature, environment);
  }
};

struct PackedKeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    return StringViewEq{}(a, b);
  }
  bool operator()(std::string_view packed, const KeyView& key) const noexcept {
    if (packed.size() != 3 * kPackedLengthBytes + key.tenant.size() + key.feature.size() +
                             key.environment.size()) {
      return false;
    }
    size_t pos = 0;
    for (std::string_view part : {key.tenant, key.feature, key.environment}) {
      const size_t n = (static_cast<unsigned char>(packed[pos]) << 8) |
                       static_cast<unsigned char>(packed[pos + 1]);
      pos += kPackedLengthBytes;
      if (n != part.size() || !StringViewEq{}(packed.substr(pos, n), part)) return false;
      pos += n;
    }
    return true;
  }
  bool operator()(const KeyView& key, std::string_view packed) const noexcept {
    return (*this)(packed, key);
  }
};

}  // namespace

struct WindowAggregator::Window {
  WindowStartMs start{0};
  StringArena arena;
  absl::flat_hash_map<std::string_view, WindowTotals, PackedKeyHash, PackedKeyEq> keys;
  absl::flat_hash_map<std::string_view, WindowTotals, StringViewHash, StringViewEq> models;
};

WindowAggregator::WindowAggregator(WindowOptions options) : options_(options) {}
WindowAggregator::~WindowAggregator() = default;

size_t WindowAggregator::open_keys() const {
  size_t n = 0;
  for (const auto& [start, w] : windows_) n += w->keys.size();
  return n;
}

WindowAggregator::Window& WindowAggregator::WindowAt(WindowStartMs start) {
  if (last_window_ != nullptr && last_window_->start == start) return *last_window_;
  auto it = windows_.find(start);
  if (it == windows_.end()) {
    it = windows_.emplace(start, std::make_unique<Window>()).first;
    it->second->start = start;
  }
  last_window_ = it->second.get();
  return *last_window_;
}

void WindowAggregator::AddToWindow(WindowStartMs start, const CostEvent& event,
                                   const HashedStringView& model, Money cost, bool priced) {
  if (!has_watermark_ || event.time > watermark_) {
    watermark_ = event.time;
    has_watermark_ = true;
  }

  Window& w = WindowAt(start);
  const KeyView key(event.tenant, event.feature, event.environment);
  auto key_it = w.keys.find(key);
  if (key_it == w.keys.end()) {
    // A new key: pack it once into the arena, where it lives as long as the window.
    KeyView stored = key;
    if (w.keys.size() >= options_.max_keys_per_window) {
      ++overflowed_events_;
      stored = KeyView(kOverflowDimension, kOverflowDimension, kOverflowDimension);
      key_it = w.keys.find(stored);
    }
    if (key_it == w.keys.end()) {
      thread_local std::string packed;
      PackKey(stored.tenant, stored.feature, stored.environment, packed);
      key_it = w.keys.emplace(w.arena.Copy(packed), WindowTotals{}).first;
    }
  }
  key_it->second.Add(event, cost, priced);

  auto model_it = w.models.find(model);
  if (model_it == w.models.end()) {
    model_it = w.models.emplace(w.arena.Copy(model.text), WindowTotals{}).first;
  }
  model_it->second.Add(event, cost, priced);
}

namespace {
template <typename Map>
std::vector<std::pair<std::string_view, const WindowTotals*>> RowsOf(const Map& map) {
  std::vector<std::pair<std::string_view, const WindowTotals*>> rows;
  rows.reserve(map.size());
  for (const auto& [name, t] : map) rows.emplace_back(name, &t);
  return rows;
}

// Sorts rows by name in byte order, as std::sort on the pairs would, but
// compares the first eight bytes of two names as one big-endian integer and
// calls the byte-wise comparison only when those are equal: at window close
// the keys of a whole window are sorted, and a library call per comparison
// was most of the sort.
void SortByName(std::vector<std::pair<std::string_view, const WindowTotals*>>& rows) {
  struct Row {
    uint64_t prefix;  // the first eight bytes, big-endian, zero-padded
    std::pair<std::string_view, const WindowTotals*> row;
  };
  std::vector<Row> sorted;
  sorted.reserve(rows.size());
  for (const auto& row : rows) {
    unsigned char bytes[8] = {};
    if (!row.first.empty())
      std::memcpy(bytes, row.first.data(), std::min<size_t>(row.first.size(), 8));
    uint64_t prefix = 0;
    for (unsigned char b : bytes) prefix = prefix << 8 | b;
    sorted.push_back({prefix, row});
  }
  std::sort(sorted.begin(), sorted.end(), [](const Row& a, const Row& b) {
    // Zero padding can tie a short name with a longer one; the full
    // comparison settles every tie.
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.row.first < b.row.first;
  });
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = sorted[i].row;
}
}  // namespace

void EmitWindowRecords(WindowStartMs start, int64_t size_ms,
                       std::vector<std::pair<std::string_view, const WindowTotals*>> keys,
                       std::vector<std::pair<std::string_view, const WindowTotals*>> models,
                       const std::function<void(const WindowRecord&)>& sink) {
  SortByName(keys);
  absl::flat_hash_map<std::string_view, WindowTotals, StringViewHash, StringViewEq> by_tenant, by_feature,
      by_environment;
  WindowRecord record;
  record.start = start;
  record.size_ms = size_ms;
  record.scope = WindowScope::kKey;
  for (const auto& [packed, totals] : keys) {
    if (!UnpackKey(packed, record.tenant, record.feature, record.environment)) continue;
    record.totals = totals;
    sink(record);
    by_tenant[record.tenant].Merge(*totals);
    by_feature[record.feature].Merge(*totals);
    by_environment[record.environment].Merge(*totals);
  }

  const auto emit = [&](WindowScope scope,
                        std::vector<std::pair<std::string_view, const WindowTotals*>> rows) {
    SortByName(rows);
    for (const auto& [name, t] : rows) {
      WindowRecord r;
      r.scope = scope;
      r.start = start;
      r.size_ms = size_ms;
      (scope == WindowScope::kTenant        ? r.tenant
       : scope == WindowScope::kFeature     ? r.feature
       : scope == WindowScope::kEnvironment ? r.environment
                                            : r.model) = name;
      r.totals = t;
      sink(r);
    }
  };
  emit(WindowScope::kTenant, RowsOf(by_tenant));
  emit(WindowScope::kFeature, RowsOf(by_feature));
  emit(WindowScope::kEnvironment, RowsOf(by_environment));
  emit(WindowScope::kModel, std::move(models));
}

void WindowAggregator::CloseWindow(Window& w, const RecordSink& sink) {
  EmitWindowRecords(w.start, options_.size_ms, RowsOf(w.keys), RowsOf(w.models), sink);
}

void WindowAggregator::Drain(const DeltaSink& sink) {
  for (auto& [start, w] : windows_) {
    for (const auto& [key, totals] : w->keys) sink(start, key, false, totals);
    for (const auto& [model, totals] : w->models) sink(start, model, true, totals);
  }
  windows_.clear();
  last_window_ = nullptr;
}

void WindowAggregator::SeedWatermark(EventTimeMs watermark) {
  if (!has_watermark_ || watermark > watermark_) {
    watermark_ = watermark;
    has_watermark_ = true;
  }
}

size_t WindowAggregator::CloseReady(const RecordSink& sink) {
  if (!has_watermark_) return 0;
  size_t closed = 0;
  while (!windows_.empty()) {
    auto it = windows_.begin();
    const int64_t end = it->first.value() + options_.size_ms;
    if (end + options_.allowed_lateness_ms > watermark_.value()) break;
    CloseWindow(*it->second, sink);
    closed_through_ = it->first;
    if (last_window_ == it->second.get()) last_window_ = nullptr;
    windows_.erase(it);
    ++closed;
  }
  // Windows with no events still count as closed, so a late event for an
  // empty window is late as well.
  const int64_t ready_end = watermark_.value() - options_.allowed_lateness_ms;
  const WindowStartMs last_ready =
      WindowStartMs(WindowStartFor(EventTimeMs(ready_end), options_.size_ms).value() - options_.size_ms);
  if (last_ready > closed_through_) closed_through_ = last_ready;
  return closed;
}

size_t WindowAggregator::CloseAll(const RecordSink& sink) {
  size_t closed = 0;
  for (auto& [start, w] : windows_) {
    CloseWindow(*w, sink);
    closed_through_ = start;
    ++closed;
  }
  windows_.clear();
  last_window_ = nullptr;
  return closed;
}

}  // namespace burnrate
