// The source of a move: its snapshot (every entry as it was copied), the
// re-check against it, and the deletion of the entries that are unchanged.
#include "source.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <ctime>

#include "copy.h"
#include "parallel.h"

namespace vaultd::move::internal {
namespace {

// How long after a change a file's timestamps may not yet show the next one.
// File systems that keep nanoseconds take them from the kernel's coarse clock,
// one tick (at most 10 ms) behind: a file changed more than 20 ms before the
// snapshot gets a different ctime from any later change. File systems that
// keep whole seconds (ext2 with 128-byte inodes; FAT's mtime has 2 s steps)
// show it in the times themselves (no nanoseconds): 2 s there.
constexpr int64_t kTickWindowNs = 20000000;
constexpr int64_t kSecondsWindowNs = 2000000000;

// True when a change after the snapshot might not show in the times.
bool ChangedTooRecently(const Entry& snap, int64_t snapshot_ns) {
  bool whole_seconds = snap.ctime_ns % 1000000000 == 0 && snap.mtime_ns % 1000000000 == 0;
  return snap.ctime_ns >= snapshot_ns - (whole_seconds ? kSecondsWindowNs : kTickWindowNs);
}

// A regular file the caller cannot read cannot be copied: find that before
// anything is written (the mode bits first, so the common case costs no
// syscall; faccessat has the last word, ACLs included). 0 or -errno.
int CheckReadable(const char* path, const Entry& e) {
  if (!S_ISREG(e.mode)) return 0;
  uid_t uid = geteuid();
  if (uid == 0) return 0;
  bool readable = e.uid == uid         ? (e.mode & S_IRUSR)
                  : e.gid == getegid() ? (e.mode & S_IRGRP)
                                       : (e.mode & S_IROTH);
  if (readable) return 0;
  return faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0 ? 0 : -errno;
}

// An entry below the root as the snapshot needs it: still there (else the
// source changed: EBUSY), readable if a regular file, neither a mount point
// (rename would carry it along) nor on another file system, and deletable
// (chattr +i/+a; rename would move it). A copy can do none of those, so the
// caller gets what it gets without the shim: EXDEV. 0 or -errno.
int StatAndCheck(const char* path, uint64_t root_dev, Entry* e) {
  int r = StatEntry(path, e);
  if (r == -ENOENT) return -EBUSY;  // renamed away or deleted while we looked
  if (r == 0) r = CheckReadable(path, *e);
  if (r == 0 && (e->mount_root || e->dev != root_dev || e->undeletable)) r = -EXDEV;
  return r;
}

// Lists a directory into the snapshot, recursively. A directory (or an
// entry the listing does not type) is statted and checked here, before the
// walk goes into it; any other entry is added with mode 0 and statted later,
// side by side (StatListed).
int WalkDir(Tree* t, char* path, size_t len, size_t root_len, uint64_t root_dev, int depth) {
  if (depth > 1024) return -ELOOP;
  DIR* d = opendir(path);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? -EBUSY : -errno;
  int r = 0;
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d);
    if (!de) {
      if (errno != 0) r = -errno;
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    size_t nl = strlen(de->d_name);
    if (len + 1 + nl >= PATH_MAX) {
      r = -ENAMETOOLONG;
      break;
    }
    path[len] = '/';
    memcpy(path + len + 1, de->d_name, nl + 1);
    Entry e;
    bool dir = false;
    if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
      r = StatAndCheck(path, root_dev, &e);
      if (r != 0) break;
      dir = S_ISDIR(e.mode);
    }
    if (!t->Add(e, path + root_len + 1)) {
      r = -ENOMEM;
      break;
    }
    if (dir) {
      r = WalkDir(t, path, len + 1 + nl, root_len, root_dev, depth + 1);
      if (r != 0) break;
    }
  }
  path[len] = '\0';
  closedir(d);
  return r;
}

// Stats the entries WalkDir only listed (mode 0), on up to kMaxThreads
// threads. The error of the first failing entry in tree order wins.
struct StatListed {
  Tree* t;
  const char* src;
  uint64_t root_dev;
  Failures failed;

  static void One(void* ctx, int w, size_t i) {
    auto* c = static_cast<StatListed*>(ctx);
    Entry& e = c->t->entries[i];
    if (e.mode != 0) return;
    char p[PATH_MAX];
    Entry now;
    int r = JoinRel(p, c->src, c->t->Rel(e));
    if (r == 0) r = StatAndCheck(p, c->root_dev, &now);
    // A directory now where the listing saw something else: the source changed.
    if (r == 0 && S_ISDIR(now.mode)) r = -EBUSY;
    if (r == 0) {
      now.rel_off = e.rel_off;
      e = now;
      return;
    }
    c->failed.Fail(w, i, r);
  }

  int Run() {
    ParallelFor(t->entries.size, ThreadsFor(t->entries.size), &One, this, &failed.stop);
    return failed.First();
  }
};

int64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Takes a write lease on `fd`, waiting (from the mover's budget) while
// others hold the file open. A lease's holder is the process, and breaking a
// lease sends the holder SIGIO, whose default action kills: so the signal is
// made SIGURG (ignored by default) before, and the owner is cleared right
// after (no signal at all; an opener just waits until we close). True when
// the lease is held.
bool TakeWriteLease(int fd, Mover* m) {
  if (fcntl(fd, F_SETSIG, SIGURG) != 0) return false;
  int64_t start = MonoNs();
  int64_t budget = m->lease_budget_ns.load(std::memory_order_relaxed);
  long pause_us = 200;
  bool held = false;
  for (;;) {
    if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
      fcntl(fd, F_SETOWN, 0);
      held = true;
      break;
    }
    // EACCES: not our file (leases need ownership or CAP_LEASE); EINVAL,
    // ENOLCK: not available here. Only "someone has it open" is worth a wait.
    if ((errno != EAGAIN && errno != EBUSY) || MonoNs() - start >= budget) break;
    struct timespec ts = {0, pause_us * 1000};
    nanosleep(&ts, nullptr);
    if (pause_us < 20000) pause_us *= 2;
  }
  int64_t spent = MonoNs() - start;
  int64_t left = m->lease_budget_ns.load(std::memory_order_relaxed);
  while (!m->lease_budget_ns.compare_exchange_weak(left, spent < left ? left - spent : 0)) {
  }
  return held;
}

// One deleting thread's buffer for SameBytes (allocated when first needed).
struct Scratch {
  char* buf = nullptr;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { free(buf); }
};

// Same bytes in the open file `in` and in the file at `copy`?
bool SameBytes(int in, const char* copy, uint64_t size, Scratch* scratch) {
  constexpr size_t kBuf = 64 * 1024;
  if (!scratch->buf && !(scratch->buf = static_cast<char*>(malloc(2 * kBuf)))) return false;
  char* a = scratch->buf;
  int c = open(copy, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (c < 0) return false;
  struct stat st;
  bool same =
      fstat(c, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size;
  for (uint64_t off = 0; same && off < size;) {
    ssize_t n = pread(in, a, kBuf, static_cast<off_t>(off));
    ssize_t k = n > 0 ? pread(c, a + kBuf, static_cast<size_t>(n), static_cast<off_t>(off)) : -1;
    if (n <= 0 || k != n || memcmp(a, a + kBuf, static_cast<size_t>(n)) != 0) same = false;
    off += n > 0 ? static_cast<uint64_t>(n) : 0;
  }
  close(c);
  return same;
}

// Deletes one regular source file for the mover (see DeleteSource). 0 when
// it is gone, -errno when it stays.
int DeleteHeldFile(const char* path, const Entry& snap, const char* rel, Mover* m, Scratch* scratch,
                   CrashSeam* seam) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return errno == ELOOP ? -EBUSY : -errno;
  // Without the lease (not our file, not supported here, held open too long)
  // the checks still run; with it, nobody else has the file open from here
  // on, and nobody can open it until we close (after the unlink).
  TakeWriteLease(fd, m);
  Entry now;
  int r = StatEntryAt(fd, "", &now);
  if (r == 0 && (!S_ISREG(now.mode) || now.ino != snap.ino)) r = -EBUSY;  // not ours any more
  char dpath[PATH_MAX];
  if (r == 0 && JoinRel(dpath, m->dst, rel) != 0) r = -ENAMETOOLONG;
  if (r == 0) {
    // Timestamps set in the same tick as the snapshot's cannot show a change
    // (a same-size rewrite within one second on ext2): compare the bytes.
    bool recent = ChangedTooRecently(snap, m->snapshot_ns);
    bool changed =
        !SameObject(snap, now, true) || (recent && !SameBytes(fd, dpath, now.size, scratch));
    if (changed && !FitsFileSizeLimit(now.size)) {
      r = -EFBIG;  // grown past RLIMIT_FSIZE: kept in place rather than SIGXFSZ
    } else if (changed) {
      r = ReplaceWithCopy(fd, dpath, m->id, seam);
      if (r == 0) ++m->recopied;
    }
  }
  if (r == 0 && unlink(path) != 0) r = -errno;
  close(fd);  // releases the lease
  return r;
}

}  // namespace

char KindOf(uint32_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  return 'o';
}

bool Tree::Add(Entry e, const char* rel) {
  if (names.len > UINT32_MAX - PATH_MAX) return false;
  e.rel_off = static_cast<uint32_t>(names.len);
  names.Append(rel, strlen(rel) + 1);
  return names.ok && entries.Push(e);
}

int Snapshot(const char* src, const Entry& root, Tree* t) {
  if (!t->Add(root, "")) return -ENOMEM;
  if (!S_ISDIR(root.mode)) return CheckReadable(src, root);
  char path[PATH_MAX];
  size_t n = strlen(src);
  if (n >= PATH_MAX) return -ENAMETOOLONG;
  memcpy(path, src, n + 1);
  int r = WalkDir(t, path, n, n, root.dev, 0);
  if (r != 0) return r;
  StatListed listed{t, src, root.dev, {}};
  return listed.Run();
}

namespace {

struct Recheck {
  const char* src;
  const Tree* t;
  std::atomic<bool> changed{false};

  static void One(void* ctx, int /*worker*/, size_t i) {
    auto* c = static_cast<Recheck*>(ctx);
    const Entry& e = c->t->entries[i];
    char p[PATH_MAX];
    Entry now;
    if (JoinRel(p, c->src, c->t->Rel(e)) != 0 || StatEntry(p, &now) != 0 || now.ino != e.ino ||
        now.mode != e.mode || now.size != e.size || now.mtime_ns != e.mtime_ns ||
        now.ctime_ns != e.ctime_ns) {
      c->changed.store(true, std::memory_order_relaxed);
    }
  }
};

}  // namespace

// Every entry still the object the snapshot saw, unchanged (for
// directories: same mtime, so nothing was added or removed).
bool Unchanged(const char* src, const Tree& t) {
  Recheck c{src, &t};
  ParallelFor(t.entries.size, ThreadsFor(t.entries.size), &Recheck::One, &c, &c.changed);
  return !c.changed.load();
}

int StatEntryAt(int dirfd, const char* name, Entry* e) {
  struct statx sx;
  int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT | (*name ? 0 : AT_EMPTY_PATH);
  if (statx(dirfd, name, flags, STATX_BASIC_STATS, &sx) != 0) return -errno;
  e->mode = sx.stx_mode;
  e->uid = sx.stx_uid;
  e->gid = sx.stx_gid;
  e->nlink = sx.stx_nlink;
  e->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  e->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  e->ino = sx.stx_ino;
  e->size = sx.stx_size;
  e->atime_ns = ToNs(sx.stx_atime);
  e->mtime_ns = ToNs(sx.stx_mtime);
  e->ctime_ns = ToNs(sx.stx_ctime);
  uint64_t attrs = sx.stx_attributes & sx.stx_attributes_mask;
  e->mount_root = attrs & STATX_ATTR_MOUNT_ROOT;
  e->undeletable = attrs & (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND);
  e->append_only = attrs & STATX_ATTR_APPEND;
  return 0;
}

int StatEntry(const char* path, Entry* e) { return StatEntryAt(AT_FDCWD, path, e); }

bool SameObject(const Entry& snap, const Entry& now, bool relaxed_ctime) {
  if (snap.ino != now.ino || KindOf(snap.mode) != KindOf(now.mode)) return false;
  if (S_ISDIR(snap.mode)) return true;  // rmdir decides: it fails on anything new inside
  if (snap.size != now.size || snap.mtime_ns != now.mtime_ns) return false;
  if (snap.ctime_ns == now.ctime_ns) return true;
  return relaxed_ctime && snap.nlink > 1 && now.nlink < snap.nlink;
}

int JoinRel(char* out, const char* root, const char* rel) {
  int n = *rel ? snprintf(out, PATH_MAX, "%s/%s", root, rel) : snprintf(out, PATH_MAX, "%s", root);
  return n >= PATH_MAX ? -ENAMETOOLONG : 0;
}
namespace {

// Deletes entry k of the snapshot if it is still what was copied (see
// DeleteSource); counts it in *kept when it stays.
void DeleteEntry(const char* root, const Tree& t, size_t k, Mover* mover, CrashSeam* seam,
                 const uint32_t* restore, long* kept, Scratch* scratch) {
  char path[PATH_MAX], dpath[PATH_MAX];
  const Entry& e = t.entries[k];
  if (JoinRel(path, root, t.Rel(e)) != 0) {
    ++*kept;
    return;
  }
  Entry now;
  // The mover's regular files: DeleteHeldFile opens, checks and deletes.
  bool held = mover && S_ISREG(e.mode);
  int r = held ? DeleteHeldFile(path, e, t.Rel(e), mover, scratch, seam) : StatEntry(path, &now);
  if (held && r != -ENOENT) {
    if (r != 0) ++*kept;
    if (r == 0 && seam) seam->Step("delete");
    return;
  }
  if (r == -ENOENT) {
    // Recovery: an earlier, interrupted attempt deleted it. The mover: it
    // was renamed away or deleted after the re-check, which rename(2) would
    // have ordered before the move; the copy of it goes, so it exists once.
    if (mover && JoinRel(dpath, mover->dst, t.Rel(e)) == 0 && RemoveTree(dpath) == 0) {
      mover->vanished.fetch_add(1, std::memory_order_relaxed);
      if (k == 0) mover->root_vanished = true;
    }
    return;
  }
  if (r != 0 || !SameObject(e, now, true)) {
    ++*kept;  // another object under the name (or, for recovery, a changed one)
    return;
  }
  if (S_ISDIR(e.mode)) {
    if (rmdir(path) != 0 && errno != ENOENT) {
      ++*kept;
      if (restore[k]) chmod(path, restore[k] & 07777);
    }
  } else if (unlink(path) != 0 && errno != ENOENT) {
    ++*kept;
  }
  if (seam) seam->Step("delete");
}

// The entries the mover deletes side by side: regular files with one link
// (two names of one inode are never opened by two threads at once: a lease
// held on one would make the other's open fail).
bool DeletedSideBySide(const Entry& e, const Mover* mover) {
  return mover && S_ISREG(e.mode) && e.nlink <= 1;
}

struct HeldDeletes {
  const char* root;
  const Tree* t;
  Mover* mover;
  CrashSeam* seam;
  const uint32_t* restore;
  long kept[kMaxThreads] = {};
  Scratch scratch[kMaxThreads];

  static void One(void* ctx, int w, size_t k) {
    auto* c = static_cast<HeldDeletes*>(ctx);
    if (!DeletedSideBySide(c->t->entries[k], c->mover)) return;
    DeleteEntry(c->root, *c->t, k, c->mover, c->seam, c->restore, &c->kept[w], &c->scratch[w]);
  }
};

}  // namespace

int DeleteSource(const char* root, const Tree& t, Mover* mover, CrashSeam* seam, long* kept) {
  char path[PATH_MAX];
  *kept = 0;
  // rename(2) moves a tree whose inner directories are read-only; deleting
  // its copy-source needs them writable. Such directories (ours, unchanged)
  // get u+wx first, and their old mode back if they have to stay.
  uint32_t* restore = static_cast<uint32_t*>(calloc(t.entries.size, sizeof(uint32_t)));
  if (!restore) return -ENOMEM;
  for (size_t k = 0; k < t.entries.size; ++k) {
    const Entry& e = t.entries[k];
    Entry now;
    if (!S_ISDIR(e.mode) || JoinRel(path, root, t.Rel(e)) != 0) continue;
    if (faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) == 0) continue;
    if (StatEntry(path, &now) == 0 && SameObject(e, now, true) &&
        chmod(path, (now.mode | S_IWUSR | S_IXUSR) & 07777) == 0) {
      restore[k] = (now.mode & 07777) | 0x80000000u;
    }
  }
  if (mover) {
    HeldDeletes held{root, &t, mover, seam, restore, {}, {}};
    ParallelFor(t.entries.size, ThreadsFor(t.entries.size), &HeldDeletes::One, &held, nullptr);
    for (long n : held.kept) *kept += n;
  }
  Scratch scratch;
  for (size_t k = t.entries.size; k-- > 0;) {
    if (DeletedSideBySide(t.entries[k], mover)) continue;
    DeleteEntry(root, t, k, mover, seam, restore, kept, &scratch);
  }
  free(restore);
  // Durable before the record goes (they usually sit on different file systems).
  char parent[PATH_MAX], name[NAME_MAX + 1];
  if (SplitPath(root, parent, sizeof parent, name, sizeof name) != 0) return 0;
  if (t.entries.size == 1) return FsyncDir(parent);
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = syncfs(fd) == 0 ? 0 : -errno;
  close(fd);
  return r;
}

}  // namespace vaultd::move::internal
