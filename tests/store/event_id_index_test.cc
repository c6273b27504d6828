#include "store/event_id_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace store {
namespace {

// Ids live here; the index holds refs (positions in `ids`).
struct Ids {
  std::vector<std::string> ids;
  std::string_view operator()(uint32_t ref) const { return ids.at(ref); }
};

// Few distinct hashes: most ids collide (same tag, same home slot).
uint64_t TinyHash(std::string_view id) {
  uint64_t h = 0;
  for (char c : id) h = h * 31 + static_cast<unsigned char>(c);
  return (h % 5) << 40;
}
// Every id has the same hash.
uint64_t ConstantHash(std::string_view) { return 0x1234'5678'0000'0000ULL; }

std::string RandomId(std::mt19937_64& rng) {
  // A small alphabet and short lengths: repeats happen often.
  static constexpr char kChars[] = "ab_:9";
  std::string s(1 + rng() % 3, 'a');
  for (char& c : s) c = kChars[rng() % 5];
  return s;
}

// Random inserts, finds, re-points and erases against std::unordered_set /
// unordered_map, with the default hash, a hash with 5 values and a constant
// hash (every lookup compares full ids).
void RunAgainstOracle(EventIdIndex::HashFn hash, uint64_t seed, int steps) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  Ids store;
  EventIdIndex index(hash);
  std::unordered_map<std::string, uint32_t> oracle;  // id -> ref
  std::unordered_set<uint32_t> refs_in_use;
  auto id_of = [&store](uint32_t r) { return store(r); };
  for (int step = 0; step < steps; ++step) {
    const std::string id = RandomId(rng);
    const int op = static_cast<int>(rng() % 10);
    auto it = oracle.find(id);
    if (op < 5) {  // insert
      const auto ref = static_cast<uint32_t>(store.ids.size());
      store.ids.push_back(id);
      const uint32_t got = index.Insert(id, ref, id_of);
      if (it == oracle.end()) {
        ASSERT_EQ(got, EventIdIndex::kNoRef) << id;
        oracle.emplace(id, ref);
      } else {
        ASSERT_EQ(got, it->second) << id;
      }
    } else if (op < 7) {  // erase
      if (it == oracle.end()) {
        EXPECT_FALSE(index.Erase(id, 5'000'000)) << id;
      } else {
        EXPECT_FALSE(index.Erase(id, it->second + 1'000'000)) << "wrong ref must not erase";
        ASSERT_TRUE(index.Erase(id, it->second)) << id;
        oracle.erase(it);
      }
    } else if (op < 8 && it != oracle.end()) {  // re-point to a new copy of the id
      const auto ref = static_cast<uint32_t>(store.ids.size());
      store.ids.push_back(id);
      ASSERT_TRUE(index.Repoint(id, it->second, ref));
      it->second = ref;
    } else {  // find
      const uint32_t got = index.Find(id, id_of);
      ASSERT_EQ(got, it == oracle.end() ? EventIdIndex::kNoRef : it->second) << id;
    }
    ASSERT_EQ(index.size(), oracle.size());
  }
  // Everything the oracle has is found, with its ref; the table grew as needed.
  for (const auto& [id, ref] : oracle) {
    EXPECT_EQ(index.Find(id, id_of), ref) << id;
  }
  EXPECT_GE(index.capacity() * 3, index.size() * 4);
}

TEST(EventIdIndexTest, MatchesUnorderedSetWithTheDefaultHash) {
  for (uint64_t seed = 1; seed <= 4; ++seed) RunAgainstOracle(&EventIdIndex::DefaultHash, seed, 20000);
}

TEST(EventIdIndexTest, MatchesUnorderedSetWhenHashesCollide) {
  for (uint64_t seed = 1; seed <= 4; ++seed) RunAgainstOracle(&TinyHash, seed, 6000);
}

TEST(EventIdIndexTest, MatchesUnorderedSetWhenEveryHashIsEqual) {
  RunAgainstOracle(&ConstantHash, 7, 3000);
}

TEST(EventIdIndexTest, ManyDistinctIdsGrowAndStayFindable) {
  Ids store;
  EventIdIndex index;
  auto id_of = [&store](uint32_t r) { return store(r); };
  constexpr uint32_t kN = 200'000;
  for (uint32_t i = 0; i < kN; ++i) {
    store.ids.push_back("evt_" + std::to_string(i * 7919u));
    ASSERT_EQ(index.Insert(store.ids.back(), i, id_of), EventIdIndex::kNoRef);
  }
  EXPECT_EQ(index.size(), kN);
  EXPECT_LE(index.bytes(), static_cast<int64_t>(kN) * 8 * 8 / 3 + 64) << "at least 3/8 full";
  for (uint32_t i = 0; i < kN; i += 7) ASSERT_EQ(index.Find(store.ids[i], id_of), i);
  EXPECT_EQ(index.Find("evt_x", id_of), EventIdIndex::kNoRef);
  // Erase every other id; the rest stays findable (backward-shift deletion).
  for (uint32_t i = 0; i < kN; i += 2) ASSERT_TRUE(index.Erase(store.ids[i], i));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(index.Find(store.ids[i], id_of), i % 2 ? i : EventIdIndex::kNoRef) << i;
  }
}

TEST(EventIdIndexTest, ReserveAvoidsGrowthAndInsertNewAdds) {
  Ids store;
  EventIdIndex index;
  index.Reserve(1000);
  const size_t capacity = index.capacity();
  EXPECT_GE(capacity * 3, 1000u * 4);
  for (uint32_t i = 0; i < 1000; ++i) {
    store.ids.push_back("id" + std::to_string(i));
    index.InsertNew(store.ids.back(), i);
  }
  EXPECT_EQ(index.capacity(), capacity);
  EXPECT_EQ(index.Find("id999", store), 999u);
  EXPECT_FALSE(index.Repoint("id999", 5, 6)) << "ref 5 is not id999's";
}

}  // namespace
}  // namespace store
