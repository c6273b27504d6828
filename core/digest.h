// Cryptographic digests (OpenSSL). The only file that includes OpenSSL's digest API.
#pragma once

#include <string>
#include <string_view>

namespace core {

// SHA-256 of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

}  // namespace core
