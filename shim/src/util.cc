#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "internal.h"

namespace vaultd::move::internal {

bool Buf::Reserve(size_t n) {
  if (!ok) return false;
  if (n + 1 <= cap) return true;
  size_t ncap = cap ? cap : 256;
  while (ncap < n + 1) ncap *= 2;
  void* p = realloc(data, ncap);
  if (!p) {
    ok = false;
    return false;
  }
  data = static_cast<char*>(p);
  cap = ncap;
  return true;
}

void Buf::Append(const char* s, size_t n) {
  if (!Reserve(len + n)) return;
  memcpy(data + len, s, n);
  len += n;
  data[len] = '\0';
}

void Buf::AppendU64(uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%llu", static_cast<unsigned long long>(v));
  Append(tmp, static_cast<size_t>(n));
}

void Buf::AppendI64(int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%lld", static_cast<long long>(v));
  Append(tmp, static_cast<size_t>(n));
}

void Buf::AppendHex64(uint64_t v) {
  char tmp[20];
  int n = snprintf(tmp, sizeof tmp, "%016llx", static_cast<unsigned long long>(v));
  Append(tmp, static_cast<size_t>(n));
}

void Buf::AppendEscaped(const char* s) {
  static const char kHex[] = "0123456789abcdef";
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p; ++p) {
    if (*p <= 0x20 || *p == 0x7f || *p == '%') {
      char e[3] = {'%', kHex[*p >> 4], kHex[*p & 15]};
      Append(e, 3);
    } else {
      AppendChar(static_cast<char>(*p));
    }
  }
}

const char* Buf::c_str() {
  if (!Reserve(len)) return "";
  data[len] = '\0';
  return data;
}

uint64_t Fnv1a64(const char* data, size_t len, uint64_t h) {
  for (size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

static int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unescape(char* s) {
  char* w = s;
  for (char* r = s; *r; ++r) {
    if (*r == '%') {
      int hi = HexVal(r[1]);
      int lo = hi < 0 ? -1 : HexVal(r[2]);
      if (hi < 0 || lo < 0) return false;
      int v = hi * 16 + lo;
      if (v == 0) return false;
      *w++ = static_cast<char>(v);
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
  return true;
}

int64_t ToNs(const struct statx_timestamp& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

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
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

int RemoveTree(const char* path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
  chmod(path, 0700);
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = RemoveContents(fd, 0);
  if (r != 0) return r;
  return rmdir(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int ReadSmallFile(const char* path, size_t max, Buf* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -errno;
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

namespace {
StepHook g_step_hook = nullptr;
void* g_step_hook_ctx = nullptr;
}  // namespace

void SetStepHookForTesting(StepHook hook, void* ctx) {
  g_step_hook = hook;
  g_step_hook_ctx = ctx;
}

void CrashSeam::Init() {
  step = 0;
  crash_step = 0;
  crash_name[0] = '\0';
  const char* v = getenv("VAULTD_MOVE_CRASH_AT");
  if (!v || !*v) return;
  char* end = nullptr;
  long n = strtol(v, &end, 10);
  if (end && *end == '\0' && n > 0) {
    crash_step = n;
  } else {
    snprintf(crash_name, sizeof crash_name, "%s", v);
  }
}

void CrashSeam::Step(const char* name) {
  ++step;
  if ((crash_step > 0 && step == crash_step) ||
      (crash_name[0] != '\0' && strcmp(crash_name, name) == 0)) {
    raise(SIGKILL);
  }
  if (g_step_hook) g_step_hook(name, g_step_hook_ctx);
}

}  // namespace vaultd::move::internal
