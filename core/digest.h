// Cryptographic digests and comparisons (OpenSSL). The only file that includes
// OpenSSL's digest, HMAC and CRYPTO_memcmp APIs. All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace core {

// SHA-256 of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA-256 (RFC 2104) of `data` under `key`, as 64 lower-case hex characters
// (empty only if OpenSSL itself fails, e.g. out of memory; never equal to a real MAC).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// True when `a` and `b` hold the same bytes. For secrets and their hashes: the
// time taken depends only on the lengths, never on where the contents differ
// (CRYPTO_memcmp). Inputs of different lengths are unequal; the lengths
// themselves are not treated as secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace core
