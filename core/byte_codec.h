// Little-endian binary encoding shared by the WAL payloads and snapshots:
// LEB128 varints, zigzag for signed values, length-prefixed strings, raw doubles.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace core {

inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void PutBytes(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

inline void PutDouble(std::string& out, double d) {
  char b[8];
  std::memcpy(b, &d, 8);
  out.append(b, 8);
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Reads what the Put* functions wrote. Each method returns false (and reads
// nothing more) at the end of the data or on a malformed value. Views returned
// by Bytes point into the data.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Byte(uint8_t& b) {
    if (pos_ >= data_.size()) return false;
    b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Bytes(std::string_view& s) {
    uint64_t n;
    if (!Varint(n) || n > data_.size() - pos_) return false;
    s = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Bytes(std::string& s) {
    std::string_view v;
    if (!Bytes(v)) return false;
    s.assign(v);
    return true;
  }
  bool Double(double& d) {
    if (data_.size() - pos_ < 8) return false;
    std::memcpy(&d, data_.data() + pos_, 8);
    pos_ += 8;
    return true;
  }
  size_t pos() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace core
