// The data path of a move: copying a snapshot (a file or a tree) into the
// temp name, with its metadata, and handing the copied pieces to writeback.
#include "copy.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "parallel.h"

namespace vaultd::move::internal {
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
  Writeback(int fd, uint64_t size, bool thread_ok) : fd_(fd), size_(size) {
    if (!thread_ok || size < kChunk) return;
    threaded_ = StartHelperThread(&thread_, &Writeback::Run, this);
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

// Makes a tree's copy durable while it is being made: every kSyncAhead
// bytes copied, a helper thread runs syncfs on the destination's file system,
// so the disk writes the first files while the next ones are copied and the
// final syncfs waits only for the rest. The thread is started at the first
// kick (a small tree never has one), has every signal blocked, uses its own
// open file description (syncfs reports a writeback error once per
// description: the final syncfs must still see every error, and any error the
// thread saw is returned by Finish too), and is joined before the copy returns.
class SyncAhead {
 public:
  static constexpr uint64_t kSyncAhead = 16u << 20;
  explicit SyncAhead(bool thread_ok) : thread_ok_(thread_ok) {}
  ~SyncAhead() { Stop(); }
  SyncAhead(const SyncAhead&) = delete;
  SyncAhead& operator=(const SyncAhead&) = delete;

  // `bytes` more were copied into the tree below `dirfd`. Any copying
  // thread may call it.
  void Copied(int dirfd, uint64_t bytes) {
    if (!thread_ok_) return;
    pthread_mutex_lock(&copied_mu_);
    bool kick = false;
    if (!failed_start_) {
      pending_ += bytes;
      if (pending_ >= kSyncAhead) {
        pending_ = 0;
        kick = started_ || Start(dirfd);
      }
    }
    pthread_mutex_unlock(&copied_mu_);
    if (!kick) return;
    pthread_mutex_lock(&mu_);
    ++asked_;
    pthread_cond_signal(&cv_);
    pthread_mutex_unlock(&mu_);
  }
  // Joins the thread: 0, or the error one of its syncfs calls returned.
  int Finish() {
    Stop();
    return error_;
  }
  int syncs() const { return syncs_; }  // after Finish

 private:
  bool Start(int dirfd) {
    fd_ = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return !(failed_start_ = true);
    started_ = StartHelperThread(&thread_, &SyncAhead::Run, this);
    failed_start_ = !started_;
    return started_;
  }
  void Stop() {
    if (started_) {
      pthread_mutex_lock(&mu_);
      stop_ = true;
      pthread_cond_signal(&cv_);
      pthread_mutex_unlock(&mu_);
      pthread_join(thread_, nullptr);
      started_ = false;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  static void* Run(void* self) {
    static_cast<SyncAhead*>(self)->Loop();
    return nullptr;
  }
  void Loop() {
    uint64_t done = 0;
    for (;;) {
      pthread_mutex_lock(&mu_);
      while (asked_ == done && !stop_) pthread_cond_wait(&cv_, &mu_);
      uint64_t asked = asked_;
      bool stop = stop_;
      pthread_mutex_unlock(&mu_);
      if (stop) return;  // the rest is the final syncfs's
      if (syncfs(fd_) != 0 && error_ == 0) error_ = -errno;
      ++syncs_;
      done = asked;
    }
  }

  const bool thread_ok_;
  pthread_mutex_t copied_mu_ = PTHREAD_MUTEX_INITIALIZER;  // guards the next four
  bool started_ = false;
  bool failed_start_ = false;
  int fd_ = -1;
  uint64_t pending_ = 0;
  int error_ = 0;  // written by the thread, read after the join
  int syncs_ = 0;  // likewise
  pthread_t thread_{};
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv_ = PTHREAD_COND_INITIALIZER;
  uint64_t asked_ = 0;
  bool stop_ = false;
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
// 0 when the bytes [start, end) are copied, -EBUSY when the source ended early
// (it changed), else -errno.
int KernelCopy(ChunkFn fn, unsigned used_bit, int in, int out, uint64_t start, uint64_t end,
               bool threaded, CopyState* cs, CrashSeam* seam) {
  // sendfile writes at the output's position; the other methods take offsets.
  if (start != 0 && lseek(out, static_cast<off_t>(start), SEEK_SET) < 0) return -errno;
  uint64_t done = start, since_step = 0;
  Writeback wb(out, end, threaded);
  while (done < end) {
    size_t want = end - done < kPiece ? static_cast<size_t>(end - done) : kPiece;
    ssize_t n = fn(in, out, done, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == start && IsUnsupported(errno)) return 1;
      return -errno;
    }
    if (n == 0) return -EBUSY;
    done += static_cast<uint64_t>(n);
    wb.Copied(done);
    since_step += static_cast<uint64_t>(n);
    cs->used |= used_bit;
    if (since_step >= kChunk || done == end) {
      since_step = 0;
      seam->Step("copy");
    }
  }
  return 0;
}

// Copies the bytes [start, end) to the same offsets: copy_file_range, then
// sendfile, then pread/pwrite. -EBUSY when the source ended early.
int CopyRange(int in, int out, uint64_t start, uint64_t end, bool threaded, CopyState* cs,
              CrashSeam* seam) {
  if (!cs->no_cfr) {
    int r = KernelCopy(&CopyFileRangeChunk, 2, in, out, start, end, threaded, cs, seam);
    if (r <= 0) return r;
    cs->no_cfr = true;
  }
  if (!cs->no_sendfile) {
    int r = KernelCopy(&SendfileChunk, 4, in, out, start, end, threaded, cs, seam);
    if (r <= 0) return r;
    cs->no_sendfile = true;
  }
  uint64_t done = start;
  constexpr size_t kBuf = 1u << 20;
  if (!cs->buf && !(cs->buf = static_cast<char*>(malloc(kBuf)))) return -ENOMEM;
  uint64_t since_step = 0;
  Writeback wb(out, end, threaded);
  while (done < end) {
    size_t want = end - done < kBuf ? static_cast<size_t>(end - done) : kBuf;
    ssize_t n = pread(in, cs->buf, want, static_cast<off_t>(done));
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
    if (since_step >= kChunk || done == end) {
      since_step = 0;
      seam->Step("copy");
    }
  }
  return 0;
}

// Copies `size` bytes; -EBUSY when the source ended early (it changed). A
// sparse source (fewer blocks than its size needs) keeps its holes: the copy
// gets its size first, then only the data extents (SEEK_DATA / SEEK_HOLE), so
// a 1 GiB file holding 1 MiB of data takes 1 MiB at the destination too.
int CopyData(int in, int out, uint64_t size, bool sparse, CopyState* cs, CrashSeam* seam) {
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
  if (!sparse) return CopyRange(in, out, 0, size, true, cs, seam);
  if (ftruncate(out, static_cast<off_t>(size)) != 0) return -errno;
  for (uint64_t off = 0; off < size;) {
    off_t data = lseek(in, static_cast<off_t>(off), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;                                // only a hole is left
    if (data < 0) return CopyRange(in, out, off, size, false, cs, seam);  // no SEEK_DATA here
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) return -errno;
    uint64_t end = static_cast<uint64_t>(hole) < size ? static_cast<uint64_t>(hole) : size;
    int r = CopyRange(in, out, static_cast<uint64_t>(data), end, false, cs, seam);
    if (r != 0) return r;
    off = end;
  }
  return 0;
}

// Where a copied object is: `name` in the directory `dirfd`, and, when it is
// open, `fd` (then every call goes through the fd).
struct At {
  int dirfd;
  const char* name;
  int fd = -1;
};

// A path for the l*xattr calls, which have no *at form: the kernel's name for
// the directory fd, then the name.
bool ProcPath(const At& at, char* out, size_t size) {
  int n = snprintf(out, size, "/proc/self/fd/%d/%s", at.dirfd, at.name);
  return n > 0 && static_cast<size_t>(n) < size;
}

// Copies extended attributes; an attribute the destination cannot hold
// (unsupported namespace, not allowed on symlinks) is skipped, as mv does.
int CopyXattrs(const char* src, int src_fd, const At& dst) {
  ssize_t n = src_fd >= 0 ? flistxattr(src_fd, nullptr, 0) : llistxattr(src, nullptr, 0);
  if (n <= 0) return 0;  // none, or not supported on the source
  char dpath[PATH_MAX + 64];
  if (dst.fd < 0 && !ProcPath(dst, dpath, sizeof dpath)) return -ENAMETOOLONG;
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
    int r = dst.fd >= 0 ? fsetxattr(dst.fd, name, value.data, static_cast<size_t>(vn), 0)
                        : lsetxattr(dpath, name, value.data, static_cast<size_t>(vn), 0);
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
int ApplyMetadata(const Entry& e, const char* src, int src_fd, const At& dst) {
  bool link = S_ISLNK(e.mode);
  int r = dst.fd >= 0 ? fchown(dst.fd, e.uid, e.gid)
                      : fchownat(dst.dirfd, dst.name, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
  if (r != 0 && errno != EPERM) return -errno;  // EPERM: not ours to give away, like mv
  if (!link) {
    r = dst.fd >= 0 ? fchmod(dst.fd, e.mode & 07777)
                    : fchmodat(dst.dirfd, dst.name, e.mode & 07777, 0);
    if (r != 0) return -errno;
  }
  r = CopyXattrs(src, src_fd, dst);
  if (r != 0) return r;
  struct timespec ts[2] = {{e.atime_ns / 1000000000, e.atime_ns % 1000000000},
                           {e.mtime_ns / 1000000000, e.mtime_ns % 1000000000}};
  r = dst.fd >= 0 ? futimens(dst.fd, ts) : utimensat(dst.dirfd, dst.name, ts, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : -errno;
}

// Opens a source file for reading without ever blocking (O_NONBLOCK: a FIFO
// put under the name since the snapshot must not hang the caller) and checks
// that it is still the regular file `ino`. The fd, or -errno (-EBUSY when the
// name now holds something else).
int OpenSourceFile(const char* path, uint64_t ino, struct stat* st) {
  int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  // Gone or replaced by a symlink since the snapshot: the source changed.
  if (in < 0) return errno == ELOOP || errno == ENOENT || errno == ENOTDIR ? -EBUSY : -errno;
  if (fstat(in, st) != 0 || !S_ISREG(st->st_mode) || st->st_ino != ino) {
    close(in);
    return -EBUSY;  // replaced between the snapshot and the copy
  }
  return in;
}

bool IsSparse(const struct stat& st) {
  return static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size);
}

int CopyRegular(const Entry& e, const char* src, const At& dst, bool fsync_file, CopyState* cs,
                CrashSeam* seam) {
  struct stat st;
  int in = OpenSourceFile(src, e.ino, &st);
  if (in < 0) return in;
  int out = openat(dst.dirfd, dst.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = -errno;
    close(in);
    return err;
  }
  int r = CopyData(in, out, e.size, IsSparse(st), cs, seam);
  At with_fd = dst;
  with_fd.fd = out;
  if (r == 0) r = ApplyMetadata(e, src, in, with_fd);
  if (r == 0 && fsync_file && fsync(out) != 0) r = -errno;
  if (close(out) != 0 && r == 0) r = -errno;
  close(in);
  return r;
}

int CopySymlink(const Entry& e, const char* src, const At& dst) {
  size_t cap = e.size + 2 > PATH_MAX ? e.size + 2 : PATH_MAX;
  char* target = static_cast<char*>(malloc(cap));
  if (!target) return -ENOMEM;
  ssize_t n = readlink(src, target, cap - 1);
  int r = 0;
  if (n < 0) {
    r = errno == ENOENT || errno == EINVAL || errno == ENOTDIR ? -EBUSY : -errno;
  } else if (static_cast<size_t>(n) >= cap - 1) {
    r = -EBUSY;
  } else {
    target[n] = '\0';
    if (symlinkat(target, dst.dirfd, dst.name) != 0) r = -errno;
  }
  free(target);
  if (r == 0) r = ApplyMetadata(e, src, -1, dst);
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

}  // namespace

CopyState::~CopyState() { free(buf); }

namespace {

// The regular files of a tree that have one link: copied side by side.
struct FileCopies {
  const Tree* t;
  const char* src;
  int dirfd;  // the destination folder (entry 0 goes there as tmp_name)
  const char* tmp_name;
  int root_fd;  // the copy's root directory (-1 for a single file)
  bool single;
  CrashSeam* seam;
  SyncAhead* ahead;
  CopyState* cs[kMaxThreads];
  Failures failed;

  static void One(void* ctx, int w, size_t i) {
    auto* c = static_cast<FileCopies*>(ctx);
    const Entry& e = c->t->entries[i];
    if (!S_ISREG(e.mode) || e.nlink > 1) return;  // hard links: in order, afterwards
    char sp[PATH_MAX];
    const char* rel = c->t->Rel(e);
    int r = JoinRel(sp, c->src, rel);
    if (r == 0) {
      At at{i == 0 ? c->dirfd : c->root_fd, i == 0 ? c->tmp_name : rel};
      r = CopyRegular(e, sp, at, c->single, c->cs[w], c->seam);
    }
    if (r != 0) {
      c->failed.Fail(w, i, r);
      return;
    }
    if (!c->single) c->ahead->Copied(c->root_fd, e.size + 4096);  // data, inode, entry
    if (e.size == 0) c->seam->Step("copy");
  }
};

}  // namespace

// Copies the snapshot `t` of `src` to `tmp_name` in the directory `dirfd`;
// everything below it is reached from an fd of the copy's root, so the copy
// works wherever the destination folder's own path fits (a path of the temp
// copy may be longer than PATH_MAX). In four passes: the directories (created
// 0700, in pre-order), the regular files with one link (side by side on up to
// kMaxThreads threads), every other entry in order (hard links to the first
// copy of their inode, symlinks, special files), and the directories' real
// metadata, after their contents.
int CopyTree(const Tree& t, const char* src, int dirfd, const char* tmp_name, CopyState* cs,
             CrashSeam* seam) {
  char sp[PATH_MAX], lp[PATH_MAX];
  bool single = t.entries.size == 1;
  bool root_dir = S_ISDIR(t.entries[0].mode);
  LinkMap links;
  struct RootFd {
    int fd = -1;
    ~RootFd() {
      if (fd >= 0) close(fd);
    }
  } root;
  SyncAhead ahead(!single);  // declared after `root`: joined before root.fd closes
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    if (!S_ISDIR(e.mode)) continue;
    At at{i == 0 ? dirfd : root.fd, i == 0 ? tmp_name : t.Rel(e)};
    if (mkdirat(at.dirfd, at.name, 0700) != 0) return -errno;
    if (i == 0) {
      root.fd = openat(dirfd, tmp_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (root.fd < 0) return -errno;
    }
    seam->Step("copy");
  }

  CopyState more[kMaxThreads - 1];
  FileCopies files{&t, src, dirfd, tmp_name, root.fd, single, seam, &ahead, {cs}, {}};
  for (int w = 1; w < kMaxThreads; ++w) files.cs[w] = &more[w - 1];
  ParallelFor(t.entries.size, ThreadsFor(t.entries.size), &FileCopies::One, &files,
              &files.failed.stop);
  for (const CopyState& m : more) cs->used |= m.used;
  if (int r = files.failed.First(); r != 0) return r;

  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    if (S_ISDIR(e.mode) || (S_ISREG(e.mode) && e.nlink <= 1)) continue;
    const char* rel = t.Rel(e);
    if (JoinRel(sp, src, rel) != 0) return -ENAMETOOLONG;
    At at{i == 0 ? dirfd : root.fd, i == 0 ? tmp_name : rel};
    int r = 0;
    if (S_ISREG(e.mode)) {
      long first = links.FindOrAdd(t, i);
      if (first < 0) return -ENOMEM;
      if (static_cast<size_t>(first) != i) {
        const char* first_rel = t.Rel(t.entries[first]);
        if (strlen(first_rel) >= sizeof lp) return -ENAMETOOLONG;
        strcpy(lp, first_rel);
        r = linkat(root.fd, lp, at.dirfd, at.name, 0) == 0 ? 0 : -errno;
      } else {
        r = CopyRegular(e, sp, at, single, cs, seam);
        if (r == 0 && !single) ahead.Copied(root.fd, e.size + 4096);
      }
    } else if (S_ISLNK(e.mode)) {
      r = CopySymlink(e, sp, at);
    } else {
      r = mknodat(at.dirfd, at.name, (e.mode & S_IFMT) | 0600, e.rdev) == 0 ? 0 : -errno;
      if (r == 0) r = ApplyMetadata(e, sp, -1, at);
    }
    if (r != 0) return r;
    if (!S_ISREG(e.mode) || e.size == 0) seam->Step("copy");
  }
  for (size_t k = t.entries.size; k-- > 0;) {
    const Entry& e = t.entries[k];
    if (!S_ISDIR(e.mode)) continue;
    if (JoinRel(sp, src, t.Rel(e)) != 0) return -ENAMETOOLONG;
    At at{k == 0 ? dirfd : root.fd, k == 0 ? tmp_name : t.Rel(e)};
    int r = ApplyMetadata(e, sp, -1, at);
    if (r != 0) return r;
  }
  if (!root_dir) return 0;  // a single file was fsynced by CopyRegular
  // A tree: one syncfs instead of an fsync per file, the same durability for
  // a 10,000-file tree at a fraction of the cost. A single directory: fsync.
  if (!single) {
    int early = ahead.Finish();
    cs->syncs_ahead = ahead.syncs();
    int r = syncfs(root.fd) == 0 ? 0 : -errno;
    return r != 0 ? r : early;
  }
  return fsync(root.fd) == 0 ? 0 : -errno;
}

int ReplaceWithCopy(int in, const char* dst, const char* id, CrashSeam* seam) {
  struct stat st;
  if (fstat(in, &st) != 0) return -errno;
  const char* name = nullptr;
  int dirfd = OpenParent(dst, &name);
  if (dirfd < 0) return dirfd;
  char tmp[NAME_MAX + 1];
  int r = MoveTempName(tmp, sizeof tmp, id, "re");
  int out =
      r == 0 ? openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
  if (r == 0 && out < 0) r = -errno;
  if (r == 0) {
    CopyState cs;
    CrashSeam no_crash;
    Entry e;
    e.mode = st.st_mode;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.atime_ns = static_cast<int64_t>(st.st_atim.tv_sec) * 1000000000 + st.st_atim.tv_nsec;
    e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    r = CopyData(in, out, static_cast<uint64_t>(st.st_size), IsSparse(st), &cs, &no_crash);
    if (r == 0) r = ApplyMetadata(e, nullptr, in, At{dirfd, tmp, out});
    if (r == 0 && fsync(out) != 0) r = -errno;
    if (close(out) != 0 && r == 0) r = -errno;
    if (r == 0 && seam) seam->Step("recopied");
    if (r == 0) r = SysRenameat2(dirfd, tmp, dirfd, name, 0);
    if (r == 0 && fsync(dirfd) != 0) r = -errno;
    if (r != 0) unlinkat(dirfd, tmp, 0);
  }
  close(dirfd);
  return r;
}

}  // namespace vaultd::move::internal
