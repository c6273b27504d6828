// CRC-32C (Castagnoli), the checksum of WAL records and snapshots.
#pragma once

#include <cstdint>
#include <string_view>

namespace core {

// CRC-32C of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace core
