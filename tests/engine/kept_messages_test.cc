// KeptMessages: messages come back intact and in order across blocks, and
// blocks are recycled through the pool instead of freed.
#include "engine/kept_messages.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace burnrate {
namespace {

std::vector<std::pair<int64_t, std::string>> Contents(const KeptMessages& kept) {
  std::vector<std::pair<int64_t, std::string>> out;
  kept.ForEach([&out](int64_t offset, std::string_view payload) {
    out.emplace_back(offset, std::string(payload));
  });
  return out;
}

TEST(KeptMessages, KeepsMessagesInOrderAcrossBlocks) {
  BlockPool pool;
  KeptMessages kept(pool);
  std::vector<std::pair<int64_t, std::string>> expected;
  // ~3.5 blocks of messages whose sizes do not divide the block size.
  for (int64_t offset = 0; offset < 12'000; ++offset) {
    std::string payload(300 + offset % 17, static_cast<char>('a' + offset % 26));
    kept.Add(offset, payload);
    expected.emplace_back(offset, std::move(payload));
  }
  kept.Add(12'000, "");
  expected.emplace_back(12'000, "");
  EXPECT_EQ(Contents(kept), expected);
  EXPECT_EQ(kept.size(), expected.size());
  size_t bytes = 0;
  for (const auto& [offset, payload] : expected) bytes += payload.size();
  EXPECT_EQ(kept.bytes(), bytes) << "the messages' bytes, not the blocks'";
  kept.Clear();
  EXPECT_EQ(kept.bytes(), 0u);
}

TEST(KeptMessages, AMessageLargerThanABlockIsKeptWhole) {
  BlockPool pool;
  KeptMessages kept(pool);
  const std::string big(BlockPool::kBlockBytes + 123, 'x');
  kept.Add(1, "before");
  kept.Add(2, big);
  kept.Add(3, "after");
  const auto contents = Contents(kept);
  ASSERT_EQ(contents.size(), 3u);
  EXPECT_EQ(contents[1].second, big);
  EXPECT_EQ(contents[2].second, "after");
  kept.Clear();
  EXPECT_EQ(pool.idle_blocks(), 2u)
      << "the two pooled blocks come back; the oversized one is freed";
}

TEST(KeptMessages, AppendHandsTheBytesOverWithoutCopying) {
  BlockPool pool;
  KeptMessages first(pool);
  KeptMessages second(pool);
  first.Add(10, "ten");
  second.Add(11, "eleven");
  second.Add(12, "twelve");
  const char* eleven_at = nullptr;
  second.ForEach([&](int64_t offset, std::string_view p) {
    if (offset == 11) eleven_at = p.data();
  });
  first.Append(std::move(second));
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(second.bytes(), 0u);
  EXPECT_EQ(first.bytes(), 3u + 6u + 6u);
  EXPECT_EQ(Contents(first), (std::vector<std::pair<int64_t, std::string>>{
                                 {10, "ten"}, {11, "eleven"}, {12, "twelve"}}));
  first.ForEach([&](int64_t offset, std::string_view p) {
    if (offset == 11) {
      EXPECT_EQ(p.data(), eleven_at);
    }
  });
  // Adding after an append fills on; nothing already kept moves.
  first.Add(13, "thirteen");
  EXPECT_EQ(Contents(first).back(), (std::pair<int64_t, std::string>{13, "thirteen"}));
}

TEST(KeptMessages, BlocksGoBackToThePoolAndAreReused) {
  BlockPool pool(/*max_idle_blocks=*/2);
  {
    KeptMessages kept(pool);
    const std::string payload(BlockPool::kBlockBytes / 2 + 1, 'p');  // one per block
    for (int i = 0; i < 4; ++i) kept.Add(i, payload);
    KeptMessages moved = std::move(kept);
    EXPECT_EQ(pool.idle_blocks(), 0u);
  }
  EXPECT_EQ(pool.idle_blocks(), 2u) << "at most max_idle_blocks are held while idle";
  KeptMessages again(pool);
  again.Add(0, "reused");
  EXPECT_EQ(pool.idle_blocks(), 1u);
}

}  // namespace
}  // namespace burnrate
