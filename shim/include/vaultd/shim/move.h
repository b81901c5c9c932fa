// The journaled cross-device move (libvaultd_move).
//
// A move with rename(2) semantics for two paths on different mounts: it
// recomputes the errors the kernel skipped when it answered EXDEV, copies into
// a temp name beside the destination, commits with a same-mount rename, and
// deletes the source only if it is unchanged since the copy. Every phase is
// journaled, so RecoverMoves() can finish or roll back a move interrupted at
// any instant. The format and phases are in docs/move-journal.md.
//
// This API speaks errno: functions return 0 or a negative errno and never
// throw. The library links libc only, because it is also linked into
// libvaultshim.so, which runs inside other people's processes.
#pragma once

#include <cstddef>

namespace vaultd::move {

// renameat2 flags (the values of <linux/fs.h>, repeated so callers need no
// kernel headers).
inline constexpr unsigned kRenameNoReplace = 1u << 0;
inline constexpr unsigned kRenameExchange = 1u << 1;
inline constexpr unsigned kRenameWhiteout = 1u << 2;

struct MoveStats {
  int steps = 0;          // fault-injection steps passed (see VAULTD_MOVE_CRASH_AT)
  long entries = 0;       // files, dirs and links moved (1 for a file)
  long kept_changed = 0;  // source entries replaced after the commit, left in place
  long recopied = 0;      // source files changed after the copy, copied again
  int syncs_ahead = 0;    // a tree's syncfs calls made while it was still being copied
  // "ficlone", "copy_file_range", "sendfile", "read-write", "mixed" or "".
  const char* data_path = "";
};

// Moves `src` to `dst` (absolute, lexically normal paths whose parent
// directories are already resolved; the last components are not followed).
// `flags` are renameat2 flags. `journal_dir` must exist or be creatable.
// Returns 0 or -errno with rename(2)'s meaning: -EXDEV for RENAME_EXCHANGE and
// RENAME_WHITEOUT (they cannot be emulated) and for trees that contain a
// mount point; -EBUSY when the source changed while it was being copied
// (nothing moved, the source untouched).
int MovePaths(const char* src, const char* dst, unsigned flags, const char* journal_dir,
              MoveStats* stats = nullptr);

// What rename(2) would answer for this move inside one mount, computed without
// changing anything (the first step of MovePaths): 0 when the move would go
// ahead, 1 when both names are one object (the rename is a no-op), else the
// -errno. Same path rules as MovePaths.
int CheckMove(const char* src, const char* dst, unsigned flags);

// The default journal directory: $VAULTD_JOURNAL_DIR, else
// $XDG_STATE_HOME/vaultd/journal, else $HOME/.local/state/vaultd/journal.
// Returns 0 or -errno (-ENOENT when none of them is set, -ENAMETOOLONG).
int DefaultJournalDir(char* out, size_t size);

// Receives one line per move that recovery touched (or found corrupt).
using RecoverLineFn = void (*)(void* ctx, const char* line);

struct RecoverResult {
  int resolved = 0;    // moves finished or rolled back
  int unresolved = 0;  // corrupt records or moves that could not be decided
  int busy = 0;        // moves still in progress in a live process (left alone)
};

// Finishes or rolls back every interrupted move recorded in `journal_dir`.
// Idempotent. Returns 0 (see *result) or -errno when the directory cannot be
// read (-ENOENT when it does not exist: nothing to do, result all zero).
int RecoverMoves(const char* journal_dir, RecoverLineFn on_line, void* ctx, RecoverResult* result);

}  // namespace vaultd::move
