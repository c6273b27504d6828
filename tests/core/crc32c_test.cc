#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace core {
namespace {

// Bit-at-a-time CRC-32C: the definition the table-driven version must match.
uint32_t ReferenceCrc32c(std::string_view data) {
  uint32_t crc = ~0u;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

std::string Bytes(size_t n, auto fn) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(fn(i)));
  return out;
}

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) appendix B.4 and the usual check value.
  struct Case {
    const char* name;
    std::string data;
    uint32_t crc;
  };
  const Case cases[] = {
      {"empty", "", 0x00000000u},
      {"check value", "123456789", 0xE3069283u},
      {"a", "a", 0xC1D04330u},
      {"32 zeros", std::string(32, '\0'), 0x8A9136AAu},
      {"32 x 0xff", std::string(32, '\xff'), 0x62A8AB43u},
      {"0..31", Bytes(32, [](size_t i) { return i; }), 0x46DD794Eu},
      {"31..0", Bytes(32, [](size_t i) { return 31 - i; }), 0x113FDB5Cu},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Crc32c(c.data), c.crc);
    EXPECT_EQ(ReferenceCrc32c(c.data), c.crc) << "the reference itself";
  }
}

TEST(Crc32cTest, MatchesReferenceForAllLengthsUpTo64) {
  const std::string data =
      Bytes(64 + 7, [](size_t i) { return static_cast<uint8_t>(i * 37 + 11); });
  // Every length and every start alignment (the slicing loop handles 8 bytes at a time).
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len <= 64; ++len) {
      SCOPED_TRACE("offset " + std::to_string(offset) + " length " + std::to_string(len));
      const std::string_view piece(data.data() + offset, len);
      EXPECT_EQ(Crc32c(piece), ReferenceCrc32c(piece));
    }
  }
}

TEST(Crc32cTest, IncrementalEqualsOneShotAtEverySplit) {
  const std::string data = Bytes(64, [](size_t i) { return static_cast<uint8_t>(i * 131 + 7); });
  for (size_t len = 0; len <= data.size(); ++len) {
    const std::string_view whole(data.data(), len);
    const uint32_t one_shot = Crc32c(whole);
    for (size_t split = 0; split <= len; ++split) {
      SCOPED_TRACE("length " + std::to_string(len) + " split " + std::to_string(split));
      EXPECT_EQ(Crc32c(whole.substr(split), Crc32c(whole.substr(0, split))), one_shot);
    }
  }
}

TEST(Crc32cTest, ByteAtATimeEqualsOneShot) {
  const std::string data = "The quick brown fox jumps over the lazy dog";
  uint32_t crc = 0;
  for (char c : data) crc = Crc32c(std::string_view(&c, 1), crc);
  EXPECT_EQ(crc, Crc32c(data));
  EXPECT_EQ(Crc32c(data), 0x22620404u);
}

TEST(Crc32cTest, EveryBitFlipChangesTheChecksum) {
  std::string data = "123456789abcdef";
  const uint32_t good = Crc32c(data);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE("byte " + std::to_string(i) + " bit " + std::to_string(bit));
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
      EXPECT_NE(Crc32c(data), good);
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
    }
  }
}

}  // namespace
}  // namespace core
