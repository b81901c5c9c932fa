#include "client_fuzz_entry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "vaultd/common/fs.h"
#include "vaultd/orchestrator_client/mountinfo.h"
#include "vaultd/orchestrator_client/mountset.h"

namespace vaultd::orchestrator_client {
namespace {

void Check(bool ok, const char* what) { fuzzing::Check(ok, "fuzz_orchestrator_client", what); }

const MountSetDoc& Expected() {
  static const MountSetDoc* doc = [] {
    auto* d = new MountSetDoc();
    d->vault_root = "/vault";
    for (const char* t : {"engineering", "wiki", "my notes", "deals/acme"}) {
      MountEntry e;
      e.name = e.target = e.room = t;
      e.source = std::string("/shared/") + t;
      e.mode = std::string_view(t) == "wiki" ? "ro" : "rw";
      d->mounts.push_back(e);
    }
    return d;
  }();
  return *doc;
}

}  // namespace

void FuzzClientOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'S') {
    auto doc = ParseMountSet(in);
    if (!doc.ok()) return;
    Check(!doc->vault_root.empty() && doc->vault_root.front() == '/', "vault_root is absolute");
    for (const auto& m : doc->mounts) {
      Check(IsSafeRelativePath(m.target), "targets are safe relative paths");
      Check(m.mode == "ro" || m.mode == "rw", "modes are ro or rw");
    }
    auto again = ParseMountSet(doc->raw_json);
    Check(again.ok() && again->mounts.size() == doc->mounts.size(),
          "a parsed mount set parses again");
    return;
  }
  auto mounts = ParseMountInfo(in);
  if (!mounts.ok()) return;
  for (const auto& m : *mounts)
    Check(!m.mount_point.empty() && m.mount_point.front() == '/', "mount points are absolute");
  for (const auto& f : CompareMounts(Expected(), *mounts)) {
    Check(f.path.rfind("/vault/", 0) == 0, "findings are under the vault root");
    Check(!f.message.empty(), "findings explain themselves");
  }
  std::set<std::string> names;
  for (const auto& e : DiscoverMounts(*mounts, "/vault")) {
    std::string flat = e.target;
    std::replace(flat.begin(), flat.end(), '/', '-');
    Check(IsSafeRelativePath(e.target) && IsSafePathSegment(e.name) && e.name == flat &&
              e.room == flat,
          "discovered targets are safe, names and rooms are the target with '/' as '-'");
    Check(names.insert(e.name).second, "discovered names are unique");
    Check(e.mode == "ro" || e.mode == "rw", "discovered modes are ro or rw");
  }
}

}  // namespace vaultd::orchestrator_client
