// Tests for aggregator/promql_functions.h: the Prometheus 2.42 function table.
#include "aggregator/promql_functions.h"

#include <gtest/gtest.h>

namespace promql {
namespace {

TEST(PromqlFunctionsTest, TableHasEveryPrometheus242Function) {
  const auto& all = AllFunctions();
  EXPECT_EQ(all.size(), 70u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name, all[i].name);
  for (const auto& f : all) EXPECT_EQ(FindFunction(f.name), &f);
  // Added after 2.42, so unknown here.
  for (const char* later :
       {"histogram_stddev", "histogram_stdvar", "sort_by_label", "mad_over_time", "limitk", "info",
        "double_exponential_smoothing", "Rate"}) {
    EXPECT_EQ(FindFunction(later), nullptr) << later;
  }
}

TEST(PromqlFunctionsTest, Signatures) {
  const Function* rate = FindFunction("rate");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(rate->arg_types, std::vector<ValueType>{ValueType::kMatrix});
  EXPECT_EQ(rate->return_type, ValueType::kVector);
  const Function* join = FindFunction("label_join");
  EXPECT_EQ(join->variadic, -1);
  EXPECT_EQ(join->arg_types.size(), 4u);
  EXPECT_EQ(FindFunction("round")->variadic, 1);
  EXPECT_EQ(FindFunction("hour")->variadic, 1);
  EXPECT_EQ(FindFunction("time")->return_type, ValueType::kScalar);
  EXPECT_EQ(FindFunction("scalar")->return_type, ValueType::kScalar);
  EXPECT_EQ(FindFunction("vector")->arg_types, std::vector<ValueType>{ValueType::kScalar});
  EXPECT_EQ(FindFunction("histogram_quantile")->arg_types,
            (std::vector<ValueType>{ValueType::kScalar, ValueType::kVector}));
  EXPECT_EQ(FindFunction("label_replace")->arg_types.size(), 5u);
}

}  // namespace
}  // namespace promql
