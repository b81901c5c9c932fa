// The errors the kernel skipped by answering EXDEV first, recomputed in its
// order for the same call inside one mount.
#pragma once

#include <climits>

#include "source.h"

namespace vaultd::move::internal {

struct Paths {
  char src[PATH_MAX], dst[PATH_MAX];
  char src_parent[PATH_MAX], src_name[NAME_MAX + 1];
  char dst_parent[PATH_MAX], dst_name[NAME_MAX + 1];
  bool src_slash = false, dst_slash = false;
};

// Fills `p` from two absolute paths (trailing slashes noted and stripped).
// 0, -EINVAL, -ENAMETOOLONG or -EBUSY (either is "/").
int SetupPaths(const char* src, const char* dst, Paths* p);

// Returns 1 when the rename is a no-op (both names are the same object), 0 to
// go on, or the -errno rename(2) would return. Changes nothing.
int Precheck(const Paths& p, unsigned flags, Entry* src, Entry* dst, bool* dst_exists);

}  // namespace vaultd::move::internal
