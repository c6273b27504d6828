#include "rest/api_key.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/digest.h"

namespace rest {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Computed outside tally (Python, bitwise CRC-32C): pins the documented format.
constexpr std::string_view kGoldenKey =
    "tly_AbCdEf12_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg4fIvv4";

std::string NewKey() {
  auto key = GenerateApiKey();
  EXPECT_TRUE(key) << key.error().message;
  return key ? key->full : std::string();
}

// The message of a failed parse, or "" when it parsed.
std::string ParseError(std::string_view key) {
  auto parsed = ParseApiKey(key);
  if (parsed) return "";
  EXPECT_EQ(parsed.error().code, core::ErrorCode::kUnauthorized);
  return parsed.error().message;
}

bool IsMalformed(const std::string& m) { return m.starts_with("API key is malformed"); }
bool IsChecksum(const std::string& m) { return m.starts_with("API key checksum mismatch"); }

TEST(ApiKeyTest, GoldenKeyParses) {
  ASSERT_EQ(kGoldenKey.size(), kApiKeyLength);
  auto parsed = ParseApiKey(kGoldenKey);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->prefix, "AbCdEf12");
}

TEST(ApiKeyTest, GenerateThenParseRoundTrip) {
  for (int i = 0; i < 200; ++i) {
    auto key = GenerateApiKey();
    ASSERT_TRUE(key) << key.error().message;
    SCOPED_TRACE(key->full);
    ASSERT_EQ(key->full.size(), kApiKeyLength);
    EXPECT_TRUE(key->full.starts_with("tly_"));
    EXPECT_EQ(key->full[12], '_');
    EXPECT_EQ(key->prefix.size(), kApiKeyPrefixLength);
    EXPECT_EQ(key->full.substr(4, 8), key->prefix);
    EXPECT_EQ(key->full.substr(13).find_first_not_of(kBase62), std::string::npos);
    EXPECT_EQ(key->hash_hex, core::Sha256Hex(key->full));
    auto parsed = ParseApiKey(key->full);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->prefix, key->prefix);
    EXPECT_EQ(parsed->prefix.data(), key->full.data() + 4) << "a view into the input";
  }
}

TEST(ApiKeyTest, TenThousandKeysAreUnique) {
  std::set<std::string> keys, prefixes, hashes;
  for (int i = 0; i < 10'000; ++i) {
    auto key = GenerateApiKey();
    ASSERT_TRUE(key);
    EXPECT_TRUE(keys.insert(key->full).second);
    EXPECT_TRUE(prefixes.insert(key->prefix).second);  // P(collision) ~ 2e-7
    EXPECT_TRUE(hashes.insert(key->hash_hex).second);
  }
}

TEST(ApiKeyTest, SecretCharactersAreSpreadOverTheAlphabet) {
  std::set<char> used;
  for (int i = 0; i < 100; ++i) {
    const std::string key = NewKey();
    used.insert(key.begin() + 13, key.begin() + 56);
  }
  EXPECT_EQ(used.size(), kBase62.size());
}

TEST(ApiKeyTest, EverySingleCharacterMutationFails) {
  const std::string others = "_-.+/= ~\t\x7f\x80\xff";
  for (int round = 0; round < 3; ++round) {
    const std::string key = round == 0 ? std::string(kGoldenKey) : NewKey();
    for (size_t pos = 0; pos < key.size(); ++pos) {
      for (char c : std::string(kBase62) + others + std::string(1, '\0')) {
        if (c == key[pos]) continue;
        std::string bad = key;
        bad[pos] = c;
        SCOPED_TRACE("position " + std::to_string(pos) + " -> " + std::to_string(int{c}));
        const std::string message = ParseError(bad);
        ASSERT_FALSE(message.empty());
        // Inside the base62 body a base62 substitute is caught by the checksum.
        if (pos >= 4 && pos != 12 && kBase62.find(c) != std::string_view::npos) {
          EXPECT_TRUE(IsChecksum(message)) << message;
        } else {
          EXPECT_TRUE(IsMalformed(message)) << message;
        }
      }
    }
  }
}

TEST(ApiKeyTest, AdjacentTranspositionsFail) {
  const std::string key(kGoldenKey);
  for (size_t pos = 0; pos + 1 < key.size(); ++pos) {
    if (key[pos] == key[pos + 1]) continue;
    std::string bad = key;
    std::swap(bad[pos], bad[pos + 1]);
    SCOPED_TRACE(pos);
    EXPECT_FALSE(ParseApiKey(bad));
  }
}

TEST(ApiKeyTest, MalformedKeys) {
  const std::string good(kGoldenKey);
  // The message each kind of mistake gets starts with these.
  const std::string kMalformed = "API key is malformed";
  const std::string kWrongLength = "API key has the wrong length";
  const std::string kChecksum = "API key checksum mismatch";
  struct Case {
    const char* name;
    std::string key;
    std::string message_start;
  };
  const Case cases[] = {
      {"empty", "", kMalformed},
      {"tag only", "tly_", kMalformed},
      {"short prefix, no separator", "tly_AbCdEf1", kMalformed},
      {"prefix without secret", "tly_AbCdEf12", kMalformed},
      {"separator only", "tly_AbCdEf12_", kWrongLength},
      {"7-char prefix", "tly_AbCdEf1_" + good.substr(13), kMalformed},
      {"9-char prefix", "tly_AbCdEf123_" + good.substr(13), kMalformed},
      {"upper-case tag", "TLY_" + good.substr(4), kMalformed},
      {"other vendor", "sk_live_" + good.substr(8), kMalformed},
      {"missing tag", good.substr(4), kMalformed},
      {"dash separator", "tly-" + good.substr(4), kMalformed},
      {"truncated by one", good.substr(0, good.size() - 1), kWrongLength},
      {"truncated by half", good.substr(0, 40), kWrongLength},
      {"extra character", good + "A", kWrongLength},
      {"duplicated", good + good, kMalformed},
      {"trailing newline", good + "\n", kMalformed},
      {"leading space", " " + good, kMalformed},
      {"trailing space", good + " ", kMalformed},
      {"quoted", "\"" + good + "\"", kMalformed},
      {"secret with dash", good.substr(0, 20) + "-" + good.substr(21), kMalformed},
      {"embedded NUL", good.substr(0, 30) + std::string(1, '\0') + good.substr(31), kMalformed},
      {"checksum zeroed", good.substr(0, 56) + "000000", kChecksum},
      {"checksum beyond 2^32", good.substr(0, 56) + "zzzzzz", kChecksum},
      {"prefix swapped with another key's", "tly_ZZZZZZZZ" + good.substr(12), kChecksum},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = ParseError(c.key);
    ASSERT_FALSE(message.empty()) << "parsed";
    EXPECT_TRUE(message.starts_with(c.message_start)) << message;
  }
}

TEST(ApiKeyTest, ErrorsNeverQuoteTheKey) {
  std::string bad(kGoldenKey);
  bad[30] = bad[30] == 'A' ? 'B' : 'A';
  for (const std::string& key : {bad, bad.substr(0, 50), bad + "!"}) {
    auto parsed = ParseApiKey(key);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().message.find("AbCdEf12"), std::string::npos);
    EXPECT_EQ(parsed.error().message.find("0123456789"), std::string::npos);
    EXPECT_TRUE(parsed.error().param.empty());
  }
  EXPECT_EQ(ParseError(bad), "API key checksum mismatch: the key was mistyped or truncated");
  EXPECT_EQ(ParseError("nope"), "API key is malformed: expected tly_<8 chars>_<secret>");
}

// Standard base64 with padding, for building Basic headers.
std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t{static_cast<unsigned char>(in[i])} << 16 |
                       uint32_t{static_cast<unsigned char>(in[i + 1])} << 8 |
                       uint32_t{static_cast<unsigned char>(in[i + 2])};
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (in.size() - i == 1) {
    const uint32_t v = uint32_t{static_cast<unsigned char>(in[i])} << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    const uint32_t v = uint32_t{static_cast<unsigned char>(in[i])} << 16 |
                       uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

TEST(ApiKeyTest, Base64HelperMatchesRfc4648) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
}

std::optional<std::string> Extract(std::optional<std::string> header) {
  core::HttpRequest req;
  req.headers.emplace_back("content-type", "application/json");
  if (header) req.headers.emplace_back("authorization", *header);
  return ExtractCredential(req);
}

TEST(ApiKeyTest, ExtractCredential) {
  const std::string key(kGoldenKey);
  std::string unpadded = Base64("user:" + key);  // 67 bytes: "==" padding
  ASSERT_TRUE(unpadded.ends_with("=="));
  unpadded.resize(unpadded.size() - 2);
  struct Case {
    const char* name;
    std::optional<std::string> header;
    std::optional<std::string> want;  // nullopt: no credential; "": one that fails ParseApiKey
  };
  const Case cases[] = {
      {"no header", std::nullopt, std::nullopt},
      {"empty header", "", std::nullopt},
      {"blank header", " \t ", std::nullopt},
      {"bearer", "Bearer " + key, key},
      {"bearer lower case", "bearer " + key, key},
      {"bearer upper case", "BEARER " + key, key},
      {"bearer extra spaces", "  Bearer   " + key + "  ", key},
      {"bearer tab", "Bearer\t" + key, key},
      {"bearer passes any token on", "Bearer not-a-key", "not-a-key"},
      {"basic user:key", "Basic " + Base64("user:" + key), key},
      {"basic lower case", "basic " + Base64("me:" + key), key},
      {"basic empty user", "Basic " + Base64(":" + key), key},
      {"basic key as user, curl -u key:", "Basic " + Base64(key + ":"), key},
      {"basic unpadded", "Basic " + unpadded, key},
      {"basic password with colon", "Basic " + Base64("u:a:b"), "a:b"},
      {"basic user without password", "Basic " + Base64("user:"), ""},
      {"basic without colon", "Basic " + Base64(key), ""},
      {"basic invalid base64", "Basic !!!!", ""},
      {"basic base64 wrong length", "Basic Zm9vY", ""},
      {"basic padding in the middle", "Basic Zg==Zg==", ""},
      {"basic url-safe alphabet", "Basic " + std::string("a-_b"), ""},
      {"basic nothing", "Basic", ""},
      {"bearer nothing", "Bearer", ""},
      {"bare key", key, key},
      {"bare garbage", "garbage", ""},
      {"unknown scheme", "Token " + key, ""},
      {"digest scheme", "Digest username=\"x\"", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::optional<std::string> got = Extract(c.header);
    ASSERT_EQ(got.has_value(), c.want.has_value());
    if (!got) continue;
    EXPECT_EQ(*got, *c.want);
    if (*got != key) {
      EXPECT_FALSE(ParseApiKey(*got)) << "must not authenticate";
    }
  }
}

TEST(ApiKeyTest, ExtractCredentialUsesTheAuthorizationHeaderOnly) {
  core::HttpRequest req;
  req.headers.emplace_back("x-api-key", std::string(kGoldenKey));
  req.query_string = "api_key=" + std::string(kGoldenKey);
  EXPECT_EQ(ExtractCredential(req), std::nullopt);
}

}  // namespace
}  // namespace rest
