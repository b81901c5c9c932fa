#include "vaultd/common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>

namespace vaultd {
namespace {

class PosixFs final : public Fs {
 public:
  Result<int> Open(const std::string& path, int flags, mode_t mode) override {
    int fd;
    do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    return fd;
  }
  Status WriteAll(int fd, std::string_view data, const std::string& path) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Fsync(int fd, const std::string& path) override {
    if (::fsync(fd) != 0) return Status::FromErrno(errno, "fsync " + path);
    return Status::Ok();
  }
  Status Close(int fd, const std::string& path) override {
    // close() must not be retried on EINTR on Linux: the fd is gone either way.
    if (::close(fd) != 0 && errno != EINTR) return Status::FromErrno(errno, "close " + path);
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno(errno, "rename " + from + " -> " + to);
    return Status::Ok();
  }
  Status Unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "unlink " + path);
    return Status::Ok();
  }
  Status FsyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync directory " + dir);
    return Status::Ok();
  }
};

std::string TempSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  snprintf(buf, sizeof buf, ".vaultd-tmp.%d.%llu.%08llx", static_cast<int>(::getpid()),
           static_cast<unsigned long long>(counter.fetch_add(1)),
           static_cast<unsigned long long>(rng() & 0xffffffffu));
  return buf;
}

}  // namespace

Fs& RealFs() {
  static PosixFs fs;
  return fs;
}

Status FaultInjectionFs::Step(std::string_view op) {
  int index = ops_++;
  if (index < fail_at_) return Status::Ok();
  if (index == fail_at_ && on_fault_) on_fault_(index, op);
  return Status::FromErrno(
      EIO, "injected fault at step " + std::to_string(index) + " (" + std::string(op) + ")");
}

Result<int> FaultInjectionFs::Open(const std::string& p, int f, mode_t m) {
  VAULTD_RETURN_IF_ERROR(Step("open"));
  return base_.Open(p, f, m);
}
Status FaultInjectionFs::WriteAll(int fd, std::string_view d, const std::string& p) {
  VAULTD_RETURN_IF_ERROR(Step("write"));
  return base_.WriteAll(fd, d, p);
}
Status FaultInjectionFs::Fsync(int fd, const std::string& p) {
  VAULTD_RETURN_IF_ERROR(Step("fsync"));
  return base_.Fsync(fd, p);
}
Status FaultInjectionFs::Close(int fd, const std::string& p) {
  // A close is never skipped, or a test would leak descriptors; the fault is still reported.
  Status s = Step("close");
  Status c = base_.Close(fd, p);
  return s.ok() ? c : s;
}
Status FaultInjectionFs::Rename(const std::string& a, const std::string& b) {
  VAULTD_RETURN_IF_ERROR(Step("rename"));
  return base_.Rename(a, b);
}
Status FaultInjectionFs::Unlink(const std::string& p) {
  VAULTD_RETURN_IF_ERROR(Step("unlink"));
  return base_.Unlink(p);
}
Status FaultInjectionFs::FsyncDir(const std::string& d) {
  VAULTD_RETURN_IF_ERROR(Step("fsync_dir"));
  return base_.FsyncDir(d);
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Status WriteFileAtomic(const std::string& path, std::string_view data,
                       const AtomicWriteOptions& options, Fs& fs) {
  const std::string dir = DirName(path);
  const std::string tmp = path + TempSuffix();
  VAULTD_ASSIGN_OR_RETURN(int fd, fs.Open(tmp, O_WRONLY | O_CREAT | O_EXCL, options.mode));
  auto fail = [&](Status s) {
    ::unlink(tmp.c_str());  // best effort: the seam may be the thing that is failing
    return s;
  };
  Status s = fs.WriteAll(fd, data, tmp);
  if (s.ok() && options.sync) s = fs.Fsync(fd, tmp);
  Status c = fs.Close(fd, tmp);
  if (!s.ok()) return fail(s);
  if (!c.ok()) return fail(c);
  // open() applied the umask; the caller asked for an exact mode.
  ::chmod(tmp.c_str(), options.mode);
  s = fs.Rename(tmp, path);
  if (!s.ok()) return fail(s);
  if (options.sync) VAULTD_RETURN_IF_ERROR(fs.FsyncDir(dir));
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": is a directory");
  }
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<size_t>(std::min<uint64_t>(st.st_size, max_bytes)));
  Status s = ReadChunks(fd, path, [&](std::string_view chunk) {
    if (out.size() + chunk.size() > max_bytes)
      return Status::InvalidArgument(path + ": larger than the limit of " +
                                     std::to_string(max_bytes) + " bytes");
    out.append(chunk);
    return Status::Ok();
  });
  ::close(fd);
  if (!s.ok()) return s;
  return out;
}

Status ReadChunks(int fd, const std::string& path,
                  const std::function<Status(std::string_view chunk)>& chunk) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) return Status::Ok();
    VAULTD_RETURN_IF_ERROR(chunk(std::string_view(buf, static_cast<size_t>(n))));
  }
}

bool IsSafePathSegment(std::string_view s) {
  if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
  for (unsigned char c : s) {
    if (c == '/' || c == 0 || c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

bool IsSafeRelativePath(std::string_view rel) {
  if (rel.empty() || rel.front() == '/' || rel.back() == '/') return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    size_t end = slash == std::string_view::npos ? rel.size() : slash;
    if (!IsSafePathSegment(rel.substr(start, end - start))) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

}  // namespace vaultd
