#include "core/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace core {

Result<std::string> ReadRandomBytes(size_t n, const RandomReader& read_some) {
  std::string out(n, '\0');
  size_t filled = 0;
  while (filled < n) {
    const ssize_t got = read_some(out.data() + filled, n - filled);
    if (got < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return Fail(ErrorCode::kInternal,
                  std::string("cannot read random bytes from the OS: ") + std::strerror(err));
    }
    if (got == 0 || static_cast<size_t>(got) > n - filled) {
      // getrandom never returns 0 for a non-empty request; do not spin on a broken source.
      return Fail(ErrorCode::kInternal, "cannot read random bytes from the OS: source returned " +
                                            std::to_string(got) + " bytes");
    }
    filled += static_cast<size_t>(got);
  }
  return out;
}

Result<std::string> SecureRandomBytes(size_t n) {
  return ReadRandomBytes(n, [](void* buf, size_t len) { return getrandom(buf, len, 0); });
}

Result<std::string> RandomFromAlphabet(size_t n, std::string_view alphabet) {
  if (alphabet.empty() || alphabet.size() > 256) {
    return Fail(ErrorCode::kInternal, "RandomFromAlphabet: alphabet size must be 1..256");
  }
  // Accept a byte only below the largest multiple of the alphabet size, so every
  // character is equally likely.
  const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    // Ask for a little more than needed: about 1 - limit/256 of the bytes are rejected.
    auto bytes = SecureRandomBytes(n - out.size() + 8);
    if (!bytes) return Unexpected(std::move(bytes).error());
    for (unsigned char b : *bytes) {
      if (b >= limit) continue;
      out.push_back(alphabet[b % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  auto raw = SecureRandomBytes(bytes);
  if (!raw) {
    std::fprintf(stderr, "fatal: %s\n", raw.error().message.c_str());
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : *raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace core
