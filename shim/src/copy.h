// The data path of a move: the copy of a snapshot into the temp name.
#pragma once

#include "source.h"

namespace vaultd::move::internal {

// Per-move state of the data path: once a method fails for this pair of file
// systems it is not tried again for the next file of the tree.
struct CopyState {
  bool no_clone = false;
  bool no_cfr = false;
  bool no_sendfile = false;
  unsigned used = 0;    // bit 0 ficlone, 1 copy_file_range, 2 sendfile, 3 read-write
  int syncs_ahead = 0;  // syncfs calls made while a tree was still being copied
  char* buf = nullptr;
  CopyState() = default;
  CopyState(const CopyState&) = delete;
  CopyState& operator=(const CopyState&) = delete;
  ~CopyState();
};

// Copies the snapshot `t` of `src` to `tmp_name` in the directory `dirfd`
// (data with its holes, owner, mode, xattrs, times; hard links inside the
// tree as links; a source file opened without blocking and checked to be the
// snapshot's regular file), durably: an fsync for a single file, one syncfs
// for a tree. Steps ("copy") go to `seam`. 0 or -errno.
int CopyTree(const Tree& t, const char* src, int dirfd, const char* tmp_name, CopyState* cs,
             CrashSeam* seam);

// Replaces `dst` with a copy of the open file `in` as it is now (through the
// temp name .vaultd-move-<id>.re beside it, then a rename), durably. Used when
// a source file changed after the commit: its newer bytes are moved too.
// Reports the step "recopied" to `seam` (may be null) once the new copy is
// durable under the temp name, before the rename.
int ReplaceWithCopy(int in, const char* dst, const char* id, CrashSeam* seam);

}  // namespace vaultd::move::internal
