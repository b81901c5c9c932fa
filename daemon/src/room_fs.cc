#include "vaultd/daemon/room_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "vaultd/daemon/paths.h"

namespace vaultd::daemon {
namespace {

FileStat FromStat(const struct stat& st) {
  FileStat f;
  f.type = S_ISREG(st.st_mode)   ? EntryType::kFile
           : S_ISDIR(st.st_mode) ? EntryType::kDir
                                 : EntryType::kOther;
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  f.ino = st.st_ino;
  return f;
}

std::vector<std::string> Split(const std::string& rel) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    parts.push_back(rel.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

FileStat StatAt(int dirfd, const std::string& leaf) {
  struct stat st;
  if (fstatat(dirfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return FromStat(st);
}

bool Matches(const FileStat& now, const FileStat& expect) {
  if (expect.type == EntryType::kMissing) return now.type == EntryType::kMissing;
  return now.SameAs(expect);
}

}  // namespace

RoomFs::RoomFs(std::string root) : root_(std::move(root)) { signal(SIGIO, SIG_IGN); }

int RoomFs::OpenParent(const std::string& rel, bool create, std::string* leaf) const {
  if (rel.empty()) return -EINVAL;
  auto parts = Split(rel);
  int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.empty() || p == "." || p == "..") {
      close(fd);
      return -EINVAL;
    }
    int next = openat(fd, p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(fd, p.c_str(), 0755) != 0 && errno != EEXIST) {
        int e = errno;
        close(fd);
        return -e;
      }
      next = openat(fd, p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    int e = errno;
    close(fd);
    if (next < 0) return -e;
    fd = next;
  }
  *leaf = parts.back();
  if (leaf->empty() || *leaf == "." || *leaf == "..") {
    close(fd);
    return -EINVAL;
  }
  return fd;
}

FileStat RoomFs::Stat(const std::string& rel) const {
  std::string leaf;
  int dfd = OpenParent(rel, false, &leaf);
  if (dfd < 0) return {};
  FileStat f = StatAt(dfd, leaf);
  close(dfd);
  return f;
}

Result<std::string> RoomFs::Read(const std::string& rel, uint64_t max_bytes, FileStat* stat_out,
                                 bool* changed) const {
  *changed = false;
  std::string leaf;
  int dfd = OpenParent(rel, false, &leaf);
  if (dfd < 0) return Status::FromErrno(-dfd, "open " + root_ + "/" + rel);
  int fd = openat(dfd, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  int e = errno;
  close(dfd);
  if (fd < 0) return Status::FromErrno(e, "open " + root_ + "/" + rel);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(root_ + "/" + rel + ": not a regular file");
  }
  // A read lease is refused while any process has the file open for
  // writing (EAGAIN): an editor is mid-save (truncated, half written), so
  // wait for its close instead of reading a torn file. While held, the
  // lease also keeps new writers out until the read is done. File systems
  // without leases (EINVAL) and files of other owners (EACCES) are read
  // without one.
  bool leased = fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
  if (!leased && errno == EAGAIN) {
    close(fd);
    *changed = true;
    return Status::Unavailable(root_ + "/" + rel + ": being written");
  }
  FileStat before = FromStat(st);
  if (before.size > max_bytes) {
    if (leased) fcntl(fd, F_SETLEASE, F_UNLCK);
    close(fd);
    return Status::InvalidArgument(root_ + "/" + rel + ": " + std::to_string(before.size) +
                                   " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::string data;
  data.resize(before.size);
  size_t got = 0;
  while (true) {
    if (got == data.size()) data.resize(data.size() + 4096);
    ssize_t n = read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      if (leased) fcntl(fd, F_SETLEASE, F_UNLCK);
      close(fd);
      return Status::FromErrno(err, "read " + root_ + "/" + rel);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
    if (got > max_bytes) break;
  }
  data.resize(got);
  struct stat st2;
  bool ok = fstat(fd, &st2) == 0;
  if (leased) fcntl(fd, F_SETLEASE, F_UNLCK);
  close(fd);
  FileStat after = ok ? FromStat(st2) : FileStat{};
  if (!ok || !after.SameAs(before) || got != before.size) {
    *changed = true;
    return Status::Unavailable(root_ + "/" + rel + ": changed while being read");
  }
  *stat_out = after;
  return data;
}

Status RoomFs::Prepare(const std::string& rel, const std::string& data, mode_t mode,
                       Prepared* out) {
  out->rel = rel;
  out->dirfd = OpenParent(rel, true, &out->leaf);
  if (out->dirfd < 0) return Status::FromErrno(-out->dirfd, "open folder of " + root_ + "/" + rel);
  uint64_t r = 0;
  (void)getrandom(&r, sizeof r, 0);
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.*s%016llx", static_cast<int>(kTempPrefix.size()), kTempPrefix.data(),
           static_cast<unsigned long long>(r));
  out->tmp = tmp;
  out->fd = openat(out->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (out->fd < 0) {
    int e = errno;
    close(out->dirfd);
    out->dirfd = -1;
    return Status::FromErrno(e, "create temp file in the folder of " + root_ + "/" + rel);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(out->fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      Abort(*out);
      return Status::FromErrno(e, "write " + root_ + "/" + rel);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status RoomFs::SyncPrepared(std::vector<Prepared>& batch) {
  if (batch.size() > 16) {
    // One file-system-wide sync instead of one per file.
    if (syncfs(batch[0].fd) != 0) return Status::FromErrno(errno, "syncfs " + root_);
    return Status::Ok();
  }
  for (auto& p : batch) {
    if (fsync(p.fd) != 0) return Status::FromErrno(errno, "fsync " + root_ + "/" + p.rel);
  }
  return Status::Ok();
}

Status RoomFs::Commit(Prepared& p, const FileStat& expect, FileStat* written) {
  struct stat st;
  if (fstat(p.fd, &st) != 0) {
    int e = errno;
    Abort(p);
    return Status::FromErrno(e, "stat " + root_ + "/" + p.rel);
  }
  if (!Matches(StatAt(p.dirfd, p.leaf), expect)) {
    Abort(p);
    return Status::AlreadyExists(root_ + "/" + p.rel +
                                 ": changed on disk before it could be written");
  }
  if (renameat(p.dirfd, p.tmp.c_str(), p.dirfd, p.leaf.c_str()) != 0) {
    int e = errno;
    Abort(p);
    return Status::FromErrno(e, "rename over " + root_ + "/" + p.rel);
  }
  close(p.fd);
  p.fd = -1;
  *written = FromStat(st);
  return Status::Ok();
}

void RoomFs::Abort(Prepared& p) {
  if (p.fd >= 0) close(p.fd);
  if (p.dirfd >= 0 && !p.tmp.empty()) unlinkat(p.dirfd, p.tmp.c_str(), 0);
  if (p.dirfd >= 0) close(p.dirfd);
  p.fd = p.dirfd = -1;
}

void RoomFs::SyncFolders(std::vector<Prepared>& batch) {
  if (batch.size() > 16) {
    for (auto& p : batch) {
      if (p.dirfd >= 0) {
        syncfs(p.dirfd);
        break;
      }
    }
  } else {
    for (auto& p : batch)
      if (p.dirfd >= 0) fsync(p.dirfd);
  }
  for (auto& p : batch) {
    if (p.fd >= 0) close(p.fd);
    if (p.dirfd >= 0) close(p.dirfd);
    p.fd = p.dirfd = -1;
  }
}

Status RoomFs::WriteChecked(const std::string& rel, const std::string& data, const FileStat& expect,
                            mode_t mode, FileStat* written) {
  std::vector<Prepared> one(1);
  if (Status s = Prepare(rel, data, mode, &one[0]); !s.ok()) return s;
  if (Status s = SyncPrepared(one); !s.ok()) {
    Abort(one[0]);
    return s;
  }
  Status s = Commit(one[0], expect, written);
  if (s.ok()) SyncFolders(one);
  return s;
}

Status RoomFs::UnlinkChecked(const std::string& rel, const FileStat& expect) {
  std::string leaf;
  int dfd = OpenParent(rel, false, &leaf);
  if (dfd < 0)
    return -dfd == ENOENT ? Status::Ok() : Status::FromErrno(-dfd, "open folder of " + rel);
  if (!Matches(StatAt(dfd, leaf), expect)) {
    close(dfd);
    return Status::AlreadyExists(root_ + "/" + rel +
                                 ": changed on disk before it could be deleted");
  }
  int rc = unlinkat(dfd, leaf.c_str(), 0);
  int e = errno;
  if (rc == 0) fsync(dfd);
  close(dfd);
  if (rc != 0 && e != ENOENT) return Status::FromErrno(e, "unlink " + root_ + "/" + rel);
  return Status::Ok();
}

Status RoomFs::RenameChecked(const std::string& from, const std::string& to,
                             const FileStat& expect) {
  std::string lf, lt;
  int df = OpenParent(from, false, &lf);
  if (df < 0) return Status::FromErrno(-df, "open folder of " + from);
  int dt = OpenParent(to, true, &lt);
  if (dt < 0) {
    close(df);
    return Status::FromErrno(-dt, "open folder of " + to);
  }
  Status s;
  if (!Matches(StatAt(df, lf), expect) || StatAt(dt, lt).type != EntryType::kMissing) {
    s = Status::AlreadyExists(root_ + ": " + from + " -> " + to + ": changed on disk");
  } else if (renameat2(df, lf.c_str(), dt, lt.c_str(), RENAME_NOREPLACE) != 0) {
    s = Status::FromErrno(errno, "rename " + from + " -> " + to);
  } else {
    fsync(dt);
    fsync(df);
  }
  close(df);
  close(dt);
  return s;
}

void RoomFs::PruneEmptyParents(const std::string& rel) {
  std::string p = rel;
  while (true) {
    size_t slash = p.rfind('/');
    if (slash == std::string::npos) return;
    p.resize(slash);
    std::string leaf;
    int dfd = OpenParent(p, false, &leaf);
    if (dfd < 0) return;
    int rc = unlinkat(dfd, leaf.c_str(), AT_REMOVEDIR);
    close(dfd);
    if (rc != 0) return;
  }
}

namespace {
// Calls `on_file` for every entry below `dfd` that is not a folder, walking
// folders (never through symlinks, never into ignored folders) to depth 64.
// Takes ownership of `dfd`.
void Walk(int dfd, const std::string& prefix, int depth,
          const std::function<void(int dir, const std::string& name, const std::string& rel,
                                   const struct stat& st)>& on_file) {
  DIR* d = depth > 64 ? nullptr : fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    struct stat st;
    if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (IsIgnoredDirName(name)) continue;
      int sub = openat(dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) Walk(sub, rel, depth + 1, on_file);
    } else {
      on_file(dirfd(d), name, rel, st);
    }
  }
  closedir(d);
}
}  // namespace

std::vector<ScannedFile> RoomFs::Scan() const {
  std::vector<ScannedFile> out;
  int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    Walk(fd, "", 0, [&](int, const std::string&, const std::string& rel, const struct stat& st) {
      if (S_ISREG(st.st_mode) && !IsIgnoredPath(rel)) out.push_back({rel, FromStat(st)});
    });
  }
  return out;
}

int RoomFs::RemoveStaleTemps() {
  int removed = 0;
  int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    Walk(fd, "", 0, [&](int dir, const std::string& name, const std::string&, const struct stat&) {
      if (name.rfind(kTempPrefix, 0) == 0 && unlinkat(dir, name.c_str(), 0) == 0) ++removed;
    });
  }
  return removed;
}

}  // namespace vaultd::daemon
