// burnrate-gen-events: writes a deterministic stream of cost events, the
// price table it must be priced with, and the per-window totals it must
// produce (computed independently of burnrate's code), for exactness tests
// and benchmarks. See tools/event_stream.h.
#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "tools/event_stream.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadUsage = 2;

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fflush(f) == 0;
  if (f != stdout) ok &= std::fclose(f) == 0;
  return ok;
}

// Parses "YYYY-MM-DDTHH:MM:SS[.mmm]Z" or epoch milliseconds.
bool ParseStart(const std::string& text, int64_t& out) {
  const char* end = text.data() + text.size();
  if (auto [ptr, ec] = std::from_chars(text.data(), end, out); ec == std::errc() && ptr == end) {
    return true;
  }
  const auto digits = [&](size_t pos, size_t n, int& v) {
    if (pos + n > text.size()) return false;
    v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s, ms = 0;
  if (!digits(0, 4, y) || text[4] != '-' || !digits(5, 2, mo) || text[7] != '-' ||
      !digits(8, 2, d) || text[10] != 'T' || !digits(11, 2, h) || text[13] != ':' ||
      !digits(14, 2, mi) || text[16] != ':' || !digits(17, 2, s)) {
    return false;
  }
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    if (!digits(pos + 1, 3, ms)) return false;
    pos += 4;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return false;
  // days_from_civil (H. Hinnant).
  const int64_t yy = y - (mo <= 2);
  const int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const int64_t yoe = yy - era * 400;
  const int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  out = ((days * 24 + h) * 60 + mi) * 60'000 + s * 1000 + ms;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using burnrate::testgen::Format;
  burnrate::testgen::StreamOptions opt;
  std::string start = "2026-11-02T00:00:00Z";
  std::string format = "mixed";
  std::string out_path = "-";
  std::string expected_path;
  std::string prices_path;

  CLI::App app{
      "burnrate-gen-events: a deterministic stream of cost events with the window totals it must "
      "produce (for exactness tests and benchmarks)",
      "burnrate-gen-events"};
  app.add_option("--events", opt.events, "Lines to write, duplicates and malformed included")
      ->capture_default_str();
  app.add_option("--keys", opt.keys,
                 "Distinct (tenant, feature, environment) keys (Zipf popularity)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{50'000'000}))
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "Seed; the same seed and options give the same bytes")
      ->capture_default_str();
  app.add_option("--start", start, "Event time of the first line: RFC 3339 UTC or epoch ms")
      ->capture_default_str();
  app.add_option("--rate", opt.rate,
                 "Lines per second of event time (default: the stream spans 30 minutes)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--disorder-ms", opt.disorder_ms,
                 "Each event's ts moves back by up to this much; keep it below the engine's "
                 "allowed lateness")
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 3'600'000))
      ->capture_default_str();
  app.add_option("--duplicate-fraction", opt.duplicate_fraction,
                 "Share of lines that re-send a recent accepted line byte for byte")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-duplicate-delay-ms", opt.max_duplicate_delay_ms,
                 "Most event time between an event and its re-send")
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}))
      ->capture_default_str();
  app.add_option("--malformed-fraction", opt.malformed_fraction,
                 "Share of lines the engine must refuse (broken JSON, wrong types, ...)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--unknown-model-fraction", opt.unknown_model_fraction,
                 "Share of accepted events whose model is not in the price table")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--missing-dimension-fraction", opt.missing_dimension_fraction,
                 "Share of accepted events without an environment (counted under 'unknown')")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--window-ms", opt.window_ms, "Window size the expected totals are cut by")
      ->check(CLI::Range(int64_t{1000}, int64_t{3'600'000}))
      ->capture_default_str();
  app.add_option("--format", format, "flat, otel (GenAI attribute names) or mixed")
      ->check(CLI::IsMember({"flat", "otel", "mixed"}))
      ->capture_default_str();
  app.add_option("--out", out_path, "Events, JSON Lines; - for stdout")->capture_default_str();
  app.add_option("--expected", expected_path, "Expected per-window-key totals, JSON Lines");
  app.add_option("--prices", prices_path, "The price table (YAML) the stream must be priced with");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadUsage;
  }
  if (!ParseStart(start, opt.start_ms)) {
    std::fprintf(stderr, "burnrate-gen-events: --start '%s' is not RFC 3339 UTC or epoch ms\n",
                 start.c_str());
    return kExitBadUsage;
  }
  if (opt.duplicate_fraction + opt.malformed_fraction > 1.0) {
    std::fprintf(stderr, "burnrate-gen-events: duplicate and malformed fractions exceed 1\n");
    return kExitBadUsage;
  }
  opt.format = format == "flat" ? Format::kFlat : format == "otel" ? Format::kOtel : Format::kMixed;
  opt.track_expected = !expected_path.empty();

  const auto started = std::chrono::steady_clock::now();
  try {
    burnrate::testgen::EventStream stream(opt);
    if (!prices_path.empty() && !WriteFile(prices_path, stream.PriceTableYaml())) {
      std::fprintf(stderr, "burnrate-gen-events: cannot write %s\n", prices_path.c_str());
      return kExitFailure;
    }
    FILE* out = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "burnrate-gen-events: cannot write %s\n", out_path.c_str());
      return kExitFailure;
    }
    // Lines are built into one large buffer and written in big blocks.
    std::string buffer;
    constexpr size_t kFlushAt = 4 << 20;
    buffer.reserve(kFlushAt + 64 * 1024);
    bool ok = true;
    while (!stream.done()) {
      stream.Next(buffer);
      buffer.push_back('\n');
      if (buffer.size() >= kFlushAt) {
        ok &= std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
        buffer.clear();
      }
    }
    ok &= std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
    ok &= std::fflush(out) == 0;
    if (out != stdout) ok &= std::fclose(out) == 0;
    if (!ok) {
      std::fprintf(stderr, "burnrate-gen-events: writing %s failed\n", out_path.c_str());
      return kExitFailure;
    }
    if (!expected_path.empty() && !WriteFile(expected_path, stream.ExpectedJsonl())) {
      std::fprintf(stderr, "burnrate-gen-events: cannot write %s\n", expected_path.c_str());
      return kExitFailure;
    }
    const auto& s = stream.summary();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(
        stderr,
        "burnrate-gen-events: %llu lines (%llu events, %llu duplicates, %llu malformed, "
        "%llu unpriced) over %.1f min of event time, %.1f bytes/line, %.2f s\n",
        static_cast<unsigned long long>(s.lines), static_cast<unsigned long long>(s.accepted),
        static_cast<unsigned long long>(s.duplicates), static_cast<unsigned long long>(s.malformed),
        static_cast<unsigned long long>(s.unpriced),
        static_cast<double>(stream.span_ms()) / 60'000.0,
        s.lines ? static_cast<double>(s.bytes) / static_cast<double>(s.lines) : 0.0, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "burnrate-gen-events: %s\n", e.what());
    return kExitBadUsage;
  }
  return kExitOk;
}
