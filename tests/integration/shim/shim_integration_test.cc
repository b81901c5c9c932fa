// The EXDEV shim end to end, in a private mount namespace: real tmpfs and
// bind mounts (so the kernel really answers EXDEV and EROFS), the real
// libvaultshim.so preloaded into python, node and a C program, real SIGKILLs
// followed by the real `vaultd recover`.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "shim_proc_test.h"
#include "shim_test_util.h"

namespace vaultd::shimtest {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

void SetTimes(const std::string& p, time_t sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

void SetXattr(const std::string& p, const std::string& name, const std::string& value) {
  ASSERT_EQ(setxattr(p.c_str(), name.c_str(), value.data(), value.size(), 0), 0)
      << p << ": " << std::strerror(errno);
}

// A note with an unusual mode, an owner, a user xattr and an old mtime.
void MakeSampleFile(const std::string& p, const std::string& content = "# Note\nhello\n") {
  WriteFile(p, content);
  ASSERT_EQ(chmod(p.c_str(), 0640), 0);
  ASSERT_EQ(chown(p.c_str(), 1234, 2345), 0);
  SetXattr(p, "user.obsidian", "pinned");
  SetTimes(p, 1600000000, 123456789);
}

// A small vault folder: nested dirs, a symlink, a hard link pair, an empty
// file, a 300 KiB file, xattrs, modes and times.
void MakeSampleTree(const std::string& root, int extra_files = 3) {
  MakeDirs(root + "/sub/deeper");
  MakeDirs(root + "/empty");
  MakeSampleFile(root + "/note.md");
  WriteFile(root + "/sub/a.md", "alpha");
  WriteFile(root + "/sub/deeper/b.md", "beta");
  WriteFile(root + "/empty.txt", "");
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  WriteFile(root + "/sub/big.bin", big);
  for (int i = 0; i < extra_files; ++i)
    WriteFile(root + "/sub/f" + std::to_string(i), std::to_string(i));
  ASSERT_EQ(symlink("sub/a.md", (root + "/link").c_str()), 0);
  ASSERT_EQ(link((root + "/sub/a.md").c_str(), (root + "/sub/deeper/hard.md").c_str()), 0);
  SetXattr(root + "/sub", "user.folder", "yes");
  ASSERT_EQ(chmod((root + "/sub/deeper").c_str(), 0750), 0);
  SetTimes(root + "/link", 1500000000, 5);
  SetTimes(root + "/sub/deeper", 1400000000, 7);
  SetTimes(root + "/sub", 1400000001, 8);
  SetTimes(root, 1400000002, 9);
}

void Populate(const std::string& dir) {
  WriteFile(dir + "/f", "file f");
  WriteFile(dir + "/g", "file g");
  MakeDirs(dir + "/dir");
  MakeDirs(dir + "/d");
  WriteFile(dir + "/d/x", "x");
  MakeDirs(dir + "/ne");
  WriteFile(dir + "/ne/y", "y");
}

// --- every caller the issue names, file and tree -----------------------------

struct Caller {
  std::string name;
  std::vector<std::string> argv;  // SRC and DST are appended
  std::string probe_fn;           // non-empty: the C probe with this function
};

TEST_F(ShimTest, EveryCallerMovesAFileAndATreeAcrossMounts) {
  std::vector<Caller> callers = {
      {"python os.rename",
       {"python3", "-c", "import os,sys; os.rename(sys.argv[1], sys.argv[2])"},
       ""},
      {"node fs.renameSync",
       {"node", "-e", "require('fs').renameSync(process.argv[1], process.argv[2])"},
       ""},
      {"node fs.promises.rename",
       {"node", "-e",
        "require('fs').promises.rename(process.argv[1], process.argv[2])"
        ".catch(e => { console.error(e.code); process.exit(3); })"},
       ""},
      {"C renameat (dir fds)", {}, "renameat"},
      {"C renameat2 NOREPLACE (dir fds)", {}, "renameat2"},
      {"C rename", {}, "rename"},
  };
  int n = 0;
  for (const auto& c : callers) {
    for (bool tree : {false, true}) {
      SCOPED_TRACE(c.name + (tree ? " (tree)" : " (file)"));
      std::string src = a_ + "/item" + std::to_string(n);
      std::string dst = b_ + "/moved" + std::to_string(n);
      ++n;
      if (tree) {
        MakeDirs(src);
        MakeSampleTree(src);
      } else {
        MakeSampleFile(src);
      }
      std::string before = Describe(src);
      if (!c.probe_fn.empty()) {
        EXPECT_EQ(
            ErrnoName(Probe(c.probe_fn, src, dst, c.probe_fn == "renameat2" ? "noreplace" : "")),
            "OK");
      } else {
        std::vector<std::string> argv = c.argv;
        argv.push_back(src);
        argv.push_back(dst);
        ProcResult r = RunProc(argv, ShimEnv());
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        EXPECT_EQ(r.out + r.err, "") << "the shim never prints";
      }
      EXPECT_FALSE(Exists(src));
      EXPECT_EQ(Describe(dst), before);
      ExpectNoLeftovers();
    }
  }
  // The optional log names every handled move.
  std::string log = ReadFile(box_->Path("shim.log"));
  EXPECT_NE(log.find("moved " + a_ + "/item0 -> " + b_ + "/moved0"), std::string::npos) << log;
  // Without the shim the same call really fails: the mounts are distinct.
  MakeSampleFile(a_ + "/plain");
  EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/plain", b_ + "/plain", "", false)), "EXDEV");
}

TEST_F(ShimTest, TheLibraryExportsOnlyRenameAndNeedsOnlyLibc) {
  ProcResult syms = RunProc({"nm", "-D", "--defined-only", kShim});
  ASSERT_EQ(syms.exit_code, 0) << syms.err;
  std::vector<std::string> names;
  std::istringstream in(syms.out);
  for (std::string line; std::getline(in, line);) names.push_back(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(names, (std::vector<std::string>{"rename", "renameat", "renameat2"}));
  ProcResult dyn = RunProc({"readelf", "-d", kShim});
  ASSERT_EQ(dyn.exit_code, 0) << dyn.err;
  std::vector<std::string> needed;
  std::istringstream din(dyn.out);
  for (std::string line; std::getline(din, line);) {
    auto at = line.find("Shared library: [");
    if (at != std::string::npos) needed.push_back(line.substr(at + 17, line.find(']') - at - 17));
  }
  EXPECT_EQ(needed, (std::vector<std::string>{"libc.so.6"}));
}

TEST_F(ShimTest, ASuccessfulMoveLeavesErrnoAlone) {
  WriteFile(a_ + "/e", "e");
  ProcResult r = RunProc({kProbe, "renameat", a_ + "/e", b_ + "/e"}, ShimEnv());
  EXPECT_EQ(r.out, "0\nerrno_after_success=" + std::to_string(ENOTTY) + "\n");
}

TEST_F(ShimTest, TheLauncherSetsUpTheEnvironment) {
  MakeSampleFile(a_ + "/launched.md");
  std::string before = Describe(a_ + "/launched.md");
  ProcResult r = RunProc({std::string(VAULTD_BIN_DIR) + "/vaultd-launch", "python3", "-c",
                          "import os,sys; assert os.environ['UV_USE_IO_URING'] == '0'; "
                          "os.rename(sys.argv[1], sys.argv[2])",
                          a_ + "/launched.md", b_ + "/launched.md"},
                         {"VAULTD_SHIM_ROOTS=" + vault_, "VAULTD_JOURNAL_DIR=" + journal_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Describe(b_ + "/launched.md"), before);
  EXPECT_EQ(RunProc({std::string(VAULTD_BIN_DIR) + "/vaultd-launch", "--help"}).exit_code, 0);
}

TEST_F(ShimTest, RelativePathsResolveAgainstTheWorkingDirectory) {
  MakeSampleFile(a_ + "/rel.md");
  std::string before = Describe(a_ + "/rel.md");
  ProcResult r =
      RunProc({"python3", "-c",
               "import os,sys; os.chdir(sys.argv[1]); os.rename('rel.md', '../b/./rel.md')", a_},
              ShimEnv());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Describe(b_ + "/rel.md"), before);
  EXPECT_FALSE(Exists(a_ + "/rel.md"));
}

// --- the errno table ---------------------------------------------------------

struct ErrCase {
  std::string what, fn, flag, src, dst, expected;
};

TEST_F(ShimTest, ErrnoTableMatchesTheSameCallInsideOneMount) {
  std::string r = box_->MountTmpfs("vault/r");
  Populate(r);
  box_->RemountReadOnly("vault/r");
  Populate(a_);
  Populate(b_);
  // A directory with a mount point inside it, for "into its own subtree".
  MakeDirs(a_ + "/tree/sub");
  box_->MountTmpfs("vault/a/tree/inner");
  std::vector<ErrCase> cases = {
      {"missing source", "rename", "", "a/missing", "b/new", "ENOENT"},
      {"NOREPLACE onto an existing file", "renameat2", "noreplace", "a/f", "b/g", "EEXIST"},
      {"file over a directory", "rename", "", "a/f", "b/dir", "EISDIR"},
      {"directory over a file", "rename", "", "a/d", "b/g", "ENOTDIR"},
      {"directory over a non-empty directory", "rename", "", "a/d", "b/ne", "ENOTEMPTY"},
      {"source on a read-only mount", "rename", "", "r/f", "b/new", "EROFS"},
      {"destination on a read-only mount", "renameat", "", "a/f", "r/new", "EROFS"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::string before = Describe(vault_);
    int cross = Probe(c.fn, vault_ + "/" + c.src, vault_ + "/" + c.dst, c.flag);
    EXPECT_EQ(Describe(vault_), before) << "both sides must be unchanged";
    // The same call inside one mount: the destination's folder name swapped
    // for the source's ("b/new" -> "a/new"; the ro cases stay inside r).
    std::string same_src = c.src, same_dst = c.dst;
    std::string mount = c.src.substr(0, 1) == "r" || c.dst.substr(0, 1) == "r" ? "r" : "a";
    same_src[0] = mount[0];
    same_dst[0] = mount[0];
    if (c.what == "destination on a read-only mount") same_src = "r/f";
    int same = Probe(c.fn, vault_ + "/" + same_src, vault_ + "/" + same_dst, c.flag, false);
    EXPECT_EQ(ErrnoName(cross), ErrnoName(same)) << same_src << " -> " << same_dst;
    EXPECT_EQ(ErrnoName(cross), c.expected);
    EXPECT_EQ(Describe(vault_), before);
  }
  {
    SCOPED_TRACE("directory into its own subtree");
    std::string before = Describe(vault_);
    int cross = Probe("rename", a_ + "/tree", a_ + "/tree/inner/x");
    int same = Probe("rename", a_ + "/tree", a_ + "/tree/sub/x", "", false);
    EXPECT_EQ(ErrnoName(cross), ErrnoName(same));
    EXPECT_EQ(ErrnoName(cross), "EINVAL");
    EXPECT_EQ(Describe(vault_), before);
  }
  for (std::string flag : {"exchange", "whiteout"}) {
    SCOPED_TRACE("RENAME_" + flag);
    std::string before = Describe(vault_);
    int shim = Probe("renameat2", a_ + "/f", b_ + (flag == "exchange" ? "/g" : "/new"), flag);
    int plain =
        Probe("renameat2", a_ + "/f", b_ + (flag == "exchange" ? "/g" : "/new"), flag, false);
    EXPECT_EQ(ErrnoName(shim), ErrnoName(plain));
    EXPECT_EQ(ErrnoName(shim), "EXDEV");
    EXPECT_EQ(Describe(vault_), before);
  }
}

// Obsidian runs as an ordinary user: permissions are checked like rename(2)
// checks them, and a user's own move works with a journal of their own.
TEST_F(ShimTest, AnOrdinaryUserGetsEaccesAndMovesTheirOwnNotes) {
  const std::string user = "1000";
  for (const std::string& side : {a_, b_}) {
    MakeDirs(side + "/locked");
    MakeDirs(side + "/open");
    ASSERT_EQ(chmod((side + "/open").c_str(), 0777), 0);
    WriteFile(side + "/locked/f", "root's");
  }
  WriteFile(a_ + "/open/mine.md", "my note");
  ASSERT_EQ(chown((a_ + "/open/mine.md").c_str(), 1000, 1000), 0);
  std::string ujournal = box_->Path("user-state/journal");
  MakeDirs(ujournal);
  ASSERT_EQ(chown(ujournal.c_str(), 1000, 1000), 0);
  ASSERT_EQ(chmod(box_->root().c_str(), 0755), 0);
  auto as_user = [&](const std::string& src, const std::string& dst, bool preload) {
    std::vector<std::string> env = ShimEnv();
    env.push_back("VAULTD_JOURNAL_DIR=" + ujournal);
    if (!preload) env = {};
    ProcResult r = RunProc({"setpriv", "--reuid=" + user, "--regid=" + user, "--clear-groups",
                            kProbe, "rename", src, dst},
                           env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ErrnoName(std::atoi(r.out.c_str()));
  };
  std::string before = Describe(vault_);
  std::string cross = as_user(a_ + "/locked/f", b_ + "/open/f", true);
  std::string same = as_user(a_ + "/locked/f", a_ + "/open/f", false);
  EXPECT_EQ(cross, same);
  EXPECT_EQ(cross, "EACCES");
  EXPECT_EQ(as_user(a_ + "/open/mine.md", b_ + "/locked/mine.md", true),
            as_user(a_ + "/open/mine.md", a_ + "/locked/mine.md", false));
  EXPECT_EQ(Describe(vault_), before);
  std::string mine = Describe(a_ + "/open/mine.md");
  EXPECT_EQ(as_user(a_ + "/open/mine.md", b_ + "/open/mine.md", true), "OK");
  EXPECT_EQ(Describe(b_ + "/open/mine.md"), mine);
  EXPECT_FALSE(Exists(a_ + "/open/mine.md"));
  // The user's folder with a read-only folder inside: rename(2) moves it, so must we.
  std::string folder = a_ + "/open/project";
  MakeDirs(folder + "/frozen");
  WriteFile(folder + "/frozen/spec.md", "frozen spec");
  ASSERT_EQ(std::system(("chown -R 1000:1000 '" + folder + "'").c_str()), 0);
  ASSERT_EQ(chmod((folder + "/frozen").c_str(), 0555), 0);
  std::string tree = Describe(folder);
  EXPECT_EQ(as_user(folder, b_ + "/open/project", true), "OK");
  EXPECT_EQ(Describe(b_ + "/open/project"), tree);
  EXPECT_FALSE(Exists(folder));
  // A folder holding a file its owner cannot read: rename(2) would move it,
  // a copy cannot. The caller gets EXDEV (what it gets without the shim), not
  // the copy's EACCES, which rename(2) never returns for that; nothing changes.
  std::string sealed = a_ + "/open/sealed";
  MakeDirs(sealed);
  WriteFile(sealed + "/private.md", "not readable");
  ASSERT_EQ(std::system(("chown -R 1000:1000 '" + sealed + "'").c_str()), 0);
  ASSERT_EQ(chmod((sealed + "/private.md").c_str(), 0), 0);
  before = Describe(vault_);
  EXPECT_EQ(as_user(sealed, b_ + "/open/sealed", true), "EXDEV");
  EXPECT_EQ(Describe(vault_), before);
  EXPECT_TRUE(TempLeftovers(b_ + "/open").empty());
  EXPECT_EQ(as_user(sealed + "/private.md", b_ + "/open/private.md", true), "EXDEV");
  EXPECT_EQ(Describe(vault_), before);
  EXPECT_EQ(as_user(sealed, a_ + "/open/sealed-renamed", false), "OK");
}

TEST_F(ShimTest, PathsOutsideTheRootsStillGetExdev) {
  std::string c = box_->MountTmpfs("other/c");
  box_->MountTmpfs("other/d");
  WriteFile(c + "/f", "outside");
  WriteFile(a_ + "/f", "inside");
  auto state = [&] { return Describe(vault_) + Describe(box_->Path("other")); };
  std::string before = state();
  EXPECT_EQ(ErrnoName(Probe("rename", c + "/f", box_->Path("other/d/f"))), "EXDEV");
  EXPECT_EQ(ErrnoName(Probe("rename", a_ + "/f", box_->Path("other/d/f"))), "EXDEV");
  EXPECT_EQ(ErrnoName(Probe("rename", c + "/f", b_ + "/f")), "EXDEV");
  // A journal inside the roots is refused: the move would sync its own journal.
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_JOURNAL_DIR=" + a_ + "/.journal");
  ProcResult r = RunProc({kProbe, "rename", a_ + "/f", b_ + "/f"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  // ... and so is a journal that is one of the roots itself (existing or not
  // yet, with or without a trailing slash).
  std::string c_root = c + "/j";
  for (const std::string& journal : {a_, a_ + "/", c_root, c_root + "//"}) {
    SCOPED_TRACE(journal);
    env = ShimEnv();
    env.push_back("VAULTD_SHIM_ROOTS=" + a_ + ":" + b_ + ":" + c_root);
    env.push_back("VAULTD_JOURNAL_DIR=" + journal);
    r = RunProc({kProbe, "rename", a_ + "/f", b_ + "/f"}, env);
    EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  }
  EXPECT_EQ(state(), before);
}

TEST_F(ShimTest, RootsAreAListAndMayBeSymlinks) {
  ASSERT_EQ(symlink(vault_.c_str(), box_->Path("vault-link").c_str()), 0);
  WriteFile(a_ + "/one", "1");
  WriteFile(a_ + "/two", "2");
  // Two roots, one per folder; the paths are given through a symlink.
  std::vector<std::string> env = ShimEnv();
  env.push_back("VAULTD_SHIM_ROOTS=" + a_ + ":" + box_->Path("vault-link") + "/b/");
  ProcResult r = RunProc({kProbe, "rename", box_->Path("vault-link/a/one"), b_ + "/one"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "OK");
  EXPECT_EQ(ReadFile(b_ + "/one"), "1");
  // Only one of the two folders is a root: not ours.
  env.back() = "VAULTD_SHIM_ROOTS=" + a_;
  r = RunProc({kProbe, "rename", a_ + "/two", b_ + "/two"}, env);
  EXPECT_EQ(ErrnoName(std::atoi(r.out.c_str())), "EXDEV");
  EXPECT_EQ(ReadFile(a_ + "/two"), "2");
}

TEST_F(ShimTest, BindMountsOfOneFilesystemMoveToo) {
  // Two bind mounts of one directory tree of the root file system: the
  // kernel says EXDEV although it is one file system (copy_file_range works).
  MakeDirs(box_->Path("disk/x"));
  MakeDirs(box_->Path("disk/y"));
  std::string x = box_->Bind("disk/x", "vault/x");
  std::string y = box_->Bind("disk/y", "vault/y");
  MakeDirs(x + "/t");
  MakeSampleTree(x + "/t");
  std::string before = Describe(x + "/t");
  EXPECT_EQ(ErrnoName(Probe("rename", x + "/t", y + "/t", "", false)), "EXDEV");
  EXPECT_EQ(ErrnoName(Probe("rename", x + "/t", y + "/t")), "OK");
  EXPECT_EQ(Describe(y + "/t"), before);
  EXPECT_FALSE(Exists(x + "/t"));
}

// --- concurrency ---------------------------------------------------------------

TEST_F(ShimTest, ManyThreadsAndProcessesMoveAtOnce) {
  const int kProcs = 3, kThreads = 6, kFiles = kSanitized ? 8 : 15;
  for (int p = 0; p < kProcs; ++p) {
    for (int t = 0; t < kThreads; ++t) {
      for (int f = 0; f < kFiles; ++f) {
        WriteFile(a_ + "/p" + std::to_string(p) + "t" + std::to_string(t) + "f" + std::to_string(f),
                  std::string(1000 + f, static_cast<char>('a' + t)));
      }
    }
  }
  std::string script =
      "import os,sys,threading\n"
      "a,b,p,T,F=sys.argv[1],sys.argv[2],sys.argv[3],int(sys.argv[4]),int(sys.argv[5])\n"
      "errs=[]\n"
      "def work(t):\n"
      "  for f in range(F):\n"
      "    n='p%st%df%d'%(p,t,f)\n"
      "    try: os.rename(a+'/'+n, b+'/'+n)\n"
      "    except OSError as e: errs.append(str(e))\n"
      "th=[threading.Thread(target=work,args=(t,)) for t in range(T)]\n"
      "[x.start() for x in th]; [x.join() for x in th]\n"
      "print('\\n'.join(errs)); sys.exit(1 if errs else 0)\n";
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pids.push_back(Spawn({"python3", "-c", script, a_, b_, std::to_string(p),
                          std::to_string(kThreads), std::to_string(kFiles)},
                         ShimEnv()));
  }
  for (pid_t pid : pids) {
    ProcResult r = Wait(pid);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  for (int p = 0; p < kProcs; ++p) {
    for (int t = 0; t < kThreads; ++t) {
      for (int f = 0; f < kFiles; ++f) {
        std::string n = "p" + std::to_string(p) + "t" + std::to_string(t) + "f" + std::to_string(f);
        EXPECT_FALSE(Exists(a_ + "/" + n));
        EXPECT_EQ(ReadFile(b_ + "/" + n), std::string(1000 + f, static_cast<char>('a' + t)));
      }
    }
  }
  ExpectNoLeftovers();
}

// --- crash safety ------------------------------------------------------------

enum class Shape { kFile, kTree };

struct Scenario {
  std::string src, dst, src_before, dst_before;
};

class ShimCrashTest : public ShimTest {
 protected:
  Scenario Prepare(Shape shape, bool dst_exists, int extra_files = 3) {
    ClearDir(a_);
    ClearDir(b_);
    Scenario s{a_ + "/item", b_ + "/item", "", ""};
    if (shape == Shape::kFile) {
      MakeSampleFile(s.src, "a note that must survive any crash\n");
      if (dst_exists) WriteFile(s.dst, "the old destination\n");
    } else {
      MakeDirs(s.src);
      MakeSampleTree(s.src, extra_files);
      if (dst_exists) MakeDirs(s.dst);  // rename may replace an empty directory
    }
    s.src_before = Describe(s.src);
    s.dst_before = Describe(s.dst);
    return s;
  }

  ProcResult MoveWithCrash(const Scenario& s, const std::string& crash_at) {
    return RunProc({kTool, s.src, s.dst, "--journal", journal_},
                   {"VAULTD_MOVE_CRASH_AT=" + crash_at});
  }

  // After recovery the data is in exactly one place, complete. Returns true
  // when it ended at the destination.
  bool ExpectResolved(const Scenario& s, const std::string& context, bool check_idempotent = true) {
    ProcResult rec = Recover();
    EXPECT_EQ(rec.exit_code, 0) << context << "\n" << rec.out << rec.err;
    bool moved = !Exists(s.src);
    if (moved) {
      EXPECT_EQ(Describe(s.dst), s.src_before) << context;
    } else {
      EXPECT_EQ(Describe(s.src), s.src_before) << context;
      EXPECT_EQ(Describe(s.dst), s.dst_before) << context;
    }
    ExpectNoLeftovers();
    if (!check_idempotent) return moved;
    ProcResult again = Recover();
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_EQ(again.out, "") << "recover must be idempotent (" << context << ")";
    return moved;
  }
};

TEST_F(ShimCrashTest, SigkillAtEveryJournalPhaseThenRecover) {
  const char* phases[] = {"prepared", "copy",      "copied", "committing",
                          "renamed",  "committed", "delete", "deleted"};
  for (Shape shape : {Shape::kFile, Shape::kTree}) {
    for (bool dst_exists : {false, true}) {
      for (const char* phase : phases) {
        std::string ctx = std::string(shape == Shape::kFile ? "file" : "tree") +
                          (dst_exists ? ", existing destination" : "") + ", crash at " + phase;
        SCOPED_TRACE(ctx);
        Scenario s = Prepare(shape, dst_exists);
        ProcResult r = MoveWithCrash(s, phase);
        ASSERT_EQ(r.signal, SIGKILL) << "the seam did not fire: " << r.out << r.err;
        ASSERT_FALSE(JournalFiles(journal_).empty()) << "a crash must leave a record";
        bool moved = ExpectResolved(s, ctx);
        bool committed = std::string(phase) == "renamed" || std::string(phase) == "committed" ||
                         std::string(phase) == "delete" || std::string(phase) == "deleted";
        EXPECT_EQ(moved, committed);
      }
    }
  }
}

TEST_F(ShimCrashTest, RecoveryKilledMidwayIsRecoveredAgain) {
  for (const char* phase : {"copy", "committed"}) {
    SCOPED_TRACE(phase);
    Scenario s = Prepare(Shape::kTree, false, 5);
    ASSERT_EQ(MoveWithCrash(s, phase).signal, SIGKILL);
    // Kill the recovery itself in the middle of removing the copy / the source.
    ProcResult r = RunProc({kVaultd, "recover", "--journal", journal_},
                           {std::string("VAULTD_MOVE_CRASH_AT=") +
                            (std::string(phase) == "copy" ? "recover-rolledback" : "3")});
    EXPECT_EQ(r.signal, SIGKILL) << r.out << r.err;
    EXPECT_FALSE(JournalFiles(journal_).empty());
    EXPECT_EQ(ExpectResolved(s, phase), std::string(phase) == "committed");
  }
}

TEST_F(ShimCrashTest, RandomizedCrashPoints) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("VAULTD_TEST_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::cout << "RandomizedCrashPoints seed=" << seed << " (replay: VAULTD_TEST_SEED=" << seed
            << ")\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);
  const int kWanted = 200;
  int crashes = 0, moved = 0, iterations = 0;
  while (crashes < kWanted && iterations < 2 * kWanted) {
    ++iterations;
    Shape shape = rng() % 3 == 0 ? Shape::kFile : Shape::kTree;
    bool dst_exists = rng() % 2 == 0;
    int extra = static_cast<int>(rng() % 6);
    Scenario s = Prepare(shape, dst_exists, extra);
    // Steps: prepared, one per copied entry, copied, committing, renamed,
    // committed, one per deleted entry, deleted.
    int entries = shape == Shape::kFile ? 1 : 11 + extra;
    int steps = 2 * entries + 6;
    int at = 1 + static_cast<int>(rng() % static_cast<unsigned>(steps));
    std::string ctx = "seed=" + std::to_string(seed) + " iteration=" + std::to_string(iterations) +
                      " crash_at=" + std::to_string(at);
    ProcResult r = MoveWithCrash(s, std::to_string(at));
    if (r.signal == SIGKILL) ++crashes;
    // A second recover (idempotence) on every tenth run: it is checked at
    // every phase above, and process starts dominate the time under ASan.
    if (ExpectResolved(s, ctx, iterations % 10 == 0)) ++moved;
    if (HasFailure()) {
      std::cout << "first failure at " << ctx << "\n";
      break;
    }
  }
  std::cout << "crash points: " << crashes << " in " << iterations << " runs, " << moved
            << " ended moved\n";
  EXPECT_GE(crashes, kWanted);
}

TEST_F(ShimCrashTest, KillDashNineDuringA300MBMove) {
  std::string ref_dir = box_->MountTmpfs("ref");
  std::string ref = ref_dir + "/big";
  {
    std::mt19937_64 gen(42);
    std::string block(1 << 20, '\0');
    for (auto& ch : block) ch = static_cast<char>(gen());
    int fd = open(ref.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 300; ++i) {
      std::memcpy(block.data(), &i, sizeof i);
      ASSERT_EQ(write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
    }
    close(fd);
  }
  std::string src = a_ + "/big", dst = b_ + "/big";
  auto fresh = [&] {
    ClearDir(a_);
    ClearDir(b_);
    ASSERT_EQ(RunProc({"cp", "--preserve=all", ref, src}).exit_code, 0);
  };
  // One undisturbed run to learn how long a move takes here.
  fresh();
  auto t0 = std::chrono::steady_clock::now();
  ProcResult r = RunProc({kTool, src, dst, "--journal", journal_});
  double full_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(RunProc({"cmp", "-s", ref, dst}).exit_code, 0);
  std::cout << "300 MB move: " << full_ms << " ms (" << r.out.substr(0, r.out.size() - 1) << ")\n";

  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("VAULTD_TEST_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::cout << "KillDashNine seed=" << seed << "\n";
  std::mt19937 rng(seed);
  const int kRuns = kSanitized ? 3 : 5;
  for (int i = 0; i < kRuns; ++i) {
    fresh();
    long delay_us = static_cast<long>(rng() % static_cast<unsigned>(full_ms * 1100 + 1));
    SCOPED_TRACE("seed=" + std::to_string(seed) + " kill after " + std::to_string(delay_us) +
                 " us");
    pid_t pid = Spawn({kTool, src, dst, "--journal", journal_}, {});
    // The random instant is the point of the test, not a synchronisation.
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&ts, nullptr);
    kill(pid, SIGKILL);
    ProcResult killed = Wait(pid);
    ProcResult rec = Recover();
    EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
    bool at_src = Exists(src), at_dst = Exists(dst);
    EXPECT_NE(at_src, at_dst) << "the data must be in exactly one place";
    EXPECT_EQ(RunProc({"cmp", "-s", ref, at_src ? src : dst}).exit_code, 0) << "incomplete data";
    std::cout << "kill after " << delay_us / 1000
              << " ms: " << (killed.signal ? "killed" : "finished first") << ", data at "
              << (at_src ? "source" : "destination") << " | " << rec.out;
    ExpectNoLeftovers();
  }
}

TEST_F(ShimTest, RecoverReportsACorruptRecordAndLeavesItAlone) {
  WriteFile(journal_ + "/1-2-3-00000000deadbeef.move",
            "vaultd-move-journal 1\nphase copied\nchecksum 0\n");
  ProcResult r = Recover();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("corrupt record"), std::string::npos) << r.out;
  EXPECT_TRUE(Exists(journal_ + "/1-2-3-00000000deadbeef.move"));
  ProcResult help = RunProc({kVaultd, "recover", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(RunProc({kVaultd, "recover", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace vaultd::shimtest
