// Which paths of a room the daemon syncs, and which document keys it will
// ever turn into files.
#pragma once

#include <string_view>

namespace vaultd::daemon {

// Folders never synced and never watched: Obsidian's own settings and trash,
// our own state. Matched as a whole path segment anywhere in the path.
bool IsIgnoredDirName(std::string_view segment);

// True for a room-relative path ('/'-separated) the daemon never syncs: a
// path under an ignored folder, or a file whose name marks it as temporary
// (editor swap and backup files, our own atomic-write temp files, the EXDEV
// shim's temp names).
bool IsIgnoredPath(std::string_view rel);

// True for a room-relative file path that is safe to write: non-empty,
// relative, '/'-separated segments that are not "." or "..", no backslash,
// NUL or control character, valid UTF-8, not ignored, at most 4096 bytes and
// 255 bytes a segment. Document keys from the relay that fail this are
// never written (and are reported).
bool IsSafeDocKey(std::string_view key);

// The prefix of the daemon's own temp files (atomic writes), which the
// watcher and the scanner ignore.
inline constexpr std::string_view kTempPrefix = ".vaultd-tmp-";

}  // namespace vaultd::daemon
