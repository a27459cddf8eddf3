// RecordBuilder / RecordParser: encoding and bounds.
#include "trace/record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trace/error.h"

namespace backstep::trace {
namespace {

using ::testing::HasSubstr;

TEST(RecordTest, RoundTrip) {
  const std::vector<std::byte> blob = {std::byte{1}, std::byte{2}, std::byte{3}};
  RecordBuilder b;
  b.u8(0xAB).u16(0xBEEF).u32(0xDEADBEEF).u64(0x0123456789ABCDEFull).i64(-42);
  b.bytes(blob).str("hello").str("").bytes({});
  EXPECT_EQ(b.size(), 1u + 2 + 4 + 8 + 8 + (4 + 3) + (4 + 5) + 4 + 4);

  RecordParser p(b.view());
  EXPECT_EQ(p.u8(), 0xAB);
  EXPECT_EQ(p.u16(), 0xBEEF);
  EXPECT_EQ(p.u32(), 0xDEADBEEFu);
  EXPECT_EQ(p.u64(), 0x0123456789ABCDEFull);
  EXPECT_EQ(p.i64(), -42);
  const auto got = p.bytes();
  EXPECT_EQ(std::vector<std::byte>(got.begin(), got.end()), blob);
  EXPECT_EQ(p.str(), "hello");
  EXPECT_EQ(p.str(), "");
  EXPECT_TRUE(p.bytes().empty());
  EXPECT_TRUE(p.at_end());
  EXPECT_NO_THROW(p.expect_end());
}

TEST(RecordTest, LittleEndianOnTheWire) {
  RecordBuilder b;
  b.u32(0x04030201).str("A");
  const auto v = b.view();
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[0], std::byte{1});
  EXPECT_EQ(v[3], std::byte{4});
  EXPECT_EQ(v[4], std::byte{1});  // length prefix 1, little-endian u32
  EXPECT_EQ(v[5], std::byte{0});
  EXPECT_EQ(v[8], std::byte{'A'});
}

TEST(RecordTest, ReadingPastTheEndThrows) {
  RecordBuilder b;
  b.u16(7).u8(1);
  RecordParser p(b.view());
  EXPECT_EQ(p.u16(), 7);
  try {
    p.u32();
    FAIL() << "no exception";
  } catch (const TraceError& e) {
    EXPECT_THAT(e.what(), HasSubstr("record too short: need 4 bytes at offset 2, record has 3"));
  }
  // A failed read consumes nothing.
  EXPECT_EQ(p.position(), 2u);
  EXPECT_EQ(p.u8(), 1);
  EXPECT_THROW(p.u8(), TraceError);

  RecordParser empty({});
  EXPECT_TRUE(empty.at_end());
  EXPECT_THROW(empty.u8(), TraceError);
  EXPECT_THROW(empty.u64(), TraceError);
  EXPECT_THROW(empty.bytes(), TraceError);
}

TEST(RecordTest, LengthPrefixLargerThanTheRecordThrows) {
  RecordBuilder b;
  b.u32(1000).u8(1);  // claims 1000 bytes, has 1
  RecordParser p(b.view());
  EXPECT_THROW(p.str(), TraceError);

  RecordBuilder huge;
  huge.u32(0xFFFFFFFF);
  RecordParser q(huge.view());
  EXPECT_THROW(q.bytes(), TraceError);
}

TEST(RecordTest, TrailingBytesAreReportedByExpectEnd) {
  RecordBuilder b;
  b.u16(1).u16(2);
  RecordParser p(b.view());
  p.u16();
  EXPECT_EQ(p.remaining(), 2u);
  EXPECT_THAT([&] { p.expect_end(); },
              ::testing::ThrowsMessage<TraceError>(HasSubstr("record too long")));
}

TEST(RecordTest, BuilderIsReusable) {
  RecordBuilder b(64);
  b.u64(1);
  b.clear();
  EXPECT_EQ(b.size(), 0u);
  b.u8(9);
  auto taken = b.take();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], std::byte{9});
}

}  // namespace
}  // namespace backstep::trace
