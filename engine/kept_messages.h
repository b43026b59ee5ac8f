// The raw messages behind counted state that is not durable yet, kept so a
// checkpoint refused for duplicates can be counted again from memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace burnrate {

// Recycles the fixed-size blocks KeptMessages stores bytes in. A drain keeps
// about a checkpoint interval of messages per partition and lets them go a
// moment later; fresh memory for each would cost more in page faults (the
// kernel zeroing new pages) than the copy itself. Not thread-safe: owned by
// the polling thread with the buffers that use it, and must outlive them.
class BlockPool {
 public:
  static constexpr size_t kBlockBytes = size_t{1} << 20;

  // `max_idle_blocks` bounds the memory held while nothing is kept.
  explicit BlockPool(size_t max_idle_blocks = 64) : max_idle_blocks_(max_idle_blocks) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  std::unique_ptr<char[]> Take();
  void Give(std::unique_ptr<char[]> block);
  size_t idle_blocks() const { return idle_.size(); }

 private:
  size_t max_idle_blocks_;
  std::vector<std::unique_ptr<char[]>> idle_;
};

// Messages (offset and bytes) in arrival order, in pooled blocks: adding
// never moves what is already stored, and Append() hands whole blocks over
// instead of copying. A message larger than a block gets a block of its own
// (not pooled). Movable, not copyable; blocks go back to the pool when the
// buffer is destroyed or cleared.
class KeptMessages {
 public:
  KeptMessages() = default;
  explicit KeptMessages(BlockPool& pool) : pool_(&pool) {}
  ~KeptMessages() { Clear(); }
  KeptMessages(KeptMessages&& other) noexcept;
  KeptMessages& operator=(KeptMessages&& other) noexcept;
  KeptMessages(const KeptMessages&) = delete;
  KeptMessages& operator=(const KeptMessages&) = delete;

  void Add(int64_t offset, std::string_view payload);
  // Moves every message of `other` after this buffer's, leaving it empty.
  void Append(KeptMessages&& other);
  void Clear();

  size_t size() const { return messages_.size(); }
  bool empty() const { return messages_.empty(); }
  // The messages' bytes (not the blocks' capacity).
  size_t bytes() const { return bytes_; }

  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Message& m : messages_) fn(m.offset, std::string_view(m.data, m.length));
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    size_t used = 0;
    bool pooled = false;
  };
  struct Message {
    int64_t offset;
    const char* data;  // inside one of blocks_, which never move their bytes
    size_t length;
  };

  BlockPool* pool_ = nullptr;
  std::vector<Block> blocks_;
  std::vector<Message> messages_;
  size_t bytes_ = 0;
};

}  // namespace burnrate
