// Private helpers of libvaultd_move. Plain C-style C++: no exceptions, no
// libstdc++ containers, malloc-backed buffers whose failures become -ENOMEM,
// because this code is linked into libvaultshim.so and runs inside foreign
// processes.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace vaultd::move::internal {

// A growable byte buffer; `ok` turns false (for good) when malloc fails.
struct Buf {
  char* data = nullptr;
  size_t len = 0;
  size_t cap = 0;
  bool ok = true;

  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { free(data); }

  bool Reserve(size_t n);
  void Append(const char* s, size_t n);
  void Append(const char* s) { Append(s, strlen(s)); }
  void AppendChar(char c) { Append(&c, 1); }
  void AppendU64(uint64_t v);
  void AppendI64(int64_t v);
  void AppendHex64(uint64_t v);
  // Percent-escapes bytes <= 0x20, 0x7f and '%', so a path is one token.
  void AppendEscaped(const char* s);
  const char* c_str();  // NUL-terminated view (kept after len)
  void Clear() { len = 0; }
};

// A growable array of trivially copyable T.
template <typename T>
struct Vec {
  T* data = nullptr;
  size_t size = 0;
  size_t cap = 0;

  Vec() = default;
  Vec(const Vec&) = delete;
  Vec& operator=(const Vec&) = delete;
  ~Vec() { free(data); }

  bool Push(const T& v) {
    if (size == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      void* p = realloc(data, ncap * sizeof(T));
      if (!p) return false;
      data = static_cast<T*>(p);
      cap = ncap;
    }
    data[size++] = v;
    return true;
  }
  T& operator[](size_t i) { return data[i]; }
  const T& operator[](size_t i) const { return data[i]; }
};

uint64_t Fnv1a64(const char* data, size_t len, uint64_t seed = 0xcbf29ce484222325ull);

// Decodes AppendEscaped in place; false on a malformed escape.
bool Unescape(char* s);

int64_t ToNs(const struct statx_timestamp& t);

// The renameat2 system call itself: the library must never reach the
// interposed rename symbols of libvaultshim.so.
int SysRenameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                 unsigned flags);

// mkdir -p with mode 0700 for created components. 0 or -errno.
int MkdirAll(const char* path);
// fsync of a directory by path. 0 or -errno.
int FsyncDir(const char* path);
// Removes a file or a whole tree (making directories writable as needed).
// 0 when it is gone (or was never there), else -errno. The path may be longer
// than PATH_MAX as long as its parent is not (a temp name beside a long one).
int RemoveTree(const char* path);
// The same for `name` in the directory open as `dirfd`.
int RemoveTreeAt(int dirfd, const char* name);
// Opens the parent directory of an absolute path (which may be longer than
// PATH_MAX if its parent is not); *name points at the last component in
// `path`. The fd or -errno.
int OpenParent(const char* path, const char** name);

// Reads a whole regular file (up to max bytes) into *out, never blocking on a
// FIFO. 0 or -errno (-EFBIG if larger, -EINVAL if not a regular file).
int ReadSmallFile(const char* path, size_t max, Buf* out);

// False when a file of `size` bytes would exceed RLIMIT_FSIZE: writing it
// would raise SIGXFSZ, whose default action kills the caller.
bool FitsFileSizeLimit(uint64_t size);

// The name a move gives a copy beside its destination,
// ".vaultd-move-<id>.<ext>": "tmp" for the move's copy, "re" for a file that
// changed after the commit and is copied again. 0 or -ENAMETOOLONG.
int MoveTempName(char* out, size_t size, const char* id, const char* ext);

// Splits "/a/b/c" into parent "/a/b" and name "c" (copied into the buffers).
// The path must be absolute and normal. -EINVAL / -ENAMETOOLONG on failure.
int SplitPath(const char* path, char* parent, size_t parent_size, char* name, size_t name_size);

// Fault-injection seam: VAULTD_MOVE_CRASH_AT=<N> kills the process with
// SIGKILL at the N-th step of a move (or recovery), =<phase name> at the first
// step of that name. See docs/move-journal.md for the step names.
// Unit tests only: a function called at every step after the crash check
// (e.g. to change the source at "copied"). Never set in the preloaded library.
using StepHook = void (*)(const char* name, void* ctx);
void SetStepHookForTesting(StepHook hook, void* ctx);

// Any thread of a move may report a step.
struct CrashSeam {
  std::atomic<int> step{0};
  long crash_step = 0;
  char crash_name[32] = {0};
  void Init();
  void Step(const char* name);
};

}  // namespace vaultd::move::internal
