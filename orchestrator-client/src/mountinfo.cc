// /proc/self/mountinfo parsing (proc(5)), and what it says about the vault.
#include "vaultd/orchestrator_client/mountinfo.h"

#include <algorithm>
#include <map>

#include "vaultd/common/fs.h"

namespace vaultd::orchestrator_client {
namespace {

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    size_t sp = line.find(' ', pos);
    out.push_back(
        line.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos));
    if (sp == std::string_view::npos) return out;
    pos = sp + 1;
  }
}

bool HasOption(std::string_view options, std::string_view want) {
  size_t pos = 0;
  for (;;) {
    size_t comma = options.find(',', pos);
    if (options.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos) == want)
      return true;
    if (comma == std::string_view::npos) return false;
    pos = comma + 1;
  }
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

std::string Mode(const MountInfoEntry& e) { return e.read_only() ? "ro" : "rw"; }

// The visible mount per mount point: later lines stack over earlier ones.
std::map<std::string, const MountInfoEntry*> Visible(const std::vector<MountInfoEntry>& mounts) {
  std::map<std::string, const MountInfoEntry*> out;
  for (const auto& m : mounts) out[m.mount_point] = &m;
  return out;
}

// A bind mount's root is the source path inside its file system: the host path
// itself when the file system is mounted at the host's "/", a tail of it when
// the file system is mounted deeper. A root of "/" (a whole file system) says
// nothing about the host path.
bool SourceMatchesRoot(std::string_view source, std::string_view root) {
  if (source.empty() || root == "/" || root.empty()) return true;
  while (source.size() > 1 && source.back() == '/') source.remove_suffix(1);
  // root starts with '/', so a matching tail always starts at a segment boundary.
  return source.size() >= root.size() &&
         source.compare(source.size() - root.size(), root.size(), root) == 0;
}

std::string NormalizeRoot(std::string_view root) {
  std::string r(root);
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r;
}

}  // namespace

bool MountInfoEntry::read_only() const {
  return HasOption(mount_options, "ro") || HasOption(super_options, "ro");
}

std::string UnescapeMountField(std::string_view field) {
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && oct(field[i + 1]) && oct(field[i + 2]) &&
        oct(field[i + 3])) {
      int v = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      if (v <= 0xff) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

Result<std::vector<MountInfoEntry>> ParseMountInfo(std::string_view text, const std::string& name) {
  std::vector<MountInfoEntry> out;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument(name + ":" + std::to_string(line_no) + ": " + why);
    };
    auto f = SplitSpaces(line);
    auto sep = std::find(f.begin() + std::min<size_t>(f.size(), 6), f.end(), "-");
    if (f.size() < 10 || sep == f.end())
      return bad("expected at least 10 fields with a ' - ' separator");
    if (f.end() - sep != 4) return bad("expected 3 fields after ' - '");
    MountInfoEntry e;
    if (!ParseInt(f[0], &e.mount_id) || !ParseInt(f[1], &e.parent_id)) return bad("bad mount id");
    e.major_minor = std::string(f[2]);
    e.root = UnescapeMountField(f[3]);
    e.mount_point = UnescapeMountField(f[4]);
    if (e.mount_point.empty() || e.mount_point.front() != '/')
      return bad("mount point is not absolute");
    e.mount_options = std::string(f[5]);
    for (auto it = f.begin() + 6; it != sep; ++it) e.optional_fields.emplace_back(*it);
    e.fs_type = UnescapeMountField(sep[1]);
    e.source = UnescapeMountField(sep[2]);
    e.super_options = std::string(sep[3]);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<MountInfoEntry>> ReadMountInfo(const std::string& path) {
  VAULTD_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16u << 20));
  return ParseMountInfo(text, path);
}

std::string_view FindingKindName(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kMissing:
      return "missing";
    case Finding::Kind::kModeMismatch:
      return "mode-mismatch";
    case Finding::Kind::kUnexpected:
      return "unexpected";
    case Finding::Kind::kWrongSource:
      return "wrong-source";
  }
  return "?";
}

std::vector<Finding> CompareMounts(const MountSetDoc& expected,
                                   const std::vector<MountInfoEntry>& mounts,
                                   std::string_view vault_root) {
  const std::string root =
      NormalizeRoot(vault_root.empty() ? std::string_view(expected.vault_root) : vault_root);
  const std::string prefix = root == "/" ? "/" : root + "/";
  const auto visible = Visible(mounts);
  std::vector<Finding> out;
  std::map<std::string, const MountEntry*> wanted;
  for (const auto& m : expected.mounts) {
    const std::string path = prefix + m.target;
    wanted[path] = &m;
    auto it = visible.find(path);
    if (it == visible.end()) {
      out.push_back({Finding::Kind::kMissing, m.name, path, m.mode, "absent",
                     "'" + m.name + "' should be mounted " + m.mode + " at " + path +
                         " but nothing is mounted there"});
      continue;
    }
    const std::string actual = Mode(*it->second);
    if (actual != m.mode) {
      out.push_back(
          {Finding::Kind::kModeMismatch, m.name, path, m.mode, actual,
           "'" + m.name + "' at " + path + " is mounted " + actual + " but the mount set grants " +
               m.mode +
               (actual == "rw" ? " (more access than granted)" : " (the user cannot write)")});
    }
    if (!SourceMatchesRoot(m.source, it->second->root)) {
      out.push_back({Finding::Kind::kWrongSource, m.name, path, m.source, it->second->root,
                     "'" + m.name + "' at " + path + " shows " + it->second->root + " of " +
                         it->second->source + " but the mount set's source is " + m.source});
    }
  }
  for (const auto& [point, entry] : visible) {
    if (point.size() <= prefix.size() || point.compare(0, prefix.size(), prefix) != 0) continue;
    if (wanted.count(point)) continue;
    const std::string actual = Mode(*entry);
    out.push_back({Finding::Kind::kUnexpected, "", point, "", actual,
                   point + " is mounted " + actual + " (" + entry->fs_type + " " + entry->root +
                       ") but is not in the mount set"});
  }
  std::sort(out.begin(), out.end(),
            [](const Finding& a, const Finding& b) { return a.path < b.path; });
  return out;
}

std::vector<MountEntry> DiscoverMounts(const std::vector<MountInfoEntry>& mounts,
                                       std::string_view vault_root) {
  const std::string root = NormalizeRoot(vault_root);
  const std::string prefix = root == "/" ? "/" : root + "/";
  std::vector<MountEntry> out;
  // A mount nested below one already taken (Visible() is sorted by path, so the
  // outer one comes first) is part of that folder, not a folder of its own.
  std::vector<std::string> taken;
  for (const auto& [point, entry] : Visible(mounts)) {
    if (point.size() <= prefix.size() || point.compare(0, prefix.size(), prefix) != 0) continue;
    if (std::any_of(taken.begin(), taken.end(), [&](const std::string& t) {
          return point.compare(0, t.size() + 1, t + "/") == 0;
        }))
      continue;
    std::string rest = point.substr(prefix.size());
    if (!IsSafeRelativePath(rest)) continue;
    taken.push_back(point);
    MountEntry e;
    e.target = rest;
    std::replace(rest.begin(), rest.end(), '/', '-');
    // "a-b/c" and "a/b-c" would share a room: the first (by target) keeps it.
    if (std::any_of(out.begin(), out.end(), [&](const MountEntry& o) { return o.name == rest; }))
      continue;
    e.name = rest;
    e.room = rest;
    e.source = entry->root;
    e.mode = Mode(*entry);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const MountEntry& a, const MountEntry& b) { return a.target < b.target; });
  return out;
}

}  // namespace vaultd::orchestrator_client
