// Two `vaultd run` processes and a yjs peer in node, all through the real
// y-websocket relay: what one side does, every side ends up with.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "daemon_harness.h"
#include "vaultd/common/base64.h"

namespace vaultd::itest {
namespace {

// Writes in place, as Obsidian's fs.writeFile does: truncate, write, close.
void WriteInPlace(const fs::path& p, const std::string& s) {
  int fd = open(p.c_str(), O_WRONLY | O_TRUNC | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  close(fd);
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("vaultd-sync-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    relay_ = std::make_unique<Relay>(root_);
    ASSERT_TRUE(relay_->Start()) << "the relay did not start; see " << (root_ / "relay.log");
    a_ = std::make_unique<Daemon>(root_ / "alice", "alice");
    b_ = std::make_unique<Daemon>(root_ / "bob", "bob");
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- alice's log\n"
                << a_->Log().substr(0, 20000) << "\n---- bob's log\n"
                << b_->Log().substr(0, 20000) << "\n";
    }
    a_->Stop();
    b_->Stop();
    relay_->Stop();
    if (!HasFailure()) fs::remove_all(root_);
  }
  void StartBoth(const std::vector<Daemon::RoomSpec>& rooms = {{"eng", "eng"}}) {
    a_->Configure(relay_->url(), rooms);
    b_->Configure(relay_->url(), rooms);
    ASSERT_TRUE(a_->Start());
    ASSERT_TRUE(b_->Start());
    ASSERT_TRUE(a_->WaitSynced());
    ASSERT_TRUE(b_->WaitSynced());
  }
  fs::path A(const std::string& rel) { return a_->vault / "eng" / rel; }
  fs::path B(const std::string& rel) { return b_->vault / "eng" / rel; }

  // Every copy holds `want` at `rel` ("<missing>" for absent).
  ::testing::AssertionResult Converged(Peer& peer, const std::string& rel, const std::string& want,
                                       bool binary = false) {
    std::string pa, pb, pp;
    bool ok = WaitFor(
        [&] {
          pa = Slurp(A(rel));
          pb = Slurp(B(rel));
          if (pa != want || pb != want) return false;
          auto f = peer.Files();
          if (want == "<missing>") {
            pp = f.contains(rel) ? "<present>" : "<missing>";
          } else if (!f.contains(rel)) {
            pp = "<missing>";
          } else if (binary) {
            pp = f[rel].contains("binary") ? f[rel]["binary"].get<std::string>() : "<not binary>";
            return pp == Base64Encode(want);
          } else {
            pp = f[rel].contains("text") ? f[rel]["text"].get<std::string>() : "<not text>";
          }
          return pp == want;
        },
        std::chrono::seconds(30));
    if (ok) return ::testing::AssertionSuccess();
    auto cut = [](const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; };
    return ::testing::AssertionFailure()
           << rel << ": alice has '" << cut(pa) << "', bob has '" << cut(pb) << "', the peer has '"
           << cut(pp) << "'; want '" << cut(want) << "'";
  }

  fs::path root_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<Daemon> a_, b_;
};

TEST_F(SyncTest, CreateEditRenameDeleteOnEitherDiskAndThroughYjsConverge) {
  StartBoth();
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/eng", root_ / "peer.log"));

  std::string crlf =
      "# Notes\r\nemoji \xF0\x9F\x98\x80 and "
      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\r\nend\r\n";
  Spit(A("a.md"), crlf);
  EXPECT_TRUE(Converged(peer, "a.md", crlf));

  Spit(B("deep/new/folder/b.md"), "nested\n");
  EXPECT_TRUE(Converged(peer, "deep/new/folder/b.md", "nested\n"));

  Spit(A("empty.md"), "");
  EXPECT_TRUE(Converged(peer, "empty.md", ""));

  std::string big;
  std::mt19937 rng(7);
  while (big.size() < 5u * 1024 * 1024)
    big += "line " + std::to_string(rng()) + " \xC3\xA9\xE2\x82\xAC\n";
  Spit(B("big.md"), big);
  EXPECT_TRUE(Converged(peer, "big.md", big));

  std::string png("\x89PNG\r\n\x1a\n", 8);
  for (int i = 0; i < 20000; ++i) png += static_cast<char>(rng());
  Spit(A("img/pic.png"), png);
  EXPECT_TRUE(Converged(peer, "img/pic.png", png, /*binary=*/true));

  WriteInPlace(B("a.md"), crlf + "written in place\r\n");
  EXPECT_TRUE(Converged(peer, "a.md", crlf + "written in place\r\n"));

  ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", "from-js.md"}, {"text", "hello from yjs\n"}})["ok"],
            true);
  EXPECT_TRUE(Converged(peer, "from-js.md", "hello from yjs\n"));
  ASSERT_EQ(peer.Do({{"cmd", "insert"}, {"path", "from-js.md"}, {"index", 5}, {"text", ","}})["ok"],
            true);
  EXPECT_TRUE(Converged(peer, "from-js.md", "hello, from yjs\n"));

  fs::create_directories(A("renamed"));
  fs::rename(A("a.md"), A("renamed/a2.md"));
  EXPECT_TRUE(Converged(peer, "renamed/a2.md", crlf + "written in place\r\n"));
  EXPECT_TRUE(Converged(peer, "a.md", "<missing>"));

  fs::remove(B("empty.md"));
  EXPECT_TRUE(Converged(peer, "empty.md", "<missing>"));

  ASSERT_EQ(peer.Do({{"cmd", "rename"}, {"from", "from-js.md"}, {"to", "js/moved.md"}})["ok"],
            true);
  EXPECT_TRUE(Converged(peer, "js/moved.md", "hello, from yjs\n"));
  EXPECT_TRUE(Converged(peer, "from-js.md", "<missing>"));

  ASSERT_EQ(peer.Do({{"cmd", "delete"}, {"path", "js/moved.md"}})["ok"], true);
  EXPECT_TRUE(Converged(peer, "js/moved.md", "<missing>"));

  for (auto* d : {a_.get(), b_.get()}) {
    auto r = d->RoomStatus("eng");
    EXPECT_EQ(r["errors"], 0) << r.dump();
    EXPECT_EQ(r["conflicts"], 0) << r.dump();
  }
}

TEST_F(SyncTest, ConcurrentEditsWhileConnectedBothSurvive) {
  StartBoth();
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/eng", root_ / "peer.log"));
  std::string base = "first line\nmiddle\nlast line\n";
  Spit(A("n.md"), base);
  ASSERT_TRUE(Converged(peer, "n.md", base));
  Spit(A("n.md"), "first line, alice\nmiddle\nlast line\n");
  Spit(B("n.md"), "first line\nmiddle\nlast line, bob\n");
  EXPECT_TRUE(Converged(peer, "n.md", "first line, alice\nmiddle\nlast line, bob\n"));
}

TEST_F(SyncTest, EditsWhileTheRelayIsDownMergeOnReconnect) {
  StartBoth();
  std::string base = "one\ntwo\nthree\n";
  Spit(A("n.md"), base);
  ASSERT_TRUE(WaitFor([&] { return Slurp(B("n.md")) == base; }));
  Spit(A("gone.md"), "to be deleted\n");
  Spit(A("pic.bin"), "v0");
  ASSERT_TRUE(WaitFor(
      [&] { return Slurp(B("gone.md")) == "to be deleted\n" && Slurp(B("pic.bin")) == "v0"; }));
  relay_->Stop();
  ASSERT_TRUE(WaitFor([&] {
    return !a_->RoomStatus("eng")["connected"].get<bool>() &&
           !b_->RoomStatus("eng")["connected"].get<bool>();
  }));
  Spit(A("n.md"), "one, alice\ntwo\nthree\n");
  Spit(B("n.md"), "one\ntwo\nthree, bob\n");
  fs::remove(A("gone.md"));                               // delete on one side ...
  Spit(B("gone.md"), "to be deleted\nbut bob edited\n");  // ... edit on the other
  Spit(A("pic.bin"), "alice's picture");
  Spit(B("pic.bin"), "bob's picture");
  // Both took their changes in while offline: kept in the store, sent on reconnect.
  ASSERT_TRUE(WaitFor([&] {
    for (auto* d : {a_.get(), b_.get()}) {
      auto r = d->RoomStatus("eng");
      if (r["queued_paths"] != 0 || r["unsent_changes"].get<int>() < 1) return false;
    }
    return true;
  })) << a_->RoomStatus("eng").dump()
      << b_->RoomStatus("eng").dump();
  ASSERT_TRUE(relay_->Start());
  ASSERT_TRUE(a_->WaitSynced());
  ASSERT_TRUE(b_->WaitSynced());
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/eng", root_ / "peer.log"));
  EXPECT_TRUE(Converged(peer, "n.md", "one, alice\ntwo\nthree, bob\n"));
  EXPECT_TRUE(Converged(peer, "gone.md", "to be deleted\nbut bob edited\n"));
  // Binary against binary: one keeps the name, the other is a conflict copy on every side.
  auto conflicts = [&](const fs::path& dir) {
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find("(conflict ") != std::string::npos)
        names.push_back(e.path().filename().string());
    return names;
  };
  ASSERT_TRUE(WaitFor([&] {
    return conflicts(a_->vault / "eng").size() == 1 &&
           conflicts(b_->vault / "eng") == conflicts(a_->vault / "eng");
  }));
  std::string copy = conflicts(a_->vault / "eng")[0];
  std::string kept = Slurp(A("pic.bin"));
  EXPECT_TRUE(kept == "alice's picture" || kept == "bob's picture") << kept;
  EXPECT_TRUE(Converged(peer, "pic.bin", kept, true));
  std::string other = kept == "alice's picture" ? "bob's picture" : "alice's picture";
  EXPECT_TRUE(Converged(peer, copy, other, true));
}

TEST_F(SyncTest, EditsWhileADaemonIsStoppedMergeOnRestart) {
  StartBoth();
  std::string base = "alpha\nbeta\ngamma\n";
  Spit(A("n.md"), base);
  ASSERT_TRUE(WaitFor([&] { return Slurp(B("n.md")) == base; }));
  auto t0 = Clock::now();
  int st = b_->Stop(SIGTERM);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2)) << "SIGTERM took longer than 2 s";
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "wait status " << st;
  Spit(A("n.md"), "alpha, alice\nbeta\ngamma\n");
  Spit(B("n.md"), "alpha\nbeta\ngamma, bob\n");
  Spit(B("offline.md"), "made while stopped\n");
  ASSERT_TRUE(b_->Start());
  ASSERT_TRUE(b_->WaitSynced());
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/eng", root_ / "peer.log"));
  EXPECT_TRUE(Converged(peer, "n.md", "alpha, alice\nbeta\ngamma, bob\n"));
  EXPECT_TRUE(Converged(peer, "offline.md", "made while stopped\n"));
}

TEST_F(SyncTest, HostileInputThroughTheRelayIsRefusedAndCounted) {
  StartBoth();
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/eng", root_ / "peer.log"));
  for (const char* bad : {"../outside.md", "/etc/evil.md", "a\\b.md", ".obsidian/plugins/x/main.js",
                          "x/../../../y.md", ".trash/t.md"}) {
    ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", bad}, {"text", "pwned"}})["ok"], true);
  }
  ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", std::string("ctl\x01.md")}, {"text", "pwned"}})["ok"],
            true);
  ASSERT_EQ(peer.Do({{"cmd", "other"}, {"path", "number.md"}, {"value", 42}})["ok"], true);
  std::string huge(9u << 20, 'x');  // over text_max_bytes (8 MiB)
  ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", "huge.md"}, {"text", huge}})["ok"], true);
  ASSERT_EQ(peer.Do({{"cmd", "set"}, {"path", "fine.md"}, {"text", "still fine\n"}})["ok"], true);
  EXPECT_TRUE(Converged(peer, "fine.md", "still fine\n"));
  for (auto* d : {a_.get(), b_.get()}) {
    EXPECT_TRUE(d->running());
    ASSERT_TRUE(WaitFor([&] { return d->RoomStatus("eng")["rejected_paths"].get<int>() >= 9; }))
        << d->RoomStatus("eng").dump();
    EXPECT_FALSE(fs::exists(d->vault / "outside.md"));
    EXPECT_FALSE(fs::exists(d->vault / "eng" / ".obsidian"));
    EXPECT_FALSE(fs::exists(d->vault / "eng" / "huge.md"));
    EXPECT_FALSE(fs::exists(d->vault / "eng" / "number.md"));
  }
  EXPECT_FALSE(fs::exists(root_ / "y.md"));
  EXPECT_FALSE(fs::exists("/etc/evil.md"));
}

TEST_F(SyncTest, SighupAddsAndRemovesRoomsWithoutARestart) {
  StartBoth();
  pid_t pid = a_->pid();
  a_->Configure(relay_->url(), {{"eng", "eng"}, {"wiki", "wiki"}});
  b_->Configure(relay_->url(), {{"eng", "eng"}, {"wiki", "wiki"}});
  kill(a_->pid(), SIGHUP);
  kill(b_->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return a_->Status()["rooms"].size() == 2 && b_->Status()["rooms"].size() == 2; }));
  ASSERT_TRUE(a_->WaitSynced());
  Spit(a_->vault / "wiki" / "w.md", "new room\n");
  EXPECT_TRUE(WaitFor([&] { return Slurp(b_->vault / "wiki" / "w.md") == "new room\n"; }));
  a_->Configure(relay_->url(), {{"wiki", "wiki"}});
  kill(a_->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return a_->Status()["rooms"].size() == 1; }));
  EXPECT_EQ(a_->Status()["rooms"][0]["name"], "wiki");
  EXPECT_EQ(a_->pid(), pid);
  // A config that does not load is refused; the running rooms stay.
  Spit(a_->config(), "vault: [\n");
  kill(a_->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return a_->Log().find("reload refused") != std::string::npos; }));
  EXPECT_EQ(a_->Status()["rooms"].size(), 1u);
}

// A read-only room on a real read-only bind mount (private mount
// namespace): what the room receives arrives, and the daemon sends nothing
// of its own — the peer never sees a struct of its client id.
TEST_F(SyncTest, AReadOnlyRoomOnAReadOnlyMountSendsNothing) {
  a_->Configure(relay_->url(), {{"wiki", "wiki"}});
  b_->Configure(relay_->url(), {{"wiki", "wiki", /*ro=*/true}});
  Spit(b_->vault / "wiki" / "local-only.md", "exists before the mount turns read-only\n");
  ASSERT_TRUE(a_->Start());
  ASSERT_TRUE(a_->WaitSynced());
  std::string wiki = (b_->vault / "wiki").string();
  std::string script = "mount --bind '" + wiki + "' '" + wiki + "' && mount -o remount,bind,ro '" +
                       wiki + "' && exec '" + std::string(VAULTD_BIN_DIR) +
                       "/vaultd' run --config '" + b_->config().string() + "'";
  Process ro;
  ASSERT_TRUE(ro.Start({"unshare", "-m", "--propagation", "private", "sh", "-c", script},
                       {"VAULTD_JOURNAL_DIR=" + (root_ / "journal-b").string()}, root_ / "ro.log"));
  ASSERT_TRUE(b_->WaitSynced()) << Slurp(root_ / "ro.log");
  Peer peer;
  ASSERT_TRUE(peer.Start(relay_->url() + "/wiki", root_ / "peer.log"));
  Spit(a_->vault / "wiki" / "page.md", "written by alice\n");
  ASSERT_TRUE(WaitFor([&] { return peer.Text("page.md") == "written by alice\n"; }));
  // It arrived at bob's daemon (which cannot write it to a read-only mount) ...
  ASSERT_TRUE(WaitFor([&] {
    auto r = b_->RoomStatus("wiki");
    return r["updates_received"].get<int>() >= 1 &&
           r["last_error"].get<std::string>().find("Read-only") != std::string::npos;
  })) << b_->RoomStatus("wiki").dump();
  // ... and nothing of bob's reached the room.
  uint64_t bob = b_->Status()["client_id"].get<uint64_t>();
  auto seen = peer.Do({{"cmd", "clients"}});
  for (const auto& c : seen["clients"]) EXPECT_NE(c.get<uint64_t>(), bob) << seen.dump();
  EXPECT_FALSE(peer.Files().contains("local-only.md"));
  EXPECT_TRUE(ro.running());
  ro.Kill(SIGTERM);
  EXPECT_EQ(ro.Wait(std::chrono::seconds(10)), 0);
}

// The room's disk is full when a note arrives: the write fails, the
// document keeps the note, and once there is room again it is written.
TEST_F(SyncTest, ADiskFullWriteIsRetriedAndNothingIsLost) {
  a_->Configure(relay_->url(), {{"eng", "eng"}});
  ASSERT_TRUE(a_->Start());
  ASSERT_TRUE(a_->WaitSynced());
  b_->Configure(relay_->url(), {{"eng", "eng"}});
  std::string dir = (b_->vault / "eng").string();
  std::string script = "mount -t tmpfs -o size=64k vaultd-full '" + dir + "' && exec '" +
                       std::string(VAULTD_BIN_DIR) + "/vaultd' run --config '" +
                       b_->config().string() + "'";
  Process full;
  ASSERT_TRUE(full.Start({"unshare", "-m", "--propagation", "private", "sh", "-c", script},
                         {"VAULTD_JOURNAL_DIR=" + (root_ / "journal-b").string()},
                         root_ / "full.log"));
  ASSERT_TRUE(b_->WaitSynced()) << Slurp(root_ / "full.log");
  std::string big;
  while (big.size() < 300000) big += "a line of a note that does not fit on the disk\n";
  Spit(A("big.md"), big);
  ASSERT_TRUE(WaitFor([&] {
    auto r = b_->RoomStatus("eng");
    return r["errors"].get<int>() >= 1 &&
           r["last_error"].get<std::string>().find("No space") != std::string::npos;
  })) << b_->RoomStatus("eng").dump()
      << Slurp(root_ / "full.log");
  EXPECT_GE(b_->RoomStatus("eng")["pending_local"].get<int>(), 1);
  ASSERT_EQ(system(("nsenter -t " + std::to_string(full.pid()) + " -m mount -o remount,size=4m '" +
                    dir + "'")
                       .c_str()),
            0);
  std::string seen;
  EXPECT_TRUE(WaitFor([&] {
    seen = Slurp(root_ / "full-view.md");
    return system(("nsenter -t " + std::to_string(full.pid()) + " -m cat '" + dir + "/big.md' > '" +
                   (root_ / "full-view.md").string() + "' 2>/dev/null")
                      .c_str()) == 0 &&
           Slurp(root_ / "full-view.md") == big;
  })) << "the note never reached the disk once it had room; "
      << b_->RoomStatus("eng").dump();
  EXPECT_TRUE(full.running());
  full.Kill(SIGTERM);
  EXPECT_EQ(full.Wait(std::chrono::seconds(10)), 0);
}

// Thousands of files created while the daemon cannot read its inotify queue
// (stopped, with a small queue): the queue overflows, the daemon rescans
// and still converges, and says so in its status.
TEST_F(SyncTest, WatchQueueOverflowRescansAndConverges) {
  const char* knob = "/proc/sys/fs/inotify/max_queued_events";
  std::string saved = Slurp(knob);
  ASSERT_NE(saved, "<missing>");
  Spit(knob, "64\n");
  a_->Configure(relay_->url(), {{"eng", "eng"}});
  b_->Configure(relay_->url(), {{"eng", "eng"}});
  bool started = a_->Start();
  Spit(knob, saved);  // only instances created meanwhile have the small queue
  ASSERT_TRUE(started);
  ASSERT_TRUE(b_->Start());
  ASSERT_TRUE(a_->WaitSynced());
  ASSERT_TRUE(b_->WaitSynced());
  // The folder exists and is watched before the burst, so the burst's events queue up.
  fs::create_directories(A("bulk"));
  ASSERT_TRUE(WaitFor([&] { return a_->RoomStatus("eng")["watcher"]["watches"].get<int>() >= 2; }));
  kill(a_->pid(), SIGSTOP);
  for (int i = 0; i < 2000; ++i)
    Spit(A("bulk/n" + std::to_string(i) + ".md"), "note " + std::to_string(i) + "\n");
  kill(a_->pid(), SIGCONT);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 2000; i += 1) {
          if (Slurp(B("bulk/n" + std::to_string(i) + ".md")) != "note " + std::to_string(i) + "\n")
            return false;
        }
        return true;
      },
      std::chrono::seconds(120)));
  auto r = a_->RoomStatus("eng");
  EXPECT_GE(r["watcher"]["overflows"].get<int>(), 1) << r.dump();
  EXPECT_FALSE(r["degraded"].get<bool>()) << "still degraded after the rescan: " << r.dump();
}

// A folder larger than one reconcile slice (1,000 paths or 4 MiB to write)
// is indexed on one side and first-synced into an empty daemon on the other,
// slice by slice; every file arrives whole.
TEST_F(SyncTest, AFolderOfManySlicesFirstSyncsIntoAnEmptyDaemon) {
  constexpr int kNotes = 2600;
  auto content = [](int i) {
    std::string s = "# n" + std::to_string(i) + " \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80\n";
    if (i % 500 == 0) s += std::string(3 << 20, 'x');  // a few large notes fill slices by bytes
    return s;
  };
  for (int i = 0; i < kNotes; ++i)
    Spit(A("many/f" + std::to_string(i % 7) + "/n" + std::to_string(i) + ".md"), content(i));
  a_->Configure(relay_->url(), {{"eng", "eng"}});
  b_->Configure(relay_->url(), {{"eng", "eng"}});
  ASSERT_TRUE(a_->Start());
  ASSERT_TRUE(a_->WaitSynced());
  ASSERT_TRUE(WaitFor([&] { return a_->RoomStatus("eng")["files"].get<int>() == kNotes; },
                      std::chrono::seconds(120)));
  ASSERT_TRUE(b_->Start());
  ASSERT_TRUE(WaitFor([&] { return b_->RoomStatus("eng")["files"].get<int>() == kNotes; },
                      std::chrono::seconds(120)))
      << b_->RoomStatus("eng").dump();
  for (int i = 0; i < kNotes; ++i) {
    std::string rel = "many/f" + std::to_string(i % 7) + "/n" + std::to_string(i) + ".md";
    ASSERT_EQ(Slurp(B(rel)), content(i)) << rel;
  }
  auto r = b_->RoomStatus("eng");
  EXPECT_EQ(r["errors"].get<int>(), 0) << r.dump();
}

// A relay that misbehaves: frames that do not decode, then a valid sync,
// then silence. The daemon drops and counts the bad frames, syncs, and when
// the relay stalls it closes the connection and reconnects.
TEST_F(SyncTest, MalformedFramesAndAStalledRelayAreSurvived) {
  int port = FreePort();
  Process bad;
  ASSERT_TRUE(bad.Start({"node", std::string(VAULTD_SOURCE_DIR) + "/tests/node/hostile-relay.mjs",
                         std::to_string(port)},
                        {"NODE_PATH=" + NodeModules()}, root_ / "hostile.log"));
  ASSERT_TRUE(WaitFor([&] { return PortOpen(port); }));
  a_->Configure("ws://127.0.0.1:" + std::to_string(port), {{"eng", "eng"}});
  ASSERT_TRUE(a_->Start({"VAULTD_RELAY_IDLE_TIMEOUT_MS=1500"}));
  ASSERT_TRUE(WaitFor([&] { return Slurp(A("sent-by-hostile-relay.md")) == "valid content\n"; }));
  ASSERT_TRUE(WaitFor([&] { return a_->RoomStatus("eng")["malformed"].get<int>() >= 4; }))
      << a_->RoomStatus("eng").dump();
  EXPECT_GE(a_->RoomStatus("eng")["rejected_paths"].get<int>(), 1);
  EXPECT_FALSE(fs::exists(a_->vault / "escape.md"));
  // The relay now stalls: the idle timeout closes the connection and the daemon reconnects.
  ASSERT_TRUE(WaitFor([&] { return a_->RoomStatus("eng")["reconnects"].get<int>() >= 1; }))
      << a_->RoomStatus("eng").dump();
  EXPECT_TRUE(a_->running());
}

}  // namespace
}  // namespace vaultd::itest
