#include "core/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace burnrate {
namespace {

// The mode in /sys/kernel/mm/transparent_hugepage/enabled ("always",
// "madvise" or "never"), or "" where the kernel has no such file.
std::string TransparentHugePageMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text;
  std::getline(in, text);
  const size_t open = text.find('['), close = text.find(']');
  return open == std::string::npos || close == std::string::npos
             ? ""
             : text.substr(open + 1, close - open - 1);
}

// A field of the /proc/self/smaps entry of the mapping that holds `address`
// ("AnonHugePages:", "VmFlags:"): the rest of its line, or "" if none.
std::string SmapsField(const void* address, std::string_view field) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream fields(line);
    if (fields >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= at && at < end;
    } else if (inside && line.starts_with(field)) {
      return line.substr(field.size());
    }
  }
  return "";
}

TEST(HugePageAllocatorTest, SmallBlocksComeFromTheUsualHeap) {
  HugePageAllocator<uint64_t> allocator;
  uint64_t* p = allocator.allocate(1000);
  for (size_t i = 0; i < 1000; ++i) p[i] = i;
  EXPECT_EQ(p[999], 999u);
  allocator.deallocate(p, 1000);
}

TEST(HugePageAllocatorTest, ALargeBlockIsZeroedAlignedAndAdvisedForHugePages) {
  constexpr size_t kBytes = 24u << 20;
  HugePageAllocator<char> allocator;
  char* p = allocator.allocate(kBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % huge_pages::kPageBytes, 0u);
  bool zeroed = true;
  for (size_t i = 0; i < kBytes; i += 4096) {
    zeroed = zeroed && p[i] == 0;
    p[i] = 1;  // touched, so that the pages are there to be counted
  }
  EXPECT_TRUE(zeroed);
  // What the allocator controls is the request ("hg": MADV_HUGEPAGE); whether
  // the kernel grants it depends on its setting and on free memory.
  // A kernel built without transparent huge pages refuses the request.
  const std::string flags = SmapsField(p, "VmFlags:");
  if (!TransparentHugePageMode().empty()) {
    EXPECT_NE(flags.find(" hg"), std::string::npos) << "VmFlags:" << flags;
  }
  std::printf("transparent huge pages '%s': AnonHugePages:%s for the block\n",
              TransparentHugePageMode().c_str(), SmapsField(p, "AnonHugePages:").c_str());
  allocator.deallocate(p, kBytes);
}

// The dedup table's use: an Abseil map that grows through small and large
// backing arrays and frees each old one as it moves.
TEST(HugePageAllocatorTest, AnAbseilMapGrowsAndShrinksThroughIt) {
  absl::flat_hash_map<uint64_t, int64_t, std::hash<uint64_t>, std::equal_to<uint64_t>,
                      HugePageAllocator<std::pair<const uint64_t, int64_t>>>
      map;
  constexpr uint64_t kEntries = 1'000'000;  // a backing array of about 32 MB
  for (uint64_t i = 0; i < kEntries; ++i)
    map.emplace(i * 0x9e3779b97f4a7c15ull, static_cast<int64_t>(i));
  ASSERT_EQ(map.size(), kEntries);
  for (uint64_t i = 0; i < kEntries; i += 997) {
    auto it = map.find(i * 0x9e3779b97f4a7c15ull);
    ASSERT_NE(it, map.end());
    EXPECT_EQ(it->second, static_cast<int64_t>(i));
  }
  absl::erase_if(map, [](const auto& entry) { return entry.second % 2 == 0; });
  EXPECT_EQ(map.size(), kEntries / 2);
  map.clear();
  map.rehash(0);  // gives the large array back
  EXPECT_TRUE(map.empty());
}

}  // namespace
}  // namespace burnrate
