#include "core/random.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

namespace core {
namespace {

TEST(RandomTest, SecureRandomBytesReturnsExactlyN) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{16}, size_t{32}, size_t{257}, size_t{1} << 20}) {
    SCOPED_TRACE(n);
    auto bytes = SecureRandomBytes(n);
    ASSERT_TRUE(bytes) << bytes.error().message;
    EXPECT_EQ(bytes->size(), n);
  }
}

TEST(RandomTest, SecureRandomBytesDifferBetweenCalls) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto bytes = SecureRandomBytes(16);
    ASSERT_TRUE(bytes);
    EXPECT_TRUE(seen.insert(*bytes).second) << "a 128-bit value repeated";
  }
}

TEST(RandomTest, SecureRandomBytesLookUniform) {
  // 1 MiB: each byte value is expected 4096 times (sd 64); the bounds are ~9 sd.
  auto bytes = SecureRandomBytes(size_t{1} << 20);
  ASSERT_TRUE(bytes);
  std::array<int, 256> counts{};
  for (unsigned char b : *bytes) ++counts[b];
  for (int v = 0; v < 256; ++v) {
    SCOPED_TRACE(v);
    EXPECT_GT(counts[v], 3500);
    EXPECT_LT(counts[v], 4700);
  }
}

TEST(RandomTest, ReadLoopRetriesShortReadsAndEintr) {
  int calls = 0;
  auto bytes = ReadRandomBytes(10, [&](void* buf, size_t len) -> ssize_t {
    ++calls;
    if (calls % 2 == 1) {
      errno = EINTR;
      return -1;
    }
    (void)len;
    std::memset(buf, 'x', 1);  // one byte at a time
    return 1;
  });
  ASSERT_TRUE(bytes) << bytes.error().message;
  EXPECT_EQ(*bytes, std::string(10, 'x'));
  EXPECT_EQ(calls, 20);
}

TEST(RandomTest, ReadLoopFailsCleanly) {
  struct Case {
    const char* name;
    ssize_t ret;
    int err;
    const char* message_part;
  };
  const Case cases[] = {
      {"EIO", -1, EIO, "Input/output error"},
      {"ENOSYS", -1, ENOSYS, "not implemented"},
      {"zero bytes", 0, 0, "returned 0 bytes"},
      {"more than asked", 100, 0, "returned 100 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int calls = 0;
    auto bytes = ReadRandomBytes(8, [&](void*, size_t) -> ssize_t {
      ++calls;
      errno = c.err;
      return c.ret;
    });
    ASSERT_FALSE(bytes);
    EXPECT_EQ(bytes.error().code, ErrorCode::kInternal);
    EXPECT_NE(bytes.error().message.find(c.message_part), std::string::npos)
        << bytes.error().message;
    EXPECT_EQ(calls, 1) << "no retry of a hard failure";
  }
}

TEST(RandomTest, ReadLoopDoesNotCallForZeroBytes) {
  auto bytes = ReadRandomBytes(0, [](void*, size_t) -> ssize_t { std::abort(); });
  ASSERT_TRUE(bytes);
  EXPECT_TRUE(bytes->empty());
}

TEST(RandomTest, RandomFromAlphabetUsesOnlyAndAllOfTheAlphabet) {
  struct Case {
    std::string alphabet;
    size_t n;
  };
  const Case cases[] = {
      {"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 20'000},
      {"ab", 1'000},
      {"z", 50},
      {"0123456789abcdef", 5'000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.alphabet);
    auto s = RandomFromAlphabet(c.n, c.alphabet);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(s->size(), c.n);
    std::set<char> used(s->begin(), s->end());
    EXPECT_EQ(used, std::set<char>(c.alphabet.begin(), c.alphabet.end()));
  }
}

TEST(RandomTest, RandomFromAlphabetIsUnbiased) {
  // 62 does not divide 256: a modulo without rejection would make the first 8
  // characters ~25% more likely than the rest.
  const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  auto s = RandomFromAlphabet(620'000, alphabet);
  ASSERT_TRUE(s);
  std::array<int, 256> counts{};
  for (unsigned char c : *s) ++counts[c];
  for (char c : alphabet) {
    SCOPED_TRACE(std::string(1, c));
    EXPECT_GT(counts[static_cast<unsigned char>(c)], 9'100);  // expected 10,000, sd ~99
    EXPECT_LT(counts[static_cast<unsigned char>(c)], 10'900);
  }
}

TEST(RandomTest, RandomFromAlphabetRejectsBadAlphabets) {
  EXPECT_FALSE(RandomFromAlphabet(4, ""));
  EXPECT_FALSE(RandomFromAlphabet(4, std::string(257, 'a')));
  auto full = RandomFromAlphabet(4, std::string(256, 'a'));
  ASSERT_TRUE(full);
  EXPECT_EQ(*full, "aaaa");
}

TEST(RandomTest, RandomHexIsLowerCaseHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string hex = RandomHex(16);
    ASSERT_EQ(hex.size(), 32u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    EXPECT_TRUE(seen.insert(hex).second);
  }
  EXPECT_EQ(RandomHex(0), "");
}

}  // namespace
}  // namespace core
