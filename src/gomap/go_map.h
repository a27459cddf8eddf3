// backstep::GoMap: Go's classic hash map (runtime/map.go of the Go 1.22 era)
// re-implemented in C++, with the same bucket layout, incremental growth,
// iteration order randomisation, flag bits and fatal "concurrent map ..."
// checks, and an event published at every flag transition and growth step
// so that backstep's recorder can see map state change exactly where Go's
// runtime changes it.
//
// Where this differs from Go, and why:
//  - Keys and values are stored inline even when larger than 128 bytes (Go
//    stores those indirectly); the tracer walks buckets with the header's
//    key_size/value_size/offsets only.
//  - C++ objects need lifetimes that Go's garbage collector provides for
//    free. A bucket array (with the overflow buckets chained to it) is
//    reference counted: the map holds one reference to `buckets` and one to
//    `oldbuckets`; every iterator holds one to its snapshot array and to any
//    other array it is reading from. Growth "frees" the old array by dropping
//    the map's reference. Old keys/values are destroyed at evacuation only
//    when Go would clear them (oldIterator clear) *and* no iterator holds the
//    array; otherwise they stay alive until the array is released.
//  - mapclone sizes the clone with min(B for the count, source B), so that its
//    bucket-by-bucket copy never reads past the source array (Go's would when
//    a same-size growth let count exceed the load factor).
//  - The iterator's *it yields std::pair<const K&, V&> referring into the
//    map. Copy what you need before erasing that key or clearing the map;
//    other writes (including growth) leave the references valid until the
//    iterator advances. Iterators must not outlive their map.
//  - clear() reuses the bucket array like Go unless an iterator still reads
//    it; then the iterator keeps the old (emptied) array and the map gets a
//    fresh one.
//  - clear() that abandons a growth publishes no kGrowFinish (Go's mapclear
//    just drops oldbuckets); its kWriteEnd shows the new state.
//  - The hash is Hash{}(key) mixed with the per-map seed hash0. Go hashes a
//    NaN randomly; std::hash gives equal NaN bit patterns equal hashes, so
//    such NaNs share one bucket chain. They are still never found and still
//    evacuated by Go's NaN rule.
//  - makeBucketArray's rounding up to a malloc size class is not reproduced
//    (the 2^(B-4) preallocated overflow buckets are).
//  - A K/V constructor, Hash or Eq that throws during a write leaves
//    hashWriting set (as a panic after the XOR would in Go); the next write
//    dies with "concurrent map writes".
//
// Concurrency is Go's: any number of readers (lookups, clone, range loops,
// on const maps too) may run at once; a writer concurrent with anything is a
// bug that the checks catch on a best-effort basis. Ranging writes the
// header (the iterator bits, with an atomic or as in Go; live_iterators),
// hence the mutable header; array reference counts are atomic.
//
// Events (see abi::MapEventKind): flags_before/flags_after bracket the
// transition, B/count/nevacuate are the state after it. Per kind:
//  kIterStart   one per iterator started on a non-empty map (empty maps set
//               no bits and publish nothing, like mapiterinit).
//  kIterStep    one per mapiternext call that passed the hashWriting check,
//               including the one that finds the end.
//  kWriteBegin/kWriteEnd  around every assign/delete/clear that got past the
//               entry check (delete of an absent key included).
//  kGrowStart   arg0 = old B, arg1 = new B, arg2 = 1 for a same-size growth.
//  kEvacuate    one per old bucket actually evacuated: arg1 = old bucket
//               index, the event's nevacuate = the mark after
//               advanceEvacuationMark ran, arg2 = 1 if the old keys/values
//               were kept alive for iterators. arg0 is unused (0): a uint8
//               cannot hold a bucket index. NOTE: abi.h still documents
//               "arg0 = old bucket index, arg1 = nevacuate after".
//  kGrowFinish  published after kEvacuate of the bucket that completed it.
//  kFatal       from rt::map_fatal; arg0 = FatalKind, arg1 = GoMapFatalSite.
// With BACKSTEP_NO_MAP_HOOKS defined every event (and PutAll's outer-op
// marker) compiles away; the fatal checks stay. Define it consistently for
// a whole program: the two variants are different definitions of the same
// inline functions.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/abi.h"
#include "runtime/runtime.h"

namespace backstep {

// Which of an operation's checks failed: the kFatal event's arg1.
enum class GoMapFatalSite : uint32_t {
  kOnEntry = 1,   // before the operation touched the map (or at an iterator step)
  kAtEnd = 2,     // end of a write: hashWriting was cleared under us
  kPerEntry = 3,  // mapclone's per-entry check while copying old buckets
};

namespace gomap_internal {

inline constexpr size_t kBucketCnt = 8;  // bucketCnt

// tophash markers (runtime/map.go)
inline constexpr uint8_t kEmptyRest = 0;       // this cell and every later one in the chain is empty
inline constexpr uint8_t kEmptyOne = 1;        // this cell is empty
inline constexpr uint8_t kEvacuatedX = 2;      // entry moved to the first half of the larger table
inline constexpr uint8_t kEvacuatedY = 3;      // entry moved to the second half
inline constexpr uint8_t kEvacuatedEmpty = 4;  // cell was empty when its bucket was evacuated
inline constexpr uint8_t kMinTopHash = 5;

inline constexpr size_t kNoCheck = ~size_t{0};

constexpr bool is_empty(uint8_t x) { return x <= kEmptyOne; }

constexpr uint8_t tophash(uint64_t hash) {
  uint8_t top = static_cast<uint8_t>(hash >> 56);
  if (top < kMinTopHash) top = static_cast<uint8_t>(top + kMinTopHash);
  return top;
}

constexpr uint64_t bucket_shift(uint8_t b) { return uint64_t{1} << (b & 63); }
constexpr uint64_t bucket_mask(uint8_t b) { return bucket_shift(b) - 1; }

// overLoadFactor: more than 6.5 entries per bucket on average.
constexpr bool over_load_factor(uint64_t count, uint8_t b) {
  return count > kBucketCnt && count > 13 * (bucket_shift(b) / 2);
}

// tooManyOverflowBuckets: about as many overflow buckets as buckets.
constexpr bool too_many_overflow_buckets(uint16_t noverflow, uint8_t b) {
  if (b > 15) b = 15;
  return noverflow >= static_cast<uint16_t>(uint16_t{1} << (b & 15));
}

constexpr size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// The finalizer of MurmurHash3 over the user's hash xor a seed-derived
// word: a bijection for a fixed seed, with good top and low bits (tophash
// and the bucket index both come from this).
constexpr uint64_t mix_hash(uint64_t h, uint32_t seed) {
  uint64_t x = h ^ (0x9e3779b97f4a7c15ull * (uint64_t{seed} + 1));
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

template <class T>
struct is_std_string : std::false_type {};
template <class C, class T, class A>
struct is_std_string<std::basic_string<C, T, A>> : std::true_type {};

// t.ReflexiveKey(): keys for which k == k always holds, so the key != key
// (NaN) paths can be skipped at compile time.
template <class K, class Eq>
inline constexpr bool kReflexiveKey =
    (std::is_same_v<Eq, std::equal_to<K>> || std::is_same_v<Eq, std::equal_to<>>) &&
    (std::is_integral_v<K> || std::is_enum_v<K> || std::is_pointer_v<K> || is_std_string<K>::value);

#if defined(BACKSTEP_NO_MAP_HOOKS)
inline constexpr bool kMapHooks = false;
#else
inline constexpr bool kMapHooks = true;
#endif

// Marks PutAll's assigns in their events; nothing without hooks.
#if defined(BACKSTEP_NO_MAP_HOOKS)
struct OuterOp {
  explicit OuterOp(abi::MapOp) {}
};
#else
using OuterOp = rt::ScopedOuterOp;
#endif

}  // namespace gomap_internal

template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class GoMap {
  static constexpr size_t kBucketCnt = gomap_internal::kBucketCnt;

  // bmap, laid out as Go's: tophash[8], keys[8], values[8], padding, and the
  // overflow pointer as the bucket's last word (a tracer finds it at
  // bucket_size - 8 without knowing K or V).
  static constexpr size_t kKeyOffset = gomap_internal::round_up(kBucketCnt, alignof(K));
  static constexpr size_t kValueOffset =
      gomap_internal::round_up(kKeyOffset + kBucketCnt * sizeof(K), alignof(V));
  static constexpr size_t kBucketAlign =
      std::max({alignof(K), alignof(V), alignof(void*)});
  static constexpr size_t kBucketSize = gomap_internal::round_up(
      gomap_internal::round_up(kValueOffset + kBucketCnt * sizeof(V), alignof(void*)) + sizeof(void*),
      kBucketAlign);
  static constexpr size_t kOverflowOffset = kBucketSize - sizeof(void*);

  struct alignas(kBucketAlign) Bucket {
    uint8_t tophash[kBucketCnt];
    unsigned char data[kOverflowOffset - kBucketCnt];
    Bucket* overflow;

    unsigned char* key_storage(size_t i) { return data + (kKeyOffset - kBucketCnt) + i * sizeof(K); }
    unsigned char* value_storage(size_t i) {
      return data + (kValueOffset - kBucketCnt) + i * sizeof(V);
    }
    K* key(size_t i) { return std::launder(reinterpret_cast<K*>(key_storage(i))); }
    V* value(size_t i) { return std::launder(reinterpret_cast<V*>(value_storage(i))); }
  };
  static_assert(sizeof(Bucket) == kBucketSize);
  static_assert(offsetof(Bucket, overflow) == kOverflowOffset);

  // One bucket array (Go's buckets or oldbuckets) with the overflow buckets
  // chained to it. See the file comment for the reference counting.
  struct Table {
    Bucket* buckets = nullptr;   // nbuckets, then the preallocated overflow buckets
    size_t nbuckets = 0;         // 2^B
    size_t nalloc = 0;           // nbuckets + preallocated overflow buckets
    size_t next_prealloc = 0;    // mapextra.nextOverflow, as an index
    std::vector<Bucket*> heap_overflow;
    // Per primary bucket, once this is an old array: whether evacuation left
    // the entries constructed (for iterators) so that release destroys them.
    std::unique_ptr<uint8_t[]> retained;
    std::atomic<uint32_t> refs{1};
  };

 public:
  using key_type = K;
  using mapped_type = V;

  // The end of a range-for; compare an Iterator with it.
  struct Sentinel {};

  // Go's hiter. Move-only. *it yields std::pair<const K&, V&> (const V& for
  // a const map): bind with `auto [k, v]` or `auto&& [k, v]`.
  template <bool kConst>
  class BasicIterator {
   public:
    using mapped_reference = std::conditional_t<kConst, const V&, V&>;
    using value_type = std::pair<const K&, mapped_reference>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;

    BasicIterator(BasicIterator&& other) noexcept { take(other); }
    BasicIterator& operator=(BasicIterator&& other) noexcept {
      if (this != &other) {
        detach();
        take(other);
      }
      return *this;
    }
    BasicIterator(const BasicIterator&) = delete;
    BasicIterator& operator=(const BasicIterator&) = delete;
    ~BasicIterator() { detach(); }

    reference operator*() const { return {*key_, *value_}; }
    const K& key() const { return *key_; }
    mapped_reference value() const { return *value_; }

    // mapiternext. A no-op once the iteration is over.
    BasicIterator& operator++() {
      if (snapshot_ != nullptr) map_->iter_next(*this);
      return *this;
    }

    bool at_end() const { return key_ == nullptr; }
    bool operator==(Sentinel) const { return key_ == nullptr; }

   private:
    friend class GoMap;
    explicit BasicIterator(const GoMap* m) : map_(m) {
      __atomic_fetch_add(&m->header_.live_iterators, 1, __ATOMIC_RELAXED);
    }

    void take(BasicIterator& o) {
      map_ = std::exchange(o.map_, nullptr);
      snapshot_ = std::exchange(o.snapshot_, nullptr);
      walk_ = std::exchange(o.walk_, nullptr);
      pin_ = std::exchange(o.pin_, nullptr);
      key_ = std::exchange(o.key_, nullptr);
      value_ = std::exchange(o.value_, nullptr);
      buckets_ = o.buckets_;
      bptr_ = o.bptr_;
      start_bucket_ = o.start_bucket_;
      bucket_ = o.bucket_;
      check_bucket_ = o.check_bucket_;
      offset_ = o.offset_;
      b_ = o.b_;
      i_ = o.i_;
      wrapped_ = o.wrapped_;
    }

    void detach() {
      release_tables();
      if (map_ != nullptr) {
        __atomic_fetch_sub(&map_->header_.live_iterators, 1, __ATOMIC_RELAXED);
        map_ = nullptr;
      }
    }

    void release_tables() {
      GoMap::release(std::exchange(pin_, nullptr));
      Table* walk = std::exchange(walk_, nullptr);
      Table* snap = std::exchange(snapshot_, nullptr);
      if (walk != snap) GoMap::release(walk);
      GoMap::release(snap);
    }

    // The array bptr_ points into; holds its own reference unless it is the
    // snapshot.
    void set_walk(Table* t) {
      if (t == walk_) return;
      Table* prev = std::exchange(walk_, t);
      if (t != snapshot_) GoMap::acquire(t);
      if (prev != snapshot_) GoMap::release(prev);
    }

    // The array key_/value_ point into when it is neither of the above (an
    // entry found again by lookup after its bucket was evacuated).
    void set_pin(Table* t) {
      if (t == walk_ || t == snapshot_) t = nullptr;
      if (t == pin_) return;
      GoMap::acquire(t);
      GoMap::release(std::exchange(pin_, t));
    }

    const GoMap* map_ = nullptr;
    Table* snapshot_ = nullptr;  // keeps it.buckets alive
    Table* walk_ = nullptr;
    Table* pin_ = nullptr;
    K* key_ = nullptr;           // it.key; nullptr at the end
    V* value_ = nullptr;         // it.elem
    Bucket* buckets_ = nullptr;  // it.buckets: read from the header, trusted like Go's
    Bucket* bptr_ = nullptr;
    size_t start_bucket_ = 0;
    size_t bucket_ = 0;
    size_t check_bucket_ = gomap_internal::kNoCheck;
    uint8_t offset_ = 0;
    uint8_t b_ = 0;              // it.B
    uint8_t i_ = 0;
    bool wrapped_ = false;
  };

  // makemap: the smallest B that holds `hint` entries under the load factor.
  explicit GoMap(size_t hint = 0) : GoMap(InitTag{}, hint_to_b(hint)) {}

  GoMap(const GoMap&) = delete;
  GoMap& operator=(const GoMap&) = delete;

  // Moving makes a new map (new header address) and leaves the source empty.
  // Iterators stay with the source object.
  GoMap(GoMap&& other) noexcept { steal(other); }
  GoMap& operator=(GoMap&& other) noexcept {
    if (this != &other) {
      release_all();
      const int32_t live = header_.live_iterators;
      steal(other);
      header_.live_iterators = live;
    }
    return *this;
  }

  ~GoMap() {
    release_all();
    // Volatile: a store to a dying object is otherwise dead to the compiler
    // (-flifetime-dse), and a tracer relies on seeing it.
    *static_cast<volatile uint64_t*>(&header_.magic) = 0;
  }

  // mapaccess2: nullptr if absent.
  V* find(const K& key) {
    Slot s = lookup<true>(key, abi::MapOp::kLookup);
    return s.b != nullptr ? s.b->value(s.i) : nullptr;
  }
  const V* find(const K& key) const {
    Slot s = lookup<true>(key, abi::MapOp::kLookup);
    return s.b != nullptr ? s.b->value(s.i) : nullptr;
  }

  // mapaccess1: the zero value V{} if absent.
  V get(const K& key) const {
    Slot s = lookup<true>(key, abi::MapOp::kLookup);
    return s.b != nullptr ? *s.b->value(s.i) : V{};
  }

  bool contains(const K& key) const { return find(key) != nullptr; }

  // mapassign followed by the store of the value.
  void put(const K& key, V value) {
    assign(key, [&value](unsigned char* storage, bool fresh) {
      if (fresh) {
        ::new (static_cast<void*>(storage)) V(std::move(value));
      } else {
        *std::launder(reinterpret_cast<V*>(storage)) = std::move(value);
      }
    });
  }

  // m[k] as an assignment target: mapassign, inserting V{} if absent. The
  // reference is valid until the next write to the map.
  V& operator[](const K& key) {
    return *assign(key, [](unsigned char* storage, bool fresh) {
      if (fresh) ::new (static_cast<void*>(storage)) V{};
    });
  }

  // mapdelete. True if the key was present.
  bool erase(const K& key);

  // mapclear.
  void clear();

  size_t size() const { return static_cast<size_t>(header_.count); }
  bool empty() const { return header_.count == 0; }

  // One put per entry, deliberately not atomic: another thread's operation
  // can land between any two of them (the events carry outer_op = kPutAll).
  template <class Range>
  void PutAll(const Range& entries) {
    [[maybe_unused]] gomap_internal::OuterOp guard(abi::MapOp::kPutAll);
    for (const auto& [k, v] : entries) put(k, v);
  }
  void PutAll(std::initializer_list<std::pair<K, V>> entries) {
    PutAll<std::initializer_list<std::pair<K, V>>>(entries);
  }

  // maps.Clone (mapclone2).
  GoMap clone() const;

  using Iterator = BasicIterator<false>;
  using ConstIterator = BasicIterator<true>;

  // mapiterinit. Ranging is a read, also from several threads at once, but
  // it sets the iterator flag bits (hence the mutable header).
  Iterator begin() { return start_iteration<false>(); }
  ConstIterator begin() const { return start_iteration<true>(); }
  Sentinel end() const { return {}; }

  // Introspection for tests and tools.
  const abi::MapHeader& header() const { return header_; }
  abi::MapHeader* raw_header() { return &header_; }  // for header-corruption examples
  uint8_t flags() const { return header_.flags; }
  uint8_t B() const { return header_.B; }
  bool growing() const { return header_.oldbuckets != 0; }
  size_t old_bucket_count() const { return growing() ? noldbuckets() : 0; }
  uint64_t nevacuate() const { return header_.nevacuate; }
  uint16_t noverflow() const { return header_.noverflow; }
  size_t bucket_count() const { return static_cast<size_t>(gomap_internal::bucket_shift(header_.B)); }
  // The hash the map uses for `key` under its current seed (hash0 changes
  // when the map becomes empty).
  uint64_t hash_of(const K& key) const {
    return gomap_internal::mix_hash(static_cast<uint64_t>(hash_(key)), header_.hash0);
  }
  static constexpr bool over_load_factor(uint64_t count, uint8_t b) {
    return gomap_internal::over_load_factor(count, b);
  }
  static uint8_t hint_to_b(size_t hint) {
    // makemap ignores hints whose buckets could not be allocated anyway.
    if (hint > (uint64_t{1} << 47) / kBucketSize) hint = 0;
    uint8_t b = 0;
    while (gomap_internal::over_load_factor(hint, b)) ++b;
    return b;
  }

 private:
  struct InitTag {};
  struct Slot {
    Bucket* b = nullptr;
    size_t i = 0;
    bool in_old = false;
  };
  struct EvacDst {
    Bucket* b = nullptr;
    size_t i = 0;
  };

  GoMap(InitTag, uint8_t b) {
    std::memset(static_cast<void*>(&header_), 0, sizeof header_);
    header_.key_size = sizeof(K);
    header_.value_size = sizeof(V);
    header_.bucket_size = kBucketSize;
    header_.key_offset = kKeyOffset;
    header_.value_offset = kValueOffset;
    header_.magic = abi::kMapHeaderMagic;
    header_.hash0 = static_cast<uint32_t>(rt::random_u64());
    header_.B = b;
    // B == 0: the bucket is allocated by the first assign, as in Go.
    if (b != 0) install_table(make_table(b));
  }

  Bucket* buckets() const { return reinterpret_cast<Bucket*>(header_.buckets); }
  Bucket* oldbuckets() const { return reinterpret_cast<Bucket*>(header_.oldbuckets); }
  bool same_size_grow() const { return (header_.flags & abi::kFlagSameSizeGrow) != 0; }
  // noldbuckets / oldbucketmask
  size_t noldbuckets() const {
    uint8_t old_b = header_.B;
    if (!same_size_grow()) --old_b;
    return static_cast<size_t>(gomap_internal::bucket_shift(old_b));
  }
  size_t oldbucketmask() const { return noldbuckets() - 1; }
  static bool evacuated(const Bucket* b) {
    const uint8_t h = b->tophash[0];
    return h > gomap_internal::kEmptyOne && h < gomap_internal::kMinTopHash;
  }
  bool reflexive(const K& k) const {
    if constexpr (gomap_internal::kReflexiveKey<K, Eq>) {
      (void)k;
      return true;
    } else {
      return eq_(k, k);
    }
  }

  [[gnu::always_inline]] inline void event(abi::MapEventKind kind, abi::MapOp op, uint8_t flags_before,
                                           uint32_t arg1 = 0, uint8_t arg0 = 0, uint8_t arg2 = 0) const {
    if constexpr (gomap_internal::kMapHooks) {
      if (rt::map_events_idle()) [[likely]] {
        (void)kind, (void)op, (void)flags_before, (void)arg1, (void)arg0, (void)arg2;
        return;
      }
      rt::MapEventFields f;
      f.map = &header_;
      f.kind = kind;
      f.op = op;
      f.flags_before = flags_before;
      f.flags_after = header_.flags;
      f.B = header_.B;
      f.count = header_.count;
      f.nevacuate = header_.nevacuate;
      f.arg0 = arg0;
      f.arg1 = arg1;
      f.arg2 = arg2;
      rt::publish_map_event(f);
    } else {
      (void)kind, (void)op, (void)flags_before, (void)arg1, (void)arg0, (void)arg2;
    }
  }

  // Go's fatal(): inlined so that the kFatal event's site is the check's.
  [[noreturn, gnu::always_inline]] inline void fatal(abi::FatalKind kind, abi::MapOp op,
                                                     GoMapFatalSite site) const {
    rt::MapEventFields f;
    f.map = &header_;
    f.op = op;
    f.flags_before = header_.flags;
    f.flags_after = header_.flags;
    f.B = header_.B;
    f.count = header_.count;
    f.nevacuate = header_.nevacuate;
    f.arg1 = static_cast<uint32_t>(site);
    rt::map_fatal(f, kind);
  }

  // ---- bucket arrays ----------------------------------------------------

  static Bucket* allocate_buckets(size_t n) {
    void* mem = ::operator new(n * sizeof(Bucket), std::align_val_t{alignof(Bucket)});
    std::memset(mem, 0, n * sizeof(Bucket));
    return static_cast<Bucket*>(mem);
  }
  static void free_buckets(Bucket* b) { ::operator delete(b, std::align_val_t{alignof(Bucket)}); }

  // makeBucketArray: 2^b buckets, plus 2^(b-4) preallocated overflow
  // buckets from b = 4 on.
  static Table* make_table(uint8_t b) {
    const size_t base = static_cast<size_t>(gomap_internal::bucket_shift(b));
    size_t total = base;
    if (b >= 4) total += static_cast<size_t>(gomap_internal::bucket_shift(static_cast<uint8_t>(b - 4)));
    auto* t = new Table;
    t->buckets = allocate_buckets(total);
    t->nbuckets = base;
    t->nalloc = total;
    t->next_prealloc = base;
    return t;
  }

  static void acquire(Table* t) {
    if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(Table* t) {
    if (t != nullptr && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_table(t);
  }

  // Destroys what is still constructed: live entries, and evacuated ones
  // kept for iterators.
  static void destroy_entries(Table* t) {
    if constexpr (!std::is_trivially_destructible_v<K> || !std::is_trivially_destructible_v<V>) {
      for (size_t x = 0; x < t->nbuckets; ++x) {
        const bool kept = t->retained != nullptr && t->retained[x] != 0;
        for (Bucket* b = &t->buckets[x]; b != nullptr; b = b->overflow) {
          for (size_t i = 0; i < kBucketCnt; ++i) {
            const uint8_t th = b->tophash[i];
            if (th >= gomap_internal::kMinTopHash ||
                (kept && (th == gomap_internal::kEvacuatedX || th == gomap_internal::kEvacuatedY))) {
              std::destroy_at(b->key(i));
              std::destroy_at(b->value(i));
            }
          }
        }
      }
    } else {
      (void)t;
    }
  }

  static void free_table(Table* t) {
    destroy_entries(t);
    for (Bucket* b : t->heap_overflow) free_buckets(b);
    free_buckets(t->buckets);
    delete t;
  }

  void install_table(Table* t) {
    table_ = t;
    header_.buckets = reinterpret_cast<uint64_t>(t->buckets);
    header_.extra = reinterpret_cast<uint64_t>(t);
  }

  void release_all() {
    release(std::exchange(old_table_, nullptr));
    release(std::exchange(table_, nullptr));
    header_.buckets = 0;
    header_.oldbuckets = 0;
    header_.extra = 0;
    header_.count = 0;
  }

  void steal(GoMap& o) {
    header_ = o.header_;
    // The source's iterators keep the source's bits; they still hold
    // references to the arrays, which keeps evacuation from destroying what
    // they read.
    header_.flags = static_cast<uint8_t>(header_.flags & ~(abi::kFlagIterator | abi::kFlagOldIterator));
    header_.live_iterators = 0;
    header_.magic = abi::kMapHeaderMagic;
    table_ = std::exchange(o.table_, nullptr);
    old_table_ = std::exchange(o.old_table_, nullptr);
    o.header_.count = 0;
    o.header_.B = 0;
    o.header_.noverflow = 0;
    o.header_.buckets = 0;
    o.header_.oldbuckets = 0;
    o.header_.nevacuate = 0;
    o.header_.extra = 0;
    o.header_.flags = static_cast<uint8_t>(o.header_.flags & (abi::kFlagIterator | abi::kFlagOldIterator));
  }

  // incrnoverflow: exact below B = 16, then counted with probability
  // 1/2^(B-15) so that 2^15 still means "as many overflow buckets as buckets".
  void incr_noverflow() {
    if (header_.B < 16) {
      ++header_.noverflow;
      return;
    }
    const unsigned shift = header_.B - 15u;
    const uint32_t mask = shift >= 32 ? ~uint32_t{0} : (uint32_t{1} << shift) - 1;
    if ((static_cast<uint32_t>(rt::random_u64()) & mask) == 0) ++header_.noverflow;
  }

  // newoverflow: overflow buckets are only ever chained in the current array.
  Bucket* new_overflow(Bucket* b) {
    Table* t = table_;
    Bucket* ovf;
    if (t->next_prealloc < t->nalloc) {
      ovf = &t->buckets[t->next_prealloc++];
    } else {
      ovf = allocate_buckets(1);
      t->heap_overflow.push_back(ovf);
    }
    incr_noverflow();
    b->overflow = ovf;
    return ovf;
  }

  // ---- lookup -------------------------------------------------------------

  // mapaccess1/2 (Check) and mapaccessK (the iterator's, no check).
  template <bool Check>
  [[gnu::always_inline]] inline Slot lookup(const K& key, abi::MapOp op) const {
    if (header_.count == 0) return {};
    if constexpr (Check) {
      if (header_.flags & abi::kFlagHashWriting) [[unlikely]]
        fatal(abi::FatalKind::kConcurrentReadWrite, op, GoMapFatalSite::kOnEntry);
    } else {
      (void)op;
    }
    const uint64_t hash = hash_of(key);
    uint64_t m = gomap_internal::bucket_mask(header_.B);
    Bucket* b = buckets() + (hash & m);
    bool in_old = false;
    if (Bucket* c = oldbuckets(); c != nullptr) {
      // There used to be half as many buckets; mask down one more power of two.
      if (!same_size_grow()) m >>= 1;
      Bucket* oldb = c + (hash & m);
      if (!evacuated(oldb)) {
        b = oldb;
        in_old = true;
      }
    }
    const uint8_t top = gomap_internal::tophash(hash);
    for (; b != nullptr; b = b->overflow) {
      for (size_t i = 0; i < kBucketCnt; ++i) {
        if (b->tophash[i] != top) {
          if (b->tophash[i] == gomap_internal::kEmptyRest) return {};
          continue;
        }
        if (eq_(key, *b->key(i))) return {b, i, in_old};
      }
    }
    return {};
  }

  // ---- writes -------------------------------------------------------------

  template <class Store>
  V* assign(const K& key, Store&& store);

  void hash_grow(abi::MapOp op);
  void grow_work(uint64_t bucket, abi::MapOp op) {
    // Make sure we evacuate the old bucket of the bucket about to be used,
    // then one more to make progress.
    evacuate(bucket & oldbucketmask(), op);
    if (growing()) evacuate(header_.nevacuate, op);
  }
  void evacuate(uint64_t oldbucket, abi::MapOp op);
  bool advance_evacuation_mark(uint64_t newbit);
  bool delete_in_chain(Bucket* borig, const K& key, uint8_t top);
  static void destroy_and_mark_empty(Table* t);
  static void reset_table(Table* t);

  // ---- iteration ----------------------------------------------------------

  template <bool kConst>
  BasicIterator<kConst> start_iteration() const;
  template <bool kConst>
  void iter_next(BasicIterator<kConst>& it) const;

  // ---- clone ----------------------------------------------------------------

  static void move_to_bmap(GoMap& dst, Bucket*& dstb, size_t& pos, Bucket* src);

  // First member: the map's address is the header's.
  mutable abi::MapHeader header_;
  Table* table_ = nullptr;      // owns the map's reference to header_.buckets
  Table* old_table_ = nullptr;  // ... and to header_.oldbuckets
  [[no_unique_address]] Hash hash_{};
  [[no_unique_address]] Eq eq_{};
};

// ---------------------------------------------------------------------------

template <class K, class V, class Hash, class Eq>
template <class Store>
V* GoMap<K, V, Hash, Eq>::assign(const K& key, Store&& store) {
  using namespace gomap_internal;
  const uint8_t entry_flags = header_.flags;
  if (entry_flags & abi::kFlagHashWriting) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kAssign, GoMapFatalSite::kOnEntry);
  const uint64_t hash = hash_of(key);
  // After hashing: a Hash that throws has not started a write.
  header_.flags ^= abi::kFlagHashWriting;
  event(abi::MapEventKind::kWriteBegin, abi::MapOp::kAssign, entry_flags);

  if (header_.buckets == 0) install_table(make_table(header_.B));

  const uint8_t top = tophash(hash);
  V* elem = nullptr;
  for (;;) {  // "again": growing invalidates everything, so search again
    const uint64_t bucket = hash & bucket_mask(header_.B);
    if (growing()) grow_work(bucket, abi::MapOp::kAssign);
    Bucket* b = buckets() + bucket;
    Bucket* insert_b = nullptr;
    size_t insert_i = 0;
    Bucket* match = nullptr;
    size_t match_i = 0;
    for (;;) {
      bool stop = false;
      for (size_t i = 0; i < kBucketCnt; ++i) {
        const uint8_t th = b->tophash[i];
        if (th != top) {
          if (is_empty(th) && insert_b == nullptr) {
            insert_b = b;
            insert_i = i;
          }
          if (th == kEmptyRest) {
            stop = true;
            break;
          }
          continue;
        }
        if (!eq_(key, *b->key(i))) continue;
        match = b;
        match_i = i;
        stop = true;
        break;
      }
      if (stop || b->overflow == nullptr) break;
      b = b->overflow;
    }

    if (match != nullptr) {
      // t.NeedKeyUpdate: equal keys can differ (+0/-0), the newest wins.
      *match->key(match_i) = key;
      store(match->value_storage(match_i), false);
      elem = match->value(match_i);
      break;
    }

    if (!growing() && (over_load_factor(header_.count + 1, header_.B) ||
                       too_many_overflow_buckets(header_.noverflow, header_.B))) {
      hash_grow(abi::MapOp::kAssign);
      continue;
    }

    if (insert_b == nullptr) {
      // The bucket and its overflow chain are full.
      insert_b = new_overflow(b);
      insert_i = 0;
    }
    ::new (static_cast<void*>(insert_b->key_storage(insert_i))) K(key);
    store(insert_b->value_storage(insert_i), true);
    insert_b->tophash[insert_i] = top;
    ++header_.count;
    elem = insert_b->value(insert_i);
    break;
  }

  if (!(header_.flags & abi::kFlagHashWriting)) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kAssign, GoMapFatalSite::kAtEnd);
  const uint8_t before = header_.flags;
  header_.flags = static_cast<uint8_t>(header_.flags & ~abi::kFlagHashWriting);
  event(abi::MapEventKind::kWriteEnd, abi::MapOp::kAssign, before);
  return elem;
}

template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::hash_grow(abi::MapOp op) {
  using namespace gomap_internal;
  const uint8_t before = header_.flags;
  const uint8_t old_b = header_.B;
  // Over the load factor: double. Otherwise too many overflow buckets: keep
  // the size and "grow" laterally.
  uint8_t bigger = 1;
  if (!over_load_factor(header_.count + 1, header_.B)) {
    bigger = 0;
    header_.flags |= abi::kFlagSameSizeGrow;
  }
  Table* old_table = table_;
  Table* new_table = make_table(static_cast<uint8_t>(header_.B + bigger));
  old_table->retained = std::make_unique<uint8_t[]>(old_table->nbuckets);

  // An iterator running now walks what become the old buckets.
  uint8_t f = static_cast<uint8_t>(header_.flags & ~(abi::kFlagIterator | abi::kFlagOldIterator));
  if (header_.flags & abi::kFlagIterator) f |= abi::kFlagOldIterator;

  header_.B = static_cast<uint8_t>(header_.B + bigger);
  header_.flags = f;
  header_.oldbuckets = header_.buckets;
  old_table_ = old_table;
  install_table(new_table);
  header_.nevacuate = 0;
  header_.noverflow = 0;
  event(abi::MapEventKind::kGrowStart, op, before, header_.B, old_b, bigger == 0 ? 1 : 0);
}

template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::evacuate(uint64_t oldbucket, abi::MapOp op) {
  using namespace gomap_internal;
  Bucket* b = oldbuckets() + oldbucket;
  const uint64_t newbit = noldbuckets();
  bool moved = false;
  bool retain = false;
  if (!evacuated(b)) {
    moved = true;
    // Go clears old cells only when no iterator may be on the old buckets;
    // here an iterator holding the array also keeps them (see file comment).
    retain = (header_.flags & abi::kFlagOldIterator) != 0 ||
             old_table_->refs.load(std::memory_order_acquire) > 1;
    EvacDst xy[2];
    xy[0].b = buckets() + oldbucket;
    if (!same_size_grow()) xy[1].b = buckets() + oldbucket + newbit;

    for (; b != nullptr; b = b->overflow) {
      for (size_t i = 0; i < kBucketCnt; ++i) {
        uint8_t top = b->tophash[i];
        if (is_empty(top)) {
          b->tophash[i] = kEvacuatedEmpty;
          continue;
        }
        if (top < kMinTopHash) std::abort();  // throw("bad map state")
        K* k = b->key(i);
        uint8_t use_y = 0;
        if (!same_size_grow()) {
          const uint64_t hash = hash_of(*k);
          if ((header_.flags & abi::kFlagIterator) && !reflexive(*k)) {
            // key != key (NaN): an iterator started in this growth decided
            // by the tophash's low bit which half it belongs to, so follow
            // that bit; then spread it with a fresh tophash.
            use_y = top & 1;
            top = tophash(hash);
          } else if (hash & newbit) {
            use_y = 1;
          }
        }
        b->tophash[i] = static_cast<uint8_t>(kEvacuatedX + use_y);
        EvacDst& dst = xy[use_y];
        if (dst.i == kBucketCnt) {
          dst.b = new_overflow(dst.b);
          dst.i = 0;
        }
        dst.b->tophash[dst.i] = top;
        V* e = b->value(i);
        if (retain) {
          ::new (static_cast<void*>(dst.b->key_storage(dst.i))) K(*k);
          ::new (static_cast<void*>(dst.b->value_storage(dst.i))) V(*e);
        } else {
          ::new (static_cast<void*>(dst.b->key_storage(dst.i))) K(std::move(*k));
          ::new (static_cast<void*>(dst.b->value_storage(dst.i))) V(std::move(*e));
          std::destroy_at(k);
          std::destroy_at(e);
        }
        ++dst.i;
      }
    }
    old_table_->retained[oldbucket] = retain ? 1 : 0;
  }

  bool finished = false;
  if (oldbucket == header_.nevacuate) finished = advance_evacuation_mark(newbit);
  if (moved) event(abi::MapEventKind::kEvacuate, op, header_.flags, static_cast<uint32_t>(oldbucket), 0, retain);
  if (finished) {
    // The rest of advanceEvacuationMark: growing is all done.
    const uint8_t before = header_.flags;
    Table* old_table = std::exchange(old_table_, nullptr);
    header_.oldbuckets = 0;
    header_.flags = static_cast<uint8_t>(header_.flags & ~abi::kFlagSameSizeGrow);
    release(old_table);
    event(abi::MapEventKind::kGrowFinish, op, before);
  }
}

// advanceEvacuationMark, up to the end-of-growth test (evacuate does the rest
// so that kEvacuate comes before kGrowFinish).
template <class K, class V, class Hash, class Eq>
bool GoMap<K, V, Hash, Eq>::advance_evacuation_mark(uint64_t newbit) {
  ++header_.nevacuate;
  // Bounded so that one write does O(1) work.
  uint64_t stop = header_.nevacuate + 1024;
  if (stop > newbit) stop = newbit;
  while (header_.nevacuate != stop && evacuated(oldbuckets() + header_.nevacuate)) ++header_.nevacuate;
  return header_.nevacuate == newbit;
}

template <class K, class V, class Hash, class Eq>
bool GoMap<K, V, Hash, Eq>::erase(const K& key) {
  using namespace gomap_internal;
  if (header_.count == 0) return false;
  const uint8_t entry_flags = header_.flags;
  if (entry_flags & abi::kFlagHashWriting) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kDelete, GoMapFatalSite::kOnEntry);
  const uint64_t hash = hash_of(key);
  header_.flags ^= abi::kFlagHashWriting;
  event(abi::MapEventKind::kWriteBegin, abi::MapOp::kDelete, entry_flags);

  const uint64_t bucket = hash & bucket_mask(header_.B);
  if (growing()) grow_work(bucket, abi::MapOp::kDelete);
  const bool found = delete_in_chain(buckets() + bucket, key, tophash(hash));

  if (!(header_.flags & abi::kFlagHashWriting)) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kDelete, GoMapFatalSite::kAtEnd);
  const uint8_t before = header_.flags;
  header_.flags = static_cast<uint8_t>(header_.flags & ~abi::kFlagHashWriting);
  event(abi::MapEventKind::kWriteEnd, abi::MapOp::kDelete, before);
  return found;
}

// mapdelete's search. `key` may refer to the very cell being destroyed (a
// key taken from an iterator), so it is not read after the destroy.
template <class K, class V, class Hash, class Eq>
bool GoMap<K, V, Hash, Eq>::delete_in_chain(Bucket* borig, const K& key, uint8_t top) {
  using namespace gomap_internal;
  for (Bucket* b = borig; b != nullptr; b = b->overflow) {
    for (size_t i = 0; i < kBucketCnt; ++i) {
      if (b->tophash[i] != top) {
        if (b->tophash[i] == kEmptyRest) return false;
        continue;
      }
      if (!eq_(key, *b->key(i))) continue;
      std::destroy_at(b->key(i));
      std::destroy_at(b->value(i));
      b->tophash[i] = kEmptyOne;
      // If the chain now ends in a run of emptyOne cells, turn them into
      // emptyRest so that searches stop early.
      bool last;
      if (i == kBucketCnt - 1) {
        last = b->overflow == nullptr || b->overflow->tophash[0] == kEmptyRest;
      } else {
        last = b->tophash[i + 1] == kEmptyRest;
      }
      if (last) {
        size_t j = i;
        for (;;) {
          b->tophash[j] = kEmptyRest;
          if (j == 0) {
            if (b == borig) break;  // beginning of the initial bucket
            // Find the previous bucket, continue at its last cell.
            Bucket* c = b;
            for (b = borig; b->overflow != c; b = b->overflow) {
            }
            j = kBucketCnt - 1;
          } else {
            --j;
          }
          if (b->tophash[j] != kEmptyOne) break;
        }
      }
      --header_.count;
      // A fresh seed makes repeated collision attacks harder (Go issue 25237).
      if (header_.count == 0) header_.hash0 = static_cast<uint32_t>(rt::random_u64());
      return true;
    }
  }
  return false;
}

// markBucketsEmpty, destroying what the cells held: existing iterators then
// see nothing more (Go issue 59411).
template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::destroy_and_mark_empty(Table* t) {
  destroy_entries(t);
  for (size_t x = 0; x < t->nbuckets; ++x) {
    for (Bucket* b = &t->buckets[x]; b != nullptr; b = b->overflow) {
      std::memset(b->tophash, gomap_internal::kEmptyRest, sizeof b->tophash);
    }
    if (t->retained != nullptr) t->retained[x] = 0;
  }
}

// makeBucketArray(t, h.B, h.buckets): the array as if newly allocated.
template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::reset_table(Table* t) {
  for (Bucket* b : t->heap_overflow) free_buckets(b);
  t->heap_overflow.clear();
  std::memset(static_cast<void*>(t->buckets), 0, t->nalloc * sizeof(Bucket));
  t->next_prealloc = t->nbuckets;
  t->retained.reset();
}

template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::clear() {
  if (header_.count == 0) return;
  const uint8_t entry_flags = header_.flags;
  if (entry_flags & abi::kFlagHashWriting) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kClear, GoMapFatalSite::kOnEntry);
  header_.flags ^= abi::kFlagHashWriting;
  event(abi::MapEventKind::kWriteBegin, abi::MapOp::kClear, entry_flags);

  destroy_and_mark_empty(table_);
  if (old_table_ != nullptr) destroy_and_mark_empty(old_table_);

  header_.flags = static_cast<uint8_t>(header_.flags & ~abi::kFlagSameSizeGrow);
  header_.oldbuckets = 0;
  release(std::exchange(old_table_, nullptr));
  header_.nevacuate = 0;
  header_.noverflow = 0;
  header_.count = 0;
  header_.hash0 = static_cast<uint32_t>(rt::random_u64());

  if (table_->refs.load(std::memory_order_acquire) == 1) {
    reset_table(table_);
  } else {
    // An iterator still reads this array: leave it to it (emptied).
    Table* fresh = make_table(header_.B);
    release(table_);
    install_table(fresh);
  }

  if (!(header_.flags & abi::kFlagHashWriting)) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentWrites, abi::MapOp::kClear, GoMapFatalSite::kAtEnd);
  const uint8_t before = header_.flags;
  header_.flags = static_cast<uint8_t>(header_.flags & ~abi::kFlagHashWriting);
  event(abi::MapEventKind::kWriteEnd, abi::MapOp::kClear, before);
}

template <class K, class V, class Hash, class Eq>
template <bool kConst>
typename GoMap<K, V, Hash, Eq>::template BasicIterator<kConst> GoMap<K, V, Hash, Eq>::start_iteration() const {
  using namespace gomap_internal;
  BasicIterator<kConst> it(this);
  if (header_.count == 0) return it;

  // Snapshot of the bucket state.
  it.b_ = header_.B;
  it.buckets_ = buckets();
  it.snapshot_ = table_;
  acquire(table_);
  it.walk_ = table_;

  // Where to start: a random bucket and a random offset inside buckets.
  const uint64_t r = rt::random_u64();
  it.start_bucket_ = static_cast<size_t>(r & bucket_mask(header_.B));
  it.offset_ = static_cast<uint8_t>((r >> header_.B) & (kBucketCnt - 1));
  it.bucket_ = it.start_bucket_;

  // Remember we have an iterator; concurrent mapiterinits are legal, hence
  // the atomic or (and only when a bit is missing).
  const uint8_t before = header_.flags;
  constexpr uint8_t kBits = abi::kFlagIterator | abi::kFlagOldIterator;
  if ((before & kBits) != kBits) __atomic_fetch_or(&header_.flags, kBits, __ATOMIC_RELAXED);
  event(abi::MapEventKind::kIterStart, abi::MapOp::kIterate, before);

  iter_next(it);
  return it;
}

template <class K, class V, class Hash, class Eq>
template <bool kConst>
void GoMap<K, V, Hash, Eq>::iter_next(BasicIterator<kConst>& it) const {
  using namespace gomap_internal;
  if (header_.flags & abi::kFlagHashWriting) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentIterateWrite, abi::MapOp::kIterate, GoMapFatalSite::kOnEntry);
  event(abi::MapEventKind::kIterStep, abi::MapOp::kIterate, header_.flags);

  size_t bucket = it.bucket_;
  Bucket* b = it.bptr_;
  size_t i = it.i_;
  size_t check_bucket = it.check_bucket_;
  const uint64_t it_mask = bucket_mask(it.b_);

  for (;;) {
    if (b == nullptr) {
      if (bucket == it.start_bucket_ && it.wrapped_) {
        it.key_ = nullptr;
        it.value_ = nullptr;
        it.release_tables();
        return;
      }
      if (growing() && it.b_ == header_.B) {
        // Started in the middle of a growth that is not done: if this
        // bucket's old bucket is not evacuated yet, walk the old bucket and
        // keep only the entries that will move to this bucket.
        const size_t oldbucket = bucket & oldbucketmask();
        b = oldbuckets() + oldbucket;
        if (!evacuated(b)) {
          check_bucket = bucket;
          it.set_walk(old_table_);
        } else {
          b = it.buckets_ + bucket;
          check_bucket = kNoCheck;
          it.set_walk(it.snapshot_);
        }
      } else {
        b = it.buckets_ + bucket;
        check_bucket = kNoCheck;
        it.set_walk(it.snapshot_);
      }
      ++bucket;
      if (bucket == bucket_shift(it.b_)) {
        bucket = 0;
        it.wrapped_ = true;
      }
      i = 0;
    }
    for (; i < kBucketCnt; ++i) {
      const size_t offi = (i + it.offset_) & (kBucketCnt - 1);
      const uint8_t th = b->tophash[offi];
      if (is_empty(th) || th == kEvacuatedEmpty) continue;
      K* k = b->key(offi);
      if (check_bucket != kNoCheck && !same_size_grow()) {
        if (reflexive(*k)) {
          // Not destined for the bucket being iterated: skip.
          if ((hash_of(*k) & it_mask) != check_bucket) continue;
        } else if ((check_bucket >> (it.b_ - 1)) != static_cast<size_t>(th & 1)) {
          // key != key: evacuate sends it by the tophash's low bit.
          continue;
        }
      }
      if ((th != kEvacuatedX && th != kEvacuatedY) || !reflexive(*k)) {
        // The golden data (or a NaN, which can be neither deleted nor updated).
        it.key_ = k;
        it.value_ = b->value(offi);
        it.set_pin(nullptr);
      } else {
        // Grown since the iterator started: the entry may have been deleted,
        // updated, or deleted and reinserted; the current table says which.
        Slot s = lookup<false>(*k, abi::MapOp::kIterate);
        if (s.b == nullptr) continue;  // deleted
        it.key_ = s.b->key(s.i);
        it.value_ = s.b->value(s.i);
        it.set_pin(s.in_old ? old_table_ : table_);
      }
      it.bucket_ = bucket;
      it.bptr_ = b;
      it.i_ = static_cast<uint8_t>(i + 1);
      it.check_bucket_ = check_bucket;
      return;
    }
    b = b->overflow;
    i = 0;
  }
}

template <class K, class V, class Hash, class Eq>
void GoMap<K, V, Hash, Eq>::move_to_bmap(GoMap& dst, Bucket*& dstb, size_t& pos, Bucket* src) {
  using namespace gomap_internal;
  for (size_t i = 0; i < kBucketCnt; ++i) {
    if (is_empty(src->tophash[i])) continue;
    while (pos < kBucketCnt && dstb->tophash[pos] != kEmptyRest) ++pos;
    if (pos == kBucketCnt) {
      dstb = dst.new_overflow(dstb);
      pos = 0;
    }
    ::new (static_cast<void*>(dstb->key_storage(pos))) K(*src->key(i));
    ::new (static_cast<void*>(dstb->value_storage(pos))) V(*src->value(i));
    dstb->tophash[pos] = src->tophash[i];
    ++pos;
    ++dst.header_.count;
  }
}

template <class K, class V, class Hash, class Eq>
GoMap<K, V, Hash, Eq> GoMap<K, V, Hash, Eq>::clone() const {
  using namespace gomap_internal;
  // makemap(t, src.count), capped at the source's B (see file comment).
  GoMap dst(InitTag{}, std::min(hint_to_b(static_cast<size_t>(header_.count)), header_.B));
  dst.header_.hash0 = header_.hash0;  // same seed: entries keep their buckets
  dst.header_.nevacuate = 0;
  if (header_.count == 0) return dst;

  if (header_.flags & abi::kFlagHashWriting) [[unlikely]]
    fatal(abi::FatalKind::kConcurrentCloneWrite, abi::MapOp::kClone, GoMapFatalSite::kOnEntry);

  if (dst.header_.buckets == 0) dst.install_table(make_table(dst.header_.B));

  if (header_.B == 0) {
    // A single bucket, copied cell by cell (Go copies it as one block).
    Bucket* s = buckets();
    Bucket* d = dst.buckets();
    for (size_t i = 0; i < kBucketCnt; ++i) {
      if (!is_empty(s->tophash[i])) {
        ::new (static_cast<void*>(d->key_storage(i))) K(*s->key(i));
        ::new (static_cast<void*>(d->value_storage(i))) V(*s->value(i));
      }
      d->tophash[i] = s->tophash[i];
    }
    dst.header_.count = header_.count;
    return dst;
  }

  const size_t dst_size = static_cast<size_t>(bucket_shift(dst.header_.B));
  const size_t src_size = static_cast<size_t>(bucket_shift(header_.B));
  for (size_t i = 0; i < dst_size; ++i) {
    Bucket* dstb = dst.buckets() + i;
    size_t pos = 0;
    for (size_t j = 0; j < src_size; j += dst_size) {
      for (Bucket* srcb = buckets() + i + j; srcb != nullptr; srcb = srcb->overflow) {
        move_to_bmap(dst, dstb, pos, srcb);
      }
    }
  }

  if (!growing()) return dst;

  uint8_t old_b = header_.B;
  if (!same_size_grow()) --old_b;
  const size_t old_size = static_cast<size_t>(bucket_shift(old_b));
  for (size_t i = 0; i < old_size; ++i) {
    Bucket* srcb = oldbuckets() + i;
    if (evacuated(srcb)) continue;

    if (old_b >= dst.header_.B) {
      // The destination has at most old_b bits: append the whole chain.
      Bucket* dstb = dst.buckets() + (i & bucket_mask(dst.header_.B));
      while (dstb->overflow != nullptr) dstb = dstb->overflow;
      size_t pos = 0;
      for (; srcb != nullptr; srcb = srcb->overflow) move_to_bmap(dst, dstb, pos, srcb);
      continue;
    }

    // One old bucket spreads over several destination buckets: one entry at
    // a time.
    for (; srcb != nullptr; srcb = srcb->overflow) {
      for (size_t c = 0; c < kBucketCnt; ++c) {
        if (is_empty(srcb->tophash[c])) continue;
        if (header_.flags & abi::kFlagHashWriting) [[unlikely]]
          fatal(abi::FatalKind::kConcurrentCloneWrite, abi::MapOp::kClone, GoMapFatalSite::kPerEntry);
        dst.put(*srcb->key(c), *srcb->value(c));
      }
    }
  }
  return dst;
}

}  // namespace backstep
