// The move journal: one record per in-flight move, plus (for trees) the list
// of source entries the move copied. Format: docs/move-journal.md.
#pragma once

#include <climits>
#include <cstdint>

#include "internal.h"
#include "source.h"

namespace vaultd::move::internal {

// A record is created in phase prepared; later phases are appended lines.
// There is no "committed" record: after the commit rename the destination
// holds the copy's inode (tmp_ino), which is what recovery looks at.
enum class Phase { kPrepared = 0, kCopied = 1 };
const char* PhaseName(Phase p);

struct Record {
  char id[80] = {0};
  Phase phase = Phase::kPrepared;
  char kind = 'f';  // f regular file, d directory, l symlink, o other
  unsigned flags = 0;
  char src[PATH_MAX] = {0};
  char dst[PATH_MAX] = {0};
  char tmp[PATH_MAX + 96] = {0};  // beside dst: may be longer than PATH_MAX
  Entry src_id;                   // the source root (dev ino size mtime ctime nlink)
  int dst_existed = 0;
  uint64_t tmp_ino = 0;  // inode of the complete copy (phase copied)
  long entry_count = 1;
  int64_t started_ns = 0;
};

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
  kTornAtCreation,  // no complete first block
  kCorrupt,
};
// Parses a record file (`len` bytes; a NUL ends it early). On kCorrupt *why
// says what is wrong.
ParseOutcome ParseRecord(char* text, size_t len, Record* r, const char** why);
// What a record that does not parse (cut short, overwritten) still tells:
// every complete line that parses on its own. The temp path is the one the
// move id gives beside the destination. Returns the kSalvaged* bits found
// (0 when the lines contradict each other).
enum : unsigned {
  kSalvagedSrc = 1,
  kSalvagedDst = 2,
  kSalvagedTmp = 4,
  kSalvagedSrcId = 8,
  kSalvagedKind = 16,
  kSalvagedPhase = 32,
};
unsigned SalvageRecord(const char* data, size_t len, const char* id, Record* r);

// <journal>/<id>.entries: the tree snapshot, written once, durably (before the
// record's phase copied).
int WriteEntries(const char* journal_dir, const char* id, const Tree& t);
bool FormatEntries(const Tree& t, Buf* out);  // what WriteEntries writes
bool ParseEntries(char* text, size_t len, Tree* t, const char** why);

// Removes <journal>/<id>.move and <id>.entries (not the lock).
void RemoveRecordFiles(const char* journal_dir, const char* id);

int MoveId(char* out, size_t size);
// True while a move runs in this process (recovery in the same process must
// not touch the lock files of its own live moves).
bool MovesRunInThisProcess();  // pid-tid-counter-random, unique per move

}  // namespace vaultd::move::internal
