// Random bytes from the operating system's CSPRNG (getrandom(2)), for secrets
// such as API keys and for unguessable ids. The only file that calls getrandom.
// Thread-safe: no state of our own.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace core {

// `n` bytes from getrandom(2) (the urandom pool; blocks only before the kernel
// pool is first initialised, early at boot). Retries on EINTR and short reads;
// any other failure is a kInternal error naming errno. Never falls back to a
// weaker generator.
Result<std::string> SecureRandomBytes(size_t n);

// `n` characters drawn uniformly (rejection sampling, no modulo bias) from
// `alphabet`, using SecureRandomBytes.
// REQUIRES: 1 <= alphabet.size() <= 256.
Result<std::string> RandomFromAlphabet(size_t n, std::string_view alphabet);

// `bytes` random bytes as 2 * `bytes` lower-case hex characters, for ids that
// must be unguessable. A CSPRNG failure here aborts the process (getrandom(2)
// only fails on a kernel without it or a programming error); use
// SecureRandomBytes where the caller can report the failure instead.
std::string RandomHex(size_t bytes);

// For tests: the fill loop of SecureRandomBytes over `read_some`, which behaves
// like getrandom(2) (returns bytes written, or -1 with errno set).
using RandomReader = std::function<ssize_t(void* buf, size_t len)>;
Result<std::string> ReadRandomBytes(size_t n, const RandomReader& read_some);

}  // namespace core
