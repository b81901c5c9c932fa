// libvaultd_move in-process: the move, its error recomputation, the journal
// and recovery. Each test runs in its own process (gtest_discover_tests) and
// enters a private mount namespace, so two tmpfs mounts give a real
// cross-device situation. Crashes are real: a forked child SIGKILLs itself at
// a journal phase and the parent recovers in-process.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "shim_step_hook.h"
#include "shim_test_util.h"
#include "vaultd/shim/move.h"

namespace vaultd::shimtest {
namespace {

using move::MovePaths;
using move::RecoverMoves;
using move::RecoverResult;

void Lines(void* ctx, const char* line) {
  static_cast<std::string*>(ctx)->append(line).append("\n");
}

class ShimMoveTest : public TwoMountsTest {
 protected:
  void MakeTree(const std::string& root) {
    MakeDirs(root + "/x/y");
    WriteFile(root + "/one.md", "one");
    WriteFile(root + "/x/two.md", std::string(200000, 't'));
    WriteFile(root + "/x/y/three.md", "three");
    WriteFile(root + "/x/v1..2 %odd name.md", "dots, percent and a space");
    ASSERT_EQ(link((root + "/one.md").c_str(), (root + "/x/y/one-again.md").c_str()), 0);
    ASSERT_EQ(symlink("../one.md", (root + "/x/link").c_str()), 0);
    ASSERT_EQ(mkfifo((root + "/x/fifo").c_str(), 0600), 0);
    ASSERT_EQ(chmod((root + "/x/y").c_str(), 0555), 0);
  }

  // Runs a move in a child that SIGKILLs itself at `phase`.
  void CrashChild(const std::string& src, const std::string& dst, const char* phase,
                  unsigned flags = 0) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      setenv("VAULTD_MOVE_CRASH_AT", phase, 1);
      MovePaths(src.c_str(), dst.c_str(), flags, journal_.c_str());
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "phase " << phase;
  }

  std::string Recover(RecoverResult* res) {
    std::string out;
    EXPECT_EQ(RecoverMoves(journal_.c_str(), &Lines, &out, res), 0);
    return out;
  }
};

TEST_F(ShimMoveTest, MovesATreeWithHardLinksSymlinksAndAFifo) {
  MakeTree(a_ + "/t");
  std::string before = Describe(a_ + "/t");
  move::MoveStats stats;
  ASSERT_EQ(MovePaths((a_ + "/t").c_str(), (b_ + "/t").c_str(), 0, journal_.c_str(), &stats), 0);
  EXPECT_EQ(Describe(b_ + "/t"), before);
  EXPECT_FALSE(Exists(a_ + "/t"));
  EXPECT_EQ(stats.entries, 10);
  struct stat s1, s2;
  ASSERT_EQ(lstat((b_ + "/t/one.md").c_str(), &s1), 0);
  ASSERT_EQ(lstat((b_ + "/t/x/y/one-again.md").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino) << "hard links inside the tree stay one inode";
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// A tree larger than the sync-ahead step (16 MiB) is made durable while it is
// copied, by a helper thread; every byte arrives and the source goes.
TEST_F(ShimMoveTest, ALargeTreeIsSyncedWhileItIsCopied) {
  ASSERT_EQ(mkdir((a_ + "/big").c_str(), 0755), 0);
  std::string block(1 << 20, '\0');
  for (int i = 0; i < 40; ++i) {
    for (size_t k = 0; k < block.size(); k += 4096) block[k] = static_cast<char>(i + k / 4096);
    WriteFile(a_ + "/big/f" + std::to_string(i), block);
  }
  std::string before = Describe(a_ + "/big");
  move::MoveStats stats;
  ASSERT_EQ(MovePaths((a_ + "/big").c_str(), (b_ + "/big").c_str(), 0, journal_.c_str(), &stats),
            0);
  EXPECT_EQ(Describe(b_ + "/big"), before);
  EXPECT_FALSE(Exists(a_ + "/big"));
  EXPECT_EQ(stats.entries, 41);
  EXPECT_GE(stats.syncs_ahead, 1) << "40 MiB copied without a sync ahead";
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// A tree of many files is copied, re-checked and deleted by several threads;
// hard links, symlinks and modes come out as they went in.
TEST_F(ShimMoveTest, AManyFileTreeMovesOnFourThreads) {
  for (int d = 0; d < 8; ++d) {
    std::string dir = a_ + "/many/d" + std::to_string(d);
    MakeDirs(dir);
    for (int f = 0; f < 50; ++f) {
      WriteFile(dir + "/n" + std::to_string(f) + ".md", std::string(100 + 37 * f, 'a' + d));
    }
    ASSERT_EQ(link((dir + "/n0.md").c_str(), (dir + "/n0-again.md").c_str()), 0);
    ASSERT_EQ(symlink("n1.md", (dir + "/to-n1").c_str()), 0);
  }
  ASSERT_EQ(chmod((a_ + "/many/d3").c_str(), 0555), 0);
  std::string before = Describe(a_ + "/many");
  setenv("VAULTD_MOVE_THREADS", "4", 1);
  move::MoveStats stats;
  int r = MovePaths((a_ + "/many").c_str(), (b_ + "/many").c_str(), 0, journal_.c_str(), &stats);
  unsetenv("VAULTD_MOVE_THREADS");
  ASSERT_EQ(r, 0);
  EXPECT_EQ(Describe(b_ + "/many"), before);
  EXPECT_FALSE(Exists(a_ + "/many"));
  EXPECT_EQ(stats.entries, 1 + 8 * 53);
  EXPECT_EQ(stats.kept_changed, 0);
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// A file replaced while other threads copy the rest of the tree: the move
// stops, the copy goes, and the source is left as it now is.
TEST_F(ShimMoveTest, AFileReplacedDuringAThreadedCopyStopsTheMove) {
  MakeDirs(a_ + "/busy");
  for (int f = 0; f < 300; ++f) WriteFile(a_ + "/busy/n" + std::to_string(f), "original");
  struct Replacer {
    std::string dir;
    std::atomic<int> fired{0};
    static void Hook(const char* name, void* ctx) {
      auto* self = static_cast<Replacer*>(ctx);
      if (std::strcmp(name, "copy") != 0 || self->fired.exchange(1) != 0) return;
      WriteFile(self->dir + "/new", "a new file");
      rename((self->dir + "/new").c_str(), (self->dir + "/n299").c_str());
    }
  } rep{a_ + "/busy"};
  setenv("VAULTD_MOVE_THREADS", "4", 1);
  move::internal::SetStepHookForTesting(&Replacer::Hook, &rep);
  int r = MovePaths((a_ + "/busy").c_str(), (b_ + "/busy").c_str(), 0, journal_.c_str());
  move::internal::SetStepHookForTesting(nullptr, nullptr);
  unsetenv("VAULTD_MOVE_THREADS");
  EXPECT_EQ(r, -EBUSY);
  EXPECT_FALSE(Exists(b_ + "/busy"));
  EXPECT_EQ(ReadFile(a_ + "/busy/n299"), "a new file");
  EXPECT_EQ(ReadFile(a_ + "/busy/n0"), "original");
  EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

TEST_F(ShimMoveTest, ReplacesAFileAtomicallyUnlessNoReplace) {
  WriteFile(a_ + "/n", "new");
  WriteFile(b_ + "/n", "old");
  EXPECT_EQ(
      MovePaths((a_ + "/n").c_str(), (b_ + "/n").c_str(), move::kRenameNoReplace, journal_.c_str()),
      -EEXIST);
  EXPECT_EQ(ReadFile(a_ + "/n"), "new");
  EXPECT_EQ(ReadFile(b_ + "/n"), "old");
  EXPECT_EQ(MovePaths((a_ + "/n").c_str(), (b_ + "/n").c_str(), 0, journal_.c_str()), 0);
  EXPECT_EQ(ReadFile(b_ + "/n"), "new");
  EXPECT_FALSE(Exists(a_ + "/n"));
}

TEST_F(ShimMoveTest, RefusesWhatItCannotEmulate) {
  WriteFile(a_ + "/f", "f");
  EXPECT_EQ(
      MovePaths((a_ + "/f").c_str(), (b_ + "/f").c_str(), move::kRenameExchange, journal_.c_str()),
      -EXDEV);
  EXPECT_EQ(
      MovePaths((a_ + "/f").c_str(), (b_ + "/f").c_str(), move::kRenameWhiteout, journal_.c_str()),
      -EXDEV);
  EXPECT_EQ(MovePaths("relative", (b_ + "/f").c_str(), 0, journal_.c_str()), -EINVAL);
  EXPECT_EQ(MovePaths((a_ + "/f").c_str(), (b_ + "/f").c_str(), 0, "relative/journal"), -EINVAL);
  // A tree holding a mount point: rename would carry the mount, a copy cannot.
  MakeDirs(a_ + "/m");
  box_->MountTmpfs("vault/a/m/inner");
  EXPECT_EQ(MovePaths((a_ + "/m").c_str(), (b_ + "/m").c_str(), 0, journal_.c_str()), -EXDEV);
  EXPECT_TRUE(Exists(a_ + "/m/inner"));
  EXPECT_FALSE(Exists(b_ + "/m"));
  // A mount point itself is busy, as for rename(2).
  EXPECT_EQ(MovePaths((a_ + "/m/inner").c_str(), (b_ + "/inner").c_str(), 0, journal_.c_str()),
            -EBUSY);
  // Trailing slash on a file.
  EXPECT_EQ(MovePaths((a_ + "/f/").c_str(), (b_ + "/f").c_str(), 0, journal_.c_str()), -ENOTDIR);
  EXPECT_EQ(ReadFile(a_ + "/f"), "f");
  EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
}

TEST_F(ShimMoveTest, TwoNamesOfOneFileAreANoOp) {
  WriteFile(a_ + "/f", "f");
  ASSERT_EQ(link((a_ + "/f").c_str(), (a_ + "/g").c_str()), 0);
  EXPECT_EQ(MovePaths((a_ + "/f").c_str(), (a_ + "/g").c_str(), 0, journal_.c_str()), 0);
  EXPECT_TRUE(Exists(a_ + "/f"));
  EXPECT_TRUE(Exists(a_ + "/g"));
}

// Changes one source file when the move reaches the step `when`.
struct Meddler {
  const char* when;
  std::string path;
  int fired = 0;
  static void Hook(const char* name, void* ctx) {
    auto* m = static_cast<Meddler*>(ctx);
    if (m->fired == 0 && std::strcmp(name, m->when) == 0) {
      ++m->fired;
      WriteFile(m->path, "changed while it was being moved");
    }
  }
};

TEST_F(ShimMoveTest, ASourceChangedBeforeTheCommitIsNotMoved) {
  MakeDirs(a_ + "/busy");
  for (int i = 0; i < 20; ++i) WriteFile(a_ + "/busy/f" + std::to_string(i), "original");
  Meddler m{"copied", a_ + "/busy/f7"};
  move::internal::SetStepHookForTesting(&Meddler::Hook, &m);
  int r = MovePaths((a_ + "/busy").c_str(), (b_ + "/busy").c_str(), 0, journal_.c_str());
  move::internal::SetStepHookForTesting(nullptr, nullptr);
  EXPECT_EQ(m.fired, 1);
  EXPECT_EQ(r, -EBUSY);
  EXPECT_FALSE(Exists(b_ + "/busy"));
  EXPECT_EQ(ReadFile(a_ + "/busy/f7"), "changed while it was being moved");
  EXPECT_EQ(ReadFile(a_ + "/busy/f0"), "original");
  EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// A file changed between the re-check and its deletion: its newer bytes are
// copied again onto the destination before the source goes (nothing is lost).
TEST_F(ShimMoveTest, ASourceChangedAfterTheCommitIsCopiedAgain) {
  MakeDirs(a_ + "/late");
  for (int i = 0; i < 5; ++i) WriteFile(a_ + "/late/f" + std::to_string(i), "original");
  Meddler m{"committed", a_ + "/late/f3"};
  move::internal::SetStepHookForTesting(&Meddler::Hook, &m);
  move::MoveStats stats;
  int r = MovePaths((a_ + "/late").c_str(), (b_ + "/late").c_str(), 0, journal_.c_str(), &stats);
  move::internal::SetStepHookForTesting(nullptr, nullptr);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(stats.recopied, 1);
  EXPECT_EQ(stats.kept_changed, 0);
  EXPECT_FALSE(Exists(a_ + "/late"));
  EXPECT_EQ(ReadFile(b_ + "/late/f3"), "changed while it was being moved");
  EXPECT_EQ(ReadFile(b_ + "/late/f0"), "original");
  EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
  EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
}

// A name that holds another object after the commit (replaced by a rename)
// is not ours: it stays where it is.
TEST_F(ShimMoveTest, ASourceReplacedAfterTheCommitIsKept) {
  MakeDirs(a_ + "/late");
  for (int i = 0; i < 3; ++i) WriteFile(a_ + "/late/f" + std::to_string(i), "original");
  struct Replacer {
    std::string dir;
    static void Hook(const char* name, void* ctx) {
      auto* self = static_cast<Replacer*>(ctx);
      if (std::strcmp(name, "committed") != 0) return;
      WriteFile(self->dir + "/new", "a new file");
      ASSERT_EQ(rename((self->dir + "/new").c_str(), (self->dir + "/f1").c_str()), 0);
    }
  } rep{a_ + "/late"};
  move::internal::SetStepHookForTesting(&Replacer::Hook, &rep);
  move::MoveStats stats;
  int r = MovePaths((a_ + "/late").c_str(), (b_ + "/late").c_str(), 0, journal_.c_str(), &stats);
  move::internal::SetStepHookForTesting(nullptr, nullptr);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(stats.kept_changed, 2) << "the replaced file and its folder stay";
  EXPECT_EQ(ReadFile(a_ + "/late/f1"), "a new file");
  EXPECT_EQ(ReadFile(b_ + "/late/f1"), "original");
  EXPECT_FALSE(Exists(a_ + "/late/f0"));
}

TEST_F(ShimMoveTest, RecoversACrashAtEveryPhaseInProcess) {
  const char* phases[] = {"prepared", "copy",      "copied", "committing",
                          "renamed",  "committed", "delete", "deleted"};
  for (const char* phase : phases) {
    SCOPED_TRACE(phase);
    std::system(("rm -rf " + a_ + "/t " + b_ + "/t").c_str());
    MakeTree(a_ + "/t");
    std::string before = Describe(a_ + "/t");
    CrashChild(a_ + "/t", b_ + "/t", phase);
    RecoverResult res;
    std::string out = Recover(&res);
    EXPECT_EQ(res.resolved, 1) << out;
    EXPECT_EQ(res.unresolved, 0) << out;
    bool forward = std::strcmp(phase, "renamed") == 0 || std::strcmp(phase, "committed") == 0 ||
                   std::strcmp(phase, "delete") == 0 || std::strcmp(phase, "deleted") == 0;
    EXPECT_NE(out.find(forward ? "completed" : "rolled back"), std::string::npos) << out;
    EXPECT_EQ(Describe(forward ? b_ + "/t" : a_ + "/t"), before);
    EXPECT_FALSE(Exists(forward ? a_ + "/t" : b_ + "/t"));
    EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
    EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
    EXPECT_EQ(Recover(&res), "");
  }
}

TEST_F(ShimMoveTest, RecoveryKeepsASourceThatChangedAfterTheCommit) {
  WriteFile(a_ + "/f", "v1");
  CrashChild(a_ + "/f", b_ + "/f", "committed");
  WriteFile(a_ + "/f", "v2, written after the copy");
  RecoverResult res;
  std::string out = Recover(&res);
  EXPECT_NE(out.find("kept 1 source entries"), std::string::npos) << out;
  EXPECT_EQ(ReadFile(a_ + "/f"), "v2, written after the copy");
  EXPECT_EQ(ReadFile(b_ + "/f"), "v1");
}

// A crash while a file that changed after the commit is copied again:
// recovery finishes the move, keeps the changed source file where it is, and
// removes the new copy left under its temp name (a file and a tree).
TEST_F(ShimMoveTest, RecoveryRemovesTheHalfDoneCopyOfAFileChangedAfterTheCommit) {
  MakeDirs(a_ + "/late/sub");
  for (int i = 0; i < 3; ++i) WriteFile(a_ + "/late/sub/f" + std::to_string(i), "original");
  WriteFile(a_ + "/single", "original");
  struct Case {
    std::string src, dst, changed;
  } cases[] = {{a_ + "/late", b_ + "/late", a_ + "/late/sub/f1"},
               {a_ + "/single", b_ + "/single", a_ + "/single"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.src);
    Meddler m{"committed", c.changed};
    move::internal::SetStepHookForTesting(&Meddler::Hook, &m);
    CrashChild(c.src, c.dst, "recopied");
    move::internal::SetStepHookForTesting(nullptr, nullptr);
    EXPECT_EQ(TempLeftovers(b_).size(), 1u) << "the crash left the new copy under its temp name";
    RecoverResult res;
    std::string out = Recover(&res);
    EXPECT_EQ(res.resolved, 1) << out;
    EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{}) << out;
    EXPECT_EQ(ReadFile(c.changed), "changed while it was being moved");
    EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
  }
  EXPECT_EQ(ReadFile(b_ + "/late/sub/f1"), "original");
  EXPECT_EQ(ReadFile(b_ + "/late/sub/f0"), "original");
  EXPECT_FALSE(Exists(a_ + "/late/sub/f0"));
  EXPECT_EQ(ReadFile(b_ + "/single"), "original");
}

std::string RecordOf(const std::string& journal) {
  for (const auto& f : JournalFiles(journal)) {
    if (f.size() > 5 && f.substr(f.size() - 5) == ".move") return journal + "/" + f;
  }
  return "";
}

// "checksum <fnv1a64 of text>\n", the seal of a record's first block
// (docs/move-journal.md), computed here independently of the shim.
std::string Seal(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char sum[32];
  snprintf(sum, sizeof sum, "checksum %016llx\n", static_cast<unsigned long long>(h));
  return sum;
}

// Splits a record into its sealed first block (without the checksum line)
// and the appended phase lines.
void SplitRecord(const std::string& text, std::string* body, std::string* phases) {
  size_t at = text.find("\nchecksum ");
  ASSERT_NE(at, std::string::npos);
  size_t end = text.find('\n', at + 1);
  *body = text.substr(0, at + 1);
  *phases = text.substr(end + 1);
}

TEST_F(ShimMoveTest, ACorruptRecordIsReportedNotActedUpon) {
  MakeTree(a_ + "/t");
  CrashChild(a_ + "/t", b_ + "/t", "copied");
  std::string record = RecordOf(journal_);
  ASSERT_FALSE(record.empty());
  const std::string good = ReadFile(record);
  ASSERT_NE(good.find("\nphase copied tmp_ino "), std::string::npos) << good;
  std::string text = good;
  size_t at = text.find("\nkind d\n");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 8, "\nkind f\n");  // a flipped field: the checksum no longer matches
  WriteFile(record, text);
  RecoverResult res;
  std::string out = Recover(&res);
  EXPECT_EQ(res.unresolved, 1);
  EXPECT_NE(out.find("corrupt record"), std::string::npos) << out;
  EXPECT_NE(out.find("checksum mismatch"), std::string::npos) << out;
  EXPECT_TRUE(Exists(a_ + "/t/one.md"));
  EXPECT_EQ(TempLeftovers(b_).size(), 1u) << "the temp copy is left for a human";
  // A garbled phase line that is not the last one is corruption, not a torn append.
  std::string body, phases;
  SplitRecord(good, &body, &phases);
  WriteFile(record,
            body + Seal(body) + "phase copied tmp_ino 12 checksum 0000000000000000\n" + phases);
  out = Recover(&res);
  EXPECT_NE(out.find("bad phase line"), std::string::npos) << out;
  // Another format, or a first block that names other fields, is corrupt too.
  WriteFile(record, "hello\n" + Seal("hello\n"));
  out = Recover(&res);
  EXPECT_NE(out.find("unknown format"), std::string::npos) << out;
  std::string v1 = "vaultd-move-journal 1\nphase copied\n";
  WriteFile(record, v1 + Seal(v1));
  EXPECT_NE(Recover(&res).find("unknown format"), std::string::npos);
  std::string missing = body;
  missing.erase(missing.find("\nstarted "),
                missing.find('\n', missing.find("\nstarted ") + 1) - missing.find("\nstarted "));
  WriteFile(record, missing + Seal(missing) + phases);
  EXPECT_NE(Recover(&res).find("missing required fields"), std::string::npos);
  EXPECT_EQ(res.unresolved, 1);
  EXPECT_TRUE(Exists(a_ + "/t/one.md"));
  EXPECT_EQ(TempLeftovers(b_).size(), 1u);
}

// Recovery never removes the only complete copy: with the source gone, a
// "copied" move whose rename did not happen keeps its temp copy.
TEST_F(ShimMoveTest, TheOnlyCompleteCopyIsNeverRemoved) {
  WriteFile(a_ + "/f", "the only bytes left");
  CrashChild(a_ + "/f", b_ + "/f", "copied");
  ASSERT_EQ(unlink((a_ + "/f").c_str()), 0);
  RecoverResult res;
  std::string out = Recover(&res);
  EXPECT_EQ(res.unresolved, 1) << out;
  EXPECT_NE(out.find("complete copy is kept"), std::string::npos) << out;
  std::vector<std::string> temps = TempLeftovers(b_);
  ASSERT_EQ(temps.size(), 1u);
  EXPECT_EQ(ReadFile(b_ + "/" + temps[0]), "the only bytes left");
  EXPECT_FALSE(JournalFiles(journal_).empty()) << "the record stays for a human";
}

// A crash while the record is being created leaves it under its staging name
// <id>.new (empty, cut short or complete): it never became the record, the
// move had not copied anything yet, so it is dropped.
TEST_F(ShimMoveTest, ARecordTornAtCreationIsDropped) {
  for (size_t keep : {size_t{0}, size_t{30}, size_t{200}, std::string::npos}) {
    SCOPED_TRACE("bytes kept " + std::to_string(keep));
    WriteFile(a_ + "/f", "content");
    CrashChild(a_ + "/f", b_ + "/f", "prepared");
    std::string record = RecordOf(journal_);
    ASSERT_FALSE(record.empty());
    std::string text = ReadFile(record);
    ASSERT_EQ(unlink(record.c_str()), 0);
    std::string staged = record.substr(0, record.size() - 5) + ".new";
    WriteFile(staged, text.substr(0, keep));
    RecoverResult res;
    std::string out = Recover(&res);
    EXPECT_NE(out.find("never completed"), std::string::npos) << out;
    EXPECT_EQ(res.resolved, 1);
    EXPECT_TRUE(JournalFiles(journal_).empty());
    EXPECT_EQ(ReadFile(a_ + "/f"), "content");
    EXPECT_FALSE(Exists(b_ + "/f"));
    EXPECT_TRUE(TempLeftovers(b_).empty());
  }
}

// Only the last appended line may be torn: it is ignored, and the phase
// before it decides.
TEST_F(ShimMoveTest, ATornLastPhaseLineIsIgnored) {
  // After the commit rename: "copied" and the copy at dst -> forward, even
  // though a garbled (or unfinished) line follows.
  for (const char* tail :
       {"phase prepared tmp_ino 0 checksum 0123456789abcdef\n", "phase prepa", "\0\0\0\0"}) {
    SCOPED_TRACE(tail);
    WriteFile(a_ + "/f", "moved");
    CrashChild(a_ + "/f", b_ + "/f", "committed");
    std::string record = RecordOf(journal_);
    ASSERT_FALSE(record.empty());
    std::string torn = std::strlen(tail) ? std::string(tail) : std::string(4, '\0');
    WriteFile(record, ReadFile(record) + torn);
    RecoverResult res;
    std::string out = Recover(&res);
    EXPECT_NE(out.find("completed"), std::string::npos) << out;
    EXPECT_FALSE(Exists(a_ + "/f"));
    EXPECT_EQ(ReadFile(b_ + "/f"), "moved");
    EXPECT_TRUE(JournalFiles(journal_).empty());
    unlink((b_ + "/f").c_str());
  }
}

// A record that passes its checksum but names a temp path outside the
// destination's folder is not this mover's: recovery must not delete there.
TEST_F(ShimMoveTest, ARecordWhoseTempIsNotBesideTheDestinationIsNotActedUpon) {
  MakeTree(a_ + "/t");
  CrashChild(a_ + "/t", b_ + "/t", "copied");
  std::string record = RecordOf(journal_);
  ASSERT_FALSE(record.empty());
  std::string text, phases;
  SplitRecord(ReadFile(record), &text, &phases);
  size_t line = text.find("\ntmp ");
  ASSERT_NE(line, std::string::npos);
  size_t dir = text.find(b_, line);
  ASSERT_NE(dir, std::string::npos);
  text.replace(dir, b_.size(), a_);  // same temp name, but in the source's folder
  WriteFile(record, text + Seal(text) + phases);
  RecoverResult res;
  std::string out = Recover(&res);
  EXPECT_EQ(res.unresolved, 1) << out;
  EXPECT_NE(out.find("not in the destination's folder"), std::string::npos) << out;
  EXPECT_TRUE(Exists(a_ + "/t/one.md"));
  EXPECT_EQ(TempLeftovers(b_).size(), 1u);
}

TEST_F(ShimMoveTest, ALiveMoveIsLeftAlone) {
  // A record whose lock (a POSIX record lock, which a forked child does not
  // inherit) is held by a live process is in progress.
  MakeDirs(journal_);
  std::string id = "1-1-1-0000000000000001";
  WriteFile(journal_ + "/" + id + ".move", "whatever\n");
  int fd = open((journal_ + "/" + id + ".lock").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    // A different open file description in another process holds the flock.
    int cfd = open((journal_ + "/" + id + ".lock").c_str(), O_RDWR);
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(cfd, F_SETLK, &fl) != 0) _exit(1);
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);  // the child holds the lock now
  struct flock probe = {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  EXPECT_NE(fcntl(fd, F_SETLK, &probe), 0);
  RecoverResult res;
  std::string out = Recover(&res);
  EXPECT_EQ(res.busy, 1) << out;
  EXPECT_TRUE(Exists(journal_ + "/" + id + ".move"));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(fd);
}

TEST(ShimJournalDir, FollowsTheEnvironment) {
  char buf[4096];
  setenv("VAULTD_JOURNAL_DIR", "/j", 1);
  ASSERT_EQ(move::DefaultJournalDir(buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "/j");
  unsetenv("VAULTD_JOURNAL_DIR");
  setenv("XDG_STATE_HOME", "/state", 1);
  ASSERT_EQ(move::DefaultJournalDir(buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "/state/vaultd/journal");
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/home/u", 1);
  ASSERT_EQ(move::DefaultJournalDir(buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "/home/u/.local/state/vaultd/journal");
  unsetenv("HOME");
  EXPECT_EQ(move::DefaultJournalDir(buf, sizeof buf), -ENOENT);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(move::DefaultJournalDir(buf, 8), -ENAMETOOLONG);
}

}  // namespace
}  // namespace vaultd::shimtest
