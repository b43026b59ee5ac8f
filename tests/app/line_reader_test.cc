// Replay's input path: lines split as a JSON Lines reader should, and each
// one followed by the readable bytes the in-place decoder relies on.
#include "app/line_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/scratch.h"

namespace burnrate {
namespace {

constexpr size_t kPadding = 64;

// Reads every line of `text` (written to a file), checking that the bytes
// behind each line may be read (AddressSanitizer reports it if not).
std::vector<std::string> ReadAll(const std::string& text, size_t padding = kPadding) {
  testing::ScratchDir dir;
  const std::string path = dir.File("events.jsonl");
  std::ofstream(path, std::ios::binary) << text;
  LineReader reader(path, padding);
  EXPECT_TRUE(reader.ok()) << reader.error();
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.Next(line)) {
    lines.emplace_back(line);
    if (padding > 0) {
      [[maybe_unused]] volatile char last_behind = line.data()[line.size() + padding - 1];
    }
  }
  EXPECT_TRUE(reader.error().empty()) << reader.error();
  return lines;
}

TEST(LineReaderTest, SplitsLinesDropsCarriageReturnsAndKeepsALastLineWithoutNewline) {
  EXPECT_EQ(ReadAll("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}"),
            (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"}));
  EXPECT_TRUE(ReadAll("").empty());
}

// Lines far longer than the reader's first buffer (1 MiB) make it grow and
// move what it holds; each line still comes out whole with its padding.
TEST(LineReaderTest, LinesLongerThanTheBufferComeOutWhole) {
  const std::string long_line(3 << 20, 'x');
  const std::string short_line = "{\"event_id\":\"e\"}";
  std::string text;
  for (int i = 0; i < 3; ++i) text += short_line + "\n" + long_line + "\n";
  text += long_line;  // at the very end of the input, no newline
  const std::vector<std::string> lines = ReadAll(text);
  ASSERT_EQ(lines.size(), 7u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].size(), i % 2 == 0 && i < 6 ? short_line.size() : long_line.size())
        << "line " << i;
  }
}

// A file that fills the reader's first buffer (1 MiB) exactly: its line
// ends one byte before the buffer does, and the padding behind the newline
// reads as zeros.
TEST(LineReaderTest, ALineThatEndsTheBufferIsFollowedByZeros) {
  testing::ScratchDir dir;
  const std::string path = dir.File("exact.jsonl");
  const std::string line((1 << 20) - 1, 'y');
  std::ofstream(path, std::ios::binary) << line << "\n";
  LineReader reader(path, kPadding);
  std::string_view got;
  ASSERT_TRUE(reader.Next(got));
  ASSERT_EQ(got.size(), line.size());
  EXPECT_EQ(got.data()[got.size()], '\n');
  for (size_t i = 1; i < kPadding; ++i) EXPECT_EQ(got.data()[got.size() + i], '\0') << "byte " << i;
  EXPECT_FALSE(reader.Next(got));
}

}  // namespace
}  // namespace burnrate
