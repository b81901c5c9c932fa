// The source of a move: what it was when the move copied it (a snapshot of
// every entry), whether it is still that, and deleting what is.
#pragma once

#include <atomic>
#include <cstdint>

#include "internal.h"

namespace vaultd::move::internal {

// One file system object as it was when the move snapshotted it.
struct Entry {
  uint32_t rel_off = 0;  // offset of its path relative to the moved root ("" = the root)
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint64_t dev = 0, ino = 0, size = 0, rdev = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  bool mount_root = false;
  bool undeletable = false;  // chattr +i or +a: unlink/rmdir/rename of it fail with EPERM
  bool append_only = false;  // chattr +a (a directory: nothing may be removed from it)
};

// A moved file or tree in pre-order (every directory before its contents).
struct Tree {
  Vec<Entry> entries;
  Buf names;  // NUL-separated relative paths
  const char* Rel(const Entry& e) const { return names.data ? names.data + e.rel_off : ""; }
  bool Add(Entry e, const char* rel);
};

char KindOf(uint32_t mode);

// Snapshots `src` (whose own entry is `root`) into `t` in pre-order. A tree
// with a mount point inside, or with an entry that cannot be deleted
// (immutable, append-only): -EXDEV, as rename would carry it along and a copy
// cannot remove it; a file the caller cannot read: -EACCES. Found before
// anything is written. Entries other than directories are statted on up to
// kMaxThreads threads. 0 or -errno.
int Snapshot(const char* src, const Entry& root, Tree* t);
// Every entry still the object the snapshot saw, unchanged (checked on up
// to kMaxThreads threads).
bool Unchanged(const char* src, const Tree& t);

// True when `e` (freshly observed) is the object the snapshot recorded,
// unchanged. With `relaxed_ctime`, a hard-linked file whose other links were
// just removed (which moves its ctime) still matches.
bool SameObject(const Entry& snap, const Entry& now, bool relaxed_ctime);
// statx of a path without following a final symlink. 0 or -errno.
int StatEntry(const char* path, Entry* e);
// The same for `name` in the directory `dirfd` ("" with AT_EMPTY_PATH: the fd itself).
int StatEntryAt(int dirfd, const char* name, Entry* e);

// "root/rel", or "root" for the root's own entry (rel ""). 0 or -ENAMETOOLONG.
int JoinRel(char* out, const char* root, const char* rel);

// What the moving process (not recovery) knows when it deletes its source.
// Shared by the threads that delete it.
struct Mover {
  const char* dst;                // the committed copy
  const char* id;                 // the move id, for temp names
  int64_t snapshot_ns;            // wall clock when the snapshot was taken
  std::atomic<long> recopied{0};  // files whose newer bytes were copied again
  std::atomic<long> vanished{0};  // entries gone from the source; their copies removed
  bool root_vanished = false;     // written by whoever deletes entry 0
  std::atomic<int64_t> lease_budget_ns{2000000000};  // total wait for files others hold open
  Mover(const char* d, const char* i, int64_t snap) : dst(d), id(i), snapshot_ns(snap) {}
  Mover(const Mover&) = delete;
  Mover& operator=(const Mover&) = delete;
};

// Deletes the source entries that still match the snapshot, children first;
// entries replaced by another object, or new ones, are left in place and
// counted in *kept. Then makes the deletion durable (an fsync of the source's
// folder for one entry, a syncfs for a tree). `root` is the source path.
// Steps are reported to `seam` (may be null).
//
// With `mover` (the move itself, right after its commit), each regular file
// is deleted while the process holds a write lease on it: the kernel grants
// one only when nobody else has the file open, and makes every open() of it
// wait while it is held, so the last check (inode, size, times, and for a
// file changed within the last seconds, where coarse timestamps cannot tell,
// its bytes against the copy) and the unlink see the same bytes. A file that
// changed since the copy is copied again onto the destination first. An entry
// that vanished from the source (renamed away or deleted by someone else) has
// its copy removed, so nothing exists twice. The mover's regular files with
// one link go first, side by side on up to kMaxThreads threads; then every
// other entry, children before their directory, on the caller's thread.
int DeleteSource(const char* root, const Tree& t, Mover* mover, CrashSeam* seam, long* kept);

}  // namespace vaultd::move::internal
