// MapEventBatch (events version 2's compact map events), the MapEvents
// record around it, and TraceWriter's background thread.
#include "trace/map_event_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "temp_dir.h"
#include "trace/error.h"
#include "trace/events.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace backstep::trace {
namespace {

using ::testing::HasSubstr;
using testing_support::TempDir;

bool same(const abi::MapEvent& a, const abi::MapEvent& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_same(const std::vector<abi::MapEvent>& want, const MapEventBatch& batch) {
  ASSERT_EQ(batch.size(), want.size());
  size_t i = 0;
  for (const abi::MapEvent& e : batch) {
    ASSERT_LT(i, want.size());
    EXPECT_TRUE(same(e, want[i])) << "event " << i;
    ++i;
  }
  EXPECT_EQ(i, want.size());
}

// What a thread's ring holds for a stretch of puts: write brackets, one
// growth with its evacuations, the count going up by one per new key.
std::vector<abi::MapEvent> typical_events(size_t n) {
  std::vector<abi::MapEvent> out;
  abi::MapEvent e{};
  e.seq = 5000;
  e.ticks = 123456;
  e.map = 0x7ffff7a0c0b0;
  e.tid = 3;
  e.B = 3;
  e.op = static_cast<uint8_t>(abi::MapOp::kAssign);
  for (size_t i = 0; out.size() < n; ++i) {
    e.kind = static_cast<uint8_t>(abi::MapEventKind::kWriteBegin);
    e.site = 0x555555559ad2;
    e.flags_before = 0;
    e.flags_after = abi::kFlagHashWriting;
    e.ticks += 7;
    out.push_back(e);
    ++e.seq;
    if (i % 100 == 99) {
      e.kind = static_cast<uint8_t>(abi::MapEventKind::kEvacuate);
      e.site = 0x55555555c0ba;
      e.flags_before = e.flags_after = abi::kFlagHashWriting;
      e.arg1 = static_cast<uint32_t>(i % 13);
      ++e.nevacuate;
      e.ticks += 90;
      out.push_back(e);
      ++e.seq;
      e.arg1 = 0;
    }
    e.kind = static_cast<uint8_t>(abi::MapEventKind::kWriteEnd);
    e.site = 0x555555559ce7;
    e.flags_before = abi::kFlagHashWriting;
    e.flags_after = 0;
    e.ticks += 30 + i % 40;
    if (i % 3) ++e.count;
    out.push_back(e);
    ++e.seq;
  }
  out.resize(n);
  return out;
}

TEST(MapEventBatch, TypicalEventsRoundTripInAFewBytesEach) {
  auto events = typical_events(10000);
  MapEventBatch batch(events);
  expect_same(events, batch);
  EXPECT_LT(batch.encoded().size(), events.size() * 4);
  EXPECT_TRUE(same(batch.front(), events.front()));
  EXPECT_TRUE(same(batch.back(), events.back()));
  auto v = batch.to_vector();
  ASSERT_EQ(v.size(), events.size());
  EXPECT_TRUE(same(v[1234], events[1234]));
}

TEST(MapEventBatch, AnyBytesRoundTrip) {
  // The recorder records whatever the program left in its ring.
  std::mt19937_64 rng(42);
  std::vector<abi::MapEvent> events(3000);
  for (size_t i = 0; i < events.size(); ++i) {
    abi::MapEvent& e = events[i];
    if (i % 3 == 0) {
      std::array<uint64_t, 8> words;
      for (auto& w : words) w = rng();
      std::memcpy(&e, words.data(), sizeof e);
    } else {
      // Near the one before: small steps in some fields, none in others.
      e = events[i - 1];
      e.ticks -= rng() % 3;
      e.seq += rng() % 2;
      e.kind = static_cast<uint8_t>(rng() % 20);  // kinds past the escape too
      if (rng() % 2) e.arg1 = static_cast<uint32_t>(rng());
      if (rng() % 4 == 0) e.B = static_cast<uint8_t>(rng());
      if (rng() % 5 == 0) e.tid = static_cast<uint32_t>(rng());
    }
  }
  events[7].ticks = 0;
  events[8].ticks = UINT64_MAX;
  events[9].seq = UINT64_MAX;
  MapEventBatch batch(events);
  expect_same(events, batch);
  MapEventBatch copy =
      MapEventBatch::from_encoded(static_cast<uint32_t>(batch.size()), batch.encoded());
  expect_same(events, copy);
  EXPECT_EQ(copy, batch);
}

TEST(MapEventBatch, AssignReusesTheBatch) {
  MapEventBatch batch;
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.begin(), batch.end());
  auto first = typical_events(500);
  batch.assign(first);
  auto second = typical_events(20);
  second[0].tid = 9;
  batch.assign(second);
  expect_same(second, batch);
  batch.assign({});
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(batch.encoded().empty());
}

TEST(MapEventBatch, DamagedEncodingsAreRefused) {
  auto events = typical_events(50);
  MapEventBatch batch(events);
  auto bytes = batch.encoded();
  auto error_of = [](uint32_t count, std::span<const std::byte> b) {
    try {
      MapEventBatch::from_encoded(count, b);
    } catch (const TraceError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(50, bytes), "");
  EXPECT_THAT(error_of(51, bytes), HasSubstr("past the end"));
  EXPECT_THAT(error_of(49, bytes), HasSubstr("bytes left"));
  EXPECT_THAT(error_of(50, bytes.first(bytes.size() - 1)), HasSubstr("malformed map event record"));
  std::vector<std::byte> bad_header = {std::byte{0x83}, std::byte{0xe0}, std::byte{0}};
  EXPECT_THAT(error_of(1, bad_header), HasSubstr("unknown header bits"));
  std::vector<std::byte> overflow = {std::byte{0x03}};
  for (int i = 0; i < 9; ++i) overflow.push_back(std::byte{0xff});
  overflow.push_back(std::byte{0x02});
  EXPECT_THAT(error_of(1, overflow), HasSubstr("overflows 64 bits"));
}

TEST(MapEventBatch, RandomBytesAreDecodedOrRefusedWithATraceError) {
  // Long runs of continuation bytes exercise the longest reads: tid and
  // arg1 are read as full 10-byte varints before their range is checked.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> bytes(rng() % 200);
    for (auto& b : bytes) b = std::byte(rng() % 3 == 0 ? 0xff : rng() & 0xff);
    try {
      MapEventBatch batch = MapEventBatch::from_encoded(1 + rng() % 4, bytes);
      for (const abi::MapEvent& e : batch) (void)e;
    } catch (const TraceError&) {
    }
  }
}

TEST(MapEventBatch, TheLongestEventIsReadWithinItsRecord) {
  // Every field present, every number in 10 bytes (a valid, if wasteful,
  // encoding of zeros): 91 bytes, more than the encoder ever writes.
  std::vector<std::byte> longest = {std::byte{0xff}, std::byte{0x1f}, std::byte{20}};
  auto zero10 = [&] {
    for (int i = 0; i < 9; ++i) longest.push_back(std::byte{0x80});
    longest.push_back(std::byte{0});
  };
  for (int field = 0; field < 7; ++field) zero10();  // ticks, seq, map, site, count, nevacuate, tid
  longest.push_back(std::byte{0x7f});
  for (int i = 0; i < 7; ++i) longest.push_back(std::byte{1});
  zero10();  // arg1
  ASSERT_EQ(longest.size(), 91u);
  MapEventBatch batch = MapEventBatch::from_encoded(1, longest);
  EXPECT_EQ(batch.front().kind, 20);
  EXPECT_EQ(batch.front().B, 1);
  for (size_t cut = 1; cut < longest.size(); ++cut) {
    std::vector<std::byte> part(longest.begin(), longest.end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(MapEventBatch::from_encoded(1, part), TraceError) << cut;
  }
}

TEST(MapEventsRecord, VersionOnePayloadsStillRead) {
  auto events = typical_events(40);
  RecordBuilder b;
  b.bytes(std::as_bytes(std::span(events)));
  Event e = decode(static_cast<uint16_t>(RecordType::kMapEvent), b.view(), 1);
  expect_same(events, std::get<MapEvents>(e).events);
}

TEST(MapEventsRecord, OtherEventsVersionsAreRefused) {
  Header h;
  h.events_version = kEventsVersion + 1;
  RecordBuilder b;
  encode(h, b);
  try {
    decode(static_cast<uint16_t>(RecordType::kHeader), b.view());
    FAIL() << "a newer events version was read";
  } catch (const TraceError& err) {
    EXPECT_EQ(std::string(err.what()),
              "trace events version 4 is not supported (this backstep reads versions 1 to 3)");
  }
}

TEST(TraceWriterTest, RecordsComeBackInOrderThroughTheWritersThread) {
  TempDir dir;
  auto events = typical_events(20000);
  {
    TraceWriter w(dir.path());
    w.write(Header{});
    w.write(Exec{});
    for (int i = 0; i < 50; ++i) {
      MapEventBuffer buf = w.spare_events();
      buf.assign(events.begin() + i * 400, events.begin() + (i + 1) * 400);
      w.write_map_events(std::move(buf));
      w.write(Switch{1, 2, SwitchReason::kTimeslice, static_cast<uint64_t>(i)});
    }
    w.flush();
    w.write(End{});
    w.close();
    EXPECT_THROW(w.write(End{}), TraceError);
  }
  Trace t = Trace::load(dir.path());
  const auto& ev = t.events();
  ASSERT_EQ(ev.size(), 2u + 100 + 1);
  std::vector<abi::MapEvent> got;
  for (size_t i = 0; i < 50; ++i) {
    const auto& m = std::get<MapEvents>(ev[2 + 2 * i]);
    for (const abi::MapEvent& e : m.events) got.push_back(e);
    EXPECT_EQ(std::get<Switch>(ev[3 + 2 * i]).ticks, i);
  }
  ASSERT_EQ(got.size(), events.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_TRUE(same(got[i], events[i])) << i;
  EXPECT_TRUE(std::holds_alternative<End>(ev.back()));
}

TEST(TraceWriterTest, DestructorWritesWhatWasHandedOver) {
  TempDir dir;
  {
    TraceWriter w(dir.path());
    w.write(Header{});
    w.write(Exec{});
    w.write(End{});
  }
  EXPECT_EQ(Trace::load(dir.path()).events().size(), 3u);
}

}  // namespace
}  // namespace backstep::trace
