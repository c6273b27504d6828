#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "store/control/sqlite_control_plane.h"
#include "store/control/sqlite_db.h"
#include "tests/temp_dir.h"

namespace control {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// "ok" for success, else the error's wire name ("not_found", ...).
template <typename R>
std::string Code(const R& r) {
  return r ? "ok" : std::string(core::ErrorCodeName(r.error().code));
}

template <typename R>
std::string Message(const R& r) {
  return r ? "" : r.error().message + " [" + r.error().param + "]";
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    cp_.reset();
    auto cp = SqliteControlPlane::Open(Path());
    ASSERT_TRUE(cp) << Message(cp);
    cp_ = std::move(*cp);
  }

  std::string Path() const { return dir_.Sub("tally.db"); }

  Account MakeAccount(const std::string& name = "acme") {
    auto a = cp_->CreateAccount(name, "free", 1000);
    EXPECT_TRUE(a) << Message(a);
    return a ? *a : Account{};
  }

  Project MakeProject(const std::string& account_id, const std::string& name = "web",
                      int64_t now_ms = 2000) {
    Project p;
    p.account_id = account_id;
    p.name = name;
    auto r = cp_->CreateProject(p, now_ms);
    EXPECT_TRUE(r) << Message(r);
    return r ? *r : Project{};
  }

  // A key with one secret whose prefix is `prefix`.
  ApiKey MakeKey(const Project& project, const std::string& prefix,
                 const std::string& name = "ci") {
    ApiKey k;
    k.account_id = project.account_id;
    k.project_id = project.id;
    k.name = name;
    k.secrets.push_back(KeySecret{prefix, "hash-" + prefix, 3000, std::nullopt});
    auto r = cp_->CreateKey(k, 3000);
    EXPECT_TRUE(r) << Message(r);
    return r ? *r : ApiKey{};
  }

  Member MakeMember(const std::string& account_id, const std::string& email,
                    const std::string& role, const std::string& status = "active") {
    Member m;
    m.account_id = account_id;
    m.email = email;
    m.role = role;
    m.status = status;
    m.invite_token_hash = "th-" + email;
    auto r = cp_->AddMember(m, 4000);
    EXPECT_TRUE(r) << Message(r);
    return r ? *r : Member{};
  }

  tally_test::TempDir dir_;
  std::unique_ptr<SqliteControlPlane> cp_;
};

std::vector<std::string> Ids(const auto& items) {
  std::vector<std::string> ids;
  for (const auto& item : items) ids.push_back(item.id);
  return ids;
}

std::vector<std::string> Prefixes(const ApiKey& key) {
  std::vector<std::string> out;
  for (const KeySecret& s : key.secrets) out.push_back(s.prefix);
  return out;
}

// --- accounts

TEST_F(ControlPlaneTest, AccountsCreateGetListAndTier) {
  auto empty = cp_->IsEmpty();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(*empty);

  Account a = MakeAccount("acme");
  EXPECT_THAT(a.id, MatchesRegex("acc_[0-9a-f]{16}"));
  EXPECT_EQ(a.name, "acme");
  EXPECT_EQ(a.tier, "free");
  EXPECT_EQ(a.status, "active");
  EXPECT_EQ(a.created_at_ms, 1000);
  Account b = MakeAccount("beta");
  EXPECT_NE(a.id, b.id);

  empty = cp_->IsEmpty();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);

  ASSERT_TRUE(cp_->SetAccountTier(a.id, "pro"));
  auto got = cp_->GetAccount(a.id);
  ASSERT_TRUE(got) << Message(got);
  EXPECT_EQ(got->tier, "pro");
  EXPECT_EQ(got->name, "acme");

  auto all = cp_->ListAccounts();
  ASSERT_TRUE(all);
  EXPECT_THAT(Ids(*all), ElementsAre(a.id, b.id));
}

TEST_F(ControlPlaneTest, UnknownAccountIsNotFound) {
  EXPECT_EQ(Code(cp_->GetAccount("acc_0000000000000000")), "not_found");
  EXPECT_EQ(Code(cp_->SetAccountTier("acc_0000000000000000", "pro")), "not_found");
  Project p;
  p.account_id = "acc_0000000000000000";
  p.name = "x";
  EXPECT_EQ(Code(cp_->CreateProject(p, 1)), "not_found");
  Member m;
  m.account_id = "acc_0000000000000000";
  m.email = "a@example.com";
  m.role = "admin";
  m.status = "active";
  EXPECT_EQ(Code(cp_->AddMember(m, 1)), "not_found");
  EXPECT_EQ(Code(cp_->CreateBandwidthAlert("acc_0000000000000000", 100, 1)), "not_found");
}

// --- projects

TEST_F(ControlPlaneTest, ProjectsRoundTripEveryField) {
  Account a = MakeAccount();
  Project p;
  p.account_id = a.id;
  p.name = "web shop";
  p.scopes = {"metrics.write", "events.read"};
  p.rate_limit_rpm = 600;
  p.metadata_json = R"({"team": "ops", "emoji": "\u2603 ☃", "n": [1, 2]})";
  auto created = cp_->CreateProject(p, 5000);
  ASSERT_TRUE(created) << Message(created);
  EXPECT_THAT(created->id, MatchesRegex("prj_[0-9a-f]{16}"));
  EXPECT_EQ(created->created_at_ms, 5000);

  auto got = cp_->GetProject(a.id, created->id);
  ASSERT_TRUE(got) << Message(got);
  EXPECT_EQ(got->name, "web shop");
  EXPECT_THAT(got->scopes, ElementsAre("metrics.write", "events.read"));
  EXPECT_EQ(got->rate_limit_rpm, 600);
  EXPECT_EQ(got->metadata_json, p.metadata_json);
  EXPECT_EQ(got->account_id, a.id);
  EXPECT_EQ(got->created_at_ms, 5000);

  Project update = *got;
  update.name = "shop";
  update.scopes = {};
  update.rate_limit_rpm.reset();
  update.metadata_json = "{}";
  update.created_at_ms = 1;  // ignored
  auto updated = cp_->UpdateProject(update);
  ASSERT_TRUE(updated) << Message(updated);
  EXPECT_EQ(updated->name, "shop");
  EXPECT_TRUE(updated->scopes.empty());
  EXPECT_FALSE(updated->rate_limit_rpm.has_value());
  EXPECT_EQ(updated->metadata_json, "{}");
  EXPECT_EQ(updated->created_at_ms, 5000);
}

TEST_F(ControlPlaneTest, ScopeWithWhitespaceIsInvalid) {
  Account a = MakeAccount();
  Project p;
  p.account_id = a.id;
  p.name = "x";
  p.scopes = {"ok", "not ok"};
  auto r = cp_->CreateProject(p, 1);
  EXPECT_EQ(Code(r), "invalid_request");
  EXPECT_EQ(r.error().param, "scopes[1]");
  p.scopes = {""};
  EXPECT_EQ(Code(cp_->CreateProject(p, 1)), "invalid_request");
}

TEST_F(ControlPlaneTest, DeleteProjectRevokesItsKeysAndHidesIt) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id, "doomed");
  Project keep = MakeProject(a.id, "keep");
  ApiKey k1 = MakeKey(p, "aaaaaaa1");
  ApiKey k2 = MakeKey(p, "aaaaaaa2");
  ApiKey other = MakeKey(keep, "bbbbbbb1");
  ASSERT_TRUE(cp_->SetKeyStatus(a.id, k2.id, "revoked", 4000));

  ASSERT_TRUE(cp_->DeleteProject(a.id, p.id, 9000));

  EXPECT_EQ(Code(cp_->GetProject(a.id, p.id)), "not_found");
  auto list = cp_->ListProjects(a.id, std::nullopt, 10);
  ASSERT_TRUE(list);
  EXPECT_THAT(Ids(list->items), ElementsAre(keep.id));
  EXPECT_EQ(Code(cp_->DeleteProject(a.id, p.id, 9500)), "not_found");
  Project update = p;
  update.name = "zombie";
  EXPECT_EQ(Code(cp_->UpdateProject(update)), "not_found");
  EXPECT_EQ(Code(cp_->ListKeys(a.id, p.id, std::nullopt, 10)), "not_found");
  ApiKey nk;
  nk.account_id = a.id;
  nk.project_id = p.id;
  nk.name = "late";
  nk.secrets.push_back(KeySecret{"ccccccc1", "h", 1, std::nullopt});
  EXPECT_EQ(Code(cp_->CreateKey(nk, 9600)), "not_found");

  auto g1 = cp_->GetKey(a.id, k1.id);
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->status, "revoked");
  EXPECT_EQ(g1->revoked_at_ms, 9000);
  auto g2 = cp_->GetKey(a.id, k2.id);
  ASSERT_TRUE(g2);
  EXPECT_EQ(g2->revoked_at_ms, 4000);  // the first revocation time stays
  auto byprefix = cp_->FindKeyByPrefix("aaaaaaa1");
  ASSERT_TRUE(byprefix);
  EXPECT_EQ(byprefix->status, "revoked");
  auto g3 = cp_->GetKey(a.id, other.id);
  ASSERT_TRUE(g3);
  EXPECT_EQ(g3->status, "active");
  EXPECT_FALSE(g3->revoked_at_ms.has_value());
}

// --- tenancy

TEST_F(ControlPlaneTest, AnotherAccountsObjectsAreNotFound) {
  Account mine = MakeAccount("mine");
  Account theirs = MakeAccount("theirs");
  Project tp = MakeProject(theirs.id, "their project");
  ApiKey tk = MakeKey(tp, "theirs01");
  Member tm1 = MakeMember(theirs.id, "a@their.example", "admin");
  Member tm2 = MakeMember(theirs.id, "b@their.example", "admin");
  auto alert = cp_->CreateBandwidthAlert(theirs.id, 1 << 20, 1);
  ASSERT_TRUE(alert);

  EXPECT_EQ(Code(cp_->GetProject(mine.id, tp.id)), "not_found");
  Project update = tp;
  update.account_id = mine.id;
  update.name = "stolen";
  EXPECT_EQ(Code(cp_->UpdateProject(update)), "not_found");
  EXPECT_EQ(Code(cp_->DeleteProject(mine.id, tp.id, 1)), "not_found");
  auto projects = cp_->ListProjects(mine.id, std::nullopt, 10);
  ASSERT_TRUE(projects);
  EXPECT_TRUE(projects->items.empty());

  ApiKey nk;
  nk.account_id = mine.id;
  nk.project_id = tp.id;
  nk.name = "sneaky";
  nk.secrets.push_back(KeySecret{"sneaky01", "h", 1, std::nullopt});
  EXPECT_EQ(Code(cp_->CreateKey(nk, 1)), "not_found");
  EXPECT_EQ(Code(cp_->GetKey(mine.id, tk.id)), "not_found");
  EXPECT_EQ(Code(cp_->ListKeys(mine.id, tp.id, std::nullopt, 10)), "not_found");
  auto keys = cp_->ListKeys(mine.id, "", std::nullopt, 10);
  ASSERT_TRUE(keys);
  EXPECT_TRUE(keys->items.empty());
  EXPECT_EQ(Code(cp_->UpdateKey(mine.id, tk.id, "x", std::nullopt)), "not_found");
  EXPECT_EQ(Code(cp_->AddSecret(mine.id, tk.id, KeySecret{"sneaky02", "h", 1, std::nullopt}, 1)),
            "not_found");
  EXPECT_EQ(Code(cp_->SetKeyStatus(mine.id, tk.id, "revoked", 1)), "not_found");

  EXPECT_EQ(Code(cp_->RemoveMember(mine.id, tm1.id)), "not_found");
  auto members = cp_->ListMembers(mine.id, std::nullopt, 10);
  ASSERT_TRUE(members);
  EXPECT_TRUE(members->items.empty());

  EXPECT_EQ(Code(cp_->DeleteBandwidthAlert(mine.id, alert->id)), "not_found");
  auto alerts = cp_->ListBandwidthAlerts(mine.id);
  ASSERT_TRUE(alerts);
  EXPECT_TRUE(alerts->empty());

  // Nothing of theirs changed.
  auto key = cp_->GetKey(theirs.id, tk.id);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->status, "active");
  EXPECT_EQ(key->name, "ci");
  EXPECT_THAT(Prefixes(*key), ElementsAre("theirs01"));
  EXPECT_EQ(Code(cp_->FindKeyByPrefix("sneaky02")), "not_found");
  auto their_members = cp_->ListMembers(theirs.id, std::nullopt, 10);
  ASSERT_TRUE(their_members);
  EXPECT_THAT(Ids(their_members->items), ElementsAre(tm1.id, tm2.id));
}

// --- pagination

// Walks every page of `list(cursor)`, calling `between()` after each page.
template <typename T, typename List, typename Between>
std::vector<std::string> WalkPages(List list, Between between, int* pages) {
  std::vector<std::string> ids;
  std::optional<std::string> cursor;
  *pages = 0;
  for (;;) {
    auto page = list(cursor);
    EXPECT_TRUE(page) << Message(page);
    if (!page) break;
    ++*pages;
    EXPECT_LE(page->items.size(), 2u);
    for (const T& item : page->items) ids.push_back(item.id);
    if (!page->next_cursor) break;
    EXPECT_THAT(*page->next_cursor, MatchesRegex("[A-Za-z0-9_-]+"));
    cursor = page->next_cursor;
    between();
    if (*pages > 1000) {
      ADD_FAILURE() << "pagination does not end";
      break;
    }
  }
  return ids;
}

// The ids of `before` appear in `walked` exactly once and in order; no id twice.
void ExpectNoGapsNoDuplicates(const std::vector<std::string>& before,
                              const std::vector<std::string>& walked) {
  std::set<std::string> seen;
  for (const std::string& id : walked) EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
  ASSERT_GE(walked.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(walked[i], before[i]) << "at " << i;
}

TEST_F(ControlPlaneTest, ProjectPagesAreStableUnderInserts) {
  Account a = MakeAccount();
  Account other = MakeAccount("other");
  std::vector<std::string> before;
  for (int i = 0; i < 7; ++i) before.push_back(MakeProject(a.id, "p" + std::to_string(i)).id);
  int inserted = 0;
  int pages = 0;
  auto walked = WalkPages<Project>(
      [&](const std::optional<std::string>& c) { return cp_->ListProjects(a.id, c, 2); },
      [&] {
        MakeProject(a.id, "new" + std::to_string(inserted++));
        MakeProject(other.id, "noise");
      },
      &pages);
  ExpectNoGapsNoDuplicates(before, walked);
  // Rows inserted during the walk land after the cursor, so the walk sees them too.
  EXPECT_EQ(walked.size(), before.size() + static_cast<size_t>(inserted));
  EXPECT_GE(pages, 4);
}

TEST_F(ControlPlaneTest, PagesAreStableUnderConcurrentInsertsFromAnotherThread) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  std::vector<std::string> before;
  for (int i = 0; i < 9; ++i) before.push_back(MakeKey(p, "pre0000" + std::to_string(i)).id);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load() && i < 200; ++i) {
      ApiKey k;
      k.account_id = a.id;
      k.project_id = p.id;
      k.name = "concurrent";
      k.secrets.push_back(KeySecret{"con" + std::to_string(10000 + i), "h", 1, std::nullopt});
      EXPECT_TRUE(cp_->CreateKey(k, 1));
    }
  });
  int pages = 0;
  auto walked = WalkPages<ApiKey>(
      [&](const std::optional<std::string>& c) { return cp_->ListKeys(a.id, p.id, c, 2); },
      [&] { std::this_thread::yield(); }, &pages);
  stop = true;
  writer.join();
  ExpectNoGapsNoDuplicates(before, walked);
}

TEST_F(ControlPlaneTest, MemberPagesAndLimitGuard) {
  Account a = MakeAccount();
  std::vector<std::string> before;
  for (int i = 0; i < 4; ++i) {
    before.push_back(MakeMember(a.id, "m" + std::to_string(i) + "@x.example", "member").id);
  }
  int pages = 0;
  auto walked = WalkPages<Member>(
      [&](const std::optional<std::string>& c) { return cp_->ListMembers(a.id, c, 2); },
      [&] { MakeMember(a.id, "late" + std::to_string(pages) + "@x.example", "viewer"); }, &pages);
  ExpectNoGapsNoDuplicates(before, walked);

  // limit <= 0 is treated as 1.
  for (int limit : {0, -5}) {
    auto page = cp_->ListMembers(a.id, std::nullopt, limit);
    ASSERT_TRUE(page);
    EXPECT_THAT(Ids(page->items), ElementsAre(before[0]));
    EXPECT_TRUE(page->next_cursor.has_value());
  }
  // A last page that is exactly full has no cursor (no empty trailing page).
  auto all = cp_->ListMembers(a.id, std::nullopt, static_cast<int>(walked.size()));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), walked.size());
  EXPECT_FALSE(all->next_cursor.has_value());
}

TEST_F(ControlPlaneTest, MalformedCursorIsInvalidRequest) {
  Account a = MakeAccount();
  for (int i = 0; i < 3; ++i) MakeProject(a.id);
  auto first = cp_->ListProjects(a.id, std::nullopt, 1);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->next_cursor);
  // The same cursor works twice (it is not consumed).
  auto again = cp_->ListProjects(a.id, first->next_cursor, 1);
  auto again2 = cp_->ListProjects(a.id, first->next_cursor, 1);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again2);
  EXPECT_EQ(Ids(again->items), Ids(again2->items));

  const std::vector<std::string> bad = {
      "",
      "!!!!",
      "not a cursor",
      "cDoxMh",                          // "p:12" with non-zero spare bits (not canonical)
      "cDoxMg==",                        // padding
      "cDoxM",                           // truncated
      "cDo",                             // "p:"
      "cDoxeA",                          // "p:1x"
      "azox",                            // "k:1": a key cursor
      "cDotMQ",                          // "p:-1"
      "cDowMQ",                          // "p:01"
      "cDo5OTk5OTk5OTk5OTk5OTk5OTk5OQ",  // overflow
      std::string("cDox\0", 5),
  };
  ASSERT_EQ(Code(cp_->ListProjects(a.id, std::string("cDox"), 1)), "ok");  // "p:1"
  for (const std::string& c : bad) {
    SCOPED_TRACE("cursor \"" + c + "\"");
    auto r = cp_->ListProjects(a.id, c, 1);
    ASSERT_EQ(Code(r), "invalid_request");
    EXPECT_EQ(r.error().param, "cursor");
  }
  EXPECT_EQ(Code(cp_->ListKeys(a.id, "", first->next_cursor, 1)), "invalid_request");
  EXPECT_EQ(Code(cp_->ListMembers(a.id, std::string("%%%"), 1)), "invalid_request");
}

// --- keys

TEST_F(ControlPlaneTest, KeysCreateFindUpdate) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  ApiKey k;
  k.account_id = a.id;
  k.project_id = p.id;
  k.name = "deploy";
  k.scopes = {"metrics.write"};
  k.secrets.push_back(KeySecret{"abcd1234", "deadbeef", 0, std::nullopt});
  auto created = cp_->CreateKey(k, 7000);
  ASSERT_TRUE(created) << Message(created);
  EXPECT_THAT(created->id, MatchesRegex("key_[0-9a-f]{16}"));
  EXPECT_EQ(created->created_at_ms, 7000);
  EXPECT_EQ(created->status, "active");
  EXPECT_THAT(created->scopes, ElementsAre("metrics.write"));
  ASSERT_EQ(created->secrets.size(), 1u);
  EXPECT_EQ(created->secrets[0].hash_hex, "deadbeef");
  EXPECT_EQ(created->secrets[0].created_at_ms, 7000);  // 0 -> now

  // Any account may look a prefix up (authentication does, before it knows the account).
  auto found = cp_->FindKeyByPrefix("abcd1234");
  ASSERT_TRUE(found) << Message(found);
  EXPECT_EQ(found->id, created->id);
  EXPECT_EQ(found->account_id, a.id);
  EXPECT_EQ(Code(cp_->FindKeyByPrefix("zzzzzzzz")), "not_found");

  auto renamed = cp_->UpdateKey(a.id, created->id, "deploy-2", std::nullopt);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "deploy-2");
  EXPECT_THAT(renamed->scopes, ElementsAre("metrics.write"));
  auto rescoped =
      cp_->UpdateKey(a.id, created->id, std::nullopt, std::vector<std::string>{"a", "b.c"});
  ASSERT_TRUE(rescoped);
  EXPECT_EQ(rescoped->name, "deploy-2");
  EXPECT_THAT(rescoped->scopes, ElementsAre("a", "b.c"));
  EXPECT_EQ(
      Code(cp_->UpdateKey(a.id, created->id, std::nullopt, std::vector<std::string>{"bad scope"})),
      "invalid_request");
  EXPECT_EQ(Code(cp_->UpdateKey(a.id, "key_nope", "x", std::nullopt)), "not_found");

  auto listed = cp_->ListKeys(a.id, "", std::nullopt, 10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].name, "deploy-2");
  EXPECT_THAT(Prefixes(listed->items[0]), ElementsAre("abcd1234"));
}

TEST_F(ControlPlaneTest, KeyCreationIsValidated) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  MakeKey(p, "dup00001");
  ApiKey k;
  k.account_id = a.id;
  k.project_id = p.id;
  k.name = "x";
  EXPECT_EQ(Code(cp_->CreateKey(k, 1)), "invalid_request");  // no secret
  k.secrets = {KeySecret{"s1", "h", 1, {}}, KeySecret{"s2", "h", 1, {}}};
  EXPECT_EQ(Code(cp_->CreateKey(k, 1)), "invalid_request");  // two secrets
  k.secrets = {KeySecret{"dup00001", "h", 1, {}}};
  auto dup = cp_->CreateKey(k, 1);
  EXPECT_EQ(Code(dup), "conflict");
  EXPECT_EQ(dup.error().param, "prefix");
  k.secrets = {KeySecret{"fresh001", "h", 1, {}}};
  k.status = "weird";
  EXPECT_EQ(Code(cp_->CreateKey(k, 1)), "invalid_request");
  // The failed creations left nothing behind.
  auto keys = cp_->ListKeys(a.id, p.id, std::nullopt, 10);
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->items.size(), 1u);
}

TEST_F(ControlPlaneTest, KeyStatusTransitions) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  ApiKey k = MakeKey(p, "status01");
  auto sus = cp_->SetKeyStatus(a.id, k.id, "suspected_compromise", 5000);
  ASSERT_TRUE(sus);
  EXPECT_EQ(sus->status, "suspected_compromise");
  EXPECT_FALSE(sus->revoked_at_ms.has_value());
  auto back = cp_->SetKeyStatus(a.id, k.id, "active", 5100);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, "active");
  EXPECT_EQ(Code(cp_->SetKeyStatus(a.id, k.id, "paused", 5200)), "invalid_request");
  auto revoked = cp_->SetKeyStatus(a.id, k.id, "revoked", 6000);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, "revoked");
  EXPECT_EQ(revoked->revoked_at_ms, 6000);
  auto again = cp_->SetKeyStatus(a.id, k.id, "revoked", 7000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->revoked_at_ms, 6000);
  EXPECT_EQ(Code(cp_->SetKeyStatus(a.id, k.id, "active", 8000)), "conflict");
}

TEST_F(ControlPlaneTest, TouchKeysKeepsTheLatestTime) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  ApiKey k1 = MakeKey(p, "touch001");
  ApiKey k2 = MakeKey(p, "touch002");
  EXPECT_FALSE(k1.last_used_at_ms.has_value());
  ASSERT_TRUE(cp_->TouchKeys({{k1.id, 500}, {k2.id, 700}, {"key_unknown", 9}}));
  ASSERT_TRUE(cp_->TouchKeys({{k1.id, 400}}));  // older: ignored
  ASSERT_TRUE(cp_->TouchKeys({}));
  EXPECT_EQ(cp_->GetKey(a.id, k1.id)->last_used_at_ms, 500);
  EXPECT_EQ(cp_->GetKey(a.id, k2.id)->last_used_at_ms, 700);
  ASSERT_TRUE(cp_->TouchKeys({{k1.id, 900}}));
  EXPECT_EQ(cp_->GetKey(a.id, k1.id)->last_used_at_ms, 900);
}

TEST_F(ControlPlaneTest, RotationExpiresOlderSecrets) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  ApiKey k = MakeKey(p, "rotA0000");

  // Rotation with a grace period: A lives until 10000.
  auto r1 = cp_->AddSecret(a.id, k.id, KeySecret{"rotB0000", "hB", 5000, std::nullopt}, 10000);
  ASSERT_TRUE(r1) << Message(r1);
  EXPECT_THAT(Prefixes(*r1), ElementsAre("rotB0000", "rotA0000"));  // newest first
  EXPECT_FALSE(r1->secrets[0].expires_at_ms.has_value());
  EXPECT_EQ(r1->secrets[1].expires_at_ms, 10000);
  EXPECT_EQ(r1->secrets[0].created_at_ms, 5000);

  // Both prefixes find the key with all its secrets.
  for (const char* prefix : {"rotA0000", "rotB0000"}) {
    auto f = cp_->FindKeyByPrefix(prefix);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->id, k.id);
    EXPECT_THAT(Prefixes(*f), ElementsAre("rotB0000", "rotA0000"));
  }

  // An immediate cut-over at 6000 shortens A's grace and ends B.
  auto r2 = cp_->AddSecret(a.id, k.id, KeySecret{"rotC0000", "hC", 6000, std::nullopt}, 6000);
  ASSERT_TRUE(r2);
  ASSERT_THAT(Prefixes(*r2), ElementsAre("rotC0000", "rotB0000", "rotA0000"));
  EXPECT_FALSE(r2->secrets[0].expires_at_ms.has_value());
  EXPECT_EQ(r2->secrets[1].expires_at_ms, 6000);
  EXPECT_EQ(r2->secrets[2].expires_at_ms, 6000);

  // A later grace end never extends an already earlier expiry.
  auto r3 = cp_->AddSecret(a.id, k.id, KeySecret{"rotD0000", "hD", 7000, std::nullopt}, 20000);
  ASSERT_TRUE(r3);
  ASSERT_THAT(Prefixes(*r3), ElementsAre("rotD0000", "rotC0000", "rotB0000", "rotA0000"));
  EXPECT_EQ(r3->secrets[1].expires_at_ms, 20000);
  EXPECT_EQ(r3->secrets[2].expires_at_ms, 6000);
  EXPECT_EQ(r3->secrets[3].expires_at_ms, 6000);

  // A prefix in use (by any key) is refused, and nothing changes.
  auto dup = cp_->AddSecret(a.id, k.id, KeySecret{"rotA0000", "h", 8000, std::nullopt}, 8000);
  EXPECT_EQ(Code(dup), "conflict");
  auto after = cp_->GetKey(a.id, k.id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->secrets.size(), 4u);
  EXPECT_EQ(after->secrets[1].expires_at_ms, 20000);
}

// --- members

TEST_F(ControlPlaneTest, MembersAddListRemove) {
  Account a = MakeAccount();
  Member admin = MakeMember(a.id, "boss@x.example", "admin");
  Member ops = MakeMember(a.id, "ops@x.example", "billing-ops", "invited");
  EXPECT_THAT(admin.id, MatchesRegex("mem_[0-9a-f]{16}"));
  EXPECT_EQ(ops.status, "invited");
  EXPECT_EQ(ops.invite_token_hash, "th-ops@x.example");

  Member dup;
  dup.account_id = a.id;
  dup.email = "BOSS@x.example";
  dup.role = "viewer";
  dup.status = "invited";
  EXPECT_EQ(Code(cp_->AddMember(dup, 1)), "conflict");
  dup.email = "new@x.example";
  dup.role = "owner";
  EXPECT_EQ(Code(cp_->AddMember(dup, 1)), "invalid_request");
  dup.role = "viewer";
  dup.status = "pending";
  EXPECT_EQ(Code(cp_->AddMember(dup, 1)), "invalid_request");

  auto list = cp_->ListMembers(a.id, std::nullopt, 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0].email, "boss@x.example");
  EXPECT_EQ(list->items[0].role, "admin");
  EXPECT_EQ(list->items[0].created_at_ms, 4000);

  ASSERT_TRUE(cp_->RemoveMember(a.id, ops.id));
  EXPECT_EQ(Code(cp_->RemoveMember(a.id, ops.id)), "not_found");
  list = cp_->ListMembers(a.id, std::nullopt, 10);
  ASSERT_TRUE(list);
  EXPECT_THAT(Ids(list->items), ElementsAre(admin.id));
}

TEST_F(ControlPlaneTest, LastActiveAdminCannotBeRemoved) {
  Account a = MakeAccount();
  Account b = MakeAccount("b");
  Member admin1 = MakeMember(a.id, "a1@x.example", "admin");
  Member invited_admin = MakeMember(a.id, "a2@x.example", "admin", "invited");
  Member viewer = MakeMember(a.id, "v@x.example", "viewer");
  MakeMember(b.id, "other-admin@x.example", "admin");  // another account's admin does not count

  auto refused = cp_->RemoveMember(a.id, admin1.id);
  ASSERT_EQ(Code(refused), "conflict");
  EXPECT_THAT(refused.error().message, HasSubstr("last admin"));
  // An invited admin is not an active one: removable.
  EXPECT_TRUE(cp_->RemoveMember(a.id, invited_admin.id));
  EXPECT_TRUE(cp_->RemoveMember(a.id, viewer.id));

  Member admin2 = MakeMember(a.id, "a3@x.example", "admin");
  EXPECT_TRUE(cp_->RemoveMember(a.id, admin1.id));
  EXPECT_EQ(Code(cp_->RemoveMember(a.id, admin2.id)), "conflict");
  auto list = cp_->ListMembers(a.id, std::nullopt, 10);
  ASSERT_TRUE(list);
  EXPECT_THAT(Ids(list->items), ElementsAre(admin2.id));
}

// --- usage

TEST_F(ControlPlaneTest, UsageIsAddedUpAndQueriedByHour) {
  constexpr int64_t kHour = 3'600'000;
  Account a = MakeAccount();
  Account b = MakeAccount("b");
  ASSERT_TRUE(cp_->AddUsage({
      {a.id, "prj_1", 0, "metrics.report", 1, 100, 10},
      {a.id, "prj_1", 0, "metrics.report", 2, 200, 20},  // same key in one batch
      {a.id, "prj_1", kHour, "metrics.report", 1, 1, 1},
      {a.id, "", kHour, "account.keys.create", 1, 5, 50},
      {a.id, "prj_1", 2 * kHour, "metrics.report", 1, 1, 1},
      {b.id, "prj_9", 0, "metrics.report", 7, 7, 7},
  }));
  ASSERT_TRUE(cp_->AddUsage({{a.id, "prj_1", 0, "metrics.report", 4, 400, 40}}));
  ASSERT_TRUE(cp_->AddUsage({}));

  auto rows = cp_->QueryUsage(a.id, 0, 2 * kHour);
  ASSERT_TRUE(rows) << Message(rows);
  ASSERT_EQ(rows->size(), 3u);
  const UsageRow& r0 = (*rows)[0];
  EXPECT_EQ(r0.account_id, a.id);
  EXPECT_EQ(r0.project_id, "prj_1");
  EXPECT_EQ(r0.hour_start_ms, 0);
  EXPECT_EQ(r0.capability, "metrics.report");
  EXPECT_EQ(r0.requests, 7);
  EXPECT_EQ(r0.ingress_bytes, 700);
  EXPECT_EQ(r0.egress_bytes, 70);
  EXPECT_EQ((*rows)[1].project_id, "");
  EXPECT_EQ((*rows)[1].capability, "account.keys.create");
  EXPECT_EQ((*rows)[1].egress_bytes, 50);
  EXPECT_EQ((*rows)[2].hour_start_ms, kHour);

  auto later = cp_->QueryUsage(a.id, kHour, 10 * kHour);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->size(), 3u);
  auto none = cp_->QueryUsage("acc_nobody", 0, 10 * kHour);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// --- bandwidth alerts

TEST_F(ControlPlaneTest, BandwidthAlerts) {
  Account a = MakeAccount();
  auto a1 = cp_->CreateBandwidthAlert(a.id, 1'000'000, 100);
  auto a2 = cp_->CreateBandwidthAlert(a.id, 5'000'000, 200);
  ASSERT_TRUE(a1);
  ASSERT_TRUE(a2);
  EXPECT_THAT(a1->id, MatchesRegex("bwa_[0-9a-f]{16}"));
  auto list = cp_->ListBandwidthAlerts(a.id);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, a1->id);
  EXPECT_EQ((*list)[0].threshold_bytes, 1'000'000);
  EXPECT_TRUE((*list)[0].enabled);
  EXPECT_EQ((*list)[0].created_at_ms, 100);
  EXPECT_FALSE((*list)[0].last_fired_period_start_ms.has_value());
  ASSERT_TRUE(cp_->DeleteBandwidthAlert(a.id, a1->id));
  EXPECT_EQ(Code(cp_->DeleteBandwidthAlert(a.id, a1->id)), "not_found");
  list = cp_->ListBandwidthAlerts(a.id);
  ASSERT_TRUE(list);
  EXPECT_THAT(Ids(*list), ElementsAre(a2->id));
}

// --- idempotency

TEST_F(ControlPlaneTest, IdempotencyRecords) {
  auto none = cp_->GetIdempotency("prj_1", "k1");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  const std::string body("{\"id\":\"x\"}\0binary\xff", 18);
  ASSERT_TRUE(cp_->PutIdempotency({"prj_1", "k1", "bh1", 201, body, 1000}));
  ASSERT_TRUE(cp_->PutIdempotency({"prj_2", "k1", "bh2", 200, "{}", 2000}));
  auto got = cp_->GetIdempotency("prj_1", "k1");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->body_hash, "bh1");
  EXPECT_EQ((*got)->status, 201);
  EXPECT_EQ((*got)->response_body, body);
  EXPECT_EQ((*got)->created_at_ms, 1000);
  EXPECT_EQ((*got)->project_id, "prj_1");
  EXPECT_EQ((*got)->key, "k1");

  // Upsert replaces.
  ASSERT_TRUE(cp_->PutIdempotency({"prj_1", "k1", "bh3", 409, "", 3000}));
  got = cp_->GetIdempotency("prj_1", "k1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->status, 409);
  EXPECT_EQ((*got)->response_body, "");
  EXPECT_EQ((*got)->created_at_ms, 3000);

  auto purged = cp_->PurgeIdempotency(2500);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1);  // prj_2/k1 at 2000
  EXPECT_FALSE(cp_->GetIdempotency("prj_2", "k1")->has_value());
  EXPECT_TRUE(cp_->GetIdempotency("prj_1", "k1")->has_value());
}

// --- migrations and durability

TEST_F(ControlPlaneTest, FreshDatabaseIsAtTheCurrentSchemaInWalMode) {
  cp_.reset();
  auto db = SqliteDb::Open(Path());
  ASSERT_TRUE(db);
  EXPECT_EQ(*(*db)->QueryText("PRAGMA user_version"),
            std::to_string(SqliteControlPlane::SchemaVersion()));
  EXPECT_EQ(*(*db)->QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*(*db)->QueryText("PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(*(*db)->QueryText("PRAGMA foreign_keys"), "1");
}

TEST_F(ControlPlaneTest, ReopenKeepsData) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  ApiKey k = MakeKey(p, "reopen01");
  Member m = MakeMember(a.id, "r@x.example", "admin");
  ASSERT_TRUE(cp_->AddUsage({{a.id, p.id, 0, "metrics.report", 3, 4, 5}}));
  Reopen();
  Reopen();  // a second open of an up-to-date file migrates nothing
  EXPECT_TRUE(cp_->GetAccount(a.id));
  EXPECT_TRUE(cp_->GetProject(a.id, p.id));
  auto key = cp_->FindKeyByPrefix("reopen01");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->id, k.id);
  auto members = cp_->ListMembers(a.id, std::nullopt, 10);
  ASSERT_TRUE(members);
  EXPECT_THAT(Ids(members->items), ElementsAre(m.id));
  auto usage = cp_->QueryUsage(a.id, 0, 1);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].requests, 3);
  auto check = cp_->IntegrityCheck();
  ASSERT_TRUE(check);
  EXPECT_EQ(*check, "ok");
}

TEST_F(ControlPlaneTest, NewerSchemaIsRefused) {
  MakeAccount();
  cp_.reset();
  {
    auto db = SqliteDb::Open(Path());
    ASSERT_TRUE(db);
    const int newer = SqliteControlPlane::SchemaVersion() + 1;
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = " + std::to_string(newer)));
  }
  auto refused = SqliteControlPlane::Open(Path());
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("newer than this build"));
  EXPECT_THAT(refused.error().message, HasSubstr(Path()));
}

TEST(SqliteDbTest, ErrorsCarrySqliteMessages) {
  tally_test::TempDir dir;
  auto db = SqliteDb::Open(dir.Sub("x.db"));
  ASSERT_TRUE(db);
  auto bad = (*db)->Prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("syntax error"));
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (a TEXT PRIMARY KEY)"));
  auto st = (*db)->Transaction([&]() -> core::Status {
    auto ins = (*db)->Prepare("INSERT INTO t VALUES (?)");
    if (!ins) return core::Unexpected(ins.error());
    if (auto s = ins->BindAll("x"); !s) return s;
    if (auto s = ins->Run(); !s) return s;
    return core::Fail(core::ErrorCode::kInternal, "changed my mind");
  });
  EXPECT_FALSE(st);
  EXPECT_EQ(*(*db)->QueryText("SELECT COUNT(*) FROM t"), "0");  // rolled back
  ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES ('x')"));
  auto dup = (*db)->Exec("INSERT INTO t VALUES ('x')");
  ASSERT_EQ(Code(dup), "conflict");
  EXPECT_THAT(dup.error().message, HasSubstr("UNIQUE"));
  auto missing = SqliteDb::Open(dir.Sub("no/such/dir/x.db"));
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("unable to open"));
}

// --- concurrency

TEST_F(ControlPlaneTest, ConcurrentKeysAndUsage) {
  Account a = MakeAccount();
  Project p = MakeProject(a.id);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 12;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ApiKey k;
        k.account_id = a.id;
        k.project_id = p.id;
        k.name = "t" + std::to_string(t);
        k.secrets.push_back(KeySecret{"t" + std::to_string(t) + "i" + std::to_string(100 + i), "h",
                                      1, std::nullopt});
        auto r = cp_->CreateKey(k, 1);
        EXPECT_TRUE(r) << Message(r);
        if (r) ids[t].push_back(r->id);
        EXPECT_TRUE(cp_->AddUsage({{a.id, p.id, 0, "metrics.report", 1, 10, 1},
                                   {a.id, p.id, 0, "t" + std::to_string(t), 1, 0, 0}}));
        if (r) {
          EXPECT_TRUE(cp_->TouchKeys({{r->id, i}}));
        }
        EXPECT_TRUE(cp_->ListKeys(a.id, p.id, std::nullopt, 5));
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  int pages = 0;
  auto walked = WalkPages<ApiKey>(
      [&](const std::optional<std::string>& c) { return cp_->ListKeys(a.id, p.id, c, 2); }, [] {},
      &pages);
  EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()), all);
  auto usage = cp_->QueryUsage(a.id, 0, 1);
  ASSERT_TRUE(usage);
  std::map<std::string, int64_t> requests;
  for (const UsageRow& r : *usage) requests[r.capability] = r.requests;
  EXPECT_EQ(requests["metrics.report"], kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(requests["t" + std::to_string(t)], kPerThread);
}

// Two handles on one file (two processes, e.g. the server and the operator CLI):
// writes of one are visible to the other, and neither fails on the other's lock.
TEST_F(ControlPlaneTest, TwoConnectionsShareTheFile) {
  auto second = SqliteControlPlane::Open(Path());
  ASSERT_TRUE(second);
  Account a = MakeAccount();
  auto seen = (*second)->GetAccount(a.id);
  ASSERT_TRUE(seen) << Message(seen);
  std::thread t([&] {
    for (int i = 0; i < 30; ++i) {
      EXPECT_TRUE((*second)->AddUsage({{a.id, "", 0, "x", 1, 0, 0}}));
    }
  });
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(cp_->AddUsage({{a.id, "", 0, "x", 1, 0, 0}}));
  t.join();
  auto usage = cp_->QueryUsage(a.id, 0, 1);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].requests, 60);
}

// --- crash safety

// Writes all of `s` to `fd` (the child side of the crash test).
void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::_exit(4);
    }
    done += static_cast<size_t>(n);
  }
}

// The child: opens the file and commits keys and usage until it is killed,
// reporting each commit on `fd` after the call returned.
[[noreturn]] void CrashChild(const std::string& path, const std::string& account_id,
                             const std::string& project_id, int fd) {
  auto cp = SqliteControlPlane::Open(path);
  if (!cp) ::_exit(2);
  for (int i = 0;; ++i) {
    ApiKey k;
    k.account_id = account_id;
    k.project_id = project_id;
    k.name = "crash";
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "c%07d", i);
    k.secrets.push_back(KeySecret{prefix, "h", i, std::nullopt});
    auto key = (*cp)->CreateKey(k, i);
    if (!key) ::_exit(3);
    WriteAll(fd, "k " + key->id + "\n");
    if (!(*cp)->AddUsage({{account_id, project_id, 0, "crash", 1, 10, 20}})) ::_exit(3);
    WriteAll(fd, "u\n");
  }
}

TEST(ControlPlaneCrashTest, KillNineKeepsEveryCommittedRow) {
  tally_test::TempDir dir;
  const std::string path = dir.Sub("tally.db");
  std::string account_id, project_id;
  {
    auto cp = SqliteControlPlane::Open(path);
    ASSERT_TRUE(cp) << Message(cp);
    auto a = (*cp)->CreateAccount("crash", "free", 1);
    ASSERT_TRUE(a);
    auto p = (*cp)->CreateProject(Project{.account_id = a->id, .name = "p"}, 1);
    ASSERT_TRUE(p);
    account_id = a->id;
    project_id = p->id;
  }  // closed before fork: the child must not inherit an open connection

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    CrashChild(path, account_id, project_id, fds[1]);
  }
  ::close(fds[1]);

  // Collect reports for ~300 ms, kill -9, then drain what the pipe still holds.
  std::string reported;
  auto read_some = [&](int timeout_ms) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n <= 0) return false;
    reported.append(buf, static_cast<size_t>(n));
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    read_some(static_cast<int>(std::max<int64_t>(1, left.count())));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  while (read_some(0)) {
  }
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with status " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);

  std::vector<std::string> keys;
  int64_t usage_commits = 0;
  size_t pos = 0;
  for (size_t nl; (nl = reported.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    const std::string line = reported.substr(pos, nl - pos);
    if (line.rfind("k ", 0) == 0) keys.push_back(line.substr(2));
    if (line == "u") ++usage_commits;
  }
  ASSERT_GT(keys.size(), 0u) << "the child committed nothing in 300 ms";
  RecordProperty("committed_keys", static_cast<int>(keys.size()));

  auto cp = SqliteControlPlane::Open(path);
  ASSERT_TRUE(cp) << Message(cp);
  auto check = (*cp)->IntegrityCheck();
  ASSERT_TRUE(check) << Message(check);
  EXPECT_EQ(*check, "ok");
  for (const std::string& id : keys) {
    auto k = (*cp)->GetKey(account_id, id);
    ASSERT_TRUE(k) << "committed key " << id << " is missing: " << Message(k);
    EXPECT_EQ(k->secrets.size(), 1u);
  }
  auto usage = (*cp)->QueryUsage(account_id, 0, 1);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  // At most one commit may have landed without being reported.
  EXPECT_GE((*usage)[0].requests, usage_commits);
  EXPECT_LE((*usage)[0].requests, usage_commits + 1);
  auto all = (*cp)->ListKeys(account_id, project_id, std::nullopt, 1000000);
  ASSERT_TRUE(all);
  EXPECT_GE(all->items.size(), keys.size());
  EXPECT_LE(all->items.size(), keys.size() + 1);
  // The file still takes writes.
  EXPECT_TRUE((*cp)->AddUsage({{account_id, project_id, 0, "crash", 1, 0, 0}}));
}

}  // namespace
}  // namespace control
