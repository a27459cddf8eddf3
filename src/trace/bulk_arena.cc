#include "trace/bulk_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace backstep::trace {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kBlockBytes = size_t{64} << 20;

}  // namespace

BulkArena::~BulkArena() {
  for (const Block& b : blocks_) ::munmap(b.base, b.size);
}

void* BulkArena::do_allocate(size_t bytes, size_t alignment) {
  auto aligned = [&](std::byte* p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    return reinterpret_cast<std::byte*>((a + alignment - 1) & ~(uintptr_t{alignment} - 1));
  };
  if (!next_ || aligned(next_) + bytes > end_) {
    // A block of its own for what does not fit, a whole one otherwise;
    // huge-page aligned so that the kernel can back it with huge pages.
    const size_t size =
        std::max(kBlockBytes, (bytes + alignment + kHugePage - 1) & ~(kHugePage - 1));
    void* p = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto* raw = static_cast<std::byte*>(p);
    auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(raw) + kHugePage - 1) &
                                              ~(uintptr_t{kHugePage} - 1));
    // The unaligned head and tail back to the kernel.
    if (base > raw) ::munmap(raw, static_cast<size_t>(base - raw));
    const size_t tail = static_cast<size_t>(raw + size + kHugePage - (base + size));
    if (tail) ::munmap(base + size, tail);
    (void)::madvise(base, size, MADV_HUGEPAGE);  // a hint: fine without it
    blocks_.push_back({base, size});
    next_ = base;
    end_ = base + size;
  }
  std::byte* out = aligned(next_);
  next_ = out + bytes;
  return out;
}

}  // namespace backstep::trace
