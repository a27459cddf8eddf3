// Memory for the bulk bytes of a loaded trace: the syscall buffer's records,
// which are as large as everything the program read (a 200 MB copy holds
// 200 MB of them). Taken from large mappings advised as transparent huge
// pages and given back together with the trace: on a VM where each 4 KiB
// page fault costs microseconds, faulting in hundreds of megabytes a page at
// a time cost more than the replay itself.
#pragma once

#include <cstddef>
#include <memory_resource>
#include <vector>

namespace backstep::trace {

class BulkArena : public std::pmr::memory_resource {
 public:
  BulkArena() = default;
  BulkArena(const BulkArena&) = delete;
  BulkArena& operator=(const BulkArena&) = delete;
  ~BulkArena() override;

 private:
  struct Block {
    std::byte* base;
    size_t size;
  };
  void* do_allocate(size_t bytes, size_t alignment) override;
  // Freed with the arena: a loaded trace's records live as long as it does.
  void do_deallocate(void*, size_t, size_t) override {}
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::vector<Block> blocks_;
  std::byte* next_ = nullptr;  // free space in the last block
  std::byte* end_ = nullptr;
};

}  // namespace backstep::trace
