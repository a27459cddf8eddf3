// An allocator whose vectors leave new elements default-initialized on
// resize(): for a trivial type, not written at all. For buffers that a read
// fills right after resizing, where zero-filling first would touch every
// byte twice.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace backstep {

template <class T, class Base = std::allocator<T>>
class DefaultInitAllocator : public Base {
  using Traits = std::allocator_traits<Base>;

 public:
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U, typename Traits::template rebind_alloc<U>>;
  };
  using Base::Base;

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    Traits::construct(static_cast<Base&>(*this), p, std::forward<Args>(args)...);
  }
};

}  // namespace backstep
