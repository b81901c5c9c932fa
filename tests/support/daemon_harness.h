// Processes for the daemon's integration tests: the real y-websocket relay
// (node), a yjs peer (peer.mjs), and `vaultd run` itself. Every wait has a
// deadline; nothing sleeps to synchronise.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  ~Process() { Kill(SIGKILL); }

  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const fs::path& log, bool pipes = false) {
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipes && (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      // A test that crashes takes its relay, peers and daemons with it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (pipes) {
        dup2(in[0], 0);
        dup2(out[1], 1);
      } else {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(fd, 1);
      }
      dup2(fd, 2);
      setpgid(0, 0);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    if (pipes) {
      close(in[0]);
      close(out[1]);
      in_ = in[1];
      out_ = out[0];
    }
    return true;
  }
  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = st;
      return false;
    }
    return true;
  }
  void Kill(int sig) {
    if (pid_ > 0) {
      kill(pid_, sig);
      if (sig == SIGKILL) Wait();
    }
    if (in_ >= 0) close(in_), in_ = -1;
    if (out_ >= 0) close(out_), out_ = -1;
  }
  // Waits for exit (with deadline); returns the wait status or -1.
  int Wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    if (pid_ <= 0) return status_;
    bool done = WaitFor([&] { return !running(); }, limit);
    return done ? status_ : -1;
  }
  bool WriteLine(const std::string& s) {
    std::string l = s + "\n";
    return write(in_, l.data(), l.size()) == static_cast<ssize_t>(l.size());
  }
  // One line from the child's stdout, or "" at the deadline.
  std::string ReadLine(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = Clock::now() + limit;
    while (true) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char b[65536];
      ssize_t n = read(out_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, static_cast<size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  int in_ = -1, out_ = -1;
  std::string buf_;
};

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
