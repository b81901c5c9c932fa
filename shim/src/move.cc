// The journaled cross-device move. Phases (docs/move-journal.md):
//   prepared  -> copy into <dst dir>/.vaultd-move-<id>.tmp
//   copied    -> the copy is complete and durable; re-check the source, then
//                rename(tmp, dst) on the destination's mount, make it durable,
//                delete the source entries that are unchanged, drop the record
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <ctime>

#include "copy.h"
#include "journal.h"
#include "precheck.h"
#include "source.h"
#include "vaultd/shim/move.h"

namespace vaultd::move {
namespace internal {
namespace {

int64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void Pause(long* us) {
  struct timespec ts = {0, *us * 1000};
  nanosleep(&ts, nullptr);
  if (*us < 10000) *us *= 2;
}

// How long a move waits for a lock another mover holds before it gives up
// with EXDEV (the caller then does what it does without the shim).
int64_t LockDeadline() {
  long ms = 10000;
  if (const char* v = getenv("VAULTD_MOVE_LOCK_WAIT_MS")) {
    char* end = nullptr;
    long n = strtol(v, &end, 10);
    if (end && *end == '\0' && n >= 0) ms = n;
  }
  return MonoNs() + static_cast<int64_t>(ms) * 1000000;
}

// A POSIX record lock on the whole file, without waiting. POSIX locks, not
// flock or OFD locks: they belong to the process, so a child forked (without
// exec) during a move does not inherit them, and cannot keep other moves or
// recovery waiting after its parent finished or died.
bool TryLockFile(int fd) {
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return fcntl(fd, F_SETLK, &fl) == 0;
}

// A journal lock file: never blocks on whatever else may sit under the name.
int OpenLockFile(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -EINVAL;
  }
  return fd;
}

constexpr unsigned kStripes = 64;
// Which process's thread holds each stripe (0: none). POSIX locks do not
// exclude threads of one process, this does; a value other than our pid is a
// parent's, copied by fork(), and held by nobody here.
std::atomic<int> g_stripe_holder[kStripes];
// Moves running in this process, for a recovery run in the same process.
std::atomic<int> g_active_moves{0};

// Serialises moves of the same objects across threads and processes: 64
// stripe locks in the journal directory, taken in ascending order. A move
// holds the stripe of its source object (device and inode: two names of one
// file through two bind mounts are one stripe) and of its destination (the
// destination folder's device and inode, and the name).
struct StripeLocks {
  int fds[2] = {-1, -1};
  int held[2] = {-1, -1};
  ~StripeLocks() { Release(); }
  void Release() {
    for (int i = 0; i < 2; ++i) {
      if (fds[i] >= 0) close(fds[i]);  // closing releases the POSIX lock
      if (held[i] >= 0) g_stripe_holder[held[i]].store(0, std::memory_order_release);
      fds[i] = held[i] = -1;
    }
  }
  int Lock(const char* journal, unsigned sa, unsigned sb, int64_t deadline) {
    unsigned order[2] = {sa < sb ? sa : sb, sa < sb ? sb : sa};
    for (int i = 0; i < 2; ++i) {
      if (i == 1 && order[1] == order[0]) break;
      unsigned s = order[i];
      int me = static_cast<int>(getpid());
      long pause_us = 100;
      for (;;) {
        int cur = g_stripe_holder[s].load(std::memory_order_acquire);
        if (cur != me && g_stripe_holder[s].compare_exchange_strong(cur, me)) break;
        if (MonoNs() >= deadline) return -EAGAIN;
        Pause(&pause_us);
      }
      held[i] = static_cast<int>(s);
      char p[PATH_MAX];
      if (snprintf(p, sizeof p, "%s/stripe-%02u.lock", journal, s) >= PATH_MAX) {
        return -ENAMETOOLONG;
      }
      fds[i] = OpenLockFile(p);
      if (fds[i] < 0) return fds[i];
      pause_us = 100;
      while (!TryLockFile(fds[i])) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) return -errno;
        if (MonoNs() >= deadline) return -EAGAIN;  // held by someone for too long
        Pause(&pause_us);
      }
    }
    return 0;
  }
};

unsigned StripeOf(uint64_t a, uint64_t b, const char* name) {
  uint64_t h = Fnv1a64(reinterpret_cast<const char*>(&a), sizeof a);
  h = Fnv1a64(reinterpret_cast<const char*>(&b), sizeof b, h);
  if (name) h = Fnv1a64(name, strlen(name), h);
  return static_cast<unsigned>(h % kStripes);
}

// The per-move liveness lock: held while the move runs, so recovery can tell
// a crashed move from one still in progress.
struct MoveLock {
  int fd = -1;
  char path[PATH_MAX] = {0};
  int Lock(const char* journal, const char* id) {
    if (snprintf(path, sizeof path, "%s/%s.lock", journal, id) >= PATH_MAX) return -ENAMETOOLONG;
    for (int attempt = 0; attempt < 100; ++attempt) {
      fd = OpenLockFile(path);
      if (fd < 0) return fd;
      // The id is new: only a recovery checking the file holds it, briefly.
      long pause_us = 100;
      int64_t deadline = MonoNs() + 1000000000;
      while (!TryLockFile(fd)) {
        if (MonoNs() >= deadline) {
          close(fd);
          fd = -1;
          return -EAGAIN;
        }
        Pause(&pause_us);
      }
      // Recovery may have removed the file between our open and our lock
      // (it saw no record yet): only a lock on the linked file counts.
      struct stat held, named;
      if (fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino &&
          held.st_dev == named.st_dev) {
        return 0;
      }
      close(fd);
      fd = -1;
    }
    return -EAGAIN;
  }
  ~MoveLock() {
    if (fd >= 0) {
      unlink(path);
      close(fd);
    }
  }
};

struct ActiveMove {
  ActiveMove() { g_active_moves.fetch_add(1); }
  ~ActiveMove() { g_active_moves.fetch_sub(1); }
};

// What the caller of rename() gets when the snapshot or the copy fails.
// Errors that rename(2) itself can report for the move stay (a full disk, a
// quota, the source changing under us, a read-only remount, an I/O error).
// Others come from reading or recreating the objects one by one (EACCES on a
// file the owner cannot read, EPERM on a device node, ...), which a real
// rename never does: the caller gets EXDEV, what it gets without the shim,
// and handles that as it always has.
int CopyErrorAsRename(int r) {
  switch (-r) {
    case ENOSPC:
    case EDQUOT:
    case EBUSY:
    case ENOMEM:
    case EMLINK:
    case EROFS:
    case EIO:
      return r;
    default:
      return -EXDEV;
  }
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// True when some regular file of the tree is larger than RLIMIT_FSIZE allows:
// writing it would raise SIGXFSZ, which kills the caller. rename(2) has no
// such limit; the caller gets EXDEV, as without the shim.
bool ExceedsFileSizeLimit(const Tree& t) {
  uint64_t largest = 0;
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    if (S_ISREG(e.mode) && e.size > largest) largest = e.size;
  }
  return !FitsFileSizeLimit(largest);
}

struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int LockAndCheck(const Paths& p, unsigned flags, const char* journal, StripeLocks* stripes,
                 Entry* src, Entry* dst, bool* dst_exists) {
  int64_t deadline = LockDeadline();
  for (int attempt = 0; attempt < 5; ++attempt) {
    Entry dst_dir;
    if (StatEntry(p.dst_parent, &dst_dir) != 0) return -EXDEV;
    uint64_t dev = src->dev, ino = src->ino;
    if (stripes->Lock(journal, StripeOf(dev, ino, nullptr),
                      StripeOf(dst_dir.dev, dst_dir.ino, p.dst_name), deadline) != 0) {
      return -EXDEV;  // cannot lock (or waited too long): behave as without the shim
    }
    // Under the lock the world may have changed (another mover went first:
    // the source is gone, ENOENT, as for the loser of two renames).
    int r = Precheck(p, flags, src, dst, dst_exists);
    if (r != 0) return r;
    if (src->dev == dev && src->ino == ino) return 0;
    stripes->Release();  // another object under the name now: lock its stripe instead
  }
  return -EXDEV;
}

int RunMove(const Paths& p, unsigned flags, const char* journal, MoveStats* stats) {
  CrashSeam seam;
  seam.Init();
  ActiveMove active;
  Entry src, dst;
  bool dst_exists = false;
  // Errors first, without side effects (not even creating the journal).
  int r = Precheck(p, flags, &src, &dst, &dst_exists);
  if (r != 0) return r > 0 ? 0 : r;
  if (MkdirAll(journal) != 0) return -EXDEV;  // cannot journal: behave as without the shim
  StripeLocks stripes;
  int64_t snapshot_ns = NowNs();
  r = LockAndCheck(p, flags, journal, &stripes, &src, &dst, &dst_exists);
  if (r != 0) return r > 0 ? 0 : r;

  Tree tree;
  r = Snapshot(p.src, src, &tree);
  if (r != 0) return CopyErrorAsRename(r);
  if (ExceedsFileSizeLimit(tree)) return -EXDEV;

  // Everything in the destination folder is done relative to it: the temp
  // copy's path may be longer than PATH_MAX where the destination's is not.
  Fd dir;
  dir.fd = open(p.dst_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir.fd < 0) return -EXDEV;

  Record* rec = static_cast<Record*>(calloc(1, sizeof(Record)));
  if (!rec) return -ENOMEM;
  *rec = Record();
  struct Freer {
    Record* r;
    ~Freer() { free(r); }
  } freer{rec};
  if (MoveId(rec->id, sizeof rec->id) != 0) return -EXDEV;
  MoveLock live;
  if (live.Lock(journal, rec->id) != 0) return -EXDEV;
  rec->kind = KindOf(src.mode);
  rec->flags = flags;
  strcpy(rec->src, p.src);
  strcpy(rec->dst, p.dst);
  char tmp_name[NAME_MAX + 1];
  if (MoveTempName(tmp_name, sizeof tmp_name, rec->id, "tmp") != 0) return -EXDEV;
  if (snprintf(rec->tmp, sizeof rec->tmp, "%s%s%s", p.dst_parent,
               strcmp(p.dst_parent, "/") == 0 ? "" : "/", tmp_name) >= int{sizeof rec->tmp}) {
    return -EXDEV;
  }
  rec->src_id = src;
  rec->dst_existed = dst_exists;
  rec->entry_count = static_cast<long>(tree.entries.size);
  rec->started_ns = NowNs();
  rec->phase = Phase::kPrepared;
  Fd jfd;
  if (CreateRecord(journal, *rec, &jfd.fd) != 0) return -EXDEV;
  seam.Step("prepared");

  auto rollback = [&](int err) {
    // Step a "copied" record back before its temp copy goes: a crash in between
    // must not leave a "copied" record without its copy (recovery could not
    // decide it, and a reused inode number could even look like our copy).
    if (rec->phase == Phase::kCopied) {
      rec->phase = Phase::kPrepared;
      // On failure the record may still say "copied" with the copy intact:
      // recovery rolls that back too (the temp name is still there).
      if (AppendPhase(jfd.fd, Phase::kPrepared, 0) != 0) return err;
    }
    // On failure the record stays; recovery retries the removal.
    if (RemoveTreeAt(dir.fd, tmp_name) != 0) return err;
    fsync(dir.fd);
    RemoveRecordFiles(journal, rec->id);
    return err;
  };

  CopyState cs;
  r = CopyTree(tree, p.src, dir.fd, tmp_name, &cs, &seam);
  if (r == 0 && fsync(dir.fd) != 0) r = -errno;
  if (r != 0) return rollback(CopyErrorAsRename(r));
  Entry tmp_e;
  if (StatEntryAt(dir.fd, tmp_name, &tmp_e) != 0) return rollback(-EIO);
  rec->tmp_ino = tmp_e.ino;
  // A journal that cannot take the entries list or the phase (full, quota,
  // I/O error) is the shim's problem, not the caller's: EXDEV, as without it.
  if (tree.entries.size > 1 && WriteEntries(journal, rec->id, tree) != 0) return rollback(-EXDEV);
  // Set before the append: if the append fails half-way, the rollback steps
  // the record back to prepared whatever reached the disk.
  rec->phase = Phase::kCopied;
  if (AppendPhase(jfd.fd, Phase::kCopied, rec->tmp_ino) != 0) return rollback(-EXDEV);
  seam.Step("copied");

  // Delete the source only if it is what we copied: otherwise nothing moves.
  if (!Unchanged(p.src, tree)) return rollback(-EBUSY);

  // No record for "about to rename": recovery tells the two outcomes of the
  // rename apart by whether the temp name still exists (tmp_ino).
  seam.Step("committing");
  if (flags & kRenameNoReplace) {
    r = SysRenameat2(dir.fd, tmp_name, dir.fd, p.dst_name, RENAME_NOREPLACE);
    if (r == -EINVAL && !S_ISDIR(src.mode)) {
      // A file system without RENAME_NOREPLACE: link() refuses an existing name atomically.
      r = linkat(dir.fd, tmp_name, dir.fd, p.dst_name, 0) == 0 ? 0 : -errno;
      // Both names are now the finished copy; recovery rolls forward when dst is it.
      if (r == 0 && unlinkat(dir.fd, tmp_name, 0) != 0) return 0;  // the record stays
    } else if (r == -EINVAL) {
      // No atomic way for a directory there: check, then rename (a narrow race, documented).
      Entry there;
      r = StatEntryAt(dir.fd, p.dst_name, &there) == 0
              ? -EEXIST
              : SysRenameat2(dir.fd, tmp_name, dir.fd, p.dst_name, 0);
    }
  } else {
    r = SysRenameat2(dir.fd, tmp_name, dir.fd, p.dst_name, 0);
  }
  if (r != 0) return rollback(r);
  seam.Step("renamed");
  // The source goes only after the rename is durable. No record is written
  // for it: "copied" with our inode at dst already means "roll forward". If
  // the fsync fails, keep the record and the source for recovery.
  if (fsync(dir.fd) != 0) return 0;
  seam.Step("committed");

  long kept = 0;
  Mover mover{p.dst, rec->id, snapshot_ns};
  // If the deletion cannot be made durable, keep the record: recovery
  // finishes it (deleting what is left is idempotent).
  if (DeleteSource(p.src, tree, &mover, &seam, &kept) != 0) return 0;
  seam.Step("deleted");
  RemoveRecordFiles(journal, rec->id);
  if (stats) {
    stats->entries = static_cast<long>(tree.entries.size);
    stats->kept_changed = kept;
    stats->recopied = mover.recopied;
    stats->syncs_ahead = cs.syncs_ahead;
    unsigned u = cs.used;
    stats->data_path = u == 0   ? ""
                       : u == 1 ? "ficlone"
                       : u == 2 ? "copy_file_range"
                       : u == 4 ? "sendfile"
                       : u == 8 ? "read-write"
                                : "mixed";
    stats->steps = seam.step;
  }
  // The source vanished after the re-check (renamed away by someone else):
  // its copy is gone again, and this rename lost the race, as it would have.
  return mover.root_vanished ? -ENOENT : 0;
}

}  // namespace

bool MovesRunInThisProcess() { return g_active_moves.load() > 0; }

}  // namespace internal

int MovePaths(const char* src, const char* dst, unsigned flags, const char* journal_dir,
              MoveStats* stats) {
  using namespace internal;
  if (!journal_dir || journal_dir[0] != '/') return -EINVAL;
  Paths* p = static_cast<Paths*>(calloc(1, sizeof(Paths)));
  if (!p) return -ENOMEM;
  int r = SetupPaths(src, dst, p);
  if (r == 0) r = RunMove(*p, flags, journal_dir, stats);
  free(p);
  return r;
}

int DefaultJournalDir(char* out, size_t size) {
  const char* v = getenv("VAULTD_JOURNAL_DIR");
  int n;
  if (v && *v) {
    n = snprintf(out, size, "%s", v);
  } else if ((v = getenv("XDG_STATE_HOME")) && v[0] == '/') {
    n = snprintf(out, size, "%s/vaultd/journal", v);
  } else if ((v = getenv("HOME")) && v[0] == '/') {
    n = snprintf(out, size, "%s/.local/state/vaultd/journal", v);
  } else {
    return -ENOENT;
  }
  if (n < 0 || static_cast<size_t>(n) >= size) return -ENAMETOOLONG;
  return 0;
}

}  // namespace vaultd::move
