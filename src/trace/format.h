// The on-disk layout of a trace stream file, version 1. docs/trace-format.md
// is the normative description; these constants are its code form and are
// shared by the writer, the reader and the tests (which build damaged files
// at exact offsets).
//
//   file   := file_header chunk*
//   chunk  := chunk_header zstd_frame(records)
//   record := type:u16 length:u32 payload[length]
//
// All integers are little-endian with fixed widths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace backstep::trace::format {

inline constexpr uint32_t kVersion = 1;

// --- file header -----------------------------------------------------------
// magic[8] version:u32 flags:u32 name_len:u16 name[name_len] checksum:u64
// checksum = XXH3-64 (seed 0) of every header byte before it.
inline constexpr char kFileMagic[8] = {'B', 'K', 'S', 'T', 'R', 'A', 'C', 'E'};
inline constexpr size_t kFileMagicOffset = 0;
inline constexpr size_t kFileVersionOffset = 8;
inline constexpr size_t kFileFlagsOffset = 12;
inline constexpr size_t kFileNameLenOffset = 16;
inline constexpr size_t kFileNameOffset = 18;
inline constexpr size_t kFileHeaderFixedSize = kFileNameOffset;  // before the name
inline constexpr size_t kMaxStreamNameLen = 255;
constexpr size_t file_header_size(size_t name_len) { return kFileNameOffset + name_len + 8; }

// --- chunk header (40 bytes) -------------------------------------------------
// magic:u32 raw_len:u32 compressed_len:u32 record_count:u32
// first_record_index:u64 payload_checksum:u64 header_checksum:u64
// payload_checksum = XXH3-64 of the compressed bytes (the zstd frame);
// header_checksum  = XXH3-64 of the 32 header bytes before it.
// The magic is the bytes "BKCH".
inline constexpr uint32_t kChunkMagic = 0x4843'4B42;  // 'B' 'K' 'C' 'H' in memory order
inline constexpr size_t kChunkMagicOffset = 0;
inline constexpr size_t kChunkRawLenOffset = 4;
inline constexpr size_t kChunkCompressedLenOffset = 8;
inline constexpr size_t kChunkRecordCountOffset = 12;
inline constexpr size_t kChunkFirstIndexOffset = 16;
inline constexpr size_t kChunkPayloadChecksumOffset = 24;
inline constexpr size_t kChunkHeaderChecksumOffset = 32;
inline constexpr size_t kChunkHeaderSize = 40;

// --- records inside a chunk's decompressed bytes ---------------------------
inline constexpr size_t kRecordHeaderSize = 6;  // type:u16 length:u32

// A reader refuses chunks larger than this before allocating anything, so a
// damaged (but self-consistent) header cannot make it allocate gigabytes.
// The writer never produces one: it caps records to fit.
inline constexpr size_t kMaxChunkRawBytes = size_t{1} << 30;
inline constexpr size_t kMaxRecordPayload = kMaxChunkRawBytes - kRecordHeaderSize;

// XXH3-64 with seed 0: the checksum of every header and chunk payload.
uint64_t checksum(std::span<const std::byte> bytes) noexcept;

}  // namespace backstep::trace::format
