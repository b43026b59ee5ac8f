#include "state/delta_codec.h"

namespace burnrate {
namespace delta_codec_internal {

bool ReadVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

int64_t GetCounter(const WindowTotals& t, size_t i) {
  if (i == 0) return t.events;
  if (i == 1) return t.unpriced_events;
  if (i < 2 + kTokenKindCount) return t.tokens.by_kind[i - 2];
  if (i < 2 + kTokenKindCount + kLayerCount) return t.tokens.by_layer[i - 2 - kTokenKindCount];
  return t.cost.picodollars();
}

void SetCounter(WindowTotals& t, size_t i, int64_t v) {
  if (i == 0) t.events = v;
  else if (i == 1) t.unpriced_events = v;
  else if (i < 2 + kTokenKindCount) t.tokens.by_kind[i - 2] = v;
  else if (i < 2 + kTokenKindCount + kLayerCount) t.tokens.by_layer[i - 2 - kTokenKindCount] = v;
  else t.cost = Money::FromPicodollars(v);
}

}  // namespace delta_codec_internal

namespace {
void AppendVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
}  // namespace

void AppendDeltaRecord(std::string_view key, bool is_model, const WindowTotals& totals, std::string& out) {
  using namespace delta_codec_internal;
  out.push_back(is_model ? 'm' : 'k');
  AppendVarint(key.size(), out);
  out.append(key);
  uint64_t mask = 0;
  for (size_t i = 0; i < kCounters; ++i) {
    if (GetCounter(totals, i) != 0) mask |= uint64_t{1} << i;
  }
  AppendVarint(mask, out);
  for (size_t i = 0; i < kCounters; ++i) {
    if (!((mask >> i) & 1)) continue;
    const int64_t v = GetCounter(totals, i);
    AppendVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);  // zig-zag
  }
}

}  // namespace burnrate
