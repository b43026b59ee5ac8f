// Replay's input path: lines split as a JSON Lines reader should, whatever
// their length against the reader's buffer.
#include "app/line_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/scratch.h"

namespace burnrate {
namespace {

std::vector<std::string> ReadAll(const std::string& text) {
  testing::ScratchDir dir;
  const std::string path = dir.File("events.jsonl");
  std::ofstream(path, std::ios::binary) << text;
  LineReader reader(path);
  EXPECT_TRUE(reader.ok()) << reader.error();
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.Next(line)) lines.emplace_back(line);
  EXPECT_TRUE(reader.error().empty()) << reader.error();
  return lines;
}

TEST(LineReaderTest, SplitsLinesDropsCarriageReturnsAndKeepsALastLineWithoutNewline) {
  EXPECT_EQ(ReadAll("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}"),
            (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"}));
  EXPECT_TRUE(ReadAll("").empty());
}

// Lines far longer than the reader's first buffer (1 MiB) make it grow and
// move what it holds; each line still comes out whole, in order.
TEST(LineReaderTest, LinesLongerThanTheBufferComeOutWhole) {
  const std::string long_line(3 << 20, 'x');
  std::string text;
  for (int i = 0; i < 3; ++i)
    text += "{\"event_id\":\"e" + std::to_string(i) + "\"}\n" + long_line + "\n";
  text += long_line;  // at the very end of the input, no newline
  const std::vector<std::string> lines = ReadAll(text);
  ASSERT_EQ(lines.size(), 7u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[2 * i], "{\"event_id\":\"e" + std::to_string(i) + "\"}");
    EXPECT_EQ(lines[2 * i + 1], long_line) << "line " << 2 * i + 1;
  }
  EXPECT_EQ(lines[6], long_line);
}

// A line that ends exactly where the first buffer does.
TEST(LineReaderTest, ALineThatFillsTheBufferExactly) {
  const std::string line((1 << 20) - 1, 'y');
  EXPECT_EQ(ReadAll(line + "\n" + "{}\n"), (std::vector<std::string>{line, "{}"}));
}

TEST(LineReaderTest, AMissingFileIsAnErrorThatNamesIt) {
  LineReader reader("/nonexistent/burnrate-events.jsonl");
  EXPECT_FALSE(reader.ok());
  EXPECT_NE(reader.error().find("/nonexistent/burnrate-events.jsonl"), std::string::npos)
      << reader.error();
  std::string_view line;
  EXPECT_FALSE(reader.Next(line));
}

}  // namespace
}  // namespace burnrate
