// The journaled cross-device move. Phases (docs/move-journal.md):
//   prepared  -> copy into <dst dir>/.vaultd-move-<id>.tmp
//   copied    -> the copy is complete and durable; re-check the source, then
//                rename(tmp, dst) on the destination's mount, make it durable,
//                delete the source entries that are unchanged, drop the record
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "journal.h"
#include "vaultd/shim/move.h"

namespace vaultd::move {
namespace internal {
namespace {

constexpr size_t kChunk = 64u << 20;  // one fault-injection step per 64 MiB copied
// Copies go in pieces of this size, and each finished piece is handed to
// writeback at once (sync_file_range), so the disk writes while the next piece
// is copied and the final fsync only waits for the last piece.
constexpr size_t kPiece = 8u << 20;

void StartWriteback(int fd, uint64_t off, uint64_t len) {
  // Advisory: an error here shows up again at the fsync, which decides.
  sync_file_range(fd, static_cast<off_t>(off), static_cast<off_t>(len), SYNC_FILE_RANGE_WRITE);
}

// Hands the copied pieces of one file to writeback. sync_file_range submits
// the pages in the caller's context (about a tenth of an ext4 copy's time), so
// a file of kChunk or more gets a helper thread that does it while this thread
// copies on; a smaller file, or one whose thread cannot be started, does it
// inline. The thread only ever calls sync_file_range on `fd`, runs with every
// signal blocked (the host process's handlers never run on it), and is joined
// before the copy returns.
class Writeback {
 public:
  Writeback(int fd, uint64_t size) : fd_(fd), size_(size) {
    if (size < kChunk) return;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    threaded_ = pthread_create(&thread_, &attr, &Writeback::Run, this) == 0;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_attr_destroy(&attr);
  }
  ~Writeback() {
    if (!threaded_) return;
    pthread_mutex_lock(&mu_);
    done_ = true;
    pthread_cond_signal(&cv_);
    pthread_mutex_unlock(&mu_);
    pthread_join(thread_, nullptr);
  }
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  // `copied` bytes from offset 0 are in the page cache now.
  void Copied(uint64_t copied) {
    if (threaded_) {
      pthread_mutex_lock(&mu_);
      copied_ = copied;
      pthread_cond_signal(&cv_);
      pthread_mutex_unlock(&mu_);
    } else if (copied - handed_ >= kPiece && copied < size_) {
      StartWriteback(fd_, handed_, copied - handed_);
      handed_ = copied;
    }
  }

 private:
  static void* Run(void* self) {
    static_cast<Writeback*>(self)->Loop();
    return nullptr;
  }
  void Loop() {
    for (;;) {
      pthread_mutex_lock(&mu_);
      while (copied_ == handed_ && !done_) pthread_cond_wait(&cv_, &mu_);
      uint64_t copied = copied_;
      bool done = done_;
      pthread_mutex_unlock(&mu_);
      // The last piece is left to the fsync that follows the copy.
      if (done || copied >= size_) return;
      StartWriteback(fd_, handed_, copied - handed_);
      handed_ = copied;
    }
  }

  const int fd_;
  const uint64_t size_;
  uint64_t handed_ = 0;  // only the thread (or, inline, the copier) touches it
  bool threaded_ = false;
  pthread_t thread_{};
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv_ = PTHREAD_COND_INITIALIZER;
  uint64_t copied_ = 0;
  bool done_ = false;
};

// Per-move state of the data path: once a method fails for this pair of file
// systems it is not tried again for the next file of the tree.
struct CopyState {
  bool no_clone = false;
  bool no_cfr = false;
  bool no_sendfile = false;
  unsigned used = 0;  // bit 0 ficlone, 1 copy_file_range, 2 sendfile, 3 read-write
  char* buf = nullptr;
  ~CopyState() { free(buf); }
};

bool IsUnsupported(int e) {
  return e == EXDEV || e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ENOSYS || e == EBADF ||
         e == ENOTSUP;
}

// One chunk of an in-kernel copy at offset `off`; bytes copied or -1/errno.
using ChunkFn = ssize_t (*)(int in, int out, uint64_t off, size_t len);

ssize_t CopyFileRangeChunk(int in, int out, uint64_t off, size_t len) {
  loff_t off_in = static_cast<loff_t>(off), off_out = static_cast<loff_t>(off);
  return copy_file_range(in, &off_in, out, &off_out, len, 0);
}

ssize_t SendfileChunk(int in, int out, uint64_t off, size_t len) {
  off_t off_in = static_cast<off_t>(off);
  return sendfile(out, in, &off_in, len);  // writes at out's position, which is `off` too
}

// 1 when the method does not work for this pair of files (nothing copied),
// 0 when all `size` bytes are copied, -EBUSY when the source ended early (it
// changed), else -errno.
int KernelCopy(ChunkFn fn, unsigned used_bit, int in, int out, uint64_t size, CopyState* cs,
               CrashSeam* seam) {
  uint64_t done = 0, since_step = 0;
  Writeback wb(out, size);
  while (done < size) {
    size_t want = size - done < kPiece ? static_cast<size_t>(size - done) : kPiece;
    ssize_t n = fn(in, out, done, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0 && IsUnsupported(errno)) return 1;
      return -errno;
    }
    if (n == 0) return -EBUSY;
    done += static_cast<uint64_t>(n);
    wb.Copied(done);
    since_step += static_cast<uint64_t>(n);
    cs->used |= used_bit;
    if (since_step >= kChunk || done == size) {
      since_step = 0;
      seam->Step("copy");
    }
  }
  return 0;
}

// Copies `size` bytes; -EBUSY when the source ended early (it changed).
int CopyData(int in, int out, uint64_t size, CopyState* cs, CrashSeam* seam) {
  if (size == 0) return 0;
  if (!cs->no_clone) {
    if (ioctl(out, FICLONE, in) == 0) {
      cs->used |= 1;
      seam->Step("copy");
      return 0;
    }
    if (!IsUnsupported(errno)) return -errno;
    cs->no_clone = true;
  }
  if (!cs->no_cfr) {
    int r = KernelCopy(&CopyFileRangeChunk, 2, in, out, size, cs, seam);
    if (r <= 0) return r;
    cs->no_cfr = true;
  }
  if (!cs->no_sendfile) {
    int r = KernelCopy(&SendfileChunk, 4, in, out, size, cs, seam);
    if (r <= 0) return r;
    cs->no_sendfile = true;
  }
  uint64_t done = 0;
  constexpr size_t kBuf = 1u << 20;
  if (!cs->buf && !(cs->buf = static_cast<char*>(malloc(kBuf)))) return -ENOMEM;
  uint64_t since_step = 0;
  Writeback wb(out, size);
  while (done < size) {
    ssize_t n = pread(in, cs->buf, kBuf, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EBUSY;
    for (ssize_t w = 0; w < n;) {
      ssize_t k =
          pwrite(out, cs->buf + w, static_cast<size_t>(n - w), static_cast<off_t>(done + w));
      if (k < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      w += k;
    }
    done += static_cast<uint64_t>(n);
    wb.Copied(done);
    since_step += static_cast<uint64_t>(n);
    cs->used |= 8;
    if (since_step >= kChunk || done == size) {
      since_step = 0;
      seam->Step("copy");
    }
  }
  return 0;
}

// Copies extended attributes; an attribute the destination cannot hold
// (unsupported namespace, not allowed on symlinks) is skipped, as mv does.
int CopyXattrs(const char* src, const char* dst, int src_fd, int dst_fd) {
  ssize_t n = src_fd >= 0 ? flistxattr(src_fd, nullptr, 0) : llistxattr(src, nullptr, 0);
  if (n <= 0) return 0;  // none, or not supported on the source
  Buf list, value;
  if (!list.Reserve(static_cast<size_t>(n) + 1)) return -ENOMEM;
  n = src_fd >= 0 ? flistxattr(src_fd, list.data, static_cast<size_t>(n))
                  : llistxattr(src, list.data, static_cast<size_t>(n));
  if (n < 0) return errno == ERANGE ? -EBUSY : -errno;
  for (ssize_t off = 0; off < n;) {
    const char* name = list.data + off;
    off += static_cast<ssize_t>(strlen(name)) + 1;
    ssize_t vn =
        src_fd >= 0 ? fgetxattr(src_fd, name, nullptr, 0) : lgetxattr(src, name, nullptr, 0);
    if (vn < 0) continue;
    if (!value.Reserve(static_cast<size_t>(vn) + 1)) return -ENOMEM;
    vn = src_fd >= 0 ? fgetxattr(src_fd, name, value.data, static_cast<size_t>(vn))
                     : lgetxattr(src, name, value.data, static_cast<size_t>(vn));
    if (vn < 0) continue;
    int r = dst_fd >= 0 ? fsetxattr(dst_fd, name, value.data, static_cast<size_t>(vn), 0)
                        : lsetxattr(dst, name, value.data, static_cast<size_t>(vn), 0);
    if (r != 0) {
      int e = errno;
      bool user = strncmp(name, "user.", 5) == 0;
      if (user && e != ENOTSUP && e != EOPNOTSUPP && e != EPERM) return -e;
    }
  }
  return 0;
}

// Owner, mode, xattrs and times, in that order (chown clears set-id bits,
// and the times must be set after everything that touches the inode).
int ApplyMetadata(const Entry& e, const char* src, const char* dst, int src_fd, int dst_fd) {
  bool link = S_ISLNK(e.mode);
  int r = dst_fd >= 0 ? fchown(dst_fd, e.uid, e.gid)
                      : fchownat(AT_FDCWD, dst, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
  if (r != 0 && errno != EPERM) return -errno;  // EPERM: not ours to give away, like mv
  if (!link) {
    r = dst_fd >= 0 ? fchmod(dst_fd, e.mode & 07777) : chmod(dst, e.mode & 07777);
    if (r != 0) return -errno;
  }
  r = CopyXattrs(src, dst, src_fd, dst_fd);
  if (r != 0) return r;
  struct timespec ts[2] = {{e.atime_ns / 1000000000, e.atime_ns % 1000000000},
                           {e.mtime_ns / 1000000000, e.mtime_ns % 1000000000}};
  r = dst_fd >= 0 ? futimens(dst_fd, ts) : utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : -errno;
}

int CopyRegular(const Entry& e, const char* src, const char* dst, bool fsync_file, CopyState* cs,
                CrashSeam* seam) {
  int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (in < 0) return -errno;
  struct stat st;
  if (fstat(in, &st) != 0 || st.st_ino != e.ino) {
    close(in);
    return -EBUSY;  // replaced between the snapshot and the copy
  }
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = -errno;
    close(in);
    return err;
  }
  int r = CopyData(in, out, e.size, cs, seam);
  if (r == 0) r = ApplyMetadata(e, src, dst, in, out);
  if (r == 0 && fsync_file && fsync(out) != 0) r = -errno;
  if (close(out) != 0 && r == 0) r = -errno;
  close(in);
  return r;
}

int CopySymlink(const Entry& e, const char* src, const char* dst) {
  size_t cap = e.size + 2 > PATH_MAX ? e.size + 2 : PATH_MAX;
  char* target = static_cast<char*>(malloc(cap));
  if (!target) return -ENOMEM;
  ssize_t n = readlink(src, target, cap - 1);
  int r = 0;
  if (n < 0) {
    r = -errno;
  } else if (static_cast<size_t>(n) >= cap - 1) {
    r = -EBUSY;
  } else {
    target[n] = '\0';
    if (symlink(target, dst) != 0) r = -errno;
  }
  free(target);
  if (r == 0) r = ApplyMetadata(e, src, dst, -1, -1);
  return r;
}

// Hard links inside the tree: (ino) -> index of the entry copied first.
struct LinkMap {
  size_t* slots = nullptr;  // entry index + 1, 0 = empty
  size_t cap = 0;
  size_t used = 0;
  ~LinkMap() { free(slots); }
  // Returns the first entry index with this inode, or inserts `idx` and returns it.
  long FindOrAdd(const Tree& t, size_t idx) {
    if ((used + 1) * 2 > cap) {
      size_t ncap = cap ? cap * 2 : 64;
      size_t* ns = static_cast<size_t*>(calloc(ncap, sizeof(size_t)));
      if (!ns) return -1;
      for (size_t i = 0; i < cap; ++i) {
        if (!slots[i]) continue;
        size_t h = t.entries[slots[i] - 1].ino % ncap;
        while (ns[h]) h = (h + 1) % ncap;
        ns[h] = slots[i];
      }
      free(slots);
      slots = ns;
      cap = ncap;
    }
    uint64_t ino = t.entries[idx].ino;
    size_t h = ino % cap;
    while (slots[h]) {
      if (t.entries[slots[h] - 1].ino == ino) return static_cast<long>(slots[h] - 1);
      h = (h + 1) % cap;
    }
    slots[h] = idx + 1;
    ++used;
    return static_cast<long>(idx);
  }
};

// Copies the snapshot `t` of `src` to `tmp`. Directories are created 0700 and
// get their real metadata after their contents.
int CopyTree(const Tree& t, const char* src, const char* tmp, CopyState* cs, CrashSeam* seam) {
  char sp[PATH_MAX], dp[PATH_MAX], lp[PATH_MAX];
  bool single = t.entries.size == 1;
  LinkMap links;
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    const char* rel = t.Rel(e);
    if (JoinRel(sp, src, rel) != 0 || JoinRel(dp, tmp, rel) != 0) return -ENAMETOOLONG;
    int r = 0;
    if (S_ISDIR(e.mode)) {
      r = mkdir(dp, 0700) == 0 ? 0 : -errno;
    } else if (S_ISREG(e.mode)) {
      long first = e.nlink > 1 ? links.FindOrAdd(t, i) : static_cast<long>(i);
      if (first < 0) return -ENOMEM;
      if (static_cast<size_t>(first) != i) {
        if (JoinRel(lp, tmp, t.Rel(t.entries[first])) != 0) return -ENAMETOOLONG;
        r = link(lp, dp) == 0 ? 0 : -errno;
      } else {
        r = CopyRegular(e, sp, dp, single, cs, seam);
      }
    } else if (S_ISLNK(e.mode)) {
      r = CopySymlink(e, sp, dp);
    } else {
      r = mknod(dp, (e.mode & S_IFMT) | 0600, e.rdev) == 0 ? 0 : -errno;
      if (r == 0) r = ApplyMetadata(e, sp, dp, -1, -1);
    }
    if (r != 0) return r;
    if (!S_ISREG(e.mode) || e.size == 0) seam->Step("copy");
  }
  for (size_t k = t.entries.size; k-- > 0;) {
    const Entry& e = t.entries[k];
    if (!S_ISDIR(e.mode)) continue;
    if (JoinRel(sp, src, t.Rel(e)) != 0 || JoinRel(dp, tmp, t.Rel(e)) != 0) return -ENAMETOOLONG;
    int r = ApplyMetadata(e, sp, dp, -1, -1);
    if (r != 0) return r;
  }
  if (!single) {
    // One syncfs instead of an fsync per file: the same durability for a
    // 10,000-file tree at a fraction of the cost.
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -errno;
    int r = syncfs(fd) == 0 ? 0 : -errno;
    close(fd);
    if (r != 0) return r;
  } else if (S_ISDIR(t.entries[0].mode)) {
    int r = FsyncDir(tmp);
    if (r != 0) return r;
  }
  return 0;
}

// A regular file the caller cannot read cannot be copied: find that before
// anything is written (the mode bits first, so the common case costs no
// syscall; faccessat has the last word, ACLs included). 0 or -errno.
int CheckReadable(const char* path, const Entry& e) {
  if (!S_ISREG(e.mode)) return 0;
  uid_t uid = geteuid();
  if (uid == 0) return 0;
  bool readable = e.uid == uid ? (e.mode & S_IRUSR) : e.gid == getegid() ? (e.mode & S_IRGRP)
                                                                         : (e.mode & S_IROTH);
  if (readable) return 0;
  return faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0 ? 0 : -errno;
}

int WalkDir(Tree* t, char* path, size_t len, size_t root_len, uint64_t root_dev, int depth) {
  if (depth > 1024) return -ELOOP;
  DIR* d = opendir(path);
  if (!d) return -errno;
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
    r = StatEntry(path, &e);
    if (r == 0) r = CheckReadable(path, e);
    if (r != 0) break;
    if (e.mount_root || e.dev != root_dev) {
      r = -EXDEV;  // a mount point inside the tree: rename would carry it along; we cannot
      break;
    }
    if (!t->Add(e, path + root_len + 1)) {
      r = -ENOMEM;
      break;
    }
    if (S_ISDIR(e.mode)) {
      r = WalkDir(t, path, len + 1 + nl, root_len, root_dev, depth + 1);
      if (r != 0) break;
    }
  }
  path[len] = '\0';
  closedir(d);
  return r;
}

int Snapshot(const char* src, const Entry& root, Tree* t) {
  if (!t->Add(root, "")) return -ENOMEM;
  if (!S_ISDIR(root.mode)) return CheckReadable(src, root);
  char path[PATH_MAX];
  size_t n = strlen(src);
  if (n >= PATH_MAX) return -ENAMETOOLONG;
  memcpy(path, src, n + 1);
  return WalkDir(t, path, n, n, root.dev, 0);
}

// Every entry still the object the snapshot saw, unchanged (for
// directories: same mtime, so nothing was added or removed).
bool Unchanged(const char* src, const Tree& t) {
  char p[PATH_MAX];
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    if (JoinRel(p, src, t.Rel(e)) != 0) return false;
    Entry now;
    if (StatEntry(p, &now) != 0) return false;
    if (now.ino != e.ino || now.mode != e.mode || now.size != e.size ||
        now.mtime_ns != e.mtime_ns || now.ctime_ns != e.ctime_ns) {
      return false;
    }
  }
  return true;
}

bool IsReadOnlyMount(const char* dir) {
  struct statvfs sv;
  return statvfs(dir, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

// may_delete() of the kernel: write+search on the parent, and the sticky bit.
int MayDelete(const char* parent, const Entry& victim) {
  if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) != 0) return -errno;
  struct stat ps;
  if (stat(parent, &ps) != 0) return -errno;
  uid_t me = geteuid();
  if ((ps.st_mode & S_ISVTX) && me != 0 && me != ps.st_uid && me != victim.uid) return -EPERM;
  return 0;
}

bool PathIsUnder(const char* path, const char* dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return path[0] == '/' && path[1] != '\0';
  return strncmp(path, dir, n) == 0 && path[n] == '/';
}

// True when some directory on the way from `dst_parent` up to "/" is the
// object `src` (catches bind-mount aliases that the path test cannot see).
bool AncestorIs(const char* dst_parent, const Entry& src) {
  char p[PATH_MAX];
  size_t n = strlen(dst_parent);
  if (n >= PATH_MAX) return false;
  memcpy(p, dst_parent, n + 1);
  for (;;) {
    Entry e;
    if (StatEntry(p, &e) == 0 && e.ino == src.ino && e.dev == src.dev) return true;
    char* slash = strrchr(p, '/');
    if (!slash || slash == p) return false;
    *slash = '\0';
  }
}

// Strips trailing slashes; returns true if there were any.
bool StripTrailingSlashes(char* p) {
  size_t n = strlen(p);
  bool had = false;
  while (n > 1 && p[n - 1] == '/') {
    p[--n] = '\0';
    had = true;
  }
  return had;
}

struct Paths {
  char src[PATH_MAX], dst[PATH_MAX];
  char src_parent[PATH_MAX], src_name[NAME_MAX + 1];
  char dst_parent[PATH_MAX], dst_name[NAME_MAX + 1];
  bool src_slash = false, dst_slash = false;
};

// Recomputes, in the kernel's order, the errors that rename(2) would have
// returned had both paths been on one mount. Returns 1 when the rename is a
// no-op (both names are the same object), 0 to go on, or -errno.
int Precheck(const Paths& p, unsigned flags, Entry* src, Entry* dst, bool* dst_exists) {
  if (flags & ~(kRenameNoReplace | kRenameExchange | kRenameWhiteout)) return -EINVAL;
  if ((flags & kRenameNoReplace) && (flags & kRenameExchange)) return -EINVAL;
  if ((flags & kRenameExchange) || (flags & kRenameWhiteout)) return -EXDEV;
  if (strcmp(p.src_name, ".") == 0 || strcmp(p.src_name, "..") == 0) return -EBUSY;
  if (strcmp(p.dst_name, ".") == 0 || strcmp(p.dst_name, "..") == 0) {
    return (flags & kRenameNoReplace) ? -EEXIST : -EBUSY;
  }
  if (IsReadOnlyMount(p.src_parent) || IsReadOnlyMount(p.dst_parent)) return -EROFS;
  int r = StatEntry(p.src, src);
  if (r != 0) return r;
  r = StatEntry(p.dst, dst);
  if (r != 0 && r != -ENOENT) return r;
  *dst_exists = r == 0;
  if (*dst_exists && (flags & kRenameNoReplace)) return -EEXIST;
  bool src_dir = S_ISDIR(src->mode);
  if (!src_dir && (p.src_slash || p.dst_slash)) return -ENOTDIR;
  if (src_dir && (PathIsUnder(p.dst, p.src) || AncestorIs(p.dst_parent, *src))) return -EINVAL;
  if (*dst_exists && PathIsUnder(p.src, p.dst)) return -ENOTEMPTY;
  if (*dst_exists && dst->ino == src->ino && dst->dev == src->dev) return 1;
  r = MayDelete(p.src_parent, *src);
  if (r != 0) return r;
  if (*dst_exists) {
    r = MayDelete(p.dst_parent, *dst);
  } else if (faccessat(AT_FDCWD, p.dst_parent, W_OK | X_OK, AT_EACCESS) != 0) {
    r = -errno;
  }
  if (r != 0) return r;
  if (src_dir && faccessat(AT_FDCWD, p.src, W_OK, AT_EACCESS) != 0) return -errno;  // ".." changes
  if (*dst_exists) {
    bool dst_dir = S_ISDIR(dst->mode);
    if (src_dir && !dst_dir) return -ENOTDIR;
    if (!src_dir && dst_dir) return -EISDIR;
  }
  if (src->mount_root || (*dst_exists && dst->mount_root)) return -EBUSY;
  if (*dst_exists && S_ISDIR(dst->mode)) {
    DIR* d = opendir(p.dst);
    if (!d) return -errno;
    int found = 0;
    for (struct dirent* de; (de = readdir(d));) {
      if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
        found = 1;
        break;
      }
    }
    closedir(d);
    if (found) return -ENOTEMPTY;
  }
  return 0;
}

// Serialises moves of the same paths across threads and processes: 64
// stripe locks in the journal directory, taken in ascending order.
struct StripeLocks {
  int fds[2] = {-1, -1};
  ~StripeLocks() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);  // closing releases the flock
    }
  }
  int Lock(const char* journal, const char* a, const char* b) {
    unsigned sa = static_cast<unsigned>(Fnv1a64(a, strlen(a)) % 64);
    unsigned sb = static_cast<unsigned>(Fnv1a64(b, strlen(b)) % 64);
    unsigned order[2] = {sa < sb ? sa : sb, sa < sb ? sb : sa};
    for (int i = 0; i < 2; ++i) {
      if (i == 1 && order[1] == order[0]) break;
      char p[PATH_MAX];
      if (snprintf(p, sizeof p, "%s/stripe-%02u.lock", journal, order[i]) >= PATH_MAX) {
        return -ENAMETOOLONG;
      }
      fds[i] = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fds[i] < 0) return -errno;
      while (flock(fds[i], LOCK_EX) != 0) {
        if (errno != EINTR) return -errno;
      }
    }
    return 0;
  }
};

// The per-move liveness lock: held while the move runs, so recovery can tell
// a crashed move from one still in progress.
struct MoveLock {
  int fd = -1;
  char path[PATH_MAX] = {0};
  int Lock(const char* journal, const char* id) {
    if (snprintf(path, sizeof path, "%s/%s.lock", journal, id) >= PATH_MAX) return -ENAMETOOLONG;
    for (int attempt = 0; attempt < 100; ++attempt) {
      fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) return -errno;
      while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) return -errno;
      }
      // Recovery may have removed the file between our open and our flock
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

int SetupPaths(const char* src, const char* dst, Paths* p) {
  if (!src || !dst || src[0] != '/' || dst[0] != '/') return -EINVAL;
  if (strlen(src) >= PATH_MAX || strlen(dst) >= PATH_MAX) return -ENAMETOOLONG;
  strcpy(p->src, src);
  strcpy(p->dst, dst);
  p->src_slash = StripTrailingSlashes(p->src);
  p->dst_slash = StripTrailingSlashes(p->dst);
  if (strcmp(p->src, "/") == 0 || strcmp(p->dst, "/") == 0) return -EBUSY;
  int r = SplitPath(p->src, p->src_parent, sizeof p->src_parent, p->src_name, sizeof p->src_name);
  if (r == 0) {
    r = SplitPath(p->dst, p->dst_parent, sizeof p->dst_parent, p->dst_name, sizeof p->dst_name);
  }
  return r;
}

int RunMove(const Paths& p, unsigned flags, const char* journal, MoveStats* stats) {
  CrashSeam seam;
  seam.Init();
  Entry src, dst;
  bool dst_exists = false;
  // Errors first, without side effects (not even creating the journal).
  int r = Precheck(p, flags, &src, &dst, &dst_exists);
  if (r != 0) return r > 0 ? 0 : r;
  if (MkdirAll(journal) != 0) return -EXDEV;  // cannot journal: behave as without the shim
  StripeLocks stripes;
  if (stripes.Lock(journal, p.src, p.dst) != 0) return -EXDEV;
  // Under the lock the world may have changed (another mover went first).
  r = Precheck(p, flags, &src, &dst, &dst_exists);
  if (r != 0) return r > 0 ? 0 : r;

  Tree tree;
  r = Snapshot(p.src, src, &tree);
  if (r != 0) return CopyErrorAsRename(r);

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
  if (snprintf(rec->tmp, sizeof rec->tmp, "%s%s.vaultd-move-%s.tmp", p.dst_parent,
               strcmp(p.dst_parent, "/") == 0 ? "" : "/", rec->id) >= PATH_MAX) {
    return -ENAMETOOLONG;
  }
  rec->src_id = src;
  rec->dst_existed = dst_exists;
  rec->entry_count = static_cast<long>(tree.entries.size);
  rec->started_ns = NowNs();
  rec->phase = Phase::kPrepared;
  struct RecordFd {
    int fd = -1;
    ~RecordFd() {
      if (fd >= 0) close(fd);
    }
  } jfd;
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
    if (RemoveTree(rec->tmp) != 0) return err;  // the record stays; recovery retries the removal
    FsyncDir(p.dst_parent);
    RemoveRecordFiles(journal, rec->id);
    return err;
  };

  CopyState cs;
  r = CopyTree(tree, p.src, rec->tmp, &cs, &seam);
  if (r == 0) r = FsyncDir(p.dst_parent);
  if (r != 0) return rollback(CopyErrorAsRename(r));
  Entry tmp_e;
  if (StatEntry(rec->tmp, &tmp_e) != 0) return rollback(-EIO);
  rec->tmp_ino = tmp_e.ino;
  if (tree.entries.size > 1 && (r = WriteEntries(journal, rec->id, tree)) != 0) return rollback(r);
  // Set before the append: if the append fails half-way, the rollback steps
  // the record back to prepared whatever reached the disk.
  rec->phase = Phase::kCopied;
  if ((r = AppendPhase(jfd.fd, Phase::kCopied, rec->tmp_ino)) != 0) return rollback(r);
  seam.Step("copied");

  // Delete the source only if it is what we copied: otherwise nothing moves.
  if (!Unchanged(p.src, tree)) return rollback(-EBUSY);

  // No record for "about to rename": recovery tells the two outcomes of the
  // rename apart by whether the temp name still exists (tmp_ino).
  seam.Step("committing");
  if (flags & kRenameNoReplace) {
    r = SysRenameat2(AT_FDCWD, rec->tmp, AT_FDCWD, p.dst, RENAME_NOREPLACE);
    if (r == -EINVAL && !S_ISDIR(src.mode)) {
      // A file system without RENAME_NOREPLACE: link() refuses an existing name atomically.
      r = link(rec->tmp, p.dst) == 0 ? 0 : -errno;
      // Both names are now the finished copy; recovery rolls forward when dst is it.
      if (r == 0 && unlink(rec->tmp) != 0) return 0;  // the "copied" record stays for recovery
    } else if (r == -EINVAL) {
      // No atomic way for a directory there: check, then rename (a narrow race, documented).
      Entry there;
      r = StatEntry(p.dst, &there) == 0 ? -EEXIST
                                        : SysRenameat2(AT_FDCWD, rec->tmp, AT_FDCWD, p.dst, 0);
    }
  } else {
    r = SysRenameat2(AT_FDCWD, rec->tmp, AT_FDCWD, p.dst, 0);
  }
  if (r != 0) return rollback(r);
  seam.Step("renamed");
  // The source goes only after the rename is durable. No record is written
  // for it: "copied" with our inode at dst already means "roll forward". If
  // the fsync fails, keep the record and the source for recovery.
  if (FsyncDir(p.dst_parent) != 0) return 0;
  seam.Step("committed");

  long kept = 0;
  // If the deletion cannot be made durable, keep the record: recovery
  // finishes it (deleting what is left is idempotent).
  if (DeleteSource(p.src, tree, &seam, &kept) != 0) return 0;
  seam.Step("deleted");
  RemoveRecordFiles(journal, rec->id);
  if (stats) {
    stats->entries = static_cast<long>(tree.entries.size);
    stats->kept_changed = kept;
    unsigned u = cs.used;
    stats->data_path = u == 0   ? ""
                       : u == 1 ? "ficlone"
                       : u == 2 ? "copy_file_range"
                       : u == 4 ? "sendfile"
                       : u == 8 ? "read-write"
                                : "mixed";
  }
  if (stats) stats->steps = seam.step;
  return 0;
}

}  // namespace
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
