#include "rest/api_key.h"

#include <array>
#include <cstdint>

#include "core/crc32c.h"
#include "core/digest.h"
#include "core/random.h"

namespace rest {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr size_t kPrefixStart = kApiKeyTag.size();                     // 4
constexpr size_t kSeparator = kPrefixStart + kApiKeyPrefixLength;      // 12
constexpr size_t kSecretStart = kSeparator + 1;                        // 13
constexpr size_t kChecksumStart = kSecretStart + kApiKeySecretLength;  // 56
static_assert(kChecksumStart + kApiKeyChecksumLength == kApiKeyLength);

constexpr std::string_view kMalformed = "API key is malformed: expected tly_<8 chars>_<secret>";
constexpr std::string_view kWrongLength =
    "API key has the wrong length: the key was truncated or has extra characters";
constexpr std::string_view kChecksumMismatch =
    "API key checksum mismatch: the key was mistyped or truncated";

// Value of a base62 digit, or -1.
constexpr std::array<int8_t, 256> MakeBase62Values() {
  std::array<int8_t, 256> v{};
  for (auto& x : v) x = -1;
  for (size_t i = 0; i < kBase62.size(); ++i) v[static_cast<unsigned char>(kBase62[i])] = i;
  return v;
}
constexpr auto kBase62Values = MakeBase62Values();

bool IsBase62(std::string_view s) {
  for (char c : s) {
    if (kBase62Values[static_cast<unsigned char>(c)] < 0) return false;
  }
  return true;
}

std::string ChecksumOf(std::string_view body) {
  uint32_t crc = core::Crc32c(body);
  std::string out(kApiKeyChecksumLength, '0');
  for (size_t i = kApiKeyChecksumLength; i-- > 0;) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

core::Unexpected<core::Error> Unauthorized(std::string_view message) {
  return core::Fail(core::ErrorCode::kUnauthorized, std::string(message));
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Standard base64 (RFC 4648 section 4); the '=' padding may be omitted.
std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.size() % 4 == 0 && in.ends_with("==")) {
    in.remove_suffix(2);
  } else if (in.size() % 4 == 0 && in.ends_with('=')) {
    in.remove_suffix(1);
  }
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;  // includes '=' in the middle
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The key inside Basic credentials "user:password" (already decoded).
std::string KeyFromBasic(std::string_view user_pass) {
  const size_t colon = user_pass.find(':');
  if (colon == std::string_view::npos) return {};
  const std::string_view user = user_pass.substr(0, colon);
  const std::string_view pass = user_pass.substr(colon + 1);
  if (pass.empty() && user.starts_with(kApiKeyTag)) return std::string(user);
  return std::string(pass);
}

}  // namespace

core::Result<GeneratedKey> GenerateApiKey() {
  auto prefix = core::RandomFromAlphabet(kApiKeyPrefixLength, kBase62);
  if (!prefix) return core::Unexpected(std::move(prefix).error());
  auto secret = core::RandomFromAlphabet(kApiKeySecretLength, kBase62);
  if (!secret) return core::Unexpected(std::move(secret).error());
  GeneratedKey key;
  key.full.reserve(kApiKeyLength);
  key.full.append(kApiKeyTag);
  key.full.append(*prefix);
  key.full.push_back('_');
  key.full.append(*secret);
  key.full.append(ChecksumOf(key.full));
  key.prefix = std::move(*prefix);
  key.hash_hex = core::Sha256Hex(key.full);
  return key;
}

core::Result<ParsedKey> ParseApiKey(std::string_view key) {
  // Structure first: a string that is not shaped like a key at all gets the
  // format message; a key-shaped string of the wrong length was cut or extended.
  if (!key.starts_with(kApiKeyTag) || key.size() <= kSeparator || key[kSeparator] != '_' ||
      !IsBase62(key.substr(kPrefixStart, kApiKeyPrefixLength))) {
    return Unauthorized(kMalformed);
  }
  if (!IsBase62(key.substr(kSecretStart))) return Unauthorized(kMalformed);
  if (key.size() != kApiKeyLength) return Unauthorized(kWrongLength);
  if (key.substr(kChecksumStart) != ChecksumOf(key.substr(0, kChecksumStart))) {
    return Unauthorized(kChecksumMismatch);
  }
  return ParsedKey{key.substr(kPrefixStart, kApiKeyPrefixLength)};
}

std::optional<std::string> ExtractCredential(const core::HttpRequest& req) {
  const std::string* header = req.Header("authorization");
  if (header == nullptr) return std::nullopt;
  const std::string_view value = Trim(*header);
  if (value.empty()) return std::nullopt;

  size_t space = 0;
  while (space < value.size() && !IsSpace(value[space])) ++space;
  const std::string_view scheme = value.substr(0, space);
  const std::string_view credential = Trim(value.substr(space));
  if (credential.empty()) {
    // A lone token: a key sent without a scheme, or a scheme without a key.
    if (scheme.starts_with(kApiKeyTag)) return std::string(scheme);
    return std::string();
  }
  if (EqualsIgnoreCase(scheme, "bearer")) return std::string(credential);
  if (EqualsIgnoreCase(scheme, "basic")) {
    auto decoded = DecodeBase64(credential);
    if (!decoded) return std::string();
    return KeyFromBasic(*decoded);
  }
  return std::string();  // unknown scheme
}

}  // namespace rest
