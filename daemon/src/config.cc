#include "vaultd/daemon/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/fs.h"
#include "vaultd/common/yaml.h"
#include "vaultd/daemon/ws_url.h"

namespace vaultd::daemon {
namespace {

// One mapping of vaultd.yaml: its keys checked by the shared strict reader
// (known keys, each once), its values read with this format's wording.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string source, std::string what)
      : node_(node), source_(std::move(source)), what_(std::move(what)), problems_(source_) {}

  Status Check(std::vector<std::string_view> allowed) {
    yaml::MapSchema schema{
        .allowed = std::move(allowed),
        .where = what_,
        .not_a_mapping = "{where} must be a mapping",
        .key_not_a_string = "a key in {where} is not a plain name",
        .unknown_key = "unknown key '{key}' in {where} (allowed: {allowed})",
        .duplicate_key = "duplicate key '{key}' in {where}",
    };
    map_.emplace(node_, schema, problems_);
    return problems_.FirstAsStatus();
  }
  YAML::Node Get(const std::string& key) const {
    return map_ ? map_->Value(key) : YAML::Node(YAML::NodeType::Undefined);
  }
  Status String(const std::string& key, bool required, std::string* out) const {
    YAML::Node n = Get(key);
    if (!n.IsDefined() || n.IsNull()) {
      if (required) return Err(node_, what_ + " needs '" + key + "' (a string)");
      return Status::Ok();
    }
    if (!n.IsScalar()) return Err(n, "'" + key + "' in " + what_ + " must be a string");
    *out = n.Scalar();
    return Status::Ok();
  }
  Status UInt(const std::string& key, uint64_t lo, uint64_t hi, uint64_t* out) const {
    YAML::Node n = Get(key);
    if (!n.IsDefined() || n.IsNull()) return Status::Ok();
    const std::string& s = n.IsScalar() ? n.Scalar() : std::string();
    char* end = nullptr;
    errno = 0;
    unsigned long long v = s.empty() || s[0] == '-' ? 0 : std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || errno != 0 || *end != '\0' || v < lo || v > hi) {
      return Err(n, "'" + key + "' in " + what_ + " is '" + s + "'; allowed: a whole number from " +
                        std::to_string(lo) + " to " + std::to_string(hi));
    }
    *out = v;
    return Status::Ok();
  }
  Status Err(const YAML::Node& n, const std::string& msg) const {
    return Status::InvalidArgument(source_ + ":" + std::to_string(n.Mark().line + 1) + ": " + msg);
  }

 private:
  YAML::Node node_;
  std::string source_;
  std::string what_;
  yaml::Problems problems_;
  std::optional<yaml::MapReader> map_;
};

bool IsRoomPath(const std::string& p) { return IsSafeRelativePath(p); }

}  // namespace

Result<DaemonConfig> ParseDaemonConfig(std::string_view yaml_text, const std::string& source) {
  yaml::Problems parse_problems(source);
  std::optional<YAML::Node> parsed = yaml::ParseDocument(yaml_text, parse_problems);
  if (!parsed) return parse_problems.FirstAsStatus();
  YAML::Node root = *parsed;
  DaemonConfig c;
  c.source = source;
  MapReader top(root, source, "the top level");
  if (!root.IsDefined() || root.IsNull()) {
    return Status::InvalidArgument(
        source + ":1: the file is empty; expected vault, state_dir, user, relay, rooms");
  }
  if (Status s = top.Check(
          {"vault", "state_dir", "user", "relay", "rooms", "limits", "debounce_ms", "log_level"});
      !s.ok())
    return s;
  if (Status s = top.String("vault", true, &c.vault); !s.ok()) return s;
  if (c.vault.empty() || c.vault[0] != '/')
    return top.Err(top.Get("vault"), "vault is '" + c.vault + "'; allowed: an absolute path");
  while (c.vault.size() > 1 && c.vault.back() == '/') c.vault.pop_back();
  if (Status s = top.String("state_dir", true, &c.state_dir); !s.ok()) return s;
  if (c.state_dir.empty() || c.state_dir[0] != '/')
    return top.Err(top.Get("state_dir"),
                   "state_dir is '" + c.state_dir + "'; allowed: an absolute path");
  if (Status s = top.String("user", true, &c.user); !s.ok()) return s;
  if (!IsSafePathSegment(c.user))
    return top.Err(top.Get("user"),
                   "user is '" + c.user + "'; allowed: a name without '/' or control characters");

  YAML::Node relay = top.Get("relay");
  if (!relay.IsDefined()) return top.Err(root, "the top level needs 'relay' (a mapping with url)");
  MapReader rr(relay, source, "relay");
  if (Status s = rr.Check({"url", "token_file"}); !s.ok()) return s;
  if (Status s = rr.String("url", true, &c.relay.url); !s.ok()) return s;
  if ((c.relay.url.rfind("ws://", 0) != 0 && c.relay.url.rfind("wss://", 0) != 0) ||
      !ParseWsUrl(c.relay.url).ok() || c.relay.url.find('?') != std::string::npos)
    return rr.Err(rr.Get("url"), "relay url is '" + c.relay.url +
                                     "'; allowed: ws://HOST[:PORT][/PATH] or wss://...");
  if (Status s = rr.String("token_file", false, &c.relay.token_file); !s.ok()) return s;

  YAML::Node rooms = top.Get("rooms");
  if (!rooms.IsDefined() || rooms.IsNull()) {
    rooms = YAML::Node(YAML::NodeType::Sequence);
  } else if (!rooms.IsSequence()) {
    return top.Err(rooms, "rooms must be a list of mappings (name, room, path, mode, expires_at)");
  }
  std::set<std::string> names, room_names;
  for (const YAML::Node& rn : rooms) {
    MapReader r(rn, source, "a room");
    if (Status s = r.Check({"name", "room", "path", "mode", "expires_at"}); !s.ok()) return s;
    RoomConfig rc;
    if (Status s = r.String("name", true, &rc.name); !s.ok()) return s;
    if (Status s = r.String("room", false, &rc.room); !s.ok()) return s;
    if (rc.room.empty()) rc.room = rc.name;
    if (Status s = r.String("path", false, &rc.path); !s.ok()) return s;
    if (rc.path.empty()) rc.path = rc.name;
    if (!IsRoomPath(rc.path))
      return r.Err(
          r.Get("path").IsDefined() ? r.Get("path") : YAML::Node(rn),
          "room path is '" + rc.path + "'; allowed: a relative path inside the vault without '..'");
    if (rc.room.size() > 200 || !IsSafePathSegment(rc.room))
      return r.Err(rn,
                   "room is '" + rc.room + "'; allowed: a name without '/' or control characters");
    std::string mode = "rw";
    if (Status s = r.String("mode", false, &mode); !s.ok()) return s;
    if (mode != "rw" && mode != "ro")
      return r.Err(r.Get("mode"), "mode is '" + mode + "'; allowed: rw, ro");
    rc.read_only = mode == "ro";
    std::string exp;
    if (Status s = r.String("expires_at", false, &exp); !s.ok()) return s;
    if (!exp.empty()) {
      auto t = ParseRfc3339(exp);
      if (!t.ok())
        return r.Err(r.Get("expires_at"),
                     "expires_at: " + t.status().message() + "; allowed: RFC 3339 or null");
      rc.expires_at = *t;
    }
    if (!names.insert(rc.name).second) return r.Err(rn, "duplicate room name '" + rc.name + "'");
    if (!room_names.insert(rc.room).second)
      return r.Err(rn, "duplicate relay room '" + rc.room + "'");
    for (const auto& other : c.rooms) {
      const std::string& a = other.path;
      const std::string& b = rc.path;
      bool nested = a == b ||
                    (b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '/') ||
                    (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/');
      if (nested)
        return r.Err(rn, "room path '" + rc.path + "' overlaps room '" + other.name + "' at '" +
                             other.path + "'; allowed: rooms that do not contain each other");
    }
    c.rooms.push_back(std::move(rc));
  }

  YAML::Node limits = top.Get("limits");
  if (limits.IsDefined() && !limits.IsNull()) {
    MapReader lr(limits, source, "limits");
    if (Status s = lr.Check({"text_max_bytes", "binary_max_bytes"}); !s.ok()) return s;
    if (Status s = lr.UInt("text_max_bytes", 1, 256ull << 20, &c.limits.text_max_bytes); !s.ok())
      return s;
    if (Status s = lr.UInt("binary_max_bytes", 1, 1ull << 30, &c.limits.binary_max_bytes); !s.ok())
      return s;
  }
  uint64_t debounce = static_cast<uint64_t>(c.debounce_ms);
  if (Status s = top.UInt("debounce_ms", 0, 10000, &debounce); !s.ok()) return s;
  c.debounce_ms = static_cast<int>(debounce);
  std::string level = "info";
  if (Status s = top.String("log_level", false, &level); !s.ok()) return s;
  if (!log::ParseLevel(level, &c.log_level))
    return top.Err(top.Get("log_level"),
                   "log_level is '" + level + "'; allowed: debug, info, warn, error, off");
  return c;
}

Result<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  auto text = ReadFile(path, 1 << 20);
  if (!text.ok()) return text.status().WithContext("reading the daemon config");
  return ParseDaemonConfig(*text, path);
}

Result<std::string> LoadRelayToken(const RelayConfig& relay) {
  std::string token;
  if (!relay.token_file.empty()) {
    auto t = ReadFile(relay.token_file, 64 << 10);
    if (!t.ok()) return t.status().WithContext("reading the relay token");
    token = *t;
  } else if (const char* env = std::getenv("VAULTD_RELAY_TOKEN")) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  return token;
}

}  // namespace vaultd::daemon
