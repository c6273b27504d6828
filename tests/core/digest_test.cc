#include "core/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace core {
namespace {

TEST(DigestTest, Sha256KnownVectors) {
  struct Case {
    std::string input;
    std::string hex;
  };
  // FIPS 180-2 / NIST test vectors.
  const Case cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1'000'000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input.substr(0, 20));
    EXPECT_EQ(Sha256Hex(c.input), c.hex);
  }
}

TEST(DigestTest, HashesEmbeddedNulBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(Sha256Hex(with_nul), Sha256Hex("a"));
  EXPECT_EQ(Sha256Hex(with_nul).size(), 64u);
}

std::string Repeat(size_t n, char c) { return std::string(n, c); }

std::string Range(int first, int last) {
  std::string out;
  for (int b = first; b <= last; ++b) out.push_back(static_cast<char>(b));
  return out;
}

TEST(DigestTest, HmacSha256Rfc4231Vectors) {
  struct Case {
    const char* name;
    std::string key;
    std::string data;
    std::string hex;  // test case 5 gives only the first 128 bits
  };
  const Case cases[] = {
      {"1", Repeat(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"3", Repeat(20, '\xaa'), Repeat(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4", Range(0x01, 0x19), Repeat(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"5 (truncated)", Repeat(20, '\x0c'), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"6", Repeat(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"7", Repeat(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
      {"empty key and data", "", "",
       "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string mac = HmacSha256Hex(c.key, c.data);
    ASSERT_EQ(mac.size(), 64u);
    EXPECT_EQ(mac.substr(0, c.hex.size()), c.hex);
  }
}

TEST(DigestTest, HmacDependsOnKeyAndData) {
  const std::string base = HmacSha256Hex("key", "data");
  EXPECT_NE(HmacSha256Hex("key2", "data"), base);
  EXPECT_NE(HmacSha256Hex("key", "data2"), base);
  // The whole key is used, not a C string (HMAC itself zero-pads keys to the
  // block size, so only trailing NULs are equivalent).
  EXPECT_NE(HmacSha256Hex(std::string("k\0ey", 4), "data"), HmacSha256Hex("k", "data"));
  EXPECT_NE(HmacSha256Hex("key", std::string("data\0", 5)), base);
  EXPECT_EQ(HmacSha256Hex("key", "data"), base);
}

TEST(DigestTest, ConstantTimeEquals) {
  struct Case {
    const char* name;
    std::string a;
    std::string b;
    bool equal;
  };
  const std::string hash = Sha256Hex("secret");
  std::string first_differs = hash;
  first_differs[0] = first_differs[0] == 'a' ? 'b' : 'a';
  std::string last_differs = hash;
  last_differs.back() = last_differs.back() == 'a' ? 'b' : 'a';
  const Case cases[] = {
      {"same hash", hash, Sha256Hex("secret"), true},
      {"first byte differs", hash, first_differs, false},
      {"last byte differs", hash, last_differs, false},
      {"prefix", hash, hash.substr(0, 63), false},
      {"longer", hash, hash + "0", false},
      {"both empty", "", "", true},
      {"empty vs non-empty", "", "a", false},
      {"non-empty vs empty", "a", "", false},
      {"embedded NUL equal", std::string("a\0b", 3), std::string("a\0b", 3), true},
      {"embedded NUL differs", std::string("a\0b", 3), std::string("a\0c", 3), false},
      {"high bytes", "\xff\x80", "\xff\x80", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ConstantTimeEquals(c.a, c.b), c.equal);
    EXPECT_EQ(ConstantTimeEquals(c.b, c.a), c.equal);
  }
  EXPECT_TRUE(ConstantTimeEquals(std::string_view(), std::string_view()));
}

}  // namespace
}  // namespace core
