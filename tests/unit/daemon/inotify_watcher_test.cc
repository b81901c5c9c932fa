// The inotify watcher against a real folder and a real libuv loop. Tests
// wait for conditions (with generous deadlines), never for time; where a
// test checks that something is NOT reported, it writes a marker file
// afterwards and waits for that: inotify reports in order.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string tmpl = (fs::temp_directory_path() / "vaultd-watch-XXXXXX").string();
  char* dir = mkdtemp(tmpl.data());
  return dir ? std::string(dir) : std::string();
}

// The way Obsidian saves a note: open with O_TRUNC, write, close.
void WriteInPlace(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
}

const char* KindName(WatchEventKind k) {
  switch (k) {
    case WatchEventKind::kChanged:
      return "changed";
    case WatchEventKind::kClosedWrite:
      return "closed-write";
    case WatchEventKind::kRenamed:
      return "renamed";
    case WatchEventKind::kRescan:
      return "rescan";
  }
  return "?";
}

// Owns a loop, a folder and a watcher; records every event delivered.
class Harness {
 public:
  Harness() : root_(MakeTempDir()), outside_(MakeTempDir()) { uv_loop_init(&loop_); }
  ~Harness() {
    watcher_.reset();  // Stop() closes the handles; the loop releases them
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::remove_all(outside_, ec);
  }

  Status Start(int debounce_ms = 10) {
    WatcherOptions options;
    options.debounce_ms = debounce_ms;
    watcher_ = NewInotifyWatcher(&loop_, root_, RealClock(), options);
    return watcher_->Start([this](std::vector<WatchEvent> events) {
      for (WatchEvent& e : events) events_.push_back(std::move(e));
      if (stop_in_sink_) watcher_->Stop();
    });
  }

  // Runs the loop until `done` holds or `limit` passes; returns `done()`.
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    uv_timer_t timer;
    bool expired = false;
    uv_timer_init(&loop_, &timer);
    timer.data = &expired;
    uv_timer_start(
        &timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<uint64_t>(limit.count()), 0);
    // Timers run before the loop polls: when one of them made `done` true,
    // the prepare handle stops the loop so the poll does not block.
    uv_prepare_t prepare;
    uv_prepare_init(&loop_, &prepare);
    prepare.data = const_cast<std::function<bool()>*>(&done);
    uv_prepare_start(&prepare, [](uv_prepare_t* p) {
      if ((*static_cast<std::function<bool()>*>(p->data))()) uv_stop(p->loop);
    });
    while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // lets both close before they leave the stack
    return done();
  }

  bool Has(WatchEventKind kind, const std::string& path) const {
    for (const WatchEvent& e : events_) {
      if (e.kind == kind && e.path == path) return true;
    }
    return false;
  }
  bool HasPath(const std::string& path) const {
    for (const WatchEvent& e : events_) {
      if (e.path == path || e.from == path) return true;
    }
    return false;
  }
  bool HasPathStartingWith(const std::string& prefix) const {
    for (const WatchEvent& e : events_) {
      if (e.path.rfind(prefix, 0) == 0 || e.from.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }
  bool WaitFor(WatchEventKind kind, const std::string& path) {
    return RunUntil([&] { return Has(kind, path); });
  }
  // Writes `name` in the room and waits for its closed write: everything the
  // kernel queued before it has been handled by then.
  bool Marker(const std::string& name) {
    WriteInPlace(Path(name), "marker");
    return WaitFor(WatchEventKind::kClosedWrite, name);
  }

  std::string Dump() const {
    std::string out;
    for (const WatchEvent& e : events_) {
      out += std::string(KindName(e.kind)) + " " + (e.from.empty() ? "" : e.from + " -> ") +
             e.path + (e.is_dir ? "/" : "") + (e.reason.empty() ? "" : " (" + e.reason + ")") +
             "\n";
    }
    return out;
  }

  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  std::string Outside(const std::string& rel) const { return outside_ + "/" + rel; }
  Watcher& watcher() { return *watcher_; }
  std::vector<WatchEvent>& events() { return events_; }
  uv_loop_t* loop() { return &loop_; }
  void StopInSink() { stop_in_sink_ = true; }

 private:
  uv_loop_t loop_;
  std::string root_;
  std::string outside_;
  std::unique_ptr<Watcher> watcher_;
  std::vector<WatchEvent> events_;
  bool stop_in_sink_ = false;
};

TEST(InotifyWatcherTest, AWriteInPlaceIsAClosedWrite) {
  Harness h;
  WriteInPlace(h.Path("note.md"), "old");
  ASSERT_TRUE(h.Start().ok());
  EXPECT_EQ(h.watcher().health().watches, 1u);
  WriteInPlace(h.Path("note.md"), "new text");
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "note.md")) << h.Dump();
  EXPECT_FALSE(h.watcher().health().degraded);
  EXPECT_GE(h.watcher().health().events, 1u);
}

TEST(InotifyWatcherTest, StartReportsNothingForWhatAlreadyExists) {
  Harness h;
  fs::create_directories(h.Path("a/b"));
  WriteInPlace(h.Path("a/b/x.md"), "x");
  ASSERT_TRUE(h.Start(0).ok());
  EXPECT_EQ(h.watcher().health().watches, 3u);
  ASSERT_TRUE(h.Marker("marker.md")) << h.Dump();
  EXPECT_EQ(h.events().size(), 1u) << h.Dump();
}

TEST(InotifyWatcherTest, CreatesAndDeletesAreReported) {
  Harness h;
  fs::create_directories(h.Path("d/sub"));
  WriteInPlace(h.Path("d/sub/x.md"), "x");
  ASSERT_TRUE(h.Start().ok());
  WriteInPlace(h.Path("new.md"), "n");
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "new.md")) << h.Dump();
  fs::remove(h.Path("new.md"));
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kChanged, "new.md")) << h.Dump();
  fs::remove_all(h.Path("d"));
  ASSERT_TRUE(h.RunUntil([&] {
    for (const WatchEvent& e : h.events()) {
      if (e.path == "d" && e.is_dir) return true;
    }
    return false;
  })) << h.Dump();
  EXPECT_TRUE(h.Has(WatchEventKind::kChanged, "d/sub/x.md")) << h.Dump();
  // The deleted folders' watches are gone.
  EXPECT_TRUE(h.RunUntil([&] { return h.watcher().health().watches == 1; }));
}

TEST(InotifyWatcherTest, AFileRenameIsOnePairedEvent) {
  Harness h;
  WriteInPlace(h.Path("a.md"), "a");
  ASSERT_TRUE(h.Start(0).ok());
  fs::rename(h.Path("a.md"), h.Path("b.md"));
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kRenamed, "b.md")) << h.Dump();
  ASSERT_TRUE(h.Marker("marker.md"));
  ASSERT_EQ(h.events().size(), 2u) << h.Dump();
  EXPECT_EQ(h.events()[0].from, "a.md");
  EXPECT_FALSE(h.events()[0].is_dir);
}

TEST(InotifyWatcherTest, RenamesSplitAcrossReadsStillPair) {
  Harness h;
  // inotify pads each name to 16 bytes: with one longer name first, the
  // 64 KiB read buffer ends between a rename's two halves.
  auto name = [](int i) { return i == 0 ? std::string("a-longer-name-0.md") : std::to_string(i); };
  constexpr int kFiles = 3000;
  for (int i = 0; i < kFiles; ++i) WriteInPlace(h.Path("f" + name(i)), "");
  ASSERT_TRUE(h.Start().ok());
  for (int i = 0; i < kFiles; ++i) fs::rename(h.Path("f" + name(i)), h.Path("r" + name(i)));
  ASSERT_TRUE(h.RunUntil([&] {
    size_t renames = 0;
    for (const WatchEvent& e : h.events()) renames += e.kind == WatchEventKind::kRenamed;
    return renames == kFiles;
  })) << h.Dump();
  ASSERT_TRUE(h.Marker("marker.md"));
  EXPECT_EQ(h.events().size(), kFiles + 1u);
}

TEST(InotifyWatcherTest, AFolderRenameMovesItsWatchesAlong) {
  Harness h;
  fs::create_directories(h.Path("d/sub"));
  WriteInPlace(h.Path("d/x.md"), "x");
  ASSERT_TRUE(h.Start().ok());
  fs::rename(h.Path("d"), h.Path("e"));
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kRenamed, "e")) << h.Dump();
  for (const WatchEvent& e : h.events()) {
    if (e.kind == WatchEventKind::kRenamed) {
      EXPECT_EQ(e.from, "d");
      EXPECT_TRUE(e.is_dir);
    }
  }
  WriteInPlace(h.Path("e/x.md"), "x2");
  WriteInPlace(h.Path("e/sub/y.md"), "y");
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "e/x.md")) << h.Dump();
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "e/sub/y.md")) << h.Dump();
  EXPECT_FALSE(h.HasPathStartingWith("d/")) << h.Dump();
  EXPECT_EQ(h.watcher().health().watches, 3u);
}

TEST(InotifyWatcherTest, MovesOutOfTheRoomAreDeletesAndMovesInAreCreates) {
  Harness h;
  WriteInPlace(h.Path("out.md"), "o");
  fs::create_directories(h.Path("gone/sub"));
  WriteInPlace(h.Path("gone/sub/g.md"), "g");
  fs::create_directories(h.Outside("incoming/deep"));
  WriteInPlace(h.Outside("incoming/deep/i.md"), "i");
  WriteInPlace(h.Outside("in.md"), "i");
  ASSERT_TRUE(h.Start().ok());
  EXPECT_EQ(h.watcher().health().watches, 3u);

  fs::rename(h.Path("out.md"), h.Outside("out.md"));
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kChanged, "out.md")) << h.Dump();
  fs::rename(h.Outside("in.md"), h.Path("in.md"));
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "in.md")) << h.Dump();

  fs::rename(h.Path("gone"), h.Outside("gone"));
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kChanged, "gone")) << h.Dump();
  EXPECT_TRUE(h.RunUntil([&] { return h.watcher().health().watches == 1; }));

  fs::rename(h.Outside("incoming"), h.Path("incoming"));
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kChanged, "incoming/deep/i.md")) << h.Dump();
  EXPECT_TRUE(h.Has(WatchEventKind::kChanged, "incoming")) << h.Dump();
  EXPECT_EQ(h.watcher().health().watches, 3u);

  // Nothing from the folder that left; the one that came is watched.
  WriteInPlace(h.Outside("gone/sub/g.md"), "changed outside");
  WriteInPlace(h.Path("incoming/deep/i.md"), "changed inside");
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "incoming/deep/i.md")) << h.Dump();
  EXPECT_FALSE(h.HasPathStartingWith("gone/")) << h.Dump();
  EXPECT_FALSE(h.watcher().health().degraded);
}

TEST(InotifyWatcherTest, FilesCreatedInANewFolderBeforeItIsWatchedAreReported) {
  Harness h;
  ASSERT_TRUE(h.Start().ok());
  for (int i = 0; i < 20; ++i) {
    std::string base = "t" + std::to_string(i);
    fs::create_directories(h.Path(base + "/a/b/c"));
    WriteInPlace(h.Path(base + "/a/b/c/f.md"), "f");
    EXPECT_TRUE(h.RunUntil([&] { return h.HasPath(base + "/a/b/c/f.md"); })) << h.Dump();
  }
  WriteInPlace(h.Path("t0/a/b/c/g.md"), "g");
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "t0/a/b/c/g.md")) << h.Dump();
  EXPECT_EQ(h.watcher().health().watches, 1u + 20 * 4);
}

TEST(InotifyWatcherTest, IgnoredFoldersAndTempFilesAreNotReported) {
  Harness h;
  fs::create_directories(h.Path(".obsidian/plugins"));
  fs::create_directories(h.Path("notes"));
  ASSERT_TRUE(h.Start(0).ok());
  EXPECT_EQ(h.watcher().health().watches, 2u);  // the root and notes/
  fs::create_directories(h.Path(".trash/old"));
  fs::create_directories(h.Path("notes/.git/objects"));
  WriteInPlace(h.Path(".obsidian/app.json"), "{}");
  WriteInPlace(h.Path(".obsidian/plugins/p.js"), "x");
  WriteInPlace(h.Path(".trash/old/a.md"), "a");
  WriteInPlace(h.Path("notes/.git/objects/o"), "o");
  WriteInPlace(h.Path("notes/.x.md.swp"), "swap");
  WriteInPlace(h.Path("notes/x.md~"), "backup");
  WriteInPlace(h.Path(".vaultd-tmp-1234"), "temp");
  ASSERT_TRUE(h.Marker("marker.md")) << h.Dump();
  EXPECT_EQ(h.events().size(), 1u) << h.Dump();
  EXPECT_EQ(h.watcher().health().watches, 2u);
}

TEST(InotifyWatcherTest, ATempFileRenamedIntoPlaceIsAClosedWrite) {
  Harness h;
  WriteInPlace(h.Path("note.md"), "old");
  ASSERT_TRUE(h.Start(0).ok());
  WriteInPlace(h.Path(".vaultd-tmp-42"), "new");
  fs::rename(h.Path(".vaultd-tmp-42"), h.Path("note.md"));
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "note.md")) << h.Dump();
  fs::rename(h.Path("note.md"), h.Path("note.md~"));  // to a backup name: gone
  ASSERT_TRUE(h.WaitFor(WatchEventKind::kChanged, "note.md")) << h.Dump();
  EXPECT_FALSE(h.HasPathStartingWith(".vaultd-tmp")) << h.Dump();
  EXPECT_FALSE(h.HasPath("note.md~")) << h.Dump();
}

TEST(InotifyWatcherTest, SymlinksAreNeverFollowed) {
  Harness h;
  fs::create_directories(h.Outside("sub"));
  fs::create_directory_symlink(h.Outside(""), h.Path("link"));
  ASSERT_TRUE(h.Start(0).ok());
  EXPECT_EQ(h.watcher().health().watches, 1u);
  fs::create_directory_symlink(h.Outside("sub"), h.Path("link2"));
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kChanged, "link2")) << h.Dump();
  for (const WatchEvent& e : h.events()) EXPECT_FALSE(e.is_dir) << h.Dump();
  WriteInPlace(h.Outside("x.md"), "x");
  WriteInPlace(h.Outside("sub/y.md"), "y");
  ASSERT_TRUE(h.Marker("marker.md")) << h.Dump();
  EXPECT_FALSE(h.HasPathStartingWith("link/")) << h.Dump();
  EXPECT_FALSE(h.HasPathStartingWith("link2/")) << h.Dump();
  EXPECT_EQ(h.watcher().health().watches, 1u);
}

TEST(InotifyWatcherTest, TheSinkMayStopTheWatcher) {
  Harness h;
  ASSERT_TRUE(h.Start().ok());
  h.StopInSink();
  WriteInPlace(h.Path("a.md"), "a");
  ASSERT_TRUE(h.RunUntil([&] { return !h.events().empty(); }));
  size_t seen = h.events().size();
  WriteInPlace(h.Path("b.md"), "b");
  uv_run(h.loop(), UV_RUN_NOWAIT);  // the closed handles are released
  EXPECT_EQ(uv_loop_alive(h.loop()), 0) << "a handle of the stopped watcher is still active";
  EXPECT_EQ(h.events().size(), seen);
  EXPECT_EQ(h.watcher().health().watches, 0u);
}

TEST(InotifyWatcherTest, AQueueOverflowAsksForARescanAndShowsDegraded) {
  Harness h;
  fs::create_directories(h.Path("bulk"));
  long max_queued = 16384;  // read before Start: inotify_init1 takes the value then
  if (std::FILE* f = std::fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
    if (std::fscanf(f, "%ld", &max_queued) != 1) max_queued = 16384;
    std::fclose(f);
  }
  if (max_queued > 200000) GTEST_SKIP() << "max_queued_events is " << max_queued;
  ASSERT_TRUE(h.Start().ok());
  // Without the loop running nobody reads: more files than the queue holds.
  for (long i = 0; i < max_queued + 500; ++i) {
    WriteInPlace(h.Path("bulk/f" + std::to_string(i)), "");
  }
  // A folder created after the overflow: its creation is lost, so it is not
  // watched until the re-walk after the rescan.
  fs::create_directories(h.Path("late"));
  ASSERT_TRUE(h.RunUntil([&] {
    for (const WatchEvent& e : h.events()) {
      if (e.kind == WatchEventKind::kRescan) return true;
    }
    return false;
  })) << "no rescan after "
      << max_queued + 500 << " files";
  WatcherHealth health = h.watcher().health();
  EXPECT_TRUE(health.degraded);
  EXPECT_GE(health.overflows, 1u);
  EXPECT_NE(health.reason.find("overflow"), std::string::npos) << health.reason;

  h.events().clear();
  h.watcher().RescanDone();
  EXPECT_FALSE(h.watcher().health().degraded) << h.watcher().health().reason;
  EXPECT_TRUE(h.watcher().health().reason.empty());
  // The re-walk found the folder whose creation was lost, and watches it.
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kChanged, "late")) << h.Dump();
  WriteInPlace(h.Path("late/x.md"), "x");
  EXPECT_TRUE(h.WaitFor(WatchEventKind::kClosedWrite, "late/x.md")) << h.Dump();
}

// One write(2), as /proc files want it.
bool WriteSmallFile(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Runs `body` in a child process with its own user namespace, where
// /proc/sys/user/max_inotify_watches limits only this test (the machine-wide
// fs.inotify.max_user_watches is left alone). Returns the child's verdict:
// "" = passed, "skip: ..." = no user namespaces here.
std::string RunInUserNamespace(const std::function<std::string()>& body) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    std::string verdict;
    if (unshare(CLONE_NEWUSER) != 0) {
      verdict = std::string("skip: unshare(CLONE_NEWUSER): ") + std::strerror(errno);
    } else if (!WriteSmallFile("/proc/self/setgroups", "deny") ||
               !WriteSmallFile("/proc/self/uid_map", "0 0 1") ||
               !WriteSmallFile("/proc/self/gid_map", "0 0 1")) {
      verdict = std::string("skip: cannot map root in the user namespace: ") + std::strerror(errno);
    } else {
      verdict = body();
    }
    if (write(pipefd[1], verdict.data(), verdict.size()) < 0) _exit(3);
    _exit(0);
  }
  close(pipefd[1]);
  std::string verdict;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) verdict.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child died (status " + std::to_string(status) + "): " + verdict;
  }
  return verdict;
}

bool SetWatchLimit(int n) {
  return WriteSmallFile("/proc/sys/user/max_inotify_watches", std::to_string(n));
}

TEST(InotifyWatcherTest, OutOfWatchesIsDegradedWithTheReasonUntilARescanSucceeds) {
  std::string verdict = RunInUserNamespace([]() -> std::string {
    if (!SetWatchLimit(3)) return std::string("skip: max_inotify_watches: ") + std::strerror(errno);
    Harness h;
    for (const char* d : {"a", "b", "c", "d"}) fs::create_directories(h.Path(d));
    Status st = h.Start();
    if (!st.ok()) return "start: " + st.ToString();
    WatcherHealth health = h.watcher().health();
    if (!health.degraded) return "not degraded with 3 watches for 5 folders";
    if (health.watches != 3) return "watches " + std::to_string(health.watches);
    if (health.reason.find("ENOSPC") == std::string::npos) return "reason: " + health.reason;
    if (!h.RunUntil([&] { return !h.events().empty(); })) return "no event";
    if (h.events()[0].kind != WatchEventKind::kRescan ||
        h.events()[0].reason.find("ENOSPC") == std::string::npos) {
      return "not a rescan with the reason: " + h.Dump();
    }
    // A rescan while still out of watches: still degraded, and no new
    // rescan asked for (the owner rescans periodically while degraded).
    h.events().clear();
    h.watcher().RescanDone();
    if (!h.watcher().health().degraded) return "degraded cleared while still out of watches";
    // A folder created now cannot be watched either: a new loss.
    fs::create_directories(h.Path("e"));
    if (!h.RunUntil([&] { return h.Has(WatchEventKind::kRescan, ""); })) {
      return "no rescan for a new folder without a watch: " + h.Dump();
    }
    if (!SetWatchLimit(100)) return "raising the limit failed";
    h.events().clear();
    h.watcher().RescanDone();
    health = h.watcher().health();
    if (health.degraded) return "still degraded: " + health.reason;
    if (health.watches != 6) return "watches after the re-walk " + std::to_string(health.watches);
    for (const char* d : {"a", "b", "c", "d", "e"})
      WriteInPlace(h.Path(std::string(d) + "/x.md"), "x");
    for (const char* d : {"a", "b", "c", "d", "e"}) {
      std::string path = std::string(d) + "/x.md";
      if (!h.WaitFor(WatchEventKind::kClosedWrite, path)) return "no event for " + path + h.Dump();
    }
    return "";
  });
  if (verdict.rfind("skip:", 0) == 0) GTEST_SKIP() << verdict;
  EXPECT_EQ(verdict, "");
}

}  // namespace
}  // namespace vaultd::daemon
