// End-to-end exactness of `burnrate replay`: the real binary over streams from
// burnrate-gen-events, whose expected per-window totals are computed without
// any of burnrate's code. Duplicates, malformed lines, out-of-order events
// within the allowed lateness, unknown models and missing dimensions must all
// come out exactly as the closed-window contract says.
//
// Labelled `integration`: it needs no services, but it runs two programs over
// up to a million events and takes several seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace burnrate {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using testing::ChildProcessOptions;
using testing::ReadFile;
using testing::ScratchDir;

constexpr char kBurnrate[] = BURNRATE_BIN;
constexpr char kGenerator[] = BURNRATE_GEN_EVENTS_BIN;

struct RunResult {
  testing::ExitStatus status;
  std::string stderr_text;
};

// Runs a program to completion (argv as is: no shell, so no quoting issues).
RunResult Run(const ScratchDir& dir, std::string_view name, std::vector<std::string> argv) {
  ChildProcessOptions options;
  options.argv = std::move(argv);
  options.stdout_path = dir.File(std::string(name) + ".stdout");
  options.stderr_path = dir.File(std::string(name) + ".stderr");
  ChildProcess child(std::move(options));
  std::optional<testing::ExitStatus> status = child.Wait(std::chrono::minutes(5));
  if (!status) {
    child.Kill(SIGKILL);
    status = child.Wait(std::chrono::seconds(10));
  }
  RunResult result{status.value_or(testing::ExitStatus{}), child.ReadStderr()};
  return result;
}

struct GeneratorArgs {
  uint64_t events = 1'000'000;
  uint64_t keys = 10'000;
  uint64_t seed = 20261102;
  std::vector<std::string> extra;  // e.g. {"--disorder-ms", "0"}
};

// A generated stream and the files it came with.
struct Stream {
  std::string events_path;
  std::string prices_path;
  std::string expected_path;
  json summary;  // the generator's {"summary": {...}} payload
};

Stream Generate(const ScratchDir& dir, std::string_view name, const GeneratorArgs& args) {
  Stream s;
  s.events_path = dir.File(std::string(name) + ".jsonl");
  s.prices_path = dir.File(std::string(name) + "-prices.yaml");
  s.expected_path = dir.File(std::string(name) + "-expected.jsonl");
  std::vector<std::string> argv = {kGenerator,
                                   "--events",
                                   std::to_string(args.events),
                                   "--keys",
                                   std::to_string(args.keys),
                                   "--seed",
                                   std::to_string(args.seed),
                                   "--out",
                                   s.events_path,
                                   "--expected",
                                   s.expected_path,
                                   "--prices",
                                   s.prices_path};
  argv.insert(argv.end(), args.extra.begin(), args.extra.end());
  const RunResult run = Run(dir, std::string(name) + "-gen", argv);
  if (!run.status.ok()) {
    ADD_FAILURE() << "burnrate-gen-events: " << run.status.ToString() << "\n" << run.stderr_text;
    return s;
  }
  // The summary is the expected file's last line.
  std::ifstream in(s.expected_path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  s.summary = json::parse(last).at("summary");
  return s;
}

// A config that states every setting the expected totals depend on, so a
// change of defaults shows up as a config change rather than a mystery.
std::string WriteConfig(const ScratchDir& dir, const std::string& prices_path) {
  const std::string path = dir.File("config.yaml");
  std::ofstream out(path);
  out << "windows:\n  size: 1m\n  allowed_lateness: 1m\n"
      << "dedup:\n  horizon: 10m\n"
      << "pricing:\n  file: " << json(prices_path).dump() << "\n";
  return path;
}

struct Replay {
  RunResult run;
  std::string windows_path;
  std::string dead_letters_path;
  json summary;  // the {"summary": {...}} payload from stderr
};

Replay RunReplay(const ScratchDir& dir, std::string_view name, const std::string& config,
                 const std::string& input) {
  Replay r;
  r.windows_path = dir.File(std::string(name) + "-windows.jsonl");
  r.dead_letters_path = dir.File(std::string(name) + "-dead.jsonl");
  r.run = Run(dir, name,
              {kBurnrate, "replay", "--config", config, "--input", input, "--windows-out",
               r.windows_path, "--dead-letters-out", r.dead_letters_path});
  std::istringstream err(r.run.stderr_text);
  std::string line;
  while (std::getline(err, line)) {
    if (line.rfind("{\"summary\"", 0) == 0) r.summary = json::parse(line).at("summary");
  }
  return r;
}

// Rows by (window_start, tenant, feature, environment).
using RowKey = std::tuple<std::string, std::string, std::string, std::string>;

// One window row, kept compact (a million-event run has ~135,000 of them).
// A field the row lacks, or holds with the wrong JSON type, stays empty.
constexpr const char* kCountFields[] = {
    "events",           "unpriced_events",   "input_tokens",
    "output_tokens",    "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "layers.prompt",     "layers.tool",
    "layers.memory",    "layers.response"};
constexpr size_t kCountFieldCount = std::size(kCountFields);

struct Row {
  std::string scope;
  std::string window_end;
  std::array<std::optional<int64_t>, kCountFieldCount> counts;
  std::optional<double> cost_usd;
};

std::string Show(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "(absent)"; }

Row ToRow(const json& j) {
  Row row;
  if (j.contains("scope") && j["scope"].is_string()) row.scope = j["scope"];
  if (j.contains("window_end") && j["window_end"].is_string()) row.window_end = j["window_end"];
  for (size_t i = 0; i < kCountFieldCount; ++i) {
    const std::string_view name = kCountFields[i];
    const json* value = nullptr;
    if (name.starts_with("layers.")) {
      if (j.contains("layers") && j["layers"].is_object() && j["layers"].contains(name.substr(7))) {
        value = &j["layers"][std::string(name.substr(7))];
      }
    } else if (j.contains(name)) {
      value = &j[std::string(name)];
    }
    if (value && value->is_number_integer()) row.counts[i] = value->get<int64_t>();
  }
  if (j.contains("cost_usd") && j["cost_usd"].is_number()) row.cost_usd = j["cost_usd"];
  return row;
}

// Reads window rows; a second row for the same key is a failure of its own.
std::map<RowKey, Row> ReadRows(const std::string& path, bool skip_summary) {
  std::map<RowKey, Row> rows;
  std::ifstream in(path);
  std::string line;
  size_t repeated = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    if (skip_summary && j.contains("summary")) continue;
    RowKey key{j.value("window_start", ""), j.value("tenant", ""), j.value("feature", ""),
               j.value("environment", "")};
    if (!rows.emplace(std::move(key), ToRow(j)).second && ++repeated <= 5) {
      ADD_FAILURE() << path << ": row repeated: " << line;
    }
  }
  EXPECT_EQ(repeated, 0u) << path << " has rows for the same window and key more than once";
  return rows;
}

std::string Describe(const RowKey& k) {
  return std::get<0>(k) + " " + json(std::get<1>(k)).dump() + "/" + json(std::get<2>(k)).dump() +
         "/" + json(std::get<3>(k)).dump();
}

// Compares the engine's window rows with the generator's, field by field:
// integers exactly, cost within 1e-9 relative (the generator sums doubles,
// the engine exact picodollars) or 1e-12 absolute around zero.
void ExpectRowsMatch(const std::string& expected_path, const std::string& windows_path) {
  const std::map<RowKey, Row> expected = ReadRows(expected_path, /*skip_summary=*/true);
  const std::map<RowKey, Row> got = ReadRows(windows_path, /*skip_summary=*/false);
  ASSERT_FALSE(expected.empty()) << expected_path;
  size_t missing = 0, wrong = 0, extra = 0;
  const auto report = [](size_t n) { return n <= 10; };
  for (const auto& [key, want] : expected) {
    auto it = got.find(key);
    if (it == got.end()) {
      if (report(++missing)) ADD_FAILURE() << "no window row for " << Describe(key);
      continue;
    }
    const Row& have = it->second;
    std::string diff;
    if (have.scope != "key") diff += " scope=" + have.scope;
    if (have.window_end != want.window_end) diff += " window_end=" + have.window_end;
    for (size_t i = 0; i < kCountFieldCount; ++i) {
      if (!have.counts[i] || have.counts[i] != want.counts[i]) {
        diff += std::string(" ") + kCountFields[i] + "=" + Show(have.counts[i]) + " (want " +
                Show(want.counts[i]) + ")";
      }
    }
    const double want_cost = want.cost_usd.value_or(0);
    const double tolerance = std::max(1e-9 * std::fabs(want_cost), 1e-12);
    if (!have.cost_usd || !(std::fabs(*have.cost_usd - want_cost) <= tolerance)) {
      char text[96];
      std::snprintf(text, sizeof text, " cost_usd=%.12f (want %.17g)", have.cost_usd.value_or(-1),
                    want_cost);
      diff += text;
    }
    if (!diff.empty() && report(++wrong)) ADD_FAILURE() << Describe(key) << ":" << diff;
  }
  for (const auto& [key, row] : got) {
    if (!expected.contains(key) && report(++extra)) {
      ADD_FAILURE() << "unexpected window row " << Describe(key)
                    << " events=" << Show(row.counts[0]);
    }
  }
  EXPECT_EQ(missing, 0u) << "expected rows absent from the output";
  EXPECT_EQ(wrong, 0u) << "rows with different totals";
  EXPECT_EQ(extra, 0u) << "rows nobody expected";
  EXPECT_EQ(got.size(), expected.size());
}

// Dead letters by reason.
std::map<std::string, uint64_t> CountDeadLetters(const std::string& path, uint64_t* total) {
  std::map<std::string, uint64_t> by_reason;
  std::ifstream in(path);
  std::string line;
  *total = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++*total;
    ++by_reason[json::parse(line).at("reason").get<std::string>()];
  }
  return by_reason;
}

uint64_t Get(const json& summary, const char* field) { return summary.at(field).get<uint64_t>(); }

// The whole contract at scale: a million lines over 10,000 keys, the
// default 30 s of disorder (within the 1 minute of allowed lateness), 1%
// duplicates and 1% malformed lines.
TEST(ReplayExactnessTest, MillionEventsMatchIndependentlyComputedTotals) {
  ScratchDir dir{"burnrate-replay"};
  const Stream stream = Generate(dir, "million", {});
  ASSERT_FALSE(stream.summary.is_null());
  const uint64_t duplicates = Get(stream.summary, "duplicates");
  const uint64_t malformed = Get(stream.summary, "malformed");
  ASSERT_EQ(Get(stream.summary, "lines"), 1'000'000u);
  // The generator did what was asked of it, or this test proves less.
  EXPECT_GT(duplicates, 9'000u);
  EXPECT_GT(malformed, 9'000u);
  EXPECT_GT(Get(stream.summary, "unpriced_events"), 500u);

  const Replay replay =
      RunReplay(dir, "replay", WriteConfig(dir, stream.prices_path), stream.events_path);
  ASSERT_TRUE(replay.run.status.ok()) << replay.run.status.ToString() << "\n"
                                      << replay.run.stderr_text.substr(0, 4000);
  ASSERT_FALSE(replay.summary.is_null()) << "no summary line on stderr:\n"
                                         << replay.run.stderr_text.substr(0, 4000);

  ExpectRowsMatch(stream.expected_path, replay.windows_path);

  uint64_t dead_letters = 0;
  const auto by_reason = CountDeadLetters(replay.dead_letters_path, &dead_letters);
  EXPECT_EQ(dead_letters, malformed + duplicates);
  EXPECT_EQ(by_reason.contains("duplicate") ? by_reason.at("duplicate") : 0, duplicates);
  EXPECT_FALSE(by_reason.contains("late")) << "an event within the allowed lateness was dropped";

  EXPECT_EQ(Get(replay.summary, "events"), Get(stream.summary, "events"));
  EXPECT_EQ(Get(replay.summary, "messages"), 1'000'000u);
  EXPECT_EQ(Get(replay.summary, "dead_lettered"), malformed + duplicates);
  EXPECT_EQ(Get(replay.summary, "unpriced_events"), Get(stream.summary, "unpriced_events"));
  EXPECT_EQ(Get(replay.summary, "missing_dimension_events"),
            Get(stream.summary, "missing_dimension_events"));
  EXPECT_EQ(Get(replay.summary, "window_rows"), Get(stream.summary, "window_rows"));
}

// Reorders lines so that each moves by up to `max_shift_ms` of event time:
// line i sorts at its nominal time i * ms_per_line plus a random shift.
std::string ShuffleWithin(const std::string& text, double ms_per_line, double max_shift_ms,
                          uint64_t seed) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = text.find('\n', pos);
    const size_t stop = end == std::string::npos ? text.size() : end;
    lines.emplace_back(text.data() + pos, stop - pos);
    pos = stop + 1;
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> shift(0.0, max_shift_ms);
  std::vector<std::pair<double, size_t>> order(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    order[i] = {static_cast<double>(i) * ms_per_line + shift(rng), i};
  }
  std::sort(order.begin(), order.end());
  std::string out;
  out.reserve(text.size());
  for (const auto& [unused, i] : order) out.append(lines[i]).push_back('\n');
  return out;
}

// Arrival order within the allowed lateness must not change a single byte of
// the closed windows: sums are exact and rows are sorted.
TEST(ReplayExactnessTest, ShuffledWithinLatenessGivesByteIdenticalWindows) {
  ScratchDir dir{"burnrate-replay"};
  // 10,000 lines over 10 minutes, in event-time order (no disorder); re-sends
  // follow their originals by at most 5 s.
  constexpr uint64_t kEvents = 10'000;
  constexpr double kRate = kEvents / 600.0;
  const Stream stream = Generate(
      dir, "sorted", {kEvents, 1'000, 7, {"--rate", std::to_string(kRate), "--disorder-ms", "0"}});
  ASSERT_FALSE(stream.summary.is_null());
  const std::string config = WriteConfig(dir, stream.prices_path);

  // Each line moves by up to 45 s: with second-precision timestamps (up to
  // 1 s early) and re-sends (5 s), everything stays within the 60 s lateness.
  const std::string shuffled_path = dir.File("shuffled.jsonl");
  const std::string sorted_text = ReadFile(stream.events_path);
  const std::string shuffled_text = ShuffleWithin(sorted_text, 1000.0 / kRate, 45'000.0, 99);
  ASSERT_NE(shuffled_text, sorted_text);
  std::ofstream(shuffled_path, std::ios::binary) << shuffled_text;

  const Replay sorted = RunReplay(dir, "replay-sorted", config, stream.events_path);
  const Replay shuffled = RunReplay(dir, "replay-shuffled", config, shuffled_path);
  ASSERT_TRUE(sorted.run.status.ok()) << sorted.run.stderr_text.substr(0, 4000);
  ASSERT_TRUE(shuffled.run.status.ok()) << shuffled.run.stderr_text.substr(0, 4000);

  const std::string sorted_windows = ReadFile(sorted.windows_path);
  ASSERT_FALSE(sorted_windows.empty());
  EXPECT_TRUE(sorted_windows == ReadFile(shuffled.windows_path))
      << "windows differ between arrival orders (" << sorted.windows_path << " vs "
      << shuffled.windows_path << ")";
  ExpectRowsMatch(stream.expected_path, sorted.windows_path);
  // Which copy of a re-sent event counts may change with the order; how many
  // are refused may not.
  EXPECT_EQ(Get(shuffled.summary, "events"), Get(stream.summary, "events"));
  EXPECT_EQ(Get(shuffled.summary, "dead_lettered"),
            Get(stream.summary, "malformed") + Get(stream.summary, "duplicates"));
}

// Both wire spellings (burnrate's flat schema and OpenTelemetry GenAI
// attribute names), alone and mixed, give the same exact totals.
class ReplayFormatTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ReplayFormatTest, MatchesIndependentlyComputedTotals) {
  ScratchDir dir{"burnrate-replay"};
  const Stream stream =
      Generate(dir, GetParam(), {20'000, 500, 11, {"--format", GetParam(), "--rate", "50"}});
  ASSERT_FALSE(stream.summary.is_null());
  const Replay replay =
      RunReplay(dir, "replay", WriteConfig(dir, stream.prices_path), stream.events_path);
  ASSERT_TRUE(replay.run.status.ok()) << replay.run.stderr_text.substr(0, 4000);
  ExpectRowsMatch(stream.expected_path, replay.windows_path);
  EXPECT_EQ(Get(replay.summary, "events"), Get(stream.summary, "events"));
  EXPECT_EQ(Get(replay.summary, "unpriced_events"), Get(stream.summary, "unpriced_events"));
}

INSTANTIATE_TEST_SUITE_P(Formats, ReplayFormatTest, ::testing::Values("flat", "otel", "mixed"),
                         [](const auto& info) { return std::string(info.param); });

// Every way the generator breaks a line is refused for the reason that
// names it, and nothing refused is counted.
TEST(ReplayExactnessTest, EachKindOfBadLineIsRefusedForItsReason) {
  ScratchDir dir{"burnrate-replay"};
  const Stream stream =
      Generate(dir, "bad",
               {20'000,
                200,
                5,
                {"--malformed-fraction", "0.2", "--duplicate-fraction", "0.05", "--rate", "50"}});
  ASSERT_FALSE(stream.summary.is_null());
  const Replay replay =
      RunReplay(dir, "replay", WriteConfig(dir, stream.prices_path), stream.events_path);
  ASSERT_TRUE(replay.run.status.ok()) << replay.run.stderr_text.substr(0, 4000);
  ExpectRowsMatch(stream.expected_path, replay.windows_path);

  uint64_t total = 0;
  std::map<std::string, uint64_t> reasons = CountDeadLetters(replay.dead_letters_path, &total);
  const json& kinds = stream.summary.at("malformed_by_kind");
  const auto kind = [&](const char* name) { return kinds.at(name).get<uint64_t>(); };
  const auto take = [&](const char* reason) {
    const uint64_t n = reasons[reason];
    reasons.erase(reason);
    return n;
  };
  EXPECT_EQ(total, Get(stream.summary, "malformed") + Get(stream.summary, "duplicates"));
  EXPECT_EQ(take("duplicate"), Get(stream.summary, "duplicates"));
  EXPECT_EQ(take("wrong_type"), kind("wrong_type"));
  EXPECT_EQ(take("missing_field"), kind("missing_event_id"));
  EXPECT_EQ(take("invalid_token_count"), kind("negative_tokens") + kind("inconsistent_parts"));
  EXPECT_EQ(take("timestamp_out_of_range"), kind("ancient_timestamp"));
  // A line cut short inside a multi-byte character is invalid UTF-8 before
  // it is broken JSON; either reason is right for it.
  EXPECT_EQ(take("malformed_json") + take("invalid_utf8"),
            kind("broken_json") + kind("invalid_utf8"));
  for (const auto& [reason, n] : reasons) {
    if (n) ADD_FAILURE() << n << " dead letters with unexpected reason " << reason;
  }
}

}  // namespace
}  // namespace burnrate
