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

TEST(LabelsTest, HashFoldsHashLabelFromTheSeed) {
  // The store hashes borrowed label views with HashLabel; it must agree with Labels::Hash.
  EXPECT_EQ(Labels().Hash(), kLabelsHashSeed);
  const Labels l = L({{"zone", "eu"}, {"host", "a"}});
  uint64_t h = kLabelsHashSeed;
  h = HashLabel("host", "a", h);
  h = HashLabel("zone", "eu", h);
  EXPECT_EQ(l.Hash(), h);
  EXPECT_EQ(L({{"a", "1"}}).Hash(), L({{"a", "1"}}).Hash());
}

TEST(LabelsTest, HashBytesSeparatesInputs) {
  EXPECT_EQ(HashBytes("foobar"), HashBytes("foobar"));
  EXPECT_EQ(HashBytes("x", 7), HashBytes("x", 7));
  // Inputs of every length up to two words, and near misses, all differ.
  std::set<uint64_t> seen;
  std::vector<std::string> inputs = {"", std::string(1, '\0'), std::string(2, '\0'), "a", "b",
                                     "ab", "ba", "foobar", "foobaR"};
  for (size_t n = 3; n <= 17; ++n) inputs.push_back(std::string(n, 'x'));
  for (const std::string& in : inputs) {
    EXPECT_TRUE(seen.insert(HashBytes(in)).second) << "collision for length " << in.size();
  }
  EXPECT_NE(HashBytes("a", 1), HashBytes("a", 2)) << "the seed matters";
}

TEST(LabelsTest, ByteSizeGrowsWithLongStrings) {
  Labels small = L({{"a", "1"}});
  Labels big = L({{"a", std::string(1000, 'x')}});
  EXPECT_GT(small.ByteSize(), 0u);
  EXPECT_GE(big.ByteSize(), small.ByteSize() + 1000);
}

}  // namespace
}  // namespace core
