// An allocator for the few tables that every event touches at a random
// place and that outgrow the CPU caches (the dedup and claim tables: every
// event id of the horizon). With 4 KiB pages each lookup also misses the
// TLB; backed by 2 MiB transparent huge pages, a 10 MB table needs five TLB
// entries instead of 2,500. Blocks below kMinBytes come from operator new as
// usual, so small tables (and small deployments) are unaffected.
//
// Huge pages are a hint (madvise): where the kernel has transparent huge
// pages off, or none free, the block is ordinary memory. Linux only.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace burnrate {

namespace huge_pages {

inline constexpr size_t kPageBytes = size_t{2} << 20;
// Smaller blocks gain little and would waste up to a page each.
inline constexpr size_t kMinBytes = size_t{4} << 20;

inline size_t RoundUp(size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

// `bytes` (a multiple of kPageBytes) of zeroed memory starting on a huge page
// boundary, so that the kernel can back all of it with huge pages.
inline void* Map(size_t bytes) {
  // Over-allocate by one page, then give back what lies outside the aligned range.
  const size_t mapped = bytes + kPageBytes;
  void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t tail = aligned + bytes;
  if (start + mapped > tail) munmap(reinterpret_cast<void*>(tail), start + mapped - tail);
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // a hint: failure is harmless
  return reinterpret_cast<void*>(aligned);
}

inline void Unmap(void* p, size_t bytes) { munmap(p, bytes); }

}  // namespace huge_pages

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() noexcept = default;
  // Rebinding, as std::allocator allows: Abseil allocates its arrays as
  // other types than the map's values.
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < huge_pages::kMinBytes) return std::allocator<T>().allocate(n);
    static_assert(alignof(T) <= huge_pages::kPageBytes);
    return static_cast<T*>(huge_pages::Map(huge_pages::RoundUp(bytes)));
  }

  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < huge_pages::kMinBytes) return std::allocator<T>().deallocate(p, n);
    huge_pages::Unmap(p, huge_pages::RoundUp(bytes));
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;  // stateless: any instance frees what another allocated
  }
};

}  // namespace burnrate
