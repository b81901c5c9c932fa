// /proc/self/mountinfo: parse it, compare it with the mount set, and discover
// the mounts under the vault root (Pattern A: Kasm made the mounts itself).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/status.h"
#include "vaultd/orchestrator_client/mountset.h"

namespace vaultd::orchestrator_client {

// One line of mountinfo (proc(5)); paths unescaped.
struct MountInfoEntry {
  int mount_id = 0;
  int parent_id = 0;
  std::string major_minor;
  std::string root;  // the path inside the source file system (a bind mount's source)
  std::string mount_point;
  std::string mount_options;                 // per-mount: "ro,relatime"
  std::vector<std::string> optional_fields;  // "shared:1", "master:2"
  std::string fs_type;
  std::string source;
  std::string super_options;
  // Read-only for writers: the mount or its super block is ro.
  bool read_only() const;
};

// The kernel escapes ' ', '\t', '\n' and '\\' in paths as \040 \011 \012 \134.
std::string UnescapeMountField(std::string_view field);

// Errors name the line: "mountinfo:3: expected ' - ' separator".
Result<std::vector<MountInfoEntry>> ParseMountInfo(std::string_view text,
                                                   const std::string& name = "mountinfo");
Result<std::vector<MountInfoEntry>> ReadMountInfo(const std::string& path = "/proc/self/mountinfo");

struct Finding {
  enum class Kind {
    kMissing,       // the mount set grants it, nothing is mounted there
    kModeMismatch,  // mounted, but ro where rw was granted or rw where only ro was
    kUnexpected,    // mounted under the vault root, but not in the mount set
    kWrongSource,   // mounted, but the mount's root is not (a tail of) the mount set's source
  };
  Kind kind;
  std::string name;      // the mount set entry, or "" for kUnexpected
  std::string path;      // absolute mount point
  std::string expected;  // "rw", "ro", "" for kUnexpected, the source for kWrongSource
  std::string actual;    // "rw", "ro", "absent", the mount's root for kWrongSource
  std::string message;   // one line for the first-launch table
};
std::string_view FindingKindName(Finding::Kind kind);

// Compares what is mounted with what the mount set says. When several mounts
// stack on one mount point the last (visible) one counts. `vault_root`
// overrides the mount set's vault_root (e.g. a test root); empty = use it.
std::vector<Finding> CompareMounts(const MountSetDoc& expected,
                                   const std::vector<MountInfoEntry>& mounts,
                                   std::string_view vault_root = "");

// Pattern A: every outermost mount under `vault_root` (nested targets such as
// deals/acme included) becomes an entry with target = its path below the
// root, name = room = that path with '/' as '-', mode from the mount, source
// = the mount's root inside its file system. Sorted by target.
std::vector<MountEntry> DiscoverMounts(const std::vector<MountInfoEntry>& mounts,
                                       std::string_view vault_root);

}  // namespace vaultd::orchestrator_client
