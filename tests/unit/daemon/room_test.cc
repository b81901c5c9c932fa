// The bridge rules, with two daemons' rooms on one loop and an in-process
// relay. Watch events come from FakeWatchers, so each test says exactly
// which change the daemon noticed.
#include "vaultd/daemon/room.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "memory_relay.h"
#include "vaultd/common/log.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/daemon/store.h"

namespace vaultd::daemon {
namespace {

namespace fs = std::filesystem;
using testing::MemoryRelay;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return "<missing>";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void Spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

struct Side {
  std::string name;
  fs::path vault, state;
  std::unique_ptr<Store> store;
  FakeWatcher* watcher = nullptr;
  std::unique_ptr<RoomSession> room;
  fs::path File(const std::string& rel) const { return vault / "notes" / rel; }
};

class RoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetLevel(log::Level::kWarn);
    root_ = fs::temp_directory_path() /
            ("vaultd-room-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    uv_loop_init(&loop_);
    relay_ = std::make_unique<MemoryRelay>(&loop_);
    a_.name = "alice";
    b_.name = "bob";
    for (Side* s : {&a_, &b_}) {
      s->vault = root_ / s->name / "vault";
      s->state = root_ / s->name / "state";
      fs::create_directories(s->vault / "notes");
      fs::create_directories(s->state);
    }
  }
  void TearDown() override {
    for (Side* s : {&a_, &b_}) Stop(*s);
    relay_->Shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    relay_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    fs::remove_all(root_);
  }

  std::optional<WallTime> expires_;
  DaemonConfig Config(const Side& s, bool ro = false) {
    DaemonConfig c;
    c.vault = s.vault;
    c.state_dir = s.state;
    c.user = s.name;
    c.relay.url = "ws://relay.test";
    c.rooms.push_back({"notes", "notes", "notes", ro, expires_});
    return c;
  }
  void Start(Side& s, bool ro = false) {
    auto st = Store::Open(s.state);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    s.store = std::move(*st);
    auto w = std::make_unique<FakeWatcher>();
    s.watcher = w.get();
    RoomDeps deps{&loop_, s.store.get(), relay_.get(), &RealClock(), std::move(w)};
    DaemonConfig c = Config(s, ro);
    s.room = NewRoomSession(c, c.rooms[0], "", std::move(deps));
    ASSERT_TRUE(s.room->Start().ok());
    ASSERT_TRUE(RunUntil([&] { return s.room->status().synced; })) << s.name << " never synced";
  }
  void Stop(Side& s) {
    if (s.room) s.room->Stop();
    uv_run(&loop_, UV_RUN_NOWAIT);
    s.room.reset();
    s.store.reset();
    s.watcher = nullptr;
  }
  bool RunUntil(const std::function<bool()>& pred,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    return true;
  }
  void Changed(Side& s, const std::string& rel) {
    s.watcher->Push({WatchEventKind::kChanged, rel, "", false, ""});
    s.watcher->Deliver();
  }
  void Renamed(Side& s, const std::string& from, const std::string& to, bool dir = false) {
    s.watcher->Push({WatchEventKind::kRenamed, to, from, dir, ""});
    s.watcher->Deliver();
  }
  bool Eventually(Side& s, const std::string& rel, const std::string& want) {
    return RunUntil([&] { return Slurp(s.File(rel)) == want; });
  }

  fs::path root_;
  uv_loop_t loop_;
  std::unique_ptr<MemoryRelay> relay_;
  Side a_, b_;
};

TEST_F(RoomTest, ANoteWrittenOnOneSideAppearsOnTheOtherByteForByte) {
  Start(a_);
  Start(b_);
  std::string text = "# Title\r\nline with emoji \xF0\x9F\x98\x80 and CRLF\r\n";
  Spit(a_.File("sub/dir/a.md"), text);
  Changed(a_, "sub/dir/a.md");
  EXPECT_TRUE(Eventually(b_, "sub/dir/a.md", text));
  Spit(a_.File("empty.md"), "");
  Changed(a_, "empty.md");
  EXPECT_TRUE(Eventually(b_, "empty.md", ""));
  std::string bin("\x89PNG\r\n\x1a\n\0\0\0binary", 18);
  Spit(a_.File("img.png"), bin);
  Changed(a_, "img.png");
  EXPECT_TRUE(Eventually(b_, "img.png", bin));
}

TEST_F(RoomTest, EditsOnBothSidesMergeAndDeletesFollow) {
  Start(a_);
  Start(b_);
  Spit(a_.File("n.md"), "one\ntwo\nthree\n");
  Changed(a_, "n.md");
  ASSERT_TRUE(Eventually(b_, "n.md", "one\ntwo\nthree\n"));
  Spit(b_.File("n.md"), "one\ntwo\nthree\nfour\n");
  Changed(b_, "n.md");
  EXPECT_TRUE(Eventually(a_, "n.md", "one\ntwo\nthree\nfour\n"));
  fs::remove(a_.File("n.md"));
  Changed(a_, "n.md");
  EXPECT_TRUE(Eventually(b_, "n.md", "<missing>"));
}

TEST_F(RoomTest, ARenameIsARenameOnTheOtherSide) {
  Start(a_);
  Start(b_);
  Spit(a_.File("old.md"), "content\n");
  Changed(a_, "old.md");
  ASSERT_TRUE(Eventually(b_, "old.md", "content\n"));
  struct stat before;
  ASSERT_EQ(stat(b_.File("old.md").c_str(), &before), 0);
  fs::create_directories(a_.File("moved"));
  fs::rename(a_.File("old.md"), a_.File("moved/new.md"));
  Renamed(a_, "old.md", "moved/new.md");
  ASSERT_TRUE(Eventually(b_, "moved/new.md", "content\n"));
  EXPECT_EQ(Slurp(b_.File("old.md")), "<missing>");
  struct stat after;
  ASSERT_EQ(stat(b_.File("moved/new.md").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino)
      << "the other side renamed the file instead of rewriting it";
}

TEST_F(RoomTest, AnEditBeatsAConcurrentDelete) {
  Start(a_);
  Start(b_);
  Spit(a_.File("n.md"), "base\n");
  Changed(a_, "n.md");
  ASSERT_TRUE(Eventually(b_, "n.md", "base\n"));
  relay_->SetDown(true);
  ASSERT_TRUE(
      RunUntil([&] { return !a_.room->status().connected && !b_.room->status().connected; }));
  fs::remove(a_.File("n.md"));
  Changed(a_, "n.md");
  Spit(b_.File("n.md"), "base\nedited by bob\n");
  Changed(b_, "n.md");
  relay_->SetDown(false);
  EXPECT_TRUE(Eventually(a_, "n.md", "base\nedited by bob\n"));
  EXPECT_TRUE(Eventually(b_, "n.md", "base\nedited by bob\n"));
}

TEST_F(RoomTest, ASequentialDeleteIsADelete) {
  Start(a_);
  Start(b_);
  Spit(b_.File("n.md"), "x\n");
  Changed(b_, "n.md");
  ASSERT_TRUE(Eventually(a_, "n.md", "x\n"));
  fs::remove(a_.File("n.md"));
  Changed(a_, "n.md");
  EXPECT_TRUE(Eventually(b_, "n.md", "<missing>"));
}

TEST_F(RoomTest, ConcurrentBinaryWritesKeepAConflictCopy) {
  Start(a_);
  Start(b_);
  Spit(a_.File("pic.bin"), "v0");
  Changed(a_, "pic.bin");
  ASSERT_TRUE(Eventually(b_, "pic.bin", "v0"));
  relay_->SetDown(true);
  ASSERT_TRUE(
      RunUntil([&] { return !a_.room->status().connected && !b_.room->status().connected; }));
  Spit(a_.File("pic.bin"), "from alice");
  Changed(a_, "pic.bin");
  Spit(b_.File("pic.bin"), "from bob");
  Changed(b_, "pic.bin");
  relay_->SetDown(false);
  auto copies = [&](Side& s) {
    int n = 0;
    for (auto& e : fs::directory_iterator(s.vault / "notes"))
      if (e.path().filename().string().find("(conflict ") != std::string::npos) ++n;
    return n;
  };
  ASSERT_TRUE(RunUntil([&] { return copies(a_) == 1 && copies(b_) == 1; }));
  ASSERT_TRUE(RunUntil([&] { return Slurp(a_.File("pic.bin")) == Slurp(b_.File("pic.bin")); }));
  std::string kept = Slurp(a_.File("pic.bin"));
  EXPECT_TRUE(kept == "from alice" || kept == "from bob") << kept;
  EXPECT_EQ(a_.room->status().conflicts + b_.room->status().conflicts, 1u);
}

TEST_F(RoomTest, HostileKeysAreNeverWrittenAndAreCounted) {
  Start(a_);
  crdt::Doc js({.client_id = 4242});
  auto files = js.GetMap("files");
  for (const char* bad :
       {"../escape.md", "/abs.md", "a\\b.md", ".obsidian/plugins/x/main.js", "ok/../../x.md"}) {
    ASSERT_TRUE(files.Set(bad, crdt::NewType{crdt::TypeKind::kText}).ok());
    ASSERT_TRUE(files.Get(bad)->AsText().Insert(0, "pwned").ok());
  }
  ASSERT_TRUE(files.Set("fine.md", crdt::NewType{crdt::TypeKind::kText}).ok());
  ASSERT_TRUE(files.Get("fine.md")->AsText().Insert(0, "ok").ok());
  auto update = js.EncodeStateAsUpdate();
  ASSERT_TRUE(update.ok());
  relay_->InjectUpdate("notes", *update);
  relay_->InjectFrame("notes", {0, 2, 5, 1, 2, 3});  // a sync update that does not decode
  ASSERT_TRUE(Eventually(a_, "fine.md", "ok"));
  ASSERT_TRUE(RunUntil([&] { return a_.room->status().malformed == 1; }));
  EXPECT_EQ(a_.room->status().rejected_paths, 5u);
  EXPECT_FALSE(fs::exists(a_.vault / "escape.md"));
  EXPECT_FALSE(fs::exists(root_ / "alice" / "x.md"));
  EXPECT_FALSE(fs::exists(a_.File(".obsidian")));
}

TEST_F(RoomTest, ASymlinkInTheRoomIsNeverFollowedByAWrite) {
  fs::path outside = root_ / "outside";
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, a_.vault / "notes" / "link");
  Start(a_);
  crdt::Doc js({.client_id = 4243});
  auto files = js.GetMap("files");
  ASSERT_TRUE(files.Set("link/evil.md", crdt::NewType{crdt::TypeKind::kText}).ok());
  ASSERT_TRUE(files.Get("link/evil.md")->AsText().Insert(0, "pwned").ok());
  ASSERT_TRUE(files.Set("ok.md", crdt::NewType{crdt::TypeKind::kText}).ok());
  ASSERT_TRUE(files.Get("ok.md")->AsText().Insert(0, "ok").ok());
  relay_->InjectUpdate("notes", *js.EncodeStateAsUpdate());
  ASSERT_TRUE(Eventually(a_, "ok.md", "ok"));
  ASSERT_TRUE(RunUntil([&] { return a_.room->status().rejected_paths == 1; }));
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_EQ(a_.room->status().queued_paths, 0u) << "a symlinked path is not retried";
}

TEST_F(RoomTest, EditsMadeWhileStoppedAreMergedOnRestart) {
  Start(a_);
  Start(b_);
  Spit(a_.File("n.md"), "alpha\n");
  Changed(a_, "n.md");
  ASSERT_TRUE(Eventually(b_, "n.md", "alpha\n"));
  Stop(b_);
  Spit(b_.File("n.md"), "alpha\nbeta\n");  // typed while the daemon was down
  Spit(b_.File("new.md"), "new\n");
  Start(b_);
  EXPECT_TRUE(Eventually(a_, "n.md", "alpha\nbeta\n"));
  EXPECT_TRUE(Eventually(a_, "new.md", "new\n"));
}

TEST_F(RoomTest, AReadOnlyRoomSendsNothingButItsFirstSyncStep) {
  Start(a_);
  Start(b_, /*ro=*/true);
  Spit(a_.File("n.md"), "from alice\n");
  Changed(a_, "n.md");
  ASSERT_TRUE(Eventually(b_, "n.md", "from alice\n"));
  uint64_t before = relay_->frames_from_clients();
  Spit(b_.File("n.md"), "bob tries\n");
  Changed(b_, "n.md");
  EXPECT_TRUE(Eventually(b_, "n.md", "from alice\n"));
  EXPECT_EQ(b_.room->status().ro_edits, 1u);
  for (int i = 0; i < 100; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(relay_->frames_from_clients(), before) << "the read-only side sent a frame";
  EXPECT_EQ(Slurp(a_.File("n.md")), "from alice\n");
}

TEST_F(RoomTest, ARoomPastItsExpiryStopsSyncingAndSaysSo) {
  Start(a_);
  expires_ = std::chrono::system_clock::now() + std::chrono::milliseconds(300);
  Start(b_);
  Spit(a_.File("before.md"), "before expiry\n");
  Changed(a_, "before.md");
  ASSERT_TRUE(Eventually(b_, "before.md", "before expiry\n"));
  ASSERT_TRUE(RunUntil([&] { return b_.room->status().expired; }));
  EXPECT_FALSE(b_.room->status().connected);
  Spit(a_.File("after.md"), "after expiry\n");
  Changed(a_, "after.md");
  ASSERT_TRUE(RunUntil([&] { return a_.room->status().pending_local == 0; }));
  for (int i = 0; i < 200; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_FALSE(fs::exists(b_.File("after.md")));
}

TEST_F(RoomTest, ADegradedWatcherShowsInStatusUntilARescanCaughtUp) {
  Start(a_);
  Start(b_);
  Spit(a_.File("missed.md"), "the watcher lost this event\n");
  a_.watcher->SetDegraded("queue overflow");
  EXPECT_TRUE(a_.room->status().degraded);
  EXPECT_EQ(a_.room->status().degraded_reason, "queue overflow");
  a_.watcher->Push({WatchEventKind::kRescan, "", "", false, "queue overflow"});
  a_.watcher->Deliver();
  EXPECT_TRUE(Eventually(b_, "missed.md", "the watcher lost this event\n"));
  EXPECT_FALSE(a_.room->status().degraded);
}

}  // namespace
}  // namespace vaultd::daemon
