// `burnrate simulate --kafka-brokers`: every event reaches the topic once,
// keyed by its tenant, and the events are the ones the file output has.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/stack.h"

namespace burnrate {
namespace {

using testing::ChildProcess;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(SimulateKafkaTest, EventsArePublishedKeyedByTenant) {
  const std::string brokers = testing::Stack().kafka_brokers;
  const std::string topic = testing::CreateTopic(3, "simulate");
  const std::vector<std::string> common = {BURNRATE_BIN, "simulate", "--days", "1", "--warmup-days", "0",
                                           "--tenants", "10", "--scale", "0.3", "--seed", "9"};

  std::vector<std::string> to_kafka = common;
  to_kafka.insert(to_kafka.end(), {"--kafka-brokers", brokers, "--kafka-topic", topic});
  ChildProcess publisher(to_kafka);
  const auto published = publisher.Wait(std::chrono::seconds(120));
  ASSERT_TRUE(published && published->ok()) << publisher.ReadStderr();
  EXPECT_EQ(publisher.ReadStdout(), "") << "with Kafka and no --out, nothing on stdout";

  const std::string file = (std::filesystem::temp_directory_path() /
                            ("burnrate-simulate-kafka-" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  std::vector<std::string> to_file = common;
  to_file.insert(to_file.end(), {"--out", file});
  ChildProcess writer(to_file);
  const auto written = writer.Wait(std::chrono::seconds(120));
  ASSERT_TRUE(written && written->ok()) << writer.ReadStderr();
  std::vector<std::string> expected = Lines(testing::ReadFile(file));
  std::filesystem::remove(file);
  ASSERT_GT(expected.size(), 100u);

  const auto messages = testing::ReadAll(topic, std::chrono::seconds(60));
  std::vector<std::string> got;
  for (const auto& [key, value] : messages) {
    EXPECT_EQ(key, nlohmann::json::parse(value)["tenant"].get<std::string>());
    got.push_back(value);
  }
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the topic holds other events than the file";
}

}  // namespace
}  // namespace burnrate
