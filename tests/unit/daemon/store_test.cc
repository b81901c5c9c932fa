#include "vaultd/daemon/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

namespace vaultd::daemon {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vaultd-store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StoreTest, TheClientIdIsKeptWithTheStateAndNewForNewState) {
  uint64_t id;
  {
    auto s = Store::Open(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    id = (*s)->client_id();
    EXPECT_GT(id, 0u);
    EXPECT_LE(id, 0xFFFFFFFFu);
  }
  auto again = Store::Open(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->client_id(), id);
  fs::create_directories(dir_ / "other");
  auto other = Store::Open(dir_ / "other");
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->client_id(), id);
}

TEST_F(StoreTest, CommitsAreAtomicAndShadowsLoadOnDemand) {
  auto s = Store::Open(dir_);
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  RoomCommit c;
  c.updates.push_back({1, 2, 3});
  FileRecord r;
  r.shadow = "shadow text";
  r.hash = "h";
  r.size = 11;
  c.files["a.md"] = r;
  ASSERT_TRUE(st.Commit("eng", c).ok());
  RoomCommit c2;
  c2.updates.push_back({4});
  c2.clocks["a.md"] = 42;
  ASSERT_TRUE(st.Commit("eng", c2).ok());
  auto ups = st.LoadUpdates("eng");
  ASSERT_TRUE(ups.ok());
  ASSERT_EQ(ups->size(), 2u);
  EXPECT_EQ((*ups)[1], Bytes{4});
  auto files = st.LoadFiles("eng");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->count("a.md"), 1u);
  EXPECT_EQ(files->at("a.md").shadow, "") << "LoadFiles keeps the texts in the store";
  EXPECT_EQ(files->at("a.md").local_clock, 42u);
  EXPECT_EQ(*st.LoadShadow("eng", "a.md"), "shadow text");
  EXPECT_EQ(*st.LoadShadow("eng", "nope.md"), "");
  EXPECT_TRUE(st.LoadFiles("other-room")->empty());
  ASSERT_TRUE(st.Compact("eng", {9, 9}).ok());
  EXPECT_EQ(st.UpdateCount("eng"), 1u);
  EXPECT_EQ(*st.LoadUpdates("eng"), (std::vector<Bytes>{Bytes{9, 9}}));
  RoomCommit forget;
  forget.files["a.md"] = std::nullopt;
  ASSERT_TRUE(st.Commit("eng", forget).ok());
  EXPECT_TRUE(st.LoadFiles("eng")->empty());
  ASSERT_TRUE(st.DropRoom("eng").ok());
  EXPECT_EQ(st.UpdateCount("eng"), 0u);
}

TEST_F(StoreTest, ADatabaseOfAnotherSchemaIsRefusedNotReplaced) {
  { ASSERT_TRUE(Store::Open(dir_).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "vaultd.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema'", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::Open(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("schema 99"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace vaultd::daemon
