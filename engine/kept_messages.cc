#include "engine/kept_messages.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace burnrate {

std::unique_ptr<char[]> BlockPool::Take() {
  if (idle_.empty()) return std::make_unique_for_overwrite<char[]>(kBlockBytes);
  std::unique_ptr<char[]> block = std::move(idle_.back());
  idle_.pop_back();
  return block;
}

void BlockPool::Give(std::unique_ptr<char[]> block) {
  if (idle_.size() < max_idle_blocks_) idle_.push_back(std::move(block));
}

KeptMessages::KeptMessages(KeptMessages&& other) noexcept
    : pool_(other.pool_),
      blocks_(std::move(other.blocks_)),
      messages_(std::move(other.messages_)),
      bytes_(other.bytes_) {
  other.blocks_.clear();
  other.messages_.clear();
  other.bytes_ = 0;
}

KeptMessages& KeptMessages::operator=(KeptMessages&& other) noexcept {
  if (this != &other) {
    Clear();
    pool_ = other.pool_;
    blocks_ = std::move(other.blocks_);
    messages_ = std::move(other.messages_);
    bytes_ = other.bytes_;
    other.blocks_.clear();
    other.messages_.clear();
    other.bytes_ = 0;
  }
  return *this;
}

void KeptMessages::Add(int64_t offset, std::string_view payload) {
  const size_t length = payload.size();
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().used < length) {
    Block block;
    block.pooled = pool_ != nullptr && length <= BlockPool::kBlockBytes;
    block.capacity = std::max(length, BlockPool::kBlockBytes);
    block.data =
        block.pooled ? pool_->Take() : std::make_unique_for_overwrite<char[]>(block.capacity);
    blocks_.push_back(std::move(block));
  }
  Block& block = blocks_.back();
  char* at = block.data.get() + block.used;
  if (length > 0) std::memcpy(at, payload.data(), length);
  block.used += length;
  bytes_ += length;
  messages_.push_back({offset, at, length});
}

void KeptMessages::Append(KeptMessages&& other) {
  if (&other == this) return;
  if (pool_ == nullptr) pool_ = other.pool_;
  // Blocks keep their bytes where they are, so the messages' pointers stay
  // valid; the last block of this buffer simply stops being filled.
  for (Block& b : other.blocks_) blocks_.push_back(std::move(b));
  messages_.insert(messages_.end(), other.messages_.begin(), other.messages_.end());
  bytes_ += other.bytes_;
  other.blocks_.clear();
  other.messages_.clear();
  other.bytes_ = 0;
}

void KeptMessages::Clear() {
  for (Block& b : blocks_) {
    if (b.pooled && pool_ != nullptr) pool_->Give(std::move(b.data));
  }
  blocks_.clear();
  messages_.clear();
  bytes_ = 0;
}

}  // namespace burnrate
