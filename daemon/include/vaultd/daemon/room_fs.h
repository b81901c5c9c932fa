// Disk access confined to one room folder. Every path is relative to the
// room and resolved component by component with O_NOFOLLOW from the room's
// own directory fd, so neither a symlink inside the room nor a hostile path
// can make the daemon read or write outside it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultd/common/status.h"

namespace vaultd::daemon {

enum class EntryType : uint8_t { kMissing, kFile, kDir, kOther };  // kOther: symlink, fifo, ...

struct FileStat {
  EntryType type = EntryType::kMissing;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  bool SameAs(const FileStat& o) const {
    return type == o.type && size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns &&
           ino == o.ino;
  }
};

struct ScannedFile {
  std::string path;
  FileStat stat;
};

class RoomFs {
 public:
  // Reads take short read leases; a broken lease raises SIGIO, whose default
  // action ends the process, so constructing a RoomFs ignores SIGIO.
  explicit RoomFs(std::string root);
  const std::string& root() const { return root_; }

  FileStat Stat(const std::string& rel) const;
  // Reads a regular file; fails if it is larger than max_bytes, not a
  // regular file, or changed while it was read (then *changed is set).
  Result<std::string> Read(const std::string& rel, uint64_t max_bytes, FileStat* stat_out,
                           bool* changed) const;
  // Writes `data` to `rel` atomically (temp file in the same folder, fsync,
  // rename, folder fsync), creating missing parent folders, but only if
  // `rel` still is what `expect` says just before the rename (type and, for a
  // file, identity from stat). Returns NotFound-free statuses:
  // kAlreadyExists when the disk moved on (nothing written).
  Status WriteChecked(const std::string& rel, const std::string& data, const FileStat& expect,
                      mode_t mode, FileStat* written);
  // The same in steps, so that many files cost one sync: Prepare writes the
  // temp file (no sync), SyncPrepared makes every prepared temp durable (one
  // syncfs for a large batch), Commit checks and renames, SyncFolders makes
  // the renames durable. A prepared write not committed must be aborted.
  struct Prepared {
    std::string rel, leaf, tmp;
    int dirfd = -1;
    int fd = -1;
    FileStat st;
  };
  Status Prepare(const std::string& rel, const std::string& data, mode_t mode, Prepared* out);
  Status SyncPrepared(std::vector<Prepared>& batch);
  Status Commit(Prepared& p, const FileStat& expect, FileStat* written);
  void Abort(Prepared& p);
  void SyncFolders(std::vector<Prepared>& batch);

  // Unlinks `rel` if it still matches `expect`; kAlreadyExists otherwise.
  Status UnlinkChecked(const std::string& rel, const FileStat& expect);
  // Renames within the room if `from` matches `expect` and `to` does not exist.
  Status RenameChecked(const std::string& from, const std::string& to, const FileStat& expect);
  // Removes empty parent folders of `rel` up to (not including) the root.
  void PruneEmptyParents(const std::string& rel);
  // Every regular file under the root, skipping ignored paths and never
  // following symlinks.
  std::vector<ScannedFile> Scan() const;
  // Removes our own leftover temp files (from a crash mid-write).
  int RemoveStaleTemps();

 private:
  // Opens the parent folder of `rel` (creating folders when `create`);
  // -errno on failure. *leaf receives the last component.
  int OpenParent(const std::string& rel, bool create, std::string* leaf) const;
  std::string root_;
};

}  // namespace vaultd::daemon
