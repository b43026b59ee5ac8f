// `burnrate simulate` as a user runs it: files out, the same bytes for the
// same seed, exit code 2 with a message for bad options, and real-time mode
// holding back events until their time.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/time_format.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace burnrate {
namespace {

using testing::ChildProcess;
using testing::ExitStatus;
using testing::ReadFile;

class SimulateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("burnrate-simulate-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  ExitStatus Run(std::vector<std::string> args, std::string* err = nullptr) {
    args.insert(args.begin(), {BURNRATE_BIN, "simulate"});
    ChildProcess child(args);
    const std::optional<ExitStatus> status = child.Wait(std::chrono::seconds(60));
    EXPECT_TRUE(status.has_value()) << "still running";
    if (err) *err = child.ReadStderr();
    return status.value_or(ExitStatus{});
  }

  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::filesystem::path dir_;
};

TEST_F(SimulateCommandTest, WritesEventsLabelsAndMetaDeterministically) {
  const std::vector<std::string> args = {"--days", "2", "--warmup-days", "1", "--seed", "5",
                                         "--incidents-per-day", "6", "--tenants", "40",
                                         "--labels-out", Path("labels.jsonl"), "--meta-out", Path("meta.json")};
  std::vector<std::string> first = args;
  first.insert(first.end(), {"--out", Path("a.jsonl")});
  std::string err;
  ASSERT_TRUE(Run(first, &err).ok()) << err;
  const nlohmann::json summary = nlohmann::json::parse(Lines(err).back());
  EXPECT_GT(summary["summary"]["events"].get<int64_t>(), 1000);

  const std::string events = ReadFile(Path("a.jsonl"));
  const std::vector<std::string> lines = Lines(events);
  EXPECT_EQ(static_cast<int64_t>(lines.size()), summary["summary"]["events"].get<int64_t>());
  int64_t last_ts = 0;
  for (size_t i = 0; i < lines.size(); i += 97) {
    const nlohmann::json e = nlohmann::json::parse(lines[i]);
    for (const char* field : {"event_id", "ts", "tenant", "feature", "environment", "provider", "model",
                              "input_tokens", "output_tokens", "layers"}) {
      EXPECT_TRUE(e.contains(field)) << field << " in " << lines[i];
    }
    EXPECT_GE(e["ts"].get<int64_t>(), last_ts);
    last_ts = e["ts"].get<int64_t>();
  }

  const nlohmann::json meta = nlohmann::json::parse(ReadFile(Path("meta.json")));
  EXPECT_EQ(meta["seed"], 5);
  EXPECT_EQ(meta["start"], "2026-03-02T00:00:00.000Z");
  EXPECT_EQ(meta["warmup_end"], "2026-03-03T00:00:00.000Z");
  EXPECT_EQ(meta["end"], "2026-03-04T00:00:00.000Z");
  const std::vector<std::string> labels = Lines(ReadFile(Path("labels.jsonl")));
  EXPECT_EQ(labels.size(), 6u);
  for (const std::string& line : labels) {
    const nlohmann::json l = nlohmann::json::parse(line);
    EXPECT_GE(l["start_ms"].get<int64_t>(), meta["warmup_end_ms"].get<int64_t>());
    EXPECT_TRUE(l["expected_alerts"].is_array());
  }

  std::vector<std::string> second = args;
  second.insert(second.end(), {"--out", Path("b.jsonl")});
  ASSERT_TRUE(Run(second).ok());
  EXPECT_TRUE(ReadFile(Path("b.jsonl")) == events) << "same seed, different bytes";
}

TEST_F(SimulateCommandTest, BadOptionsExitTwoWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--days", "0"}, "days"},
      {{"--days", "3", "--warmup-days", "3"}, "warm-up"},
      {{"--start", "yesterday"}, "--start"},
      {{"--incident", "meteor_strike@+1m"}, "unknown kind"},
      {{"--incident", "retry_loop@soon"}, "--incident"},
      {{"--incident", "retry_loop"}, "KIND@WHEN"},
      {{"--scale", "-1"}, "scale"},
      {{"--no-such-option"}, "no-such-option"},
      {{"--days", "many"}, "days"},
  };
  for (const auto& [args, expected] : cases) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--out", Path("never.jsonl")});
    std::string err;
    const ExitStatus status = Run(full, &err);
    EXPECT_TRUE(status.exited && status.code == 2) << args[0] << ": " << status.ToString();
    EXPECT_NE(err.find(expected), std::string::npos) << args[0] << ": " << err;
  }
}

TEST_F(SimulateCommandTest, HelpDocumentsTheOptions) {
  ChildProcess child({BURNRATE_BIN, "simulate", "--help"});
  const std::optional<ExitStatus> status = child.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status && status->ok());
  const std::string help = child.ReadStdout();
  for (const char* option : {"--days", "--warmup-days", "--seed", "--start", "--tenants", "--incidents-per-day",
                             "--out", "--kafka-brokers", "--kafka-topic", "--labels-out", "--meta-out", "--scale",
                             "--realtime", "--incident", "--no-random-incidents", "--malformed-fraction"}) {
    EXPECT_NE(help.find(option), std::string::npos) << option;
  }
}

TEST_F(SimulateCommandTest, RealtimeHoldsFutureEventsBack) {
  // One simulated day that ends ten minutes from now: all but the last ten
  // minutes is history and comes at once; the rest waits for the clock.
  const int64_t now = WallClockMs();
  const int64_t start = (now + 10 * 60'000 - 86'400'000) / 60'000 * 60'000;
  testing::ChildProcessOptions options;
  options.argv = {BURNRATE_BIN, "simulate", "--days", "1", "--warmup-days", "0", "--tenants", "20",
                  "--no-random-incidents", "--realtime", "--start", FormatRfc3339Ms(start), "--out", "-",
                  "--incident", "unpriced_model@+5m"};
  options.stdout_path = Path("out.jsonl");
  ChildProcess child(options);
  // History arrives without waiting: a line stamped within the last minutes.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const std::vector<std::string> lines = Lines(ReadFile(Path("out.jsonl")));
        return lines.size() > 10 &&
               nlohmann::json::parse(lines[lines.size() - 2])["ts"].get<int64_t>() > now - 10 * 60'000;
      },
      std::chrono::seconds(30), "history written"));
  const int64_t checked_at = WallClockMs();
  for (const std::string& line : Lines(ReadFile(Path("out.jsonl")))) {
    if (line.empty() || line.back() != '}') continue;  // a line being written
    EXPECT_LE(nlohmann::json::parse(line)["ts"].get<int64_t>(), checked_at + 1000) << "an event from the future";
  }
  EXPECT_TRUE(child.Running());
  child.Kill(SIGTERM);
  const std::optional<ExitStatus> status = child.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok()) << status->ToString();
  EXPECT_NE(child.ReadStderr().find("\"stopped_early\":true"), std::string::npos);
}

}  // namespace
}  // namespace burnrate
