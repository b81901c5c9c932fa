// The errors rename(2) would have returned had both paths been on one mount,
// recomputed without changing anything (the kernel answered EXDEV first).
#include "precheck.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "vaultd/shim/move.h"

namespace vaultd::move::internal {
namespace {

bool IsReadOnlyMount(const char* dir) {
  struct statvfs sv;
  return statvfs(dir, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

// may_delete() of the kernel: write+search on the parent, and the sticky bit.
int MayDelete(const char* parent, const Entry& victim) {
  if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) != 0) return -errno;
  Entry ps;
  int r = StatEntry(parent, &ps);
  if (r != 0) return r;
  if (ps.append_only) return -EPERM;  // nothing may leave an append-only directory
  uid_t me = geteuid();
  if ((ps.mode & S_ISVTX) && me != 0 && me != ps.uid && me != victim.uid) return -EPERM;
  if (victim.undeletable) return -EPERM;  // chattr +i or +a on the object itself
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

}  // namespace

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

}  // namespace vaultd::move::internal

namespace vaultd::move {

int CheckMove(const char* src, const char* dst, unsigned flags) {
  using namespace internal;
  Paths* p = static_cast<Paths*>(calloc(1, sizeof(Paths)));
  if (!p) return -ENOMEM;
  int r = SetupPaths(src, dst, p);
  Entry s, d;
  bool dst_exists = false;
  if (r == 0) r = Precheck(*p, flags, &s, &d, &dst_exists);
  free(p);
  return r;
}

}  // namespace vaultd::move
