// `unpack` behind the bundle's compression.
//
// A bundle is a 24-byte header and one zstd frame (share/bundle.cc). The
// input is the frame's *decompressed* content (the entries: kind, path,
// mode, size, bytes, checksum), which the harness wraps into a bundle with
// a valid header and frame, so that mutations reach the entry parser, the
// path checks, the rollback and the trace loading after it. An input whose
// first byte is 0xff is taken as a whole bundle file instead (header and
// zstd damage). Each run unpacks into a fresh directory; the harness checks
// that a failed unpack leaves nothing behind.
#include <xxhash.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <vector>

#include "fuzz_support.h"
#include "share/bundle.h"

using namespace backstep;

namespace {

void write_bundle(const std::filesystem::path& file, std::span<const std::byte> entries, bool raw) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (raw) {
    out.write(reinterpret_cast<const char*>(entries.data()),
              static_cast<std::streamsize>(entries.size()));
    return;
  }
  // The header as BundleSink writes it: magic, version, flags, checksum.
  std::vector<char> header(24, 0);
  std::memcpy(header.data(), share::kBundleMagic, 8);
  std::memcpy(header.data() + 8, &share::kBundleVersion, 4);
  uint64_t sum = XXH3_64bits(header.data(), 16);
  std::memcpy(header.data() + 16, &sum, 8);
  out.write(header.data(), 24);
  std::vector<char> frame(ZSTD_compressBound(entries.size()));
  size_t n = ZSTD_compress(frame.data(), frame.size(), entries.data(), entries.size(), 1);
  if (ZSTD_isError(n)) std::abort();
  out.write(frame.data(), static_cast<std::streamsize>(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool raw = size > 0 && data[0] == 0xff;
  std::span<const std::byte> entries(reinterpret_cast<const std::byte*>(data), size);
  if (raw) entries = entries.subspan(1);
  const std::filesystem::path bundle = fuzz::scratch() / "in.bundle";
  write_bundle(bundle, entries, raw);
  const std::filesystem::path out = fuzz::scratch() / "out";
  std::error_code ec;
  std::filesystem::remove_all(out, ec);
  try {
    share::unpack(bundle, out);
  } catch (const std::exception&) {
    // Refused: nothing may be left behind.
    if (std::filesystem::exists(out)) {
      fprintf(stderr, "unpack failed but left %s behind\n", out.c_str());
      std::abort();
    }
  }
  return 0;
}
