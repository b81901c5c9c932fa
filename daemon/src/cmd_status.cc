// `vaultd status`: asks the running daemon over its unix socket.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "vaultd/daemon/config.h"
#include "vaultd/daemon/daemon.h"

namespace vaultd::daemon {
namespace {

Result<std::string> AskDaemon(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    return Status::InvalidArgument("status socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    return Status::Unavailable("no daemon answers on " + path + " (" + std::strerror(e) +
                               "): is `vaultd run` running with this config?");
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Status::FromErrno(e, "reading " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (16u << 20)) break;
  }
  close(fd);
  return out;
}

void PrintTable(const nlohmann::json& j) {
  std::printf("vaultd pid %d, user %s, vault %s, relay %s, since %s\n", j.value("pid", 0),
              j.value("user", "").c_str(), j.value("vault", "").c_str(),
              j.value("relay", "").c_str(), j.value("started_at", "").c_str());
  std::printf("%-20s %-4s %-10s %-20s %7s %7s %9s %8s %6s %s\n", "ROOM", "MODE", "STATE",
              "LAST SYNC", "FILES", "PENDING", "CONFLICTS", "REJECTED", "ERRORS", "NOTES");
  for (const auto& r : j["rooms"]) {
    std::string state = r.value("expired", false)     ? "expired"
                        : r.value("synced", false)    ? "synced"
                        : r.value("connected", false) ? "syncing"
                                                      : "offline";
    std::string notes;
    if (r.value("degraded", false)) notes += "degraded: " + r.value("degraded_reason", "") + "; ";
    if (r.value("malformed", 0) > 0)
      notes += std::to_string(r.value("malformed", 0)) + " malformed frames; ";
    if (r.value("ro_edits", 0) > 0)
      notes += std::to_string(r.value("ro_edits", 0)) + " local edits refused (ro); ";
    if (!r.value("last_error", "").empty()) notes += "last error: " + r.value("last_error", "");
    std::string last = r["last_sync"].is_string() ? r["last_sync"].get<std::string>() : "-";
    std::printf("%-20s %-4s %-10s %-20s %7llu %7llu %9llu %8llu %6llu %s\n",
                r.value("room", "").c_str(), r.value("mode", "").c_str(), state.c_str(),
                last.c_str(), static_cast<unsigned long long>(r.value("files", 0ull)),
                static_cast<unsigned long long>(r.value("pending_local", 0ull)),
                static_cast<unsigned long long>(r.value("conflicts", 0ull)),
                static_cast<unsigned long long>(r.value("rejected_paths", 0ull)),
                static_cast<unsigned long long>(r.value("errors", 0ull)), notes.c_str());
  }
}

int RunStatus(const std::vector<std::string>& argv) {
  cli::Args args;
  std::string error;
  if (!cli::Args::Parse(argv, {"config"}, {"json"}, &args, &error)) {
    std::fprintf(stderr, "vaultd status: %s (see vaultd status --help)\n", error.c_str());
    return cli::kExitUsage;
  }
  auto cfg = LoadDaemonConfig(args.GetOr("config", DefaultConfigPath()));
  if (!cfg.ok()) {
    std::fprintf(stderr, "vaultd status: %s\n", cfg.status().message().c_str());
    return cli::kExitUsage;
  }
  auto answer = AskDaemon(StatusSocketPath(cfg->state_dir));
  if (!answer.ok()) {
    std::fprintf(stderr, "vaultd status: %s\n", answer.status().message().c_str());
    return cli::kExitFailure;
  }
  if (args.Has("json")) {
    std::fputs(answer->c_str(), stdout);
    return cli::kExitOk;
  }
  try {
    PrintTable(nlohmann::json::parse(*answer));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vaultd status: the daemon's answer is not JSON: %s\n", e.what());
    return cli::kExitFailure;
  }
  return cli::kExitOk;
}

cli::Registrar reg(Commands(),
                   {"status", "show the daemon's rooms, files and health",
                    "status [--json] [--config vaultd.yaml]\n\n"
                    "Asks the running `vaultd run` (over state_dir/vaultd.sock) for each room's\n"
                    "state: connected/synced, last sync, files, pending local changes, conflict\n"
                    "copies written, rejected paths, malformed frames, errors, and whether the\n"
                    "watcher is degraded (events lost; a rescan is under way). --json prints the\n"
                    "document (schema vaultd.status/1, docs/daemon-sync.md).\n"
                    "Exit: 0 answered, 1 no daemon answers, 2 bad config or usage.",
                    &RunStatus});

}  // namespace
}  // namespace vaultd::daemon
