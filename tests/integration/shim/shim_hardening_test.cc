// The shim under an adversarial user, in private mount namespaces: races
// between two movers and between a mover and other programs, a file system
// with coarse timestamps (ext2 in a loop image), odd files (FIFOs, immutable,
// sparse), resource limits, long paths and a damaged journal. Each test holds
// the shim to what rename(2) does inside one mount, or to EXDEV where that
// cannot be emulated. Race tests run enough rounds to catch a defect that
// shows in one round out of ten with high probability (0.9^45 < 1 %), print
// their seed, and are bounded in time.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>

#include "shim_proc_test.h"
#include "shim_test_util.h"

namespace vaultd::shimtest {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

class ShimHardeningTest : public ShimTest {
 protected:
  // Two renames released at once, the second `delay_us` later. {errno1, errno2}.
  std::pair<int, int> Race(long delay_us, const std::string& old1, const std::string& new1,
                           const std::string& old2, const std::string& new2) {
    ProcResult r = RunProc({kRace, "rename2", std::to_string(delay_us), old1, new1, old2, new2},
                           ShimEnv(), 60);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    int e1 = -1, e2 = -1;
    std::istringstream in(r.out);
    for (std::string who, e; in >> who >> e;) (who == "1" ? e1 : e2) = std::atoi(e.c_str());
    return {e1, e2};
  }

  // Waits (with a generous deadline) until `pred` holds.
  template <typename Pred>
  bool WaitFor(Pred pred, double seconds = 30) {
    auto start = Clock::now();
    while (!pred()) {
      if (Seconds(start) > seconds) return false;
      usleep(200);
    }
    return true;
  }
};

int Count(const std::vector<std::string>& paths) {
  int n = 0;
  for (const auto& p : paths) n += Exists(p) ? 1 : 0;
  return n;
}

// --- duplicates ----------------------------------------------------------------

// One folder reachable through two bind mounts: the same file renamed through
// both names at once. Inside one mount one rename wins and the other gets
// ENOENT; so here.
TEST_F(ShimHardeningTest, OneFileRenamedThroughTwoBindMountsAtOnceExistsOnce) {
  std::string a2 = box_->Bind("vault/a", "vault/a2");
  std::mt19937 rng(TestSeed("OneFileRenamedThroughTwoBindMountsAtOnceExistsOnce"));
  const std::string content(256 * 1024, 'n');
  auto start = Clock::now();
  int rounds = 0;
  for (; rounds < 45 && Seconds(start) < 60; ++rounds) {
    std::string name = "f" + std::to_string(rounds);
    WriteFile(a_ + "/" + name, content);
    long delay = static_cast<long>(rng() % 400);
    SCOPED_TRACE("round " + std::to_string(rounds) + " delay " + std::to_string(delay) + " us");
    auto [e1, e2] =
        Race(delay, a_ + "/" + name, b_ + "/x" + name, a2 + "/" + name, b_ + "/y" + name);
    EXPECT_TRUE((e1 == 0 && e2 == ENOENT) || (e1 == ENOENT && e2 == 0))
        << ErrnoName(e1) << " / " << ErrnoName(e2);
    EXPECT_EQ(Count({a_ + "/" + name, b_ + "/x" + name, b_ + "/y" + name}), 1);
    std::string at = Exists(b_ + "/x" + name) ? b_ + "/x" + name : b_ + "/y" + name;
    EXPECT_EQ(ReadFile(at), content);
    if (HasFailure()) break;
  }
  std::cout << rounds << " rounds in " << Seconds(start) << " s\n";
  EXPECT_GE(rounds, 45);
  ExpectNoLeftovers();
}

// A tree moved while another program renames a file out of it (inside one
// mount): the file ends up in exactly one place, where the order the two
// calls took puts it.
TEST_F(ShimHardeningTest, AFileRenamedOutOfAMovingTreeExistsOnce) {
  std::mt19937 rng(TestSeed("AFileRenamedOutOfAMovingTreeExistsOnce"));
  auto start = Clock::now();
  int rounds = 0;
  for (; rounds < 45 && Seconds(start) < 90; ++rounds) {
    std::string t = "t" + std::to_string(rounds);
    MakeDirs(a_ + "/" + t);
    for (int i = 0; i < 40; ++i) WriteFile(a_ + "/" + t + "/f" + std::to_string(i), "data");
    int k = static_cast<int>(rng() % 40);
    long delay = static_cast<long>(rng() % 6000);
    std::string f = "/" + t + "/f" + std::to_string(k), out = a_ + "/out" + std::to_string(rounds);
    SCOPED_TRACE("round " + std::to_string(rounds) + " file " + f + " delay " +
                 std::to_string(delay) + " us");
    auto [moved, took] = Race(delay, a_ + "/" + t, b_ + "/" + t, a_ + f, out);
    EXPECT_TRUE(moved == 0 || moved == EBUSY) << ErrnoName(moved);
    EXPECT_TRUE(took == 0 || took == ENOENT) << ErrnoName(took);
    EXPECT_EQ(Count({a_ + f, b_ + f, out}), 1) << ErrnoName(moved) << " / " << ErrnoName(took);
    if (took == 0) {
      EXPECT_TRUE(Exists(out));
    }
    EXPECT_NE(Exists(a_ + "/" + t), moved == 0);
    if (HasFailure()) break;
  }
  std::cout << rounds << " rounds in " << Seconds(start) << " s\n";
  EXPECT_GE(rounds, 45);
  ExpectNoLeftovers();
}

// chattr +i / +a: inside one mount rename fails with EPERM and moves nothing.
// Inside a tree rename would move the entry along; a copy cannot delete it:
// EXDEV (what the caller gets without the shim), nothing moved.
TEST_F(ShimHardeningTest, ImmutableAndAppendOnlySourcesAreNeverCopied) {
  WriteFile(a_ + "/imm", "immutable");
  WriteFile(a_ + "/app", "append-only");
  MakeDirs(a_ + "/tree/sub");
  WriteFile(a_ + "/tree/sub/locked", "locked");
  WriteFile(a_ + "/tree/free", "free");
  if (std::system(("chattr +i '" + a_ + "/imm' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "chattr is not supported on this tmpfs";
  }
  ASSERT_EQ(std::system(("chattr +a '" + a_ + "/app'").c_str()), 0);
  ASSERT_EQ(std::system(("chattr +i '" + a_ + "/tree/sub/locked'").c_str()), 0);
  std::string before = Describe(vault_);
  for (std::string name : {"imm", "app"}) {
    SCOPED_TRACE(name);
    int same = Probe("rename", a_ + "/" + name, a_ + "/" + name + "2", "", false);
    EXPECT_EQ(ErrnoName(same), "EPERM");
    EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/" + name, b_ + "/" + name)), ErrnoName(same));
  }
  EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/tree", b_ + "/tree")), "EXDEV");
  EXPECT_EQ(Describe(vault_), before);
  ExpectNoLeftovers();
  std::system(
      ("chattr -i '" + a_ + "/imm' '" + a_ + "/tree/sub/locked'; chattr -a '" + a_ + "/app'")
          .c_str());
}

// --- lost writes -----------------------------------------------------------------

// ext2 with 128-byte inodes keeps whole seconds: a same-size rewrite within
// one second changes neither size nor times. An editor saves the note over
// and over while it is moved; every save that finished while the note still
// had its name must be in what arrives.
TEST_F(ShimHardeningTest, ASameSizeRewriteDuringTheMoveIsNotLostOnCoarseTimestamps) {
  std::string image = box_->Path("ext2.img");
  ASSERT_EQ(std::system(("truncate -s 64M '" + image + "' && mkfs.ext2 -q -F -I 128 '" + image +
                         "' >/dev/null 2>&1")
                            .c_str()),
            0);
  std::string disk = box_->MountImage(image, "ext2", "ext2");
  MakeDirs(disk + "/x");
  MakeDirs(disk + "/y");
  std::string x = box_->Bind("ext2/x", "vault/x"), y = box_->Bind("ext2/y", "vault/y");
  unsigned seed = TestSeed("ASameSizeRewriteDuringTheMoveIsNotLostOnCoarseTimestamps");
  std::mt19937 rng(seed);
  const size_t kSize = 4096;
  auto start = Clock::now();
  int rounds = 0, moved = 0;
  for (; rounds < 45 && Seconds(start) < 120; ++rounds) {
    std::string name = "/note" + std::to_string(rounds) + ".md";
    WriteFile(x + name, "v00000000\n" + std::string(kSize - 10, '-'));
    pid_t writer = Spawn(
        {kRace, "writer", x + name, std::to_string(kSize), "400", std::to_string(seed + rounds)},
        {});
    ASSERT_TRUE(WaitFor([&] { return ReadFile(x + name).rfind("v00000000", 0) != 0; }));
    long delay = static_cast<long>(rng() % 3000);
    SCOPED_TRACE("round " + std::to_string(rounds) + " delay " + std::to_string(delay) + " us");
    usleep(static_cast<useconds_t>(delay));  // the random instant is the point, not a sync
    int e = Probe("rename", x + name, y + name);
    if (e != 0) unlink((x + name).c_str());  // stops the writer
    ProcResult w = Wait(writer, 60);
    ASSERT_EQ(w.exit_code, 0) << w.err;
    long linked = std::atol(w.out.substr(w.out.find("linked ") + 7).c_str());
    if (e == 0) {
      ++moved;
      EXPECT_FALSE(Exists(x + name));
      std::string got = ReadFile(y + name);
      ASSERT_EQ(got.size(), kSize) << "the note arrived cut short";
      long version = std::atol(got.substr(1, 8).c_str());
      EXPECT_GE(version, linked) << "a save that finished before the move was lost";
    } else {
      EXPECT_EQ(ErrnoName(e), "EBUSY");
      EXPECT_FALSE(Exists(y + name));
    }
    if (HasFailure()) break;
  }
  std::cout << rounds << " rounds (" << moved << " moved) in " << Seconds(start) << " s\n";
  EXPECT_GE(rounds, 45);
  EXPECT_EQ(TempLeftovers(y), std::vector<std::string>{});
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// --- hangs -----------------------------------------------------------------------

// A file replaced by a FIFO (renamed over it) while its tree is moved: the
// shim never opens what it has not checked, so it never blocks.
TEST_F(ShimHardeningTest, AFileReplacedByAFifoDuringATreeMoveNeverBlocks) {
  std::mt19937 rng(TestSeed("AFileReplacedByAFifoDuringATreeMoveNeverBlocks"));
  auto start = Clock::now();
  int rounds = 0;
  for (; rounds < 45 && Seconds(start) < 90; ++rounds) {
    std::string t = "/t" + std::to_string(rounds), fifo = a_ + "/fifo" + std::to_string(rounds);
    MakeDirs(a_ + t);
    for (int i = 0; i < 30; ++i) WriteFile(a_ + t + "/f" + std::to_string(i), "data");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    std::string victim = t + "/f" + std::to_string(rng() % 30);
    long delay = static_cast<long>(rng() % 4000);
    SCOPED_TRACE("round " + std::to_string(rounds) + " " + victim);
    auto t0 = Clock::now();
    auto [moved, replaced] = Race(delay, a_ + t, b_ + t, fifo, a_ + victim);
    EXPECT_LT(Seconds(t0), 20);
    EXPECT_TRUE(moved == 0 || moved == EBUSY) << ErrnoName(moved);
    EXPECT_EQ(replaced == 0 ? 1 : 0, 1 - Count({fifo}));
    if (HasFailure()) break;
  }
  std::cout << rounds << " rounds in " << Seconds(start) << " s\n";
  EXPECT_GE(rounds, 45);
  ExpectNoLeftovers();
}

// A program whose thread forks (without exec) during a move: the child must
// not inherit the move's locks. Its parent is killed mid-move; recovery must
// not wait for the child, nor must the next move of the same names.
TEST_F(ShimHardeningTest, AChildForkedDuringAMoveHoldsNoLocks) {
  MakeDirs(a_ + "/t");
  for (int i = 0; i < 3000; ++i) WriteFile(a_ + "/t/f" + std::to_string(i), "some note text");
  std::string before = Describe(a_ + "/t");
  std::string pidfile = box_->Path("child.pid");
  // The mover thread renames; the main thread waits until the copy has begun,
  // forks a child that just sleeps, and then kills its own process.
  std::string script =
      "import os, sys, threading, time, signal\n"
      "src, dst, pidfile = sys.argv[1], sys.argv[2], sys.argv[3]\n"
      "threading.Thread(target=lambda: os.rename(src, dst), daemon=True).start()\n"
      "d = os.path.dirname(dst)\n"
      "deadline = time.time() + 60\n"
      "while not any(n.startswith('.vaultd-move-') for n in os.listdir(d)):\n"
      "  if time.time() > deadline: sys.exit(3)\n"
      "pid = os.fork()\n"
      "if pid == 0:\n"
      "  time.sleep(120); os._exit(0)\n"
      "open(pidfile, 'w').write(str(pid))\n"
      "os.kill(os.getpid(), signal.SIGKILL)\n";
  ProcResult r = RunProc({"python3", "-c", script, a_ + "/t", b_ + "/t", pidfile}, ShimEnv());
  pid_t child = static_cast<pid_t>(std::atol(ReadFile(pidfile).c_str()));
  ASSERT_EQ(r.signal, SIGKILL) << "the move finished before the fork: " << r.out << r.err;
  ASSERT_GT(child, 0);
  ASSERT_EQ(kill(child, 0), 0) << "the forked child is alive";
  auto t0 = Clock::now();
  ProcResult rec = Recover();
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  EXPECT_EQ(rec.out.find("in progress"), std::string::npos) << rec.out;
  EXPECT_NE(rec.out.find("rolled back"), std::string::npos) << rec.out;
  EXPECT_EQ(Describe(a_ + "/t"), before);
  // The next move of the same names takes the same stripes: it must not wait.
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_MOVE_LOCK_WAIT_MS=30000");
  ProcResult again = RunProc({kProbe, "rename", a_ + "/t", b_ + "/t"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(again.out.c_str())), "OK");
  EXPECT_LT(Seconds(t0), 25) << "waited for the forked child";
  EXPECT_EQ(Describe(b_ + "/t"), before);
  kill(child, SIGKILL);
  ExpectNoLeftovers();
}

TEST_F(ShimHardeningTest, AFifoInTheJournalDoesNotHangRecovery) {
  ASSERT_EQ(mkfifo((journal_ + "/1-2-3-0000000000000abc.move").c_str(), 0600), 0);
  ASSERT_EQ(mkfifo((journal_ + "/1-2-4-0000000000000abc.lock").c_str(), 0600), 0);
  auto t0 = Clock::now();
  ProcResult r = RunProc({kVaultd, "recover", "--journal", journal_}, {}, 30);
  EXPECT_LT(Seconds(t0), 20);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("unresolved 1-2-3-0000000000000abc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unresolved 1-2-4-0000000000000abc"), std::string::npos) << r.out;
}

// Another process holds every stripe lock and never lets go: the move waits
// a bounded time (VAULTD_MOVE_LOCK_WAIT_MS) and the caller gets EXDEV.
TEST_F(ShimHardeningTest, AStripeLockHeldElsewhereTimesOutWithExdev) {
  std::string marker = box_->Path("held");
  std::string script =
      "import fcntl, os, sys, time\n"
      "j, marker = sys.argv[1], sys.argv[2]\n"
      "fds = [os.open('%s/stripe-%02d.lock' % (j, i), os.O_RDWR | os.O_CREAT, 0o600) "
      "for i in range(64)]\n"
      "for fd in fds: fcntl.lockf(fd, fcntl.LOCK_EX)\n"
      "open(marker, 'w').close()\n"
      "time.sleep(120)\n";
  pid_t holder = Spawn({"python3", "-c", script, journal_, marker}, {});
  ASSERT_TRUE(WaitFor([&] { return Exists(marker); }));
  WriteFile(a_ + "/f", "f");
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_MOVE_LOCK_WAIT_MS=1000");
  auto t0 = Clock::now();
  ProcResult r = RunProc({kProbe, "rename", a_ + "/f", b_ + "/f"}, env, 60);
  double took = Seconds(t0);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 20);
  EXPECT_EQ(ReadFile(a_ + "/f"), "f");
  kill(holder, SIGKILL);
  Wait(holder);
  ExpectNoLeftovers();
}

// --- the killed caller -------------------------------------------------------------

// RLIMIT_FSIZE below the file's size: writing the copy would raise SIGXFSZ and
// kill the caller. rename(2) has no such limit; the caller gets EXDEV, as
// without the shim, and nothing is left behind.
TEST_F(ShimHardeningTest, AFileSizeLimitGivesExdevNotSigxfsz) {
  WriteFile(a_ + "/big", std::string(2 << 20, 'b'));
  MakeDirs(a_ + "/tree");
  WriteFile(a_ + "/tree/big", std::string(2 << 20, 'b'));
  std::string before = Describe(vault_);
  for (std::string item : {"/big", "/tree"}) {
    SCOPED_TRACE(item);
    ProcResult r = RunProc({"sh", "-c", "ulimit -f 1024 && exec \"$0\" rename \"$1\" \"$2\"",
                            kProbe, a_ + item, b_ + item},
                           ShimEnv());
    EXPECT_EQ(r.signal, 0);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  }
  EXPECT_EQ(Describe(vault_), before);
  ExpectNoLeftovers();
}

// --- errno ---------------------------------------------------------------------------

// A destination folder whose path is ~4,080 bytes: the temp name beside it
// does not fit in PATH_MAX, the move works relative to the folder (mv does too).
TEST_F(ShimHardeningTest, ADestinationFolderNearPathMaxWorks) {
  std::string deep = b_;
  while (deep.size() < 4070)
    deep += "/" + std::string(std::min<size_t>(200, 4070 - deep.size()), 'd');
  ASSERT_EQ(std::system(("mkdir -p '" + deep + "'").c_str()), 0);
  WriteFile(a_ + "/f", "far away");
  MakeDirs(a_ + "/t/sub");
  WriteFile(a_ + "/t/sub/x", "deeper than PATH_MAX");
  std::string tree = Describe(a_ + "/t");
  EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/f", deep + "/f")), "OK");
  EXPECT_EQ(ReadFile(deep + "/f"), "far away");
  EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/t", deep + "/t")), "OK");
  EXPECT_FALSE(Exists(a_ + "/t"));
  // Describe() works by path: check the tree's content through the folder.
  ASSERT_EQ(chdir(deep.c_str()), 0);
  EXPECT_EQ(ReadFile("t/sub/x"), "deeper than PATH_MAX");
  ASSERT_EQ(chdir("/"), 0);
  ExpectNoLeftovers();
}

// A journal with room for the record but not for the entries list: the
// journal's ENOSPC would make mv give up; the caller gets EXDEV and mv copies.
TEST_F(ShimHardeningTest, AFullJournalGivesExdev) {
  std::string small = box_->MountTmpfs("state/small", "size=48k");
  MakeDirs(a_ + "/many");
  for (int i = 0; i < 1500; ++i) WriteFile(a_ + "/many/note-" + std::to_string(i) + ".md", "n");
  std::string before = Describe(a_);
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_JOURNAL_DIR=" + small);
  ProcResult r = RunProc({kProbe, "rename", a_ + "/many", b_ + "/many"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  EXPECT_TRUE(Describe(a_) == before) << "the source changed";
  EXPECT_FALSE(Exists(b_ + "/many"));
  EXPECT_EQ(JournalFiles(small), std::vector<std::string>{});
  ExpectNoLeftovers();
  // With the shim's EXDEV, mv copies by itself.
  r = RunProc({"mv", a_ + "/many", b_ + "/many"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ShimHardeningTest, DotAndDotDotAnswerAsInsideOneMount) {
  MakeDirs(a_ + "/x");
  MakeDirs(a_ + "/y");
  MakeDirs(b_ + "/y");
  WriteFile(a_ + "/f", "f");
  std::string before = Describe(vault_);
  struct Case {
    std::string fn, flag, src, dst;
  };
  std::vector<Case> cases = {{"rename", "", "a/x/.", "b/new"},
                             {"rename", "", "a/x/..", "b/new"},
                             {"rename", "", "a/f", "b/y/."},
                             {"rename", "", "a/f", "b/y/.."},
                             {"renameat2", "noreplace", "a/f", "b/y/."},
                             {"renameat2", "noreplace", "a/x/.", "b/y/.."}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fn + " " + c.src + " -> " + c.dst + " " + c.flag);
    std::string same_dst = "a" + c.dst.substr(1);
    int same = Probe(c.fn, vault_ + "/" + c.src, vault_ + "/" + same_dst, c.flag, false);
    EXPECT_NE(ErrnoName(same), "OK");
    EXPECT_EQ(ErrnoName(Probe(c.fn, vault_ + "/" + c.src, vault_ + "/" + c.dst, c.flag)),
              ErrnoName(same));
    EXPECT_EQ(Describe(vault_), before);
  }
  ExpectNoLeftovers();
}

// --- sparse files --------------------------------------------------------------------

// 1 GiB apparent, 1 MiB of data: it arrives with its holes, and fits onto a
// 20 MiB tmpfs, as with mv.
TEST_F(ShimHardeningTest, ASparseFileKeepsItsHoles) {
  std::string small = box_->MountTmpfs("vault/small", "size=20m");
  std::string src = a_ + "/sparse.bin";
  std::string data(1 << 20, '\0');
  std::mt19937 rng(7);
  for (auto& ch : data) ch = static_cast<char>(rng());
  int fd = open(src.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, off_t{1} << 30), 0);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), off_t{100} << 20),
            static_cast<ssize_t>(data.size()));
  close(fd);
  EXPECT_EQ(ErrnoName(Probe("rename", src, small + "/sparse.bin")), "OK");
  struct stat st;
  ASSERT_EQ(stat((small + "/sparse.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t{1} << 30);
  EXPECT_LE(st.st_blocks * 512, 2 << 20) << "the holes were filled";
  fd = open((small + "/sparse.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string back(data.size(), '\0'), zeros(4096, '\0'), got(4096, 'x');
  ASSERT_EQ(pread(fd, back.data(), back.size(), off_t{100} << 20),
            static_cast<ssize_t>(back.size()));
  EXPECT_TRUE(back == data);
  ASSERT_EQ(pread(fd, got.data(), got.size(), off_t{50} << 20), 4096);
  EXPECT_TRUE(got == zeros);
  close(fd);
  EXPECT_FALSE(Exists(src));
  ExpectNoLeftovers();
}

// --- journal trust ---------------------------------------------------------------------

// A journal path that reaches into a root through a symlink (and does not
// exist yet) is where it resolves to: inside the vault, refused.
TEST_F(ShimHardeningTest, AJournalReachingIntoARootThroughASymlinkIsRefused) {
  ASSERT_EQ(symlink(a_.c_str(), box_->Path("elsewhere").c_str()), 0);
  WriteFile(a_ + "/f", "f");
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_JOURNAL_DIR=" + box_->Path("elsewhere") + "/state/journal");
  ProcResult r = RunProc({kProbe, "rename", a_ + "/f", b_ + "/f"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  EXPECT_FALSE(Exists(a_ + "/state")) << "the journal landed inside the vault";
  EXPECT_EQ(ReadFile(a_ + "/f"), "f");
}

// A record damaged after it was written (cut in half, first byte zeroed) is
// never dropped on faith: recovery decides from the disk (the temp name
// carries the move id) or reports it, exit 1. Never a hidden copy, never a
// silent duplicate.
TEST_F(ShimHardeningTest, ADamagedRecordIsDecidedFromTheDisk) {
  struct Damage {
    std::string name;
    std::string (*apply)(const std::string&);
  };
  const Damage damages[] = {
      {"first byte zeroed",
       [](const std::string& t) { return std::string(1, '\0') + t.substr(1); }},
      {"cut in half", [](const std::string& t) { return t.substr(0, t.size() / 2); }},
  };
  for (bool tree : {false, true}) {
    for (const char* phase : {"copied", "committed"}) {
      for (const auto& damage : damages) {
        std::string ctx =
            std::string(tree ? "tree" : "file") + ", crash at " + phase + ", " + damage.name;
        SCOPED_TRACE(ctx);
        ClearDir(a_);
        ClearDir(b_);
        std::string src = a_ + "/item", dst = b_ + "/item";
        if (tree) {
          MakeDirs(src + "/sub");
          for (int i = 0; i < 5; ++i) WriteFile(src + "/sub/f" + std::to_string(i), "n");
        } else {
          WriteFile(src, "a note that must not exist twice");
        }
        std::string before = Describe(src);
        ProcResult r = RunProc({kTool, src, dst, "--journal", journal_},
                               {std::string("VAULTD_MOVE_CRASH_AT=") + phase});
        ASSERT_EQ(r.signal, SIGKILL);
        std::string record;
        for (const auto& f : JournalFiles(journal_)) {
          if (f.size() > 5 && f.substr(f.size() - 5) == ".move") record = journal_ + "/" + f;
        }
        ASSERT_FALSE(record.empty());
        WriteFile(record, damage.apply(ReadFile(record)));
        ProcResult rec = Recover();
        bool committed = std::string(phase) == "committed";
        bool resolvable = !committed || damage.name == "first byte zeroed";
        if (resolvable) {
          EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
          EXPECT_EQ(Describe(committed ? dst : src), before) << rec.out;
          EXPECT_FALSE(Exists(committed ? src : dst)) << rec.out;
          ExpectNoLeftovers();
        } else {
          // Both places hold the data and the record cannot say which is the
          // copy: reported, exit 1, and again on the next run.
          EXPECT_EQ(rec.exit_code, 1) << rec.out << rec.err;
          EXPECT_NE(rec.out.find("unresolved"), std::string::npos) << rec.out;
          EXPECT_EQ(Describe(src), before);
          EXPECT_EQ(Describe(dst), before);
          EXPECT_EQ(Recover().exit_code, 1);
          std::system(("rm -f '" + journal_ + "'/*").c_str());
        }
        EXPECT_TRUE(TempLeftovers(b_).empty()) << "a hidden copy was left";
      }
    }
  }
}

}  // namespace
}  // namespace vaultd::shimtest
