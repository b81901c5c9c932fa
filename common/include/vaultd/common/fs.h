// The filesystem seam: the few system calls that crash-sensitive code uses,
// behind an interface a test can make fail (or stop the process) at step N.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"

namespace vaultd {

class Fs {
 public:
  virtual ~Fs() = default;
  virtual Result<int> Open(const std::string& path, int flags, mode_t mode) = 0;
  virtual Status WriteAll(int fd, std::string_view data, const std::string& path) = 0;
  virtual Status Fsync(int fd, const std::string& path) = 0;
  virtual Status Close(int fd, const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  // Opens the directory and fsyncs it, so a rename or create inside it is durable.
  virtual Status FsyncDir(const std::string& dir) = 0;
};

// Plain POSIX calls, EINTR handled.
Fs& RealFs();

// Passes through to `base` until `fail_at` operations have happened, then
// calls `on_fault(op_index, op_name)` (which may _exit to simulate a crash)
// and fails that and every later operation with EIO.
class FaultInjectionFs final : public Fs {
 public:
  using OnFault = std::function<void(int op_index, std::string_view op)>;
  FaultInjectionFs(Fs& base, int fail_at, OnFault on_fault = {})
      : base_(base), fail_at_(fail_at), on_fault_(std::move(on_fault)) {}

  int ops() const { return ops_; }

  Result<int> Open(const std::string& path, int flags, mode_t mode) override;
  Status WriteAll(int fd, std::string_view data, const std::string& path) override;
  Status Fsync(int fd, const std::string& path) override;
  Status Close(int fd, const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status FsyncDir(const std::string& dir) override;

 private:
  Status Step(std::string_view op);
  Fs& base_;
  int fail_at_;
  OnFault on_fault_;
  int ops_ = 0;
};

struct AtomicWriteOptions {
  mode_t mode = 0644;
  bool sync = true;  // fsync file and directory; false only for throwaway data
};

// Writes `data` to `path` so that a crash at any instant leaves either the
// old content or the new one, never a mix: write a temp file in the same
// directory, fsync it, rename it over `path`, fsync the directory. On failure
// the temp file is removed and `path` is untouched.
Status WriteFileAtomic(const std::string& path, std::string_view data,
                       const AtomicWriteOptions& options = {}, Fs& fs = RealFs());

// Reads `fd` to its end, handing each chunk (at most 64 KiB) to `chunk`; EINTR is retried. Stops at
// the first failed read ("read <path>: ...") or the first error `chunk` returns, and returns it.
Status ReadChunks(int fd, const std::string& path,
                  const std::function<Status(std::string_view chunk)>& chunk);

// Reads a whole file; refuses files larger than `max_bytes` (no unbounded allocation).
Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes = 64ull << 20);

// The directory part of a path ("." when there is none).
std::string DirName(std::string_view path);

// True when `segment` is a safe single path segment: non-empty, not "." or "..",
// no '/', no NUL, no control characters, at most 255 bytes.
bool IsSafePathSegment(std::string_view segment);

// True when `rel` is a relative path made only of safe segments ("a/b", not "a/../b").
bool IsSafeRelativePath(std::string_view rel);

}  // namespace vaultd
