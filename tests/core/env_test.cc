#include "core/env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadOrDie(Env& env, const std::string& path) {
  auto got = env.ReadFile(path);
  EXPECT_TRUE(got.has_value()) << got.error().message;
  return got.has_value() ? *got : std::string();
}

class PosixEnvTest : public ::testing::Test {
 protected:
  PosixEnv env_;
  tally_test::TempDir dir_;
};

TEST_F(PosixEnvTest, AppendCreatesAndGrowsTheFile) {
  const std::string path = dir_.Sub("a.log");
  EXPECT_FALSE(env_.FileExists(path));
  {
    auto file = env_.OpenAppendable(path);
    ASSERT_TRUE(file.has_value()) << file.error().message;
    EXPECT_TRUE(env_.FileExists(path));
    EXPECT_EQ((*file)->Size(), 0u);
    ASSERT_TRUE((*file)->Append("hello ").has_value());
    ASSERT_TRUE((*file)->Append("").has_value());
    ASSERT_TRUE((*file)->Append("world").has_value());
    EXPECT_EQ((*file)->Size(), 11u);
    ASSERT_TRUE((*file)->Sync().has_value());
    ASSERT_TRUE((*file)->Close().has_value());
    EXPECT_TRUE((*file)->Close().has_value()) << "closing twice is harmless";
  }
  EXPECT_EQ(ReadOrDie(env_, path), "hello world");

  // Reopening appends after the existing content and reports its size.
  auto again = env_.OpenAppendable(path);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->Size(), 11u);
  ASSERT_TRUE((*again)->Append("!").has_value());
  EXPECT_EQ((*again)->Size(), 12u);
  again->reset();  // the destructor closes
  EXPECT_EQ(ReadOrDie(env_, path), "hello world!");
}

TEST_F(PosixEnvTest, ReadFileReadsLargeAndEmptyFiles) {
  struct Case {
    const char* name;
    std::string content;
  };
  std::string big(200'000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  const Case cases[] = {{"empty", ""}, {"small", "x"}, {"binary larger than one read", big}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir_.Sub(c.name);
    auto file = env_.OpenAppendable(path);
    ASSERT_TRUE(file.has_value());
    ASSERT_TRUE((*file)->Append(c.content).has_value());
    ASSERT_TRUE((*file)->Close().has_value());
    EXPECT_EQ(ReadOrDie(env_, path), c.content);
  }
}

TEST_F(PosixEnvTest, ListDirReturnsSortedNames) {
  for (const char* name : {"00000010.wal", "b", "00000002.wal", "a"}) {
    ASSERT_TRUE(env_.OpenAppendable(dir_.Sub(name)).has_value());
  }
  ASSERT_TRUE(env_.CreateDirs(dir_.Sub("sub")).has_value());
  auto names = env_.ListDir(dir_.path());
  ASSERT_TRUE(names.has_value()) << names.error().message;
  EXPECT_THAT(*names, ElementsAre("00000002.wal", "00000010.wal", "a", "b", "sub"));

  auto empty = env_.ListDir(dir_.Sub("sub"));
  ASSERT_TRUE(empty.has_value());
  EXPECT_THAT(*empty, IsEmpty());
}

TEST_F(PosixEnvTest, CreateDirsIsRecursiveAndIdempotent) {
  const std::string deep = dir_.Sub("x/y/z");
  ASSERT_TRUE(env_.CreateDirs(deep).has_value());
  EXPECT_TRUE(env_.FileExists(deep));
  EXPECT_TRUE(env_.CreateDirs(deep).has_value());
  EXPECT_TRUE(env_.SyncDir(deep).has_value());
}

TEST_F(PosixEnvTest, RenameTruncateAndRemove) {
  const std::string from = dir_.Sub("from");
  const std::string to = dir_.Sub("to");
  {
    auto file = env_.OpenAppendable(from);
    ASSERT_TRUE(file.has_value());
    ASSERT_TRUE((*file)->Append("0123456789").has_value());
  }
  ASSERT_TRUE(env_.RenameFile(from, to).has_value());
  EXPECT_FALSE(env_.FileExists(from));
  EXPECT_EQ(ReadOrDie(env_, to), "0123456789");

  ASSERT_TRUE(env_.TruncateFile(to, 4).has_value());
  EXPECT_EQ(ReadOrDie(env_, to), "0123");
  ASSERT_TRUE(env_.TruncateFile(to, 0).has_value());
  EXPECT_EQ(ReadOrDie(env_, to), "");

  ASSERT_TRUE(env_.RemoveFile(to).has_value());
  EXPECT_FALSE(env_.FileExists(to));
  EXPECT_TRUE(env_.RemoveFile(to).has_value()) << "removing a missing file is not an error";
  EXPECT_TRUE(env_.SyncDir(dir_.path()).has_value());
}

TEST_F(PosixEnvTest, ErrorsNameThePathAndAreUnavailable) {
  const std::string missing = dir_.Sub("missing");
  const std::string in_missing = dir_.Sub("missing/file");
  struct Case {
    const char* name;
    Status status;
    std::string path;
  };
  auto to_status = [](auto result) -> Status {
    if (result.has_value()) return {};
    return Unexpected(result.error());
  };
  const Case cases[] = {
      {"ReadFile", to_status(env_.ReadFile(missing)), missing},
      {"ListDir", to_status(env_.ListDir(missing)), missing},
      {"OpenAppendable", to_status(env_.OpenAppendable(in_missing)), in_missing},
      {"RenameFile", env_.RenameFile(missing, dir_.Sub("other")), missing},
      {"TruncateFile", env_.TruncateFile(missing, 0), missing},
      {"SyncDir", env_.SyncDir(missing), missing},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_FALSE(c.status.has_value());
    EXPECT_EQ(c.status.error().code, ErrorCode::kUnavailable);
    EXPECT_THAT(c.status.error().message, HasSubstr(c.path));
  }
  EXPECT_FALSE(env_.FileExists(missing));
}

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  FaultInjectionEnvTest() : env_(base_) {}

  std::unique_ptr<WritableFile> Open(const std::string& name) {
    auto file = env_.OpenAppendable(dir_.Sub(name));
    EXPECT_TRUE(file.has_value());
    return file.has_value() ? std::move(*file) : nullptr;
  }

  PosixEnv base_;
  FaultInjectionEnv env_;
  tally_test::TempDir dir_;
};

TEST_F(FaultInjectionEnvTest, WriteBudgetWritesAPrefixThenFailsLikeEnospc) {
  struct Write {
    std::string data;
    bool ok;
  };
  struct Case {
    const char* name;
    int64_t budget;
    std::vector<Write> writes;
    std::string content;  // what lands in the file
  };
  const Case cases[] = {
      {"unlimited", -1, {{"abc", true}, {"defgh", true}}, "abcdefgh"},
      {"exactly the budget", 8, {{"abc", true}, {"defgh", true}, {"", true}, {"i", false}},
       "abcdefgh"},
      {"prefix of the crossing write", 5, {{"abc", true}, {"defgh", false}, {"ij", false}},
       "abcde"},
      {"zero budget writes nothing", 0, {{"abc", false}, {"", true}}, ""},
      {"one byte", 1, {{"abc", false}}, "a"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    env_.SetWriteBudget(c.budget);
    auto file = Open(c.name);
    ASSERT_NE(file, nullptr);
    for (size_t i = 0; i < c.writes.size(); ++i) {
      SCOPED_TRACE("write " + std::to_string(i));
      auto st = file->Append(c.writes[i].data);
      EXPECT_EQ(st.has_value(), c.writes[i].ok);
      if (!st) {
        EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
        EXPECT_THAT(st.error().message, HasSubstr("No space left on device"));
      }
    }
    EXPECT_EQ(file->Size(), c.content.size()) << "Size counts the prefix that landed";
    EXPECT_EQ(ReadOrDie(env_, dir_.Sub(c.name)), c.content);
  }
}

TEST_F(FaultInjectionEnvTest, BudgetIsSharedByAllFilesAndCanBeLifted) {
  env_.SetWriteBudget(6);
  auto a = Open("a");
  auto b = Open("b");
  ASSERT_TRUE(a->Append("1234").has_value());
  EXPECT_FALSE(b->Append("5678").has_value());
  EXPECT_EQ(ReadOrDie(env_, dir_.Sub("b")), "56");
  EXPECT_FALSE(a->Append("x").has_value()) << "the disk stays full";

  env_.SetWriteBudget(-1);  // space returns
  ASSERT_TRUE(a->Append("x").has_value());
  ASSERT_TRUE(b->Append("78").has_value());
  EXPECT_EQ(ReadOrDie(env_, dir_.Sub("a")), "1234x");
  EXPECT_EQ(ReadOrDie(env_, dir_.Sub("b")), "5678");
}

TEST_F(FaultInjectionEnvTest, FailSyncsFailsSyncOnly) {
  auto file = Open("f");
  env_.SetFailSyncs(true);
  ASSERT_TRUE(file->Append("data").has_value()) << "writes still work";
  auto st = file->Sync();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(st.error().message, HasSubstr("Input/output error"));
  EXPECT_TRUE(env_.SyncDir(dir_.path()).has_value()) << "directory syncs are not injected";

  env_.SetFailSyncs(false);
  EXPECT_TRUE(file->Sync().has_value());
  EXPECT_TRUE(file->Close().has_value());
  EXPECT_EQ(ReadOrDie(env_, dir_.Sub("f")), "data");
}

TEST_F(FaultInjectionEnvTest, OtherOperationsPassThrough) {
  env_.SetWriteBudget(0);
  env_.SetFailSyncs(true);
  ASSERT_TRUE(env_.CreateDirs(dir_.Sub("d")).has_value());
  {
    auto file = Open("d/f");
    ASSERT_NE(file, nullptr) << "opening needs no budget";
  }
  EXPECT_TRUE(env_.FileExists(dir_.Sub("d/f")));
  auto names = env_.ListDir(dir_.Sub("d"));
  ASSERT_TRUE(names.has_value());
  EXPECT_THAT(*names, ElementsAre("f"));
  ASSERT_TRUE(env_.RenameFile(dir_.Sub("d/f"), dir_.Sub("d/g")).has_value());
  ASSERT_TRUE(env_.TruncateFile(dir_.Sub("d/g"), 0).has_value());
  EXPECT_EQ(ReadOrDie(env_, dir_.Sub("d/g")), "");
  ASSERT_TRUE(env_.RemoveFile(dir_.Sub("d/g")).has_value());
  EXPECT_FALSE(env_.FileExists(dir_.Sub("d/g")));
}

}  // namespace
}  // namespace core
