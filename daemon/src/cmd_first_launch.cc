// `vaultd first-launch`: session start inside the container (Kasm's exec
// config runs it as first_launch). Gets the mount set (orchestrator, its cache,
// a file, or Pattern-A discovery), checks the real mounts against it, and
// writes Obsidian's configuration and the daemon's vaultd.yaml.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "vaultd/common/fs.h"
#include "vaultd/configgen/daemon_config.h"
#include "vaultd/configgen/obsidian.h"
#include "vaultd/orchestrator_client/mountinfo.h"
#include "vaultd/orchestrator_client/mountset.h"

namespace vaultd::daemon {
namespace {

namespace oc = orchestrator_client;
namespace cg = configgen;

constexpr int kExitNoMountSet = 2;
constexpr int kExitMountsDiffer = 3;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string HomeDir() {
  std::string home = Env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_dir;
  return "/";
}

std::string DefaultStateDir() {
  std::string xdg = Env("XDG_STATE_HOME");
  return (xdg.empty() ? HomeDir() + "/.local/state" : xdg) + "/vaultd";
}

// "http://o:8080" and "http://o:8080/" mean the service; its mount set endpoint is /v1/mountset.
std::string MountSetUrl(std::string url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/v1/mountset";
  if (slash == url.size() - 1) return url + "v1/mountset";
  return url;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string ProblemName(oc::Finding::Kind kind) {
  switch (kind) {
    case oc::Finding::Kind::kUnexpected:
      return "extra";
    case oc::Finding::Kind::kModeMismatch:
      return "ro/rw-mismatch";
    default:
      return std::string(oc::FindingKindName(kind));
  }
}

// A table on stderr: one row per difference, columns as wide as their longest cell.
void PrintFindings(const std::vector<oc::Finding>& findings, bool strict) {
  std::fprintf(stderr, "vaultd first-launch: the mounts differ from the mount set%s:\n",
               strict ? " (--strict: nothing written)" : "");
  std::vector<std::vector<std::string>> rows = {{"PROBLEM", "MOUNT", "PATH", "EXPECTED", "ACTUAL"}};
  for (const auto& f : findings)
    rows.push_back({ProblemName(f.kind), f.name.empty() ? "-" : f.name, f.path,
                    f.expected.empty() ? "-" : f.expected, f.actual});
  std::vector<size_t> width(5, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size() + 2);
  for (const auto& r : rows) {
    std::string line = " ";
    for (size_t i = 0; i + 1 < r.size(); ++i)
      line += " " + r[i] + std::string(width[i] - r[i].size() - 1, ' ');
    std::fprintf(stderr, "%s %s\n", line.c_str(), r.back().c_str());
  }
  for (const auto& f : findings) std::fprintf(stderr, "  %s\n", f.message.c_str());
}

// The mount set's validation names the field; say what it means for the vault.
std::string Explained(const Status& s) {
  std::string m = s.message();
  if (m.find(".target:") != std::string::npos)
    m += " (a target must be a relative path inside the vault)";
  return m;
}

struct Options {
  std::string orchestrator, token_file, mountset_file, vault, state_dir, defaults_dir, mountinfo;
  std::string relay, relay_token_file, log_level;
  std::string user;           // --user, else $VAULTD_USER, else $USER
  std::string explicit_user;  // --user or $VAULTD_USER only
  bool strict = false;
  bool save_settings = false;
};

// Obtains the mount set; on failure prints why and what to check, returns nullopt.
std::optional<oc::MountSetDoc> ObtainMountSet(const Options& o, const std::string& cache,
                                              std::string* source) {
  const char* prog = "vaultd first-launch";
  if (!o.mountset_file.empty()) {
    auto text = ReadFile(o.mountset_file, 8u << 20);
    if (!text.ok()) {
      std::fprintf(stderr, "%s: no mount set: %s\n", prog, text.status().message().c_str());
      return std::nullopt;
    }
    auto doc = oc::ParseMountSet(*text);
    if (!doc.ok()) {
      std::fprintf(stderr, "%s: refusing the mount set %s: %s\nnothing was written.\n", prog,
                   o.mountset_file.c_str(), Explained(doc.status()).c_str());
      return std::nullopt;
    }
    *source = "file " + o.mountset_file;
    return *doc;
  }
  if (!o.orchestrator.empty()) {
    auto token = ReadFile(o.token_file, 64u << 10);
    oc::FetchOptions f;
    f.url = MountSetUrl(o.orchestrator);
    if (token.ok()) {
      f.token = Trim(*token);
    } else {
      std::fprintf(stderr, "%s: warning: cannot read the token file: %s\n", prog,
                   token.status().message().c_str());
    }
    // The cache lives in the state dir, which a first session has not made yet.
    std::error_code ec;
    std::filesystem::create_directories(DirName(cache), ec);
    auto r = oc::FetchMountSetWithCache(f, cache);
    if (!r.ok()) {
      const bool unreachable = r.status().code() == StatusCode::kUnavailable;
      std::fprintf(stderr, "%s: no mount set obtainable: %s\n", prog,
                   Explained(r.status()).c_str());
      if (unreachable) {
        std::fprintf(stderr,
                     "check: is the orchestrator running and reachable from this container at %s "
                     "(DNS, firewall, port)? No usable cached mount set at %s (a session that once "
                     "reached the orchestrator keeps one there).\nnothing was written.\n",
                     f.url.c_str(), cache.c_str());
      } else {
        std::fprintf(stderr,
                     "check: the token in %s (valid, unexpired, for this orchestrator's issuer and "
                     "audience), and that %s is the orchestrator's mount set endpoint serving "
                     "schema %s.\nnothing was written.\n",
                     o.token_file.c_str(), f.url.c_str(), std::string(oc::kMountSetSchema).c_str());
      }
      return std::nullopt;
    }
    if (r->from_cache) {
      std::fprintf(
          stderr,
          "%s: degraded: the orchestrator is unreachable, using the cached mount set of %s "
          "from %s (%s)\n",
          prog, r->doc.user.c_str(), FormatRfc3339(r->doc.generated_at).c_str(),
          r->fetch_error.c_str());
      *source = "cache " + cache + " (degraded)";
    } else {
      *source = "orchestrator " + f.url;
    }
    return r->doc;
  }
  // Pattern A: Kasm made the mounts itself; what is mounted under the vault is the mount set.
  auto mounts = oc::ReadMountInfo(o.mountinfo);
  if (!mounts.ok()) {
    std::fprintf(stderr, "%s: no mount set obtainable: %s\n", prog,
                 mounts.status().message().c_str());
    return std::nullopt;
  }
  oc::MountSetDoc doc;
  doc.vault_root = o.vault.empty() ? "/vault" : o.vault;
  doc.user = o.user;
  doc.generated_at = std::chrono::system_clock::now();
  doc.mounts = oc::DiscoverMounts(*mounts, doc.vault_root);
  if (doc.mounts.empty()) {
    std::fprintf(
        stderr,
        "%s: no mount set obtainable: no orchestrator configured (--orchestrator) and nothing "
        "is mounted under %s.\ncheck: the Kasm storage/volume mappings of this workspace "
        "(vault-orchestrator kasm-plan), or pass --orchestrator URL --token-file F.\n",
        prog, doc.vault_root.c_str());
    return std::nullopt;
  }
  // The personal folder is per user on the relay too: two users never share a
  // room. Every Kasm container runs as the same account, so $USER cannot name
  // the room; only an explicit user name can.
  for (auto& m : doc.mounts) {
    if (m.name != "personal") continue;
    if (o.explicit_user.empty() || !IsSafePathSegment(o.explicit_user)) {
      std::fprintf(stderr,
                   "%s: refusing Pattern A with a personal folder but no user name: its room would "
                   "be shared by every user.\ncheck: set VAULTD_USER (or --user) to the session "
                   "user's name.\nnothing was written.\n",
                   prog);
      return std::nullopt;
    }
    m.room = "personal-" + o.explicit_user;
  }
  *source = "discovered under " + doc.vault_root + " (Pattern A)";
  return doc;
}

int RunFirstLaunch(const std::vector<std::string>& argv) {
  const char* prog = "vaultd first-launch";
  cli::Args args;
  std::string error;
  if (!cli::Args::Parse(
          argv,
          {"orchestrator", "token-file", "mountset", "vault", "state-dir", "obsidian-defaults",
           "mountinfo", "relay", "relay-token-file", "user", "log-level"},
          {"strict", "save-settings"}, &args, &error)) {
    std::fprintf(stderr, "%s: %s (see vaultd first-launch --help)\n", prog, error.c_str());
    return cli::kExitUsage;
  }
  if (!args.positional().empty()) {
    std::fprintf(stderr, "%s: unexpected argument '%s'\n", prog, args.positional()[0].c_str());
    return cli::kExitUsage;
  }
  Options o;
  o.orchestrator = args.GetOr("orchestrator", "");
  o.token_file = args.GetOr("token-file", "");
  o.mountset_file = args.GetOr("mountset", "");
  o.vault = args.GetOr("vault", "");
  o.state_dir = args.GetOr("state-dir", DefaultStateDir());
  o.defaults_dir = args.GetOr("obsidian-defaults", cg::kDefaultObsidianDefaultsDir);
  o.mountinfo = args.GetOr("mountinfo", "/proc/self/mountinfo");
  o.relay = args.GetOr("relay", "");
  o.relay_token_file = args.GetOr("relay-token-file", "");
  o.explicit_user = args.GetOr("user", Env("VAULTD_USER"));
  o.user = o.explicit_user.empty() ? Env("USER") : o.explicit_user;
  o.log_level = args.GetOr("log-level", "info");
  o.strict = args.Has("strict");
  o.save_settings = args.Has("save-settings");
  if (!o.orchestrator.empty() && o.token_file.empty()) {
    std::fprintf(stderr, "%s: --orchestrator needs --token-file (the user's IdP access token)\n",
                 prog);
    return cli::kExitUsage;
  }
  for (const std::string* p : {&o.vault, &o.state_dir}) {
    if (!p->empty() && (*p)[0] != '/') {
      std::fprintf(stderr, "%s: paths must be absolute: '%s'\n", prog, p->c_str());
      return cli::kExitUsage;
    }
  }
  auto defaults = cg::LoadObsidianDefaults(o.defaults_dir);
  if (!defaults.ok()) {
    std::fprintf(stderr, "%s: Obsidian defaults: %s\nnothing was written.\n", prog,
                 defaults.status().message().c_str());
    return cli::kExitFailure;
  }
  cg::WriteReport report;
  if (o.save_settings) {
    cg::ObsidianPaths paths = cg::DefaultObsidianPaths(o.vault.empty() ? "/vault" : o.vault,
                                                       HomeDir(), Env("XDG_CONFIG_HOME"));
    Status s = cg::SaveUserSettings(paths, *defaults, &report);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: saving settings: %s\n", prog, s.message().c_str());
      return cli::kExitFailure;
    }
    return cli::kExitOk;
  }

  const std::string cache = o.state_dir + "/mountset.json";
  std::string source;
  std::optional<oc::MountSetDoc> doc = ObtainMountSet(o, cache, &source);
  if (!doc) return kExitNoMountSet;
  const std::string vault = o.vault.empty() ? doc->vault_root : o.vault;

  auto mounts = oc::ReadMountInfo(o.mountinfo);
  if (!mounts.ok()) {
    std::fprintf(stderr, "%s: cannot verify the mounts: %s\n", prog,
                 mounts.status().message().c_str());
    return cli::kExitFailure;
  }
  const std::vector<oc::Finding> findings = oc::CompareMounts(*doc, *mounts, vault);
  if (!findings.empty()) {
    PrintFindings(findings, o.strict);
    if (o.strict) return kExitMountsDiffer;
  }

  // Rooms: one per mount that is really there; a folder mounted ro (whatever
  // was granted) or granted ro (whatever is mounted) is receive-only.
  cg::DaemonConfig config;
  config.vault = vault;
  config.state_dir = o.state_dir;
  config.user = doc->user.empty() ? o.user : doc->user;
  config.relay_url = !o.relay.empty() ? o.relay : doc->sync_url.value_or("");
  config.relay_token_file = o.relay_token_file;
  config.log_level = o.log_level;
  cg::ObsidianPaths paths = cg::DefaultObsidianPaths(vault, HomeDir(), Env("XDG_CONFIG_HOME"));
  for (const auto& m : doc->mounts) {
    const std::string path = vault + "/" + m.target;
    // One path can have two findings (mode and source): look for the kind.
    auto found = [&](oc::Finding::Kind kind) {
      return std::any_of(findings.begin(), findings.end(),
                         [&](const oc::Finding& f) { return f.path == path && f.kind == kind; });
    };
    if (found(oc::Finding::Kind::kMissing)) continue;
    const bool ro = m.mode == "ro" || found(oc::Finding::Kind::kModeMismatch);
    if (ro) paths.read_only.push_back(path);
    config.rooms.push_back({m.name, m.room, m.target, ro ? "ro" : "rw", m.expires_at});
  }
  for (const auto& f : findings)
    if (f.kind == oc::Finding::Kind::kUnexpected && f.actual == "ro")
      paths.read_only.push_back(f.path);
  if (config.relay_url.empty())
    std::fprintf(
        stderr,
        "%s: warning: no relay URL (the mount set has no sync.url and --relay was not given): "
        "the daemon cannot sync\n",
        prog);

  Status s = cg::WriteObsidianConfig(paths, *defaults, &report);
  if (s.ok()) {
    s = cg::WriteIfChanged(o.state_dir + "/vaultd.yaml", cg::RenderDaemonConfig(config),
                           paths.read_only, &report);
  }
  for (const auto& w : report.warnings) std::fprintf(stderr, "%s: warning: %s\n", prog, w.c_str());
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", prog, s.message().c_str());
    return cli::kExitFailure;
  }
  for (const auto& id : report.removed_plugins)
    std::printf("removed community plugin '%s' (not in the organisation's allow-list)\n",
                id.c_str());
  for (const auto& w : report.written) std::printf("wrote %s\n", w.c_str());
  std::printf(
      "first-launch: user %s, %zu room(s), mount set from %s; %zu file(s) written, %zu unchanged, "
      "%zu mount problem(s)\n",
      config.user.c_str(), config.rooms.size(), source.c_str(), report.written.size(),
      report.unchanged.size(), findings.size());
  return cli::kExitOk;
}

cli::Registrar reg(
    Commands(),
    {"first-launch", "session start: fetch the mount set, verify mounts, write config",
     "first-launch [--orchestrator URL --token-file F] [--vault /vault] [--state-dir D]\n"
     "             [--obsidian-defaults DIR] [--strict] [--relay URL] [--relay-token-file F]\n"
     "             [--user NAME] [--mountset FILE] [--mountinfo FILE] [--log-level L]\n"
     "first-launch --save-settings [--vault /vault] [--obsidian-defaults DIR]\n\n"
     "Gets the mount set: from the orchestrator (URL of the service or of its /v1/mountset,\n"
     "with the user's IdP token from F), from its cached copy D/mountset.json when the\n"
     "orchestrator is unreachable (reported as degraded), from FILE (--mountset), or, with\n"
     "none of these, from the mounts found under the vault (Pattern A; nested ones too; a\n"
     "personal folder there needs --user or $VAULTD_USER, since it gets the room personal-USER).\n"
     "Checks /proc/self/mountinfo against it, then writes <vault>/.obsidian/{app,appearance,\n"
     "core-plugins,community-plugins}.json, ~/.config/obsidian/obsidian.json and D/vaultd.yaml\n"
     "(D = --state-dir, default $XDG_STATE_HOME/vaultd or ~/.local/state/vaultd). --vault wins\n"
     "over the mount set's vault_root. Org defaults: DIR/*.yaml (default\n"
     "/etc/vaultd/obsidian-defaults). Files already holding the right bytes are not touched;\n"
     "nothing is written into a read-only mount. --save-settings only copies the user's own\n"
     "Obsidian settings into the persistent profile (~/.config/vaultd/obsidian).\n"
     "Exit: 0 ok (mount problems, if any, printed as warnings); 1 a file could not be\n"
     "written or the defaults are invalid; 2 usage, or no mount set obtainable (orchestrator\n"
     "down and no cache, refused token, a malformed mount set, another schema, a target\n"
     "outside the vault: nothing written); 3 with --strict, the mounts differ from the mount\n"
     "set (a table on stderr: missing, extra, ro/rw-mismatch, wrong-source; nothing written).\n"
     "Details: docs/config-gen.md.",
     &RunFirstLaunch});

}  // namespace
}  // namespace vaultd::daemon
