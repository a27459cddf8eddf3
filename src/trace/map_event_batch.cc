#include "trace/map_event_batch.h"

#include <fmt/core.h>

#include <cstring>

#include "trace/error.h"

namespace backstep::trace {
namespace {

// The layout is documented in docs/trace-format.md ("MapEvents, events
// version 2"); keep the two in step.

// First header byte: bits 0-3 the kind (kKindEscape: a kind byte follows).
constexpr uint8_t kKindMask = 0x0f;
constexpr uint8_t kKindEscape = 0x0f;
constexpr uint8_t kCountChanged = 0x10;
constexpr uint8_t kNevacuateChanged = 0x20;
constexpr uint8_t kArg1Changed = 0x40;
constexpr uint8_t kMoreHeader = 0x80;
// Second header byte, present when kMoreHeader is set.
constexpr uint8_t kSeqJumped = 0x01;
constexpr uint8_t kMapChanged = 0x02;
constexpr uint8_t kSiteChanged = 0x04;
constexpr uint8_t kTidChanged = 0x08;
constexpr uint8_t kSmallChanged = 0x10;
constexpr uint8_t kHeader2Known = 0x1f;

// Two header bytes, a kind byte, six 10-byte varints, a 5-byte tid, the
// small-field mask and its 7 bytes, a 5-byte arg1.
constexpr size_t kMaxEncodedEvent = 2 + 1 + 6 * 10 + 5 + 1 + 7 + 5;
// What decoding one event may read, valid or not: tid and arg1 are read as
// full varints (up to 10 bytes) before their range is checked.
constexpr size_t kMaxDecodedEvent = 2 + 1 + 8 * 10 + 1 + 7;

uint64_t zigzag(uint64_t now, uint64_t predicted) {
  auto d = static_cast<int64_t>(now - predicted);
  return (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63);
}
uint64_t unzigzag(uint64_t z, uint64_t predicted) {
  return predicted + ((z >> 1) ^ (~(z & 1) + 1));
}

std::byte* put_varint(std::byte* out, uint64_t v) {
  while (v >= 0x80) {
    *out++ = static_cast<std::byte>(v | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<std::byte>(v);
  return out;
}

void small_fields(const abi::MapEvent& e, uint8_t out[7]) {
  out[0] = e.op;
  out[1] = e.outer_op;
  out[2] = e.flags_before;
  out[3] = e.flags_after;
  out[4] = e.B;
  out[5] = e.arg0;
  out[6] = e.arg2;
}
void set_small_fields(abi::MapEvent& e, const uint8_t in[7]) {
  e.op = in[0];
  e.outer_op = in[1];
  e.flags_before = in[2];
  e.flags_after = in[3];
  e.B = in[4];
  e.arg0 = in[5];
  e.arg2 = in[6];
}

// Writes `e` as its differences from what `ctx` predicts, and makes it the
// context of the next event. Returns the end of what it wrote (at most
// kMaxEncodedEvent bytes).
std::byte* encode_event(detail::MapEventContext& ctx, const abi::MapEvent& e, std::byte* out) {
  const abi::MapEvent& last = ctx.last;
  detail::MapEventContext::KindMemory& memo = ctx.kinds[ctx.slot(e.kind)];
  uint8_t small[7];
  small_fields(e, small);
  uint8_t small_mask = 0;
  for (int i = 0; i < 7; ++i) small_mask |= static_cast<uint8_t>((small[i] != memo.small[i]) << i);

  uint8_t h1 = (e.seq != ctx.next_seq ? kSeqJumped : 0) | (e.map != last.map ? kMapChanged : 0) |
               (e.site != memo.site ? kSiteChanged : 0) | (e.tid != last.tid ? kTidChanged : 0) |
               (small_mask ? kSmallChanged : 0);
  uint8_t h0 = (e.kind < kKindEscape ? e.kind : kKindEscape) |
               (e.count != last.count ? kCountChanged : 0) |
               (e.nevacuate != last.nevacuate ? kNevacuateChanged : 0) |
               (e.arg1 != memo.arg1 ? kArg1Changed : 0) | (h1 ? kMoreHeader : 0);
  *out++ = static_cast<std::byte>(h0);
  if (h1) *out++ = static_cast<std::byte>(h1);
  if (e.kind >= kKindEscape) *out++ = static_cast<std::byte>(e.kind);
  out = put_varint(out, zigzag(e.ticks, last.ticks));
  if (h1 & kSeqJumped) out = put_varint(out, zigzag(e.seq, ctx.next_seq));
  if (h1 & kMapChanged) out = put_varint(out, zigzag(e.map, last.map));
  if (h1 & kSiteChanged) out = put_varint(out, zigzag(e.site, memo.site));
  if (h0 & kCountChanged) out = put_varint(out, zigzag(e.count, last.count));
  if (h0 & kNevacuateChanged) out = put_varint(out, zigzag(e.nevacuate, last.nevacuate));
  if (h1 & kTidChanged) out = put_varint(out, e.tid);
  if (h1 & kSmallChanged) {
    *out++ = static_cast<std::byte>(small_mask);
    for (int i = 0; i < 7; ++i) {
      if (small_mask & (1u << i)) *out++ = static_cast<std::byte>(small[i]);
    }
  }
  if (h0 & kArg1Changed) out = put_varint(out, e.arg1);

  ctx.last = e;
  ctx.next_seq = e.seq + 1;
  memo.site = e.site;
  memo.arg1 = e.arg1;
  std::memcpy(memo.small, small, sizeof small);
  return out;
}

[[noreturn, gnu::cold]] void malformed(const char* what) {
  throw TraceError(fmt::format("malformed map event record: {}", what));
}

}  // namespace

namespace {

// Reads the bytes of one event. Checked: every byte is bounds-checked.
// Unchecked: for events that start at least kMaxDecodedEvent bytes before the
// end, which no event, valid or not, can overrun (varints stop at 10 bytes).
template <bool kChecked>
class EventReader {
 public:
  EventReader(const std::byte*& pos, const std::byte* end) : pos_(pos), end_(end) {}
  uint8_t byte() {
    if (kChecked && pos_ == end_) malformed("an event runs past the end of the record");
    return static_cast<uint8_t>(*pos_++);
  }
  uint64_t varint() {
    uint8_t b = byte();
    if (b < 0x80) return b;  // most deltas fit in one byte
    uint64_t v = b & 0x7f;
    for (int shift = 7;; shift += 7) {
      b = byte();
      if (shift == 63 && b > 1) malformed("a number overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  uint32_t varint32() {
    uint64_t v = varint();
    if (v > UINT32_MAX) malformed("a 32-bit field overflows");
    return static_cast<uint32_t>(v);
  }

 private:
  const std::byte*& pos_;
  const std::byte* end_;
};

template <bool kChecked>
void decode_event(detail::MapEventContext& ctx, const std::byte*& pos, const std::byte* end) {
  EventReader<kChecked> in(pos, end);
  abi::MapEvent e = ctx.last;
  uint8_t h0 = in.byte();
  uint8_t h1 = h0 & kMoreHeader ? in.byte() : 0;
  if (h1 & ~kHeader2Known) malformed("unknown header bits");
  e.kind = (h0 & kKindMask) == kKindEscape ? in.byte() : h0 & kKindMask;
  detail::MapEventContext::KindMemory& memo = ctx.kinds[ctx.slot(e.kind)];
  e.ticks = unzigzag(in.varint(), e.ticks);
  e.seq = h1 & kSeqJumped ? unzigzag(in.varint(), ctx.next_seq) : ctx.next_seq;
  if (h1 & kMapChanged) e.map = unzigzag(in.varint(), e.map);
  e.site = h1 & kSiteChanged ? unzigzag(in.varint(), memo.site) : memo.site;
  if (h0 & kCountChanged) e.count = unzigzag(in.varint(), e.count);
  if (h0 & kNevacuateChanged) e.nevacuate = unzigzag(in.varint(), e.nevacuate);
  if (h1 & kTidChanged) e.tid = in.varint32();
  if (h1 & kSmallChanged) {
    uint8_t mask = in.byte();
    if (mask & 0x80) malformed("unknown small-field bits");
    for (int i = 0; i < 7; ++i) {
      if (mask & (1u << i)) memo.small[i] = in.byte();
    }
  }
  set_small_fields(e, memo.small);
  if (h0 & kArg1Changed) memo.arg1 = in.varint32();
  e.arg1 = memo.arg1;

  ctx.last = e;
  ctx.next_seq = e.seq + 1;
  memo.site = e.site;
}

}  // namespace

namespace detail {

void MapEventDecoder::next() {
  if (end_ - pos_ >= static_cast<std::ptrdiff_t>(kMaxDecodedEvent)) {
    decode_event<false>(context_, pos_, end_);
  } else {
    decode_event<true>(context_, pos_, end_);
  }
}

}  // namespace detail

void MapEventBatch::assign(std::span<const abi::MapEvent> events) {
  if (events.size() > UINT32_MAX) malformed("more than 2^32 - 1 events in one batch");
  count_ = static_cast<uint32_t>(events.size());
  // Room for the worst case, trimmed after; the capacity stays for the next
  // assign() (the recorder's writer reuses one batch).
  bytes_.resize(events.size() * kMaxEncodedEvent);
  detail::MapEventContext ctx;
  std::byte* out = bytes_.data();
  for (const abi::MapEvent& e : events) out = encode_event(ctx, e, out);
  bytes_.resize(static_cast<size_t>(out - bytes_.data()));
}

MapEventBatch MapEventBatch::from_encoded(uint32_t count, std::span<const std::byte> bytes) {
  MapEventBatch batch;
  batch.bytes_.assign(bytes.begin(), bytes.end());
  batch.count_ = count;
  detail::MapEventDecoder check(batch.bytes_.data(), batch.bytes_.data() + batch.bytes_.size());
  for (uint32_t i = 0; i < count; ++i) check.next();
  if (check.position() != batch.bytes_.data() + batch.bytes_.size()) {
    malformed("bytes left after the last event");
  }
  return batch;
}

abi::MapEvent MapEventBatch::back() const {
  abi::MapEvent last{};
  for (const abi::MapEvent& e : *this) last = e;
  return last;
}

}  // namespace backstep::trace
