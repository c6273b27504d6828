// API keys: the format, generation, a fast offline check, and where a request
// carries one. Pure functions; thread-safe.
//
// Format (62 characters):  tly_<prefix>_<secret><checksum>
//   prefix    8 base62 characters, random. The public id of the key: stored in
//             clear, shown in listings, used to look the key up.
//   secret    43 base62 characters drawn uniformly (62^43 > 2^256: at least 256
//             random bits). Never stored; only core::Sha256Hex(full key) is.
//   checksum  6 base62 characters: core::Crc32c of everything before it
//             ("tly_<prefix>_<secret>"), big-endian digits, zero-padded.
// Base62 is 0-9, A-Z, a-z. The checksum lets a mistyped or truncated key fail
// before any lookup; it is not a security measure (the hash comparison is).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/http.h"
#include "core/status.h"

namespace rest {

inline constexpr std::string_view kApiKeyTag = "tly_";
inline constexpr size_t kApiKeyPrefixLength = 8;
inline constexpr size_t kApiKeySecretLength = 43;
inline constexpr size_t kApiKeyChecksumLength = 6;
inline constexpr size_t kApiKeyLength = kApiKeyTag.size() + kApiKeyPrefixLength + 1 +
                                        kApiKeySecretLength + kApiKeyChecksumLength;  // 62

struct GeneratedKey {
  std::string full;      // the key, shown to its owner once
  std::string prefix;    // the 8-character public id
  std::string hash_hex;  // core::Sha256Hex(full), what is stored
};

// A new random key. Fails (kInternal) only when the OS CSPRNG does.
core::Result<GeneratedKey> GenerateApiKey();

struct ParsedKey {
  std::string_view prefix;  // points into the key passed to ParseApiKey
};

// Checks the format and checksum of `key` without any lookup. Errors are
// kUnauthorized with a message a person can act on; they never quote the key.
core::Result<ParsedKey> ParseApiKey(std::string_view key);

// The key a request presents, from its Authorization header:
//   "Bearer <key>"                 the key;
//   "Basic base64(<user>:<key>)"   the password is the key; when the password
//                                  is empty and the user is the key (curl -u key:),
//                                  the user;
//   "<key>" alone                  accepted when it starts with "tly_".
// The scheme is case-insensitive; spaces and tabs around the parts are ignored.
// Returns nullopt when there is no Authorization header or it is blank: the
// request presents no key. For any other header that carries no key (unknown
// scheme, bad base64, no ':' in Basic credentials) returns a string that fails
// ParseApiKey, so callers need one check: nullopt -> "missing key", otherwise
// ParseApiKey. The result holds the secret: do not log it.
std::optional<std::string> ExtractCredential(const core::HttpRequest& req);

}  // namespace rest
