// Processes for the daemon's integration tests: the real y-websocket relay
// (node), a yjs peer (peer.mjs), and `vaultd run` itself. Every wait has a
// deadline; nothing sleeps to synchronise.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "wait_until.h"

namespace vaultd::itest {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline std::string NodeModules() {
  return std::string(VAULTD_SOURCE_DIR) + "/tests/node/node_modules";
}

// Polls `pred` until it holds or `limit` passes.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return vaultd::testing::WaitUntil(pred, limit);
}

inline int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

inline bool PortOpen(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

inline std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return "<missing>";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
inline void Spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

// A child process; stdout/stderr to `log`, stdin/stdout pipes when asked.
using vaultd::testing::Process;

// The real y-websocket server on a free loopback port.
class Relay {
 public:
  explicit Relay(fs::path dir) : dir_(std::move(dir)) {}
  bool Start() {
    if (port_ == 0) port_ = FreePort();
    proc_ = std::make_unique<Process>();
    if (!proc_->Start({"node", NodeModules() + "/@y/websocket-server/src/server.js"},
                      {"HOST=127.0.0.1", "PORT=" + std::to_string(port_)}, dir_ / "relay.log"))
      return false;
    return WaitFor([&] { return PortOpen(port_); });
  }
  void Stop() {
    if (proc_) proc_->Kill(SIGKILL);
    proc_.reset();
  }
  int port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_); }

 private:
  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<Process> proc_;
};

// A yjs client in node (peer.mjs), in one room.
class Peer {
 public:
  bool Start(const std::string& url, const fs::path& log) {
    proc_ = std::make_unique<Process>();
    if (!proc_->Start({"node", std::string(VAULTD_SOURCE_DIR) + "/tests/node/daemon-peer.mjs", url},
                      {"NODE_PATH=" + NodeModules()}, log, true))
      return false;
    return proc_->ReadLine().find("ready") != std::string::npos;
  }
  nlohmann::json Do(nlohmann::json cmd) {
    proc_->WriteLine(cmd.dump());
    std::string line = proc_->ReadLine();
    if (line.empty()) return {{"error", "no answer"}};
    return nlohmann::json::parse(line);
  }
  nlohmann::json Files() { return Do({{"cmd", "dump"}})["files"]; }
  std::string Text(const std::string& path) {
    auto f = Files();
    if (!f.contains(path) || !f[path].contains("text")) return "<missing>";
    return f[path]["text"].get<std::string>();
  }

 private:
  std::unique_ptr<Process> proc_;
};

// One `vaultd run` with its own vault, state dir and config.
class Daemon {
 public:
  Daemon(fs::path root, std::string user) : root_(std::move(root)), user_(std::move(user)) {
    vault = root_ / "vault";
    state = root_ / "state";
    fs::create_directories(vault);
    fs::create_directories(state);
  }
  struct RoomSpec {
    std::string name, path;
    bool ro = false;
  };
  void Configure(const std::string& relay_url, const std::vector<RoomSpec>& rooms,
                 int debounce_ms = 10) {
    std::ostringstream y;
    y << "vault: " << vault.string() << "\nstate_dir: " << state.string() << "\nuser: " << user_
      << "\nrelay:\n  url: " << relay_url << "\nrooms:\n";
    for (const auto& r : rooms) {
      y << "  - name: " << r.name << "\n    room: " << r.name << "\n    path: " << r.path
        << "\n    mode: " << (r.ro ? "ro" : "rw") << "\n";
      fs::create_directories(vault / r.path);
    }
    y << "debounce_ms: " << debounce_ms << "\nlog_level: info\n";
    Spit(config(), y.str());
  }
  fs::path config() const { return root_ / "vaultd.yaml"; }
  bool Start(const std::vector<std::string>& env = {}) {
    proc_ = std::make_unique<Process>();
    std::vector<std::string> e = env;
    e.push_back("VAULTD_JOURNAL_DIR=" + (root_ / "journal").string());
    if (!proc_->Start(
            {std::string(VAULTD_BIN_DIR) + "/vaultd", "run", "--config", config().string()}, e,
            root_ / "vaultd.log"))
      return false;
    return WaitFor([&] { return !Status().is_null() || !proc_->running(); }) && proc_->running();
  }
  // Every room synced.
  bool WaitSynced(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    return WaitFor(
        [&] {
          auto s = Status();
          if (s.is_null()) return false;
          for (const auto& r : s["rooms"])
            if (!r["synced"].get<bool>()) return false;
          return true;
        },
        limit);
  }
  nlohmann::json Status() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string p = (state / "vaultd.sock").string();
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", p.c_str());
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return nullptr;
    }
    std::string out;
    char b[65536];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) out.append(b, static_cast<size_t>(n));
    close(fd);
    try {
      return nlohmann::json::parse(out);
    } catch (...) {
      return nullptr;
    }
  }
  nlohmann::json RoomStatus(const std::string& name) {
    auto s = Status();
    if (s.is_null()) return nullptr;
    for (const auto& r : s["rooms"])
      if (r["name"] == name) return r;
    return nullptr;
  }
  int Stop(int sig = SIGTERM) {
    if (!proc_) return -1;
    proc_->Kill(sig);
    int st = proc_->Wait(std::chrono::seconds(10));
    proc_.reset();
    return st;
  }
  bool running() { return proc_ && proc_->running(); }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  std::string Log() const { return Slurp(root_ / "vaultd.log"); }

  fs::path vault, state;

 private:
  fs::path root_;
  std::string user_;
  std::unique_ptr<Process> proc_;
};

}  // namespace vaultd::itest
