// File system operations by path shared by the move and recovery.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "internal.h"

namespace vaultd::move::internal {

int SysRenameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                 unsigned flags) {
  long r = syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
  return r == 0 ? 0 : -errno;
}

int MkdirAll(const char* path) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char saved = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -errno;
      buf[i] = saved;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0) return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int FsyncDir(const char* path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -errno;
  int r = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return r;
}

// Removes the contents of the directory open as `dfd`, then nothing else.
static int RemoveContents(int dfd, int depth) {
  if (depth > 4096) return -ELOOP;
  DIR* d = fdopendir(dfd);
  if (!d) {
    int e = -errno;
    close(dfd);
    return e;
  }
  int result = 0;
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d);
    if (!de) {
      if (errno != 0 && result == 0) result = -errno;
      break;
    }
    const char* name = de->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    if (unlinkat(dirfd(d), name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      if (result == 0) result = -errno;
      continue;
    }
    // A directory: make it writable (a copied read-only directory), empty it, remove it.
    fchmodat(dirfd(d), name, 0700, 0);
    int cfd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) {
      if (result == 0) result = -errno;
      continue;
    }
    int r = RemoveContents(cfd, depth + 1);
    if (r == 0 && unlinkat(dirfd(d), name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -errno;
    if (r != 0 && result == 0) result = r;
  }
  closedir(d);
  return result;
}

int RemoveTreeAt(int dirfd, const char* name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -errno;
  fchmodat(dirfd, name, 0700, 0);
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = RemoveContents(fd, 0);
  if (r != 0) return r;
  return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -errno;
}

int OpenParent(const char* path, const char** name) {
  const char* slash = strrchr(path, '/');
  if (path[0] != '/' || !slash || slash[1] == '\0') return -EINVAL;
  size_t plen = slash == path ? 1 : static_cast<size_t>(slash - path);
  if (plen >= PATH_MAX) return -ENAMETOOLONG;
  char parent[PATH_MAX];
  memcpy(parent, path, plen);
  parent[plen] = '\0';
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  *name = slash + 1;
  return fd;
}

int RemoveTree(const char* path) {
  const char* name = nullptr;
  int dfd = OpenParent(path, &name);
  if (dfd < 0) return dfd == -ENOENT ? 0 : dfd;
  int r = RemoveTreeAt(dfd, name);
  close(dfd);
  return r;
}

int ReadSmallFile(const char* path, size_t max, Buf* out) {
  // O_NONBLOCK: a FIFO (or a device) under that name must not block us.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -EINVAL;
  }
  out->Clear();
  char chunk[65536];
  int r = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      r = -errno;
      break;
    }
    if (n == 0) break;
    if (out->len + static_cast<size_t>(n) > max) {
      r = -EFBIG;
      break;
    }
    out->Append(chunk, static_cast<size_t>(n));
    if (!out->ok) {
      r = -ENOMEM;
      break;
    }
  }
  close(fd);
  if (r == 0) out->c_str();
  return r;
}

bool FitsFileSizeLimit(uint64_t size) {
  struct rlimit rl;
  return getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || size <= rl.rlim_cur;
}

int MoveTempName(char* out, size_t size, const char* id, const char* ext) {
  int n = snprintf(out, size, ".vaultd-move-%s.%s", id, ext);
  return n >= 0 && static_cast<size_t>(n) < size ? 0 : -ENAMETOOLONG;
}

int SplitPath(const char* path, char* parent, size_t parent_size, char* name, size_t name_size) {
  const char* slash = strrchr(path, '/');
  if (path[0] != '/' || !slash || slash[1] == '\0') return -EINVAL;
  size_t plen = static_cast<size_t>(slash - path);
  if (plen == 0) plen = 1;  // parent is "/"
  size_t nlen = strlen(slash + 1);
  if (plen + 1 > parent_size || nlen + 1 > name_size) return -ENAMETOOLONG;
  memcpy(parent, path, plen);
  parent[plen] = '\0';
  memcpy(name, slash + 1, nlen + 1);
  return 0;
}
}  // namespace vaultd::move::internal
