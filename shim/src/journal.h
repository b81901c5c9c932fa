// The move journal: one record per in-flight move, plus (for trees) the list
// of source entries the move copied. Format: docs/move-journal.md.
#pragma once

#include <climits>
#include <cstdint>

#include "internal.h"

namespace vaultd::move::internal {

// A record is created in phase prepared; later phases are appended lines.
// There is no "committed" record: after the commit rename the destination
// holds the copy's inode (tmp_ino), which is what recovery looks at.
enum class Phase { kPrepared = 0, kCopied = 1 };
const char* PhaseName(Phase p);

// One file system object as it was when the move snapshotted it.
struct Entry {
  uint32_t rel_off = 0;  // offset of its path relative to the moved root ("" = the root)
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint64_t dev = 0, ino = 0, size = 0, rdev = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  bool mount_root = false;
};

// A moved file or tree in pre-order (every directory before its contents).
struct Tree {
  Vec<Entry> entries;
  Buf names;  // NUL-separated relative paths
  const char* Rel(const Entry& e) const { return names.data ? names.data + e.rel_off : ""; }
  bool Add(Entry e, const char* rel);
};

struct Record {
  char id[80] = {0};
  Phase phase = Phase::kPrepared;
  char kind = 'f';  // f regular file, d directory, l symlink, o other
  unsigned flags = 0;
  char src[PATH_MAX] = {0};
  char dst[PATH_MAX] = {0};
  char tmp[PATH_MAX] = {0};
  Entry src_id;  // the source root (dev ino size mtime ctime nlink)
  int dst_existed = 0;
  uint64_t tmp_ino = 0;  // inode of the complete copy (phase copied)
  long entry_count = 1;
  int64_t started_ns = 0;
};

char KindOf(uint32_t mode);

// Creates <journal>/<id>.move (it must not exist) holding the record in phase
// prepared, durably (file and directory fsynced). On success *fd is the open
// record, for AppendPhase. 0 or -errno; on failure nothing is left behind.
int CreateRecord(const char* journal_dir, const Record& r, int* fd);
// The first block of a record in phase prepared, sealed (what CreateRecord
// writes). False when out of memory.
bool FormatRecord(const Record& r, Buf* out);
// "phase NAME tmp_ino N checksum H\n" into `line`; returns its length.
int FormatPhaseLine(Phase phase, uint64_t tmp_ino, char* line, size_t size);
// Appends the sealed line "phase NAME tmp_ino N checksum H" and fdatasyncs it.
int AppendPhase(int fd, Phase phase, uint64_t tmp_ino);

enum class ParseOutcome {
  kOk,
  kTornAtCreation,  // no complete first block: the move never got past creating its record
  kCorrupt,
};
// Parses a record file (`len` bytes; a NUL ends it early). On kCorrupt *why
// says what is wrong.
ParseOutcome ParseRecord(char* text, size_t len, Record* r, const char** why);
// <journal>/<id>.entries: the tree snapshot, written once, durably (before the
// record's phase copied).
int WriteEntries(const char* journal_dir, const char* id, const Tree& t);
bool FormatEntries(const Tree& t, Buf* out);  // what WriteEntries writes
bool ParseEntries(char* text, size_t len, Tree* t, const char** why);

// True when `e` (freshly observed) is the object the snapshot recorded,
// unchanged. With `relaxed_ctime`, a hard-linked file whose other links were
// just removed (which moves its ctime) still matches.
bool SameObject(const Entry& snap, const Entry& now, bool relaxed_ctime);
// statx of a path without following a final symlink. 0 or -errno.
int StatEntry(const char* path, Entry* e);

// "root/rel", or "root" for the root's own entry (rel ""). 0 or -ENAMETOOLONG.
int JoinRel(char* out, const char* root, const char* rel);

// Deletes the source entries that still match the snapshot, children first;
// changed or new entries are left in place and counted in *kept. Then makes
// the deletion durable (an fsync of the source's folder for one entry, a
// syncfs for a tree). `root` is the source path. Steps are reported to `seam`
// (may be null).
int DeleteSource(const char* root, const Tree& t, CrashSeam* seam, long* kept);

// Removes <journal>/<id>.move and <id>.entries (not the lock).
void RemoveRecordFiles(const char* journal_dir, const char* id);

int MoveId(char* out, size_t size);  // pid-tid-counter-random, unique per move

}  // namespace vaultd::move::internal
