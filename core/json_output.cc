#include "core/json_output.h"

#include <simdjson.h>

#include <charconv>

#include "core/time_format.h"

namespace burnrate {
namespace {

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ptr);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;
    if (c == 0xf4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

void AppendBase64(std::string_view s, std::string& out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i < s.size()) {
    uint32_t v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

}  // namespace

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

void AppendJsonString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out.append("\xef\xbf\xbd");  // U+FFFD
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void AppendUsd(Money amount, std::string& out) {
  int64_t picos = amount.picodollars();
  if (picos < 0) {
    out.push_back('-');
    picos = -picos;
  }
  AppendInt(picos / Money::kPicosPerDollar, out);
  out.push_back('.');
  char frac[13];
  int64_t rest = picos % Money::kPicosPerDollar;
  for (int i = 11; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  out.append(frac, 12);
}

void AppendWindowRecordJson(const WindowRecord& r, std::string& out) {
  out.append("{\"window_start\":\"");
  AppendRfc3339Ms(r.start.value(), out);
  out.append("\",\"window_end\":\"");
  AppendRfc3339Ms(r.start.value() + r.size_ms, out);
  out.append("\",\"scope\":\"");
  out.append(WindowScopeName(r.scope));
  out.push_back('"');
  const auto dim = [&](std::string_view name, std::string_view value) {
    out.append(",\"");
    out.append(name);
    out.append("\":");
    AppendJsonString(value, out);
  };
  if (r.scope == WindowScope::kKey || r.scope == WindowScope::kTenant) dim("tenant", r.tenant);
  if (r.scope == WindowScope::kKey || r.scope == WindowScope::kFeature) dim("feature", r.feature);
  if (r.scope == WindowScope::kKey || r.scope == WindowScope::kEnvironment) {
    dim("environment", r.environment);
  }
  if (r.scope == WindowScope::kModel) dim("model", r.model);
  const WindowTotals& t = *r.totals;
  out.append(",\"events\":");
  AppendInt(t.events, out);
  out.append(",\"unpriced_events\":");
  AppendInt(t.unpriced_events, out);
  for (size_t i = 0; i < kTokenKindCount; ++i) {
    out.append(",\"");
    out.append(kTokenKindNames[i]);
    out.append("\":");
    AppendInt(t.tokens.by_kind[i], out);
  }
  out.append(",\"layers\":{");
  for (size_t i = 0; i < kLayerCount; ++i) {
    if (i) out.push_back(',');
    out.push_back('"');
    out.append(kLayerNames[i]);
    out.append("\":");
    AppendInt(t.tokens.by_layer[i], out);
  }
  out.append("},\"cost_usd\":");
  AppendUsd(t.cost, out);
  out.push_back('}');
}

void AppendDeadLetterJson(std::string_view message, const Rejection& rejection, std::string& out) {
  out.append("{\"reason\":\"");
  out.append(RejectReasonName(rejection.reason));
  out.append("\",\"detail\":");
  AppendJsonString(rejection.detail, out);
  if (rejection.item >= 0) {
    out.append(",\"item\":");
    AppendInt(rejection.item, out);
  }
  if (IsValidUtf8(message)) {
    out.append(",\"message\":");
    AppendJsonString(message, out);
  } else {
    out.append(",\"message_base64\":\"");
    AppendBase64(message, out);
    out.push_back('"');
  }
  out.push_back('}');
}

}  // namespace burnrate
