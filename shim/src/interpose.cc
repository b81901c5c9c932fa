// libvaultshim.so: LD_PRELOAD interposer for rename, renameat and renameat2.
//
// The real function runs first. Only when it fails with EXDEV, and both paths
// lie under VAULTD_SHIM_ROOTS (colon-separated, default /vault), does the
// journaled move run; in every other case the caller gets exactly what libc
// returned, errno untouched. Nothing is printed: an optional log file is named
// by VAULTD_SHIM_LOG.
//
// Signals: rename() is async-signal-safe in POSIX, and so is the pass-through
// path here (one system call). The EXDEV fallback is not (it allocates, reads
// the environment, takes file locks); a signal handler that renames across
// mounts while the interrupted code holds the malloc lock could deadlock. No
// program we know of does that; the journal makes a move killed by any signal
// recoverable.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "vaultd/shim/move.h"

namespace {

using RenameFn = int (*)(const char*, const char*);
using RenameatFn = int (*)(int, const char*, int, const char*);
using Renameat2Fn = int (*)(int, const char*, int, const char*, unsigned);

std::atomic<void*> g_rename{nullptr}, g_renameat{nullptr}, g_renameat2{nullptr};

void* Real(std::atomic<void*>& slot, const char* name) {
  void* p = slot.load(std::memory_order_acquire);
  if (!p) {
    p = dlsym(RTLD_NEXT, name);
    if (p) slot.store(p, std::memory_order_release);
  }
  return p;
}

void Log(const char* fmt, const char* a, const char* b, const char* c) {
  const char* path = getenv("VAULTD_SHIM_LOG");
  if (!path || !*path) return;
  char line[3 * PATH_MAX + 256];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int n = snprintf(line, sizeof line, "%lld.%03ld pid=%d ", static_cast<long long>(ts.tv_sec),
                   ts.tv_nsec / 1000000, static_cast<int>(getpid()));
  if (n < 0 || static_cast<size_t>(n) >= sizeof line) return;
  int m = snprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, a, b, c);
  if (m < 0) return;
  size_t len =
      static_cast<size_t>(n) +
      (static_cast<size_t>(m) < sizeof line - n - 1 ? static_cast<size_t>(m) : sizeof line - n - 2);
  line[len++] = '\n';
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  ssize_t w = write(fd, line, len);
  (void)w;
  close(fd);
}

// Turns (dirfd, path) into an absolute path whose parent directory is fully
// resolved (symlinks, "..", the directory fd) and whose last component is kept
// as written, plus a trailing "/" if the caller wrote one.
bool Resolve(int dirfd, const char* path, char* out) {
  size_t n = strlen(path);
  if (n == 0 || n >= PATH_MAX) return false;
  char buf[PATH_MAX];
  memcpy(buf, path, n + 1);
  bool slash = false;
  while (n > 1 && buf[n - 1] == '/') {
    buf[--n] = '\0';
    slash = true;
  }
  char* last = strrchr(buf, '/');
  const char* name;
  char parent[PATH_MAX];
  if (!last) {
    name = buf;
    strcpy(parent, ".");
  } else if (last == buf) {
    name = buf + 1;
    strcpy(parent, "/");
  } else {
    *last = '\0';
    name = last + 1;
    snprintf(parent, sizeof parent, "%s", buf);
  }
  // "." and ".." stay as written: the move answers them as rename(2) does
  // inside one mount (EBUSY, or EEXIST with RENAME_NOREPLACE).
  if (*name == '\0') return false;
  const char* lookup = parent;
  char via_fd[2 * PATH_MAX];
  if (parent[0] != '/' && dirfd != AT_FDCWD) {
    // The kernel's own name for the directory fd, then the relative part.
    int w = snprintf(via_fd, sizeof via_fd, "/proc/self/fd/%d/%s", dirfd, parent);
    if (w < 0 || static_cast<size_t>(w) >= sizeof via_fd) return false;
    lookup = via_fd;
  }
  char real[PATH_MAX];
  if (!realpath(lookup, real)) return false;
  int w = snprintf(out, PATH_MAX, "%s%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", name,
                   slash ? "/" : "");
  return w > 0 && w < PATH_MAX;
}

// Is `path` strictly inside `root` (or, with `or_equal`, the root itself)?
bool Under(const char* path, const char* root, bool or_equal) {
  size_t n = strlen(root);
  if (or_equal && strcmp(path, root) == 0) return true;
  if (n == 1 && root[0] == '/') return path[1] != '\0';
  return strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

// Is `path` strictly inside one of the roots (each root lexically tidied and,
// when it exists, resolved)? With `or_equal`, being a root counts too.
bool UnderRoots(const char* path, bool or_equal = false) {
  const char* roots = getenv("VAULTD_SHIM_ROOTS");
  if (!roots || !*roots) roots = "/vault";
  for (const char* p = roots; *p;) {
    const char* end = strchr(p, ':');
    size_t len = end ? static_cast<size_t>(end - p) : strlen(p);
    if (len > 0 && len < PATH_MAX && p[0] == '/') {
      char root[PATH_MAX], real[PATH_MAX];
      memcpy(root, p, len);
      root[len] = '\0';
      while (len > 1 && root[len - 1] == '/') root[--len] = '\0';
      if (Under(path, root, or_equal)) return true;
      if (realpath(root, real) && Under(path, real, or_equal)) return true;
    }
    if (!end) break;
    p = end + 1;
  }
  return false;
}

// Resolves `path` as far as it exists (symlinks, "..") and appends the rest
// as written: a journal directory not created yet is judged by where it will
// be, also when an existing part of its path is a symlink into a root.
bool ResolveExisting(const char* path, char* out) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n == 0 || n >= PATH_MAX || path[0] != '/') return false;
  memcpy(buf, path, n + 1);
  while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
  char real[PATH_MAX];
  // Cut components off the end until the rest exists.
  for (size_t cut = n;;) {
    char saved = buf[cut];
    buf[cut] = '\0';
    bool ok = realpath(cut == 0 ? "/" : buf, real);
    buf[cut] = saved;
    if (ok) {
      const char* rest = buf + cut;
      while (*rest == '/') ++rest;
      // What does not exist yet must not climb out with "..".
      for (const char* p = rest; *p;) {
        const char* slash = strchr(p, '/');
        size_t len = slash ? static_cast<size_t>(slash - p) : strlen(p);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
        p += len;
        while (*p == '/') ++p;
      }
      int w =
          snprintf(out, PATH_MAX, "%s%s%s", real, *rest && strcmp(real, "/") != 0 ? "/" : "", rest);
      return w > 0 && w < PATH_MAX;
    }
    if (cut == 0) return false;
    while (cut > 0 && buf[cut - 1] != '/') --cut;  // drop the last component
    while (cut > 1 && buf[cut - 1] == '/') --cut;
    if (cut == 1) cut = 0;
  }
}

// 1 = not ours (keep EXDEV), 0 = moved, <0 = -errno of the emulated rename.
int Fallback(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags) {
  if (!oldpath || !newpath) return 1;
  if (flags & (vaultd::move::kRenameExchange | vaultd::move::kRenameWhiteout)) return 1;
  char src[PATH_MAX], dst[PATH_MAX];
  if (!Resolve(olddirfd, oldpath, src) || !Resolve(newdirfd, newpath, dst)) return 1;
  if (!UnderRoots(src) || !UnderRoots(dst)) return 1;
  char journal[PATH_MAX], jreal[PATH_MAX];
  if (vaultd::move::DefaultJournalDir(journal, sizeof journal) != 0 || journal[0] != '/') {
    Log("skip %s -> %s: no journal directory (set VAULTD_JOURNAL_DIR or HOME)%s", src, dst, "");
    return 1;
  }
  if (!ResolveExisting(journal, jreal)) {
    Log("skip %s -> %s: journal directory %s cannot be resolved", src, dst, journal);
    return 1;
  }
  if (UnderRoots(jreal, /*or_equal=*/true)) {
    Log("skip %s -> %s: journal directory %s is inside the shim roots", src, dst, jreal);
    return 1;
  }
  int r = vaultd::move::MovePaths(src, dst, flags, jreal);
  if (r == 0) {
    Log("moved %s -> %s%s", src, dst, "");
  } else {
    Log("move %s -> %s: %s", src, dst, strerror(-r));
  }
  return r == -EXDEV ? 1 : r;
}

int Finish(int r, int saved_errno, int olddirfd, const char* oldpath, int newdirfd,
           const char* newpath, unsigned flags) {
  if (r == 0 || errno != EXDEV) return r;
  int f = Fallback(olddirfd, oldpath, newdirfd, newpath, flags);
  if (f == 1) {
    errno = EXDEV;
    return -1;
  }
  if (f == 0) {
    errno = saved_errno;
    return 0;
  }
  errno = -f;
  return -1;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int rename(const char* oldpath,
                                                  const char* newpath) __THROW {
  int saved = errno;
  auto fn = reinterpret_cast<RenameFn>(Real(g_rename, "rename"));
  errno = saved;  // dlsym on the first call may have set it; libc leaves it alone on success
  int r = fn ? fn(oldpath, newpath)
             : static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
  return Finish(r, saved, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

__attribute__((visibility("default"))) int renameat(int olddirfd, const char* oldpath, int newdirfd,
                                                    const char* newpath) __THROW {
  int saved = errno;
  auto fn = reinterpret_cast<RenameatFn>(Real(g_renameat, "renameat"));
  errno = saved;  // dlsym on the first call may have set it; libc leaves it alone on success
  int r = fn ? fn(olddirfd, oldpath, newdirfd, newpath)
             : static_cast<int>(syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 0));
  return Finish(r, saved, olddirfd, oldpath, newdirfd, newpath, 0);
}

__attribute__((visibility("default"))) int renameat2(int olddirfd, const char* oldpath,
                                                     int newdirfd, const char* newpath,
                                                     unsigned int flags) __THROW {
  int saved = errno;
  auto fn = reinterpret_cast<Renameat2Fn>(Real(g_renameat2, "renameat2"));
  errno = saved;  // dlsym on the first call may have set it; libc leaves it alone on success
  int r =
      fn ? fn(olddirfd, oldpath, newdirfd, newpath, flags)
         : static_cast<int>(syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags));
  return Finish(r, saved, olddirfd, oldpath, newdirfd, newpath, flags);
}

}  // extern "C"
