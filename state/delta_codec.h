// A compact binary encoding of one window's deltas, so a checkpoint stores
// one blob per window in Redis instead of one HINCRBY per counter (the
// counters are summed when the window is read back).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/window.h"

namespace burnrate {

// Appends one (key or model, totals) record. Only non-zero counters are
// written: a bit mask, then each counter as a zig-zag varint.
void AppendDeltaRecord(std::string_view key, bool is_model, const WindowTotals& totals, std::string& out);

// Decodes a blob of records, calling `sink(key, is_model, totals)` for each.
// False if the blob is malformed (the caller treats that as corruption).
template <typename Sink>
bool DecodeDeltaRecords(std::string_view blob, Sink&& sink);

namespace delta_codec_internal {
bool ReadVarint(std::string_view& in, uint64_t& v);
void SetCounter(WindowTotals& t, size_t i, int64_t v);
inline constexpr size_t kCounters = 2 + kTokenKindCount + kLayerCount + 1;
}  // namespace delta_codec_internal

template <typename Sink>
bool DecodeDeltaRecords(std::string_view in, Sink&& sink) {
  using namespace delta_codec_internal;
  while (!in.empty()) {
    const char kind = in.front();
    in.remove_prefix(1);
    if (kind != 'k' && kind != 'm') return false;
    uint64_t len, mask;
    if (!ReadVarint(in, len) || len > in.size()) return false;
    const std::string_view key = in.substr(0, len);
    in.remove_prefix(len);
    if (!ReadVarint(in, mask) || mask >= (1u << kCounters)) return false;
    WindowTotals totals;
    for (size_t i = 0; i < kCounters; ++i) {
      if (!((mask >> i) & 1)) continue;
      uint64_t z;
      if (!ReadVarint(in, z)) return false;
      SetCounter(totals, i, static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1)));
    }
    sink(key, kind == 'm', totals);
  }
  return true;
}

}  // namespace burnrate
