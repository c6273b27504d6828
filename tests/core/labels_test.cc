#include "core/labels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace core {
namespace {

using ::testing::ElementsAre;

// Brace-initialised single labels are ambiguous with the copy constructor.
Labels L(std::vector<Label> labels) { return Labels(std::move(labels)); }

TEST(LabelsTest, SortsByName) {
  Labels l = L({{"zone", "eu"}, {"host", "a"}, {"method", "GET"}});
  EXPECT_THAT(l.items(), ElementsAre(Label{"host", "a"}, Label{"method", "GET"},
                                     Label{"zone", "eu"}));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_FALSE(l.empty());
  EXPECT_TRUE(Labels().empty());
}

TEST(LabelsTest, GetReturnsValueOrNull) {
  Labels l = L({{"host", "a"}, {"empty", ""}});
  ASSERT_NE(l.Get("host"), nullptr);
  EXPECT_EQ(*l.Get("host"), "a");
  ASSERT_NE(l.Get("empty"), nullptr);
  EXPECT_EQ(*l.Get("empty"), "");
  EXPECT_EQ(l.Get("Host"), nullptr);
  EXPECT_EQ(l.Get("missing"), nullptr);
  EXPECT_EQ(Labels().Get("host"), nullptr);
}

TEST(LabelsTest, InputOrderDoesNotMatter) {
  Labels a = L({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  Labels b = L({{"c", "3"}, {"a", "1"}, {"b", "2"}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hash(), b.Hash());
}

TEST(LabelsTest, HashDiffersForDifferentSets) {
  // Each pair differs; the separators keep shifted boundaries apart.
  const std::vector<Labels> sets = {
      Labels(),
      L({{"a", "1"}}),
      L({{"a", "2"}}),
      L({{"b", "1"}}),
      L({{"a", "bc"}}),
      L({{"ab", "c"}}),
      L({{"a", ""}}),
      L({{"a", "1"}, {"b", ""}}),
      L({{"a", "1"}, {"b", "2"}}),
      L({{"a", "1b2"}}),
      L({{"a", ""}, {"b", "1"}}),
  };
  std::set<uint64_t> hashes;
  for (const Labels& l : sets) hashes.insert(l.Hash());
  EXPECT_EQ(hashes.size(), sets.size());
  for (size_t i = 0; i < sets.size(); ++i) {
    for (size_t j = i + 1; j < sets.size(); ++j) EXPECT_NE(sets[i], sets[j]) << i << " " << j;
  }
}

TEST(LabelsTest, HashIsStable) {
  // Series keys and shards depend on this value; it must not change between builds.
  EXPECT_EQ(Labels().Hash(), 14695981039346656037ull);
  EXPECT_EQ(L({{"a", "1"}}).Hash(), L({{"a", "1"}}).Hash());
}

TEST(LabelsTest, HashBytesIsDeterministicAndSpreads) {
  EXPECT_EQ(HashBytes("foobar"), HashBytes(std::string("foo") + "bar"));
  EXPECT_NE(HashBytes("foobar"), HashBytes("foobaz"));
  EXPECT_NE(HashBytes(""), HashBytes(std::string(1, '\0')));  // length is mixed in
  EXPECT_NE(HashBytes("abc", 1), HashBytes("abc", 2));       // the seed matters
  // Every tail length (0..7 bytes after 8-byte words) reaches the result.
  for (size_t n = 1; n < 20; ++n) {
    SCOPED_TRACE(n);
    std::string a(n, 'x'), b(n, 'x');
    b.back() = 'y';
    EXPECT_NE(HashBytes(a), HashBytes(b));
  }
  // Label boundaries matter: ("ab","c") and ("a","bc") hash apart.
  EXPECT_NE(HashLabel("ab", "c", kLabelsHashSeed), HashLabel("a", "bc", kLabelsHashSeed));
}

TEST(LabelsTest, ByteSizeGrowsWithLongStrings) {
  Labels small = L({{"a", "1"}});
  Labels big = L({{"a", std::string(1000, 'x')}});
  EXPECT_GT(small.ByteSize(), 0u);
  EXPECT_GE(big.ByteSize(), small.ByteSize() + 1000);
}

}  // namespace
}  // namespace core
