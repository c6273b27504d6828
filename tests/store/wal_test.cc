#include "store/wal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/crc32c.h"
#include "core/env.h"
#include "tests/temp_dir.h"

namespace store {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Rec {
  uint8_t type;
  std::string payload;
  friend bool operator==(const Rec&, const Rec&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Rec& r) {
    return os << "{type " << int{r.type} << ", " << r.payload.size() << " bytes \""
              << r.payload.substr(0, 32) << "\"}";
  }
};

struct Replayed {
  WalReplayStats stats;
  std::vector<Rec> records;
};

core::Result<Replayed> ReplayDir(core::Env& env, const std::string& dir, bool repair = false,
                                 uint64_t first_segment = 0) {
  Replayed out;
  auto stats = Wal::Replay(env, dir, first_segment, repair,
                           [&](uint8_t type, std::string_view payload) -> core::Status {
                             out.records.push_back({type, std::string(payload)});
                             return {};
                           });
  if (!stats) return core::Unexpected(stats.error());
  out.stats = std::move(*stats);
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint32_t GetU32(const std::string& s, size_t pos) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[pos + static_cast<size_t>(i)]);
  return v;
}

std::string Payload(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 31 + static_cast<size_t>(seed) * 17);
  return s;
}

class WalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Wal> OpenWal(WalSync sync = WalSync::kNever, uint64_t segment_bytes = 64 << 20,
                               core::Env* env = nullptr, std::string dir = "") {
    WalOptions options;
    options.dir = dir.empty() ? Dir() : dir;
    options.sync = sync;
    options.segment_bytes = segment_bytes;
    auto wal = Wal::Open(env ? *env : env_, options);
    EXPECT_TRUE(wal.has_value()) << wal.error().message;
    return wal.has_value() ? std::move(*wal) : nullptr;
  }
  std::string Dir() const { return tmp_.Sub("wal"); }
  std::string Seg(uint64_t n) const { return Wal::SegmentPath(Dir(), n); }

  Replayed MustReplay(bool repair = false, uint64_t first_segment = 0) {
    auto got = ReplayDir(env_, Dir(), repair, first_segment);
    EXPECT_TRUE(got.has_value()) << got.error().message;
    return got.has_value() ? std::move(*got) : Replayed{};
  }

  std::vector<uint64_t> Segments() {
    auto got = Wal::ListSegments(env_, Dir());
    EXPECT_TRUE(got.has_value());
    return got.has_value() ? *got : std::vector<uint64_t>{};
  }

  core::PosixEnv env_;
  tally_test::TempDir tmp_;
};

TEST(FrameRecordTest, LayoutIsLengthCrcTypePayload) {
  struct Case {
    const char* name;
    uint8_t type;
    std::string payload;
  };
  const Case cases[] = {
      {"empty payload", 1, ""},
      {"type zero", 0, "x"},
      {"type 255", 255, "abc"},
      {"binary with NULs", 7, std::string("\0\x01\xff\0", 4)},
      {"64 KiB", 3, Payload(65536, 1)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string f = FrameRecord(c.type, c.payload);
    ASSERT_EQ(f.size(), kRecordHeaderBytes + c.payload.size());
    EXPECT_EQ(GetU32(f, 0), c.payload.size()) << "little-endian payload length";
    const std::string body = std::string(1, static_cast<char>(c.type)) + c.payload;
    EXPECT_EQ(GetU32(f, 4), core::Crc32c(body)) << "CRC-32C over type and payload";
    EXPECT_EQ(static_cast<uint8_t>(f[8]), c.type);
    EXPECT_EQ(f.substr(9), c.payload);
  }
  // One fixed vector, so the format cannot drift unnoticed.
  EXPECT_EQ(FrameRecord(1, "hi"),
            std::string("\x02\x00\x00\x00", 4) + [] {
              const uint32_t crc = core::Crc32c("\x01hi");
              std::string s;
              for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(crc >> (8 * i)));
              return s;
            }() + "\x01hi");
}

TEST(WalPathTest, SegmentPathIsZeroPadded) {
  EXPECT_EQ(Wal::SegmentPath("/d", 1), "/d/00000001.wal");
  EXPECT_EQ(Wal::SegmentPath("/d", 42), "/d/00000042.wal");
  EXPECT_EQ(Wal::SegmentPath("/d", 99999999), "/d/99999999.wal");
}

TEST_F(WalTest, ReplayOfAMissingDirectoryIsEmpty) {
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, IsEmpty());
  EXPECT_EQ(r.stats.segments, 0u);
}

TEST_F(WalTest, AppendReplayRoundTrip) {
  const std::vector<Rec> recs = {
      {1, "first"},
      {1, ""},
      {0, "type zero"},
      {255, std::string("\0\0\0", 3)},
      {2, Payload(1 << 20, 2)},  // 1 MiB
      {1, ""},
      {9, Payload(100'000, 3)},
      {1, "last"},
  };
  uint64_t bytes = 0;
  {
    auto wal = OpenWal(WalSync::kAlways);
    ASSERT_NE(wal, nullptr);
    for (const Rec& r : recs) {
      ASSERT_TRUE(wal->Append(r.type, r.payload).has_value());
      bytes += FrameRecord(r.type, r.payload).size();
    }
    const WalStats s = wal->Stats();
    EXPECT_EQ(s.appended_records, recs.size());
    EXPECT_EQ(s.appended_bytes, bytes);
    EXPECT_EQ(s.syncs, recs.size()) << "sequential appends: one sync each";
    EXPECT_EQ(s.failures, 0u);
    EXPECT_EQ(s.current_segment, 1u);
  }
  EXPECT_EQ(ReadAll(Seg(1)).size(), bytes);
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAreArray(recs));
  EXPECT_EQ(r.stats.records, recs.size());
  EXPECT_EQ(r.stats.bytes, bytes);
  EXPECT_EQ(r.stats.segments, 1u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
  EXPECT_EQ(r.stats.dropped_bytes, 0u);
  EXPECT_THAT(r.stats.notes, IsEmpty());
}

TEST_F(WalTest, ReplayStopsAtTheCallbacksError) {
  {
    auto wal = OpenWal();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(wal->Append(1, std::to_string(i)).has_value());
  }
  const std::string before = ReadAll(Seg(1));
  int calls = 0;
  auto got = Wal::Replay(env_, Dir(), 0, false, [&](uint8_t, std::string_view p) -> core::Status {
    ++calls;
    if (p == "1") return core::Fail(core::ErrorCode::kInternal, "bad record 1");
    return {};
  });
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().message, "bad record 1");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ReadAll(Seg(1)), before) << "nothing is cut for a callback error";
}

// Two segments: 1 = {A, B}, 2 = {C, D, E}. Returns the raw files.
struct Fixture {
  std::vector<Rec> recs;
  std::string seg1, seg2;
  size_t last_offset;  // of E in seg2
  size_t last_size;
};

Fixture MakeTwoSegmentFixture(core::Env& env, const std::string& dir) {
  Fixture f;
  f.recs = {{1, "alpha"}, {1, ""}, {2, "gamma-gamma"}, {1, Payload(300, 4)}, {3, "epsilon-40-bytes-of-payload-in-the-tail"}};
  WalOptions o;
  o.dir = dir;
  o.sync = WalSync::kNever;
  auto wal = Wal::Open(env, o);
  EXPECT_TRUE(wal.has_value());
  for (size_t i = 0; i < f.recs.size(); ++i) {
    if (i == 2) {
      auto seg = (*wal)->Rotate();
      EXPECT_TRUE(seg.has_value() && *seg == 2u);
    }
    EXPECT_TRUE((*wal)->Append(f.recs[i].type, f.recs[i].payload).has_value());
  }
  wal->reset();
  f.seg1 = ReadAll(Wal::SegmentPath(dir, 1));
  f.seg2 = ReadAll(Wal::SegmentPath(dir, 2));
  f.last_size = FrameRecord(f.recs.back().type, f.recs.back().payload).size();
  f.last_offset = f.seg2.size() - f.last_size;
  return f;
}

TEST_F(WalTest, TornTailAtEveryByteOfTheLastRecordIsTruncated) {
  tally_test::TempDir gen;
  const Fixture f = MakeTwoSegmentFixture(env_, gen.Sub("wal"));
  const std::vector<Rec> good(f.recs.begin(), f.recs.end() - 1);
  ASSERT_EQ(f.last_size, 9u + 39u);
  for (size_t kept = 1; kept < f.last_size; ++kept) {
    SCOPED_TRACE("kept " + std::to_string(kept) + " of " + std::to_string(f.last_size) +
                 " bytes of the last record");
    tally_test::TempDir tmp;
    const std::string dir = tmp.Sub("wal");
    ASSERT_TRUE(env_.CreateDirs(dir).has_value());
    WriteAll(Wal::SegmentPath(dir, 1), f.seg1);
    WriteAll(Wal::SegmentPath(dir, 2), f.seg2.substr(0, f.last_offset + kept));

    auto first = ReplayDir(env_, dir);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_THAT(first->records, ElementsAreArray(good));
    EXPECT_EQ(first->stats.truncated_bytes, kept);
    EXPECT_EQ(first->stats.segments, 2u);
    ASSERT_EQ(first->stats.notes.size(), 1u);
    EXPECT_THAT(first->stats.notes[0], HasSubstr(Wal::SegmentPath(dir, 2)));
    EXPECT_THAT(first->stats.notes[0], HasSubstr("offset " + std::to_string(f.last_offset)));
    EXPECT_EQ(ReadAll(Wal::SegmentPath(dir, 2)), f.seg2.substr(0, f.last_offset)) << "cut";
    EXPECT_EQ(ReadAll(Wal::SegmentPath(dir, 1)), f.seg1) << "untouched";

    auto second = ReplayDir(env_, dir);
    ASSERT_TRUE(second.has_value());
    EXPECT_THAT(second->records, ElementsAreArray(good));
    EXPECT_EQ(second->stats.truncated_bytes, 0u);
    EXPECT_THAT(second->stats.notes, IsEmpty());

    // The log takes appends again after a restart.
    {
      auto wal = OpenWal(WalSync::kNever, 64 << 20, nullptr, dir);
      ASSERT_NE(wal, nullptr);
      EXPECT_EQ(wal->Stats().current_segment, 3u);
      ASSERT_TRUE(wal->Append(4, "after restart").has_value());
    }
    auto third = ReplayDir(env_, dir);
    ASSERT_TRUE(third.has_value());
    std::vector<Rec> want = good;
    want.push_back({4, "after restart"});
    EXPECT_THAT(third->records, ElementsAreArray(want));
    EXPECT_EQ(third->stats.truncated_bytes, 0u);
  }
}

TEST_F(WalTest, BitFlipInEveryByteOfTheLastRecordIsTruncated) {
  tally_test::TempDir gen;
  const Fixture f = MakeTwoSegmentFixture(env_, gen.Sub("wal"));
  const std::vector<Rec> good(f.recs.begin(), f.recs.end() - 1);
  tally_test::TempDir tmp;
  const std::string dir = tmp.Sub("wal");
  ASSERT_TRUE(env_.CreateDirs(dir).has_value());
  for (size_t i = f.last_offset; i < f.seg2.size(); ++i) {
    for (int bit : {0, 3, 7}) {
      SCOPED_TRACE("byte " + std::to_string(i - f.last_offset) + " of the last record, bit " +
                   std::to_string(bit));
      std::string seg2 = f.seg2;
      seg2[i] = static_cast<char>(seg2[i] ^ (1 << bit));
      WriteAll(Wal::SegmentPath(dir, 1), f.seg1);
      WriteAll(Wal::SegmentPath(dir, 2), seg2);
      auto got = ReplayDir(env_, dir);
      ASSERT_TRUE(got.has_value()) << got.error().message;
      EXPECT_THAT(got->records, ElementsAreArray(good));
      EXPECT_EQ(got->stats.truncated_bytes, f.last_size);
      EXPECT_EQ(ReadAll(Wal::SegmentPath(dir, 2)).size(), f.last_offset);
    }
  }
}

TEST_F(WalTest, DamageBeforeTheLastSegmentFailsOrIsRepaired) {
  // Segments 1 = {A, B, C}, 2 = {D}, 3 = {E}.
  const std::vector<Rec> recs = {{1, "A-record"}, {1, "B-record"}, {1, "C-record"},
                                 {1, "D-record"}, {1, "E-record"}};
  {
    auto wal = OpenWal();
    for (size_t i = 0; i < recs.size(); ++i) {
      if (i == 3 || i == 4) {
        ASSERT_TRUE(wal->Rotate().has_value());
      }
      ASSERT_TRUE(wal->Append(recs[i].type, recs[i].payload).has_value());
    }
  }
  ASSERT_THAT(Segments(), ElementsAre(1u, 2u, 3u));
  const size_t frame = FrameRecord(1, "A-record").size();
  std::map<uint64_t, std::string> original;
  for (uint64_t s : {1, 2, 3}) original[s] = ReadAll(Seg(s));

  enum class Damage { kBitFlip, kTorn, kZeroFill };
  struct Case {
    const char* name;
    uint64_t segment;
    size_t record_offset;  // where the damaged record starts in the segment
    size_t byte;           // byte within that record
    Damage damage;
    size_t kept_records;   // records that survive a repair
  };
  const Case cases[] = {
      {"flip in the first record's length", 1, 0, 1, Damage::kBitFlip, 0},
      {"flip in the middle record's payload", 1, frame, 12, Damage::kBitFlip, 1},
      {"flip in the last record's crc", 1, 2 * frame, 5, Damage::kBitFlip, 2},
      {"flip in the last record's type", 1, 2 * frame, 8, Damage::kBitFlip, 2},
      {"torn end of segment 1", 1, 2 * frame, 10, Damage::kTorn, 2},
      {"zero-filled end of segment 1", 1, 2 * frame, 0, Damage::kZeroFill, 2},
      {"flip in segment 2", 2, 0, 9, Damage::kBitFlip, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (auto& [s, bytes] : original) WriteAll(Seg(s), bytes);
    std::string damaged = original[c.segment];
    const size_t at = c.record_offset + c.byte;
    switch (c.damage) {
      case Damage::kBitFlip: damaged[at] = static_cast<char>(damaged[at] ^ 0x10); break;
      case Damage::kTorn: damaged.resize(at); break;
      case Damage::kZeroFill:
        damaged.replace(at, std::string::npos, std::string(damaged.size() - at, '\0'));
        break;
    }
    WriteAll(Seg(c.segment), damaged);

    auto failed = ReplayDir(env_, Dir());
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, core::ErrorCode::kInternal);
    EXPECT_THAT(failed.error().message,
                HasSubstr(Seg(c.segment) + " at offset " + std::to_string(c.record_offset)));
    EXPECT_THAT(failed.error().message, HasSubstr("--wal-repair"));
    for (uint64_t s : {1, 2, 3}) {
      EXPECT_EQ(ReadAll(Seg(s)), s == c.segment ? damaged : original[s]) << "nothing changed";
    }

    auto repaired = ReplayDir(env_, Dir(), /*repair=*/true);
    ASSERT_TRUE(repaired.has_value()) << repaired.error().message;
    EXPECT_THAT(repaired->records,
                ElementsAreArray(recs.begin(), recs.begin() + static_cast<long>(c.kept_records)));
    uint64_t dropped = damaged.size() - c.record_offset;
    for (uint64_t s = c.segment + 1; s <= 3; ++s) dropped += original[s].size();
    EXPECT_EQ(repaired->stats.dropped_bytes, dropped);
    EXPECT_EQ(repaired->stats.truncated_bytes, 0u);
    ASSERT_EQ(repaired->stats.notes.size(), 1u);
    EXPECT_THAT(repaired->stats.notes[0], HasSubstr(Seg(c.segment)));
    std::vector<uint64_t> left;
    for (uint64_t s = 1; s <= c.segment; ++s) left.push_back(s);
    EXPECT_THAT(Segments(), ElementsAreArray(left)) << "later segments are removed";
    EXPECT_EQ(ReadAll(Seg(c.segment)).size(), c.record_offset);

    // After the repair the log is clean.
    auto again = ReplayDir(env_, Dir());
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(again->records, repaired->records);
    EXPECT_EQ(again->stats.dropped_bytes + again->stats.truncated_bytes, 0u);
  }
}

TEST_F(WalTest, ZeroLengthSegmentsAreFine) {
  {
    auto wal = OpenWal();  // segment 1
    ASSERT_TRUE(wal->Append(1, "one").has_value());
  }
  { auto wal = OpenWal(); }  // segment 2 stays empty (a restart without traffic)
  {
    auto wal = OpenWal();  // segment 3
    ASSERT_TRUE(wal->Append(1, "three").has_value());
  }
  { auto wal = OpenWal(); }  // segment 4: empty and last
  ASSERT_THAT(Segments(), ElementsAre(1u, 2u, 3u, 4u));
  EXPECT_EQ(ReadAll(Seg(2)), "");
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAre(Rec{1, "one"}, Rec{1, "three"}));
  EXPECT_EQ(r.stats.segments, 4u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
  EXPECT_THAT(r.stats.notes, IsEmpty());
}

TEST_F(WalTest, ZeroFilledTailOfTheLastSegmentIsTruncated) {
  {
    auto wal = OpenWal();
    ASSERT_TRUE(wal->Append(1, "kept").has_value());
  }
  const std::string good = ReadAll(Seg(1));
  for (size_t zeros : {1u, 8u, 9u, 10u, 4096u}) {
    SCOPED_TRACE(std::to_string(zeros) + " zero bytes");
    WriteAll(Seg(1), good + std::string(zeros, '\0'));
    const Replayed r = MustReplay();
    EXPECT_THAT(r.records, ElementsAre(Rec{1, "kept"}));
    EXPECT_EQ(r.stats.truncated_bytes, zeros);
    EXPECT_EQ(ReadAll(Seg(1)), good);
  }
}

TEST_F(WalTest, ImplausibleLengthInTheTailIsTruncated) {
  {
    auto wal = OpenWal();
    ASSERT_TRUE(wal->Append(1, "kept").has_value());
  }
  const std::string good = ReadAll(Seg(1));
  std::string bad = FrameRecord(1, "x");
  bad[3] = '\x7f';  // length ~2 GiB
  WriteAll(Seg(1), good + bad);
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAre(Rec{1, "kept"}));
  EXPECT_EQ(r.stats.truncated_bytes, bad.size());
  ASSERT_EQ(r.stats.notes.size(), 1u);
  EXPECT_THAT(r.stats.notes[0], HasSubstr("implausible record length"));
}

TEST_F(WalTest, ReplayIsIdempotent) {
  {
    auto wal = OpenWal(WalSync::kNever, 200);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(wal->Append(1, Payload(static_cast<size_t>(i), i)).has_value());
  }
  // With a torn tail the first replay cuts it; every replay yields the same records.
  const std::vector<uint64_t> segs = Segments();
  ASSERT_GT(segs.size(), 2u);
  WriteAll(Seg(segs.back()), ReadAll(Seg(segs.back())) + FrameRecord(1, "torn").substr(0, 7));
  const Replayed first = MustReplay();
  EXPECT_EQ(first.stats.truncated_bytes, 7u);
  std::map<uint64_t, std::string> files;
  for (uint64_t s : Segments()) files[s] = ReadAll(Seg(s));
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const Replayed again = MustReplay();
    EXPECT_EQ(again.records, first.records);
    EXPECT_EQ(again.stats.records, first.stats.records);
    EXPECT_EQ(again.stats.bytes, first.stats.bytes);
    EXPECT_EQ(again.stats.segments, first.stats.segments);
    EXPECT_EQ(again.stats.truncated_bytes, 0u);
    for (const auto& [s, bytes] : files) EXPECT_EQ(ReadAll(Seg(s)), bytes) << "segment " << s;
  }
  EXPECT_EQ(first.records.size(), 40u);
}

TEST_F(WalTest, OpenStartsANewSegmentAfterTheNewest) {
  ASSERT_TRUE(env_.CreateDirs(Dir()).has_value());
  WriteAll(Seg(1), FrameRecord(1, "one"));
  WriteAll(Seg(5), FrameRecord(1, "five"));
  // Not segments: ignored by ListSegments, Open and Replay.
  for (const char* other : {"notes.txt", "123.wal", "0000000x.wal", "000000007.wal", "00000009.wal.tmp"}) {
    WriteAll(tmp_.Sub("wal/") + other, "junk");
  }
  EXPECT_THAT(Segments(), ElementsAre(1u, 5u));
  {
    auto wal = OpenWal();
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(wal->Stats().current_segment, 6u);
    ASSERT_TRUE(wal->Append(1, "six").has_value());
  }
  EXPECT_THAT(Segments(), ElementsAre(1u, 5u, 6u));
  EXPECT_EQ(ReadAll(Seg(6)), FrameRecord(1, "six"));
  EXPECT_EQ(ReadAll(Seg(5)), FrameRecord(1, "five")) << "older segments are never appended to";
  EXPECT_THAT(MustReplay().records, ElementsAre(Rec{1, "one"}, Rec{1, "five"}, Rec{1, "six"}));
  EXPECT_THAT(MustReplay(false, 5).records, ElementsAre(Rec{1, "five"}, Rec{1, "six"}));
}

TEST_F(WalTest, OpenCreatesTheDirectory) {
  auto wal = OpenWal(WalSync::kNever, 64 << 20, nullptr, tmp_.Sub("a/b/wal"));
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->Stats().current_segment, 1u);
  EXPECT_TRUE(env_.FileExists(tmp_.Sub("a/b/wal/00000001.wal")));
}

TEST_F(WalTest, RotatesBySizeKeepingEveryRecordInOrder) {
  constexpr uint64_t kSegmentBytes = 100;
  std::vector<Rec> recs;
  for (int i = 0; i < 60; ++i) recs.push_back({static_cast<uint8_t>(i % 3), Payload(static_cast<size_t>(i % 50), i)});
  {
    auto wal = OpenWal(WalSync::kAlways, kSegmentBytes);
    for (const Rec& r : recs) ASSERT_TRUE(wal->Append(r.type, r.payload).has_value());
    EXPECT_EQ(wal->Stats().current_segment, Segments().back());
  }
  const std::vector<uint64_t> segs = Segments();
  EXPECT_GT(segs.size(), 5u);
  uint64_t total = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(segs[i]));
    EXPECT_EQ(segs[i], i + 1) << "numbered consecutively";
    const size_t size = ReadAll(Seg(segs[i])).size();
    total += size;
    if (i + 1 < segs.size()) {
      EXPECT_GE(size, kSegmentBytes) << "rotated only past the size";
    }
  }
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAreArray(recs));
  EXPECT_EQ(r.stats.segments, segs.size());
  EXPECT_EQ(r.stats.bytes, total);
}

TEST_F(WalTest, RotateAndRemoveSegmentsBefore) {
  auto wal = OpenWal(WalSync::kAlways);
  ASSERT_TRUE(wal->Append(1, "a").has_value());
  auto second = wal->Rotate();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, 2u);
  ASSERT_TRUE(wal->Append(1, "b").has_value());
  auto third = wal->Rotate();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(*third, 3u);
  EXPECT_EQ(wal->Stats().current_segment, 3u);
  ASSERT_TRUE(wal->Append(1, "c").has_value());

  EXPECT_THAT(Segments(), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(MustReplay(false, *second).records, ElementsAre(Rec{1, "b"}, Rec{1, "c"}));
  EXPECT_THAT(MustReplay(false, 4).records, IsEmpty());

  ASSERT_TRUE(wal->RemoveSegmentsBefore(*third).has_value());
  EXPECT_THAT(Segments(), ElementsAre(3u));
  EXPECT_THAT(MustReplay().records, ElementsAre(Rec{1, "c"}));
  ASSERT_TRUE(wal->RemoveSegmentsBefore(1).has_value()) << "nothing to remove";
  EXPECT_THAT(Segments(), ElementsAre(3u));

  // Appends keep going to the current segment.
  ASSERT_TRUE(wal->Append(1, "d").has_value());
  EXPECT_THAT(MustReplay().records, ElementsAre(Rec{1, "c"}, Rec{1, "d"}));
}

TEST_F(WalTest, GroupCommitKeepsEveryRecordExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  auto wal = OpenWal(WalSync::kAlways);
  ASSERT_NE(wal, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!wal->Append(static_cast<uint8_t>(t), std::to_string(t) + ":" + std::to_string(i))) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const WalStats stats = wal->Stats();
  wal.reset();

  uint64_t bytes = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      bytes += FrameRecord(0, std::to_string(t) + ":" + std::to_string(i)).size();
    }
  }
  EXPECT_EQ(stats.appended_records, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.appended_bytes, bytes);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GE(stats.syncs, 1u);
  EXPECT_LE(stats.syncs, uint64_t{kThreads * kPerThread});
  std::cout << "[ info     ] group commit: " << kThreads * kPerThread << " appends, "
            << stats.syncs << " fdatasyncs\n";
  RecordProperty("syncs", static_cast<int>(stats.syncs));

  const Replayed r = MustReplay();
  EXPECT_EQ(r.stats.records, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(r.stats.bytes, bytes);
  // Every record exactly once, and each thread's records in its own order.
  std::vector<int> next(kThreads, 0);
  for (const Rec& rec : r.records) {
    const size_t colon = rec.payload.find(':');
    ASSERT_NE(colon, std::string::npos);
    const int t = std::stoi(rec.payload.substr(0, colon));
    const int i = std::stoi(rec.payload.substr(colon + 1));
    ASSERT_EQ(t, rec.type);
    ASSERT_EQ(i, next[static_cast<size_t>(t)]) << "thread " << t;
    ++next[static_cast<size_t>(t)];
  }
  EXPECT_THAT(next, ::testing::Each(kPerThread));
}

class WalFaultTest : public WalTest {
 protected:
  WalFaultTest() : faulty_(env_) {}
  core::FaultInjectionEnv faulty_;
};

TEST_F(WalFaultTest, FailedWriteIsTruncatedBeforeTheNextAppend) {
  const size_t frame = FrameRecord(1, "record-C-payload").size();
  struct Case {
    const char* name;
    int64_t budget;
  };
  const Case cases[] = {
      {"nothing written", 0},
      {"one byte", 1},
      {"most of the header", 8},
      {"the header", 9},
      {"all but one byte", static_cast<int64_t>(frame) - 1},
  };
  for (const Case& c : cases) {
    for (WalSync sync : {WalSync::kAlways, WalSync::kNever}) {
      SCOPED_TRACE(std::string(c.name) + (sync == WalSync::kAlways ? " (always)" : " (never)"));
      tally_test::TempDir tmp;
      const std::string dir = tmp.Sub("wal");
      faulty_.SetWriteBudget(-1);
      auto wal = OpenWal(sync, 64 << 20, &faulty_, dir);
      ASSERT_NE(wal, nullptr);
      ASSERT_TRUE(wal->Append(1, "record-A").has_value());
      ASSERT_TRUE(wal->Append(1, "record-B").has_value());

      faulty_.SetWriteBudget(c.budget);
      auto st = wal->Append(1, "record-C-payload");
      ASSERT_FALSE(st.has_value());
      EXPECT_EQ(st.error().code, core::ErrorCode::kUnavailable);
      EXPECT_THAT(st.error().message, HasSubstr("No space left"));
      EXPECT_FALSE(wal->Append(1, "record-C2").has_value()) << "the disk is still full";
      EXPECT_EQ(wal->Stats().failures, 2u);

      faulty_.SetWriteBudget(-1);  // space returns
      ASSERT_TRUE(wal->Append(1, "record-D").has_value());
      const WalStats stats = wal->Stats();
      EXPECT_EQ(stats.appended_records, 3u);
      wal.reset();

      const std::string expect = FrameRecord(1, "record-A") + FrameRecord(1, "record-B") +
                                 FrameRecord(1, "record-D");
      EXPECT_EQ(ReadAll(Wal::SegmentPath(dir, 1)), expect) << "no partial record in the middle";
      auto r = ReplayDir(env_, dir);
      ASSERT_TRUE(r.has_value()) << r.error().message;
      EXPECT_THAT(r->records, ElementsAre(Rec{1, "record-A"}, Rec{1, "record-B"},
                                          Rec{1, "record-D"}));
      EXPECT_EQ(r->stats.truncated_bytes, 0u);
    }
  }
}

TEST_F(WalFaultTest, ConcurrentAppendsThroughIntermittentDiskFullReplayExactlyTheAcknowledged) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  auto wal = OpenWal(WalSync::kAlways, 4096, &faulty_);
  ASSERT_NE(wal, nullptr);
  std::vector<std::vector<bool>> acked(kThreads, std::vector<bool>(kPerThread, false));
  std::atomic<bool> stop{false};
  std::thread disk([&] {
    for (int round = 0; !stop.load(); ++round) {
      faulty_.SetWriteBudget(round % 5 == 4 ? 0 : 37 * (round % 7));
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      faulty_.SetWriteBudget(-1);
      std::this_thread::sleep_for(std::chrono::microseconds(700));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        acked[static_cast<size_t>(t)][static_cast<size_t>(i)] =
            wal->Append(1, std::to_string(t) + ":" + std::to_string(i)).has_value();
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  disk.join();
  faulty_.SetWriteBudget(-1);
  ASSERT_TRUE(wal->Append(2, "final").has_value()) << "cuts any failed flush away";
  const WalStats stats = wal->Stats();
  wal.reset();

  size_t acked_count = 0;
  for (const auto& v : acked) acked_count += static_cast<size_t>(std::count(v.begin(), v.end(), true));
  std::cout << "[ info     ] " << acked_count << " of " << kThreads * kPerThread
            << " acknowledged, " << stats.failures << " failed flushes\n";
  EXPECT_EQ(stats.appended_records, acked_count + 1);

  const Replayed r = MustReplay();
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records.back(), (Rec{2, "final"}));
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
  std::vector<std::vector<int>> seen(kThreads, std::vector<int>(kPerThread, 0));
  for (size_t k = 0; k + 1 < r.records.size(); ++k) {
    const std::string& p = r.records[k].payload;
    const size_t colon = p.find(':');
    ASSERT_NE(colon, std::string::npos);
    ++seen[static_cast<size_t>(std::stoi(p.substr(0, colon)))]
          [static_cast<size_t>(std::stoi(p.substr(colon + 1)))];
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      SCOPED_TRACE(std::to_string(t) + ":" + std::to_string(i));
      EXPECT_EQ(seen[static_cast<size_t>(t)][static_cast<size_t>(i)],
                acked[static_cast<size_t>(t)][static_cast<size_t>(i)] ? 1 : 0)
          << "acknowledged exactly once, failed never";
    }
  }
}

TEST_F(WalFaultTest, FailedWriteIsCutAtShutdown) {
  auto wal = OpenWal(WalSync::kAlways, 64 << 20, &faulty_);
  ASSERT_TRUE(wal->Append(1, "good").has_value());
  faulty_.SetWriteBudget(5);
  ASSERT_FALSE(wal->Append(1, "partial").has_value());
  EXPECT_EQ(ReadAll(Seg(1)).size(), FrameRecord(1, "good").size() + 5) << "a prefix landed";
  wal.reset();
  faulty_.SetWriteBudget(-1);
  EXPECT_EQ(ReadAll(Seg(1)), FrameRecord(1, "good"));
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAre(Rec{1, "good"}));
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
}

TEST_F(WalFaultTest, RotateAfterAFailedWriteLeavesNoDamageBehind) {
  // A snapshot may rotate the log right after a failed append: the partial
  // record must not stay behind in what is now an earlier segment.
  auto wal = OpenWal(WalSync::kAlways, 64 << 20, &faulty_);
  ASSERT_TRUE(wal->Append(1, "a").has_value());
  faulty_.SetWriteBudget(5);
  ASSERT_FALSE(wal->Append(1, "partial").has_value());
  faulty_.SetWriteBudget(-1);
  auto seg = wal->Rotate();
  ASSERT_TRUE(seg.has_value()) << seg.error().message;
  EXPECT_EQ(*seg, 2u);
  ASSERT_TRUE(wal->Append(1, "b").has_value());
  wal.reset();
  EXPECT_EQ(ReadAll(Seg(1)), FrameRecord(1, "a"));
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAre(Rec{1, "a"}, Rec{1, "b"}));
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
}

TEST_F(WalFaultTest, FailedSyncFailsTheAppendWithAlways) {
  auto wal = OpenWal(WalSync::kAlways, 64 << 20, &faulty_);
  ASSERT_TRUE(wal->Append(1, "a").has_value());
  faulty_.SetFailSyncs(true);
  auto st = wal->Append(1, "not durable");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(st.error().message, HasSubstr("fdatasync"));
  EXPECT_EQ(wal->Stats().failures, 1u);
  faulty_.SetFailSyncs(false);
  ASSERT_TRUE(wal->Append(1, "b").has_value());
  wal.reset();
  // The unacknowledged record was written but never synced: it is cut away, so
  // a failed request is not replayed.
  EXPECT_THAT(MustReplay().records, ElementsAre(Rec{1, "a"}, Rec{1, "b"}));
}

TEST_F(WalFaultTest, CleanShutdownAfterAFailedSyncDropsTheUnacknowledgedRecords) {
  // The failed record was written whole (only its fdatasync failed) and its
  // request got an error: a clean shutdown must not leave it to be replayed.
  auto wal = OpenWal(WalSync::kAlways, 64 << 20, &faulty_);
  ASSERT_TRUE(wal->Append(1, "a").has_value());
  faulty_.SetFailSyncs(true);
  ASSERT_FALSE(wal->Append(1, "failed").has_value());
  faulty_.SetFailSyncs(false);
  wal.reset();
  const Replayed r = MustReplay();
  EXPECT_THAT(r.records, ElementsAre(Rec{1, "a"}));
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
}

TEST_F(WalFaultTest, IntervalAndNeverDoNotSyncOnAppend) {
  for (WalSync sync : {WalSync::kInterval, WalSync::kNever}) {
    SCOPED_TRACE(sync == WalSync::kInterval ? "interval" : "never");
    tally_test::TempDir tmp;
    faulty_.SetFailSyncs(true);
    auto wal = OpenWal(sync, 64 << 20, &faulty_, tmp.Sub("wal"));
    ASSERT_TRUE(wal->Append(1, "a").has_value());
    EXPECT_EQ(wal->Stats().syncs, 0u);
    EXPECT_FALSE(wal->Sync().has_value()) << "an explicit Sync reports the failure";
    faulty_.SetFailSyncs(false);
    EXPECT_TRUE(wal->Sync().has_value());
    EXPECT_EQ(wal->Stats().syncs, 1u);
    EXPECT_EQ(wal->Stats().failures, 1u);
  }
}

}  // namespace
}  // namespace store
