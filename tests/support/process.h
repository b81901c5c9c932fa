// A child process for tests and benchmarks: its output appended to a log file,
// or kept in memory, or its stdin/stdout as pipes to talk to it line by line.
// The child dies with the test (PR_SET_PDEATHSIG), so a crashed test leaves no
// server behind; every wait has a deadline. Header-only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "wait_until.h"

extern char** environ;

namespace vaultd::testing {

struct ProcessOptions {
  // "K=V" set in the child's environment on top of this process's.
  std::vector<std::string> env = {};
  // stdout and stderr are appended to `log`. When it is empty they are kept apart in memory
  // files that Finish() returns.
  std::filesystem::path log = {};
  // stdin and stdout are pipes for WriteLine and ReadLine; stderr goes to `log` (or memory).
  bool pipes = false;
  // The child's RLIMIT_NOFILE soft limit; 0: this process's.
  rlim_t max_open_files = 0;
};

// How a process ended, with what it wrote when its output was kept in memory.
struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    Kill(SIGKILL);
    for (int fd : {out_file_, err_file_})
      if (fd >= 0) ::close(fd);
  }

  // Starts argv[0] (a path, or looked up in PATH). False when it could not be started;
  // a program that cannot be executed exits with 127 after saying why on stderr.
  bool Start(const std::vector<std::string>& argv, const ProcessOptions& options) {
    // Everything the child needs is made here: after fork() in a threaded test only
    // async-signal-safe calls are allowed.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (const std::string& set : options.env) {  // a later "K=V" replaces an earlier one
      const size_t eq = set.find('=');
      if (eq == std::string::npos) continue;  // not a variable
      const std::string_view key(set.data(), eq + 1);
      auto same = std::find_if(env.begin(), env.end(),
                               [&](const std::string& kv) { return kv.rfind(key, 0) == 0; });
      if (same != env.end()) {
        *same = set;
      } else {
        env.push_back(set);
      }
    }
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, log = -1;
    const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // The parent's copies of what only the child uses (all of them when starting failed).
    auto close_child_ends = [&](bool all) {
      for (int fd : {log, null_in, in[0], out[1]})
        if (fd >= 0) ::close(fd);
      if (all)
        for (int fd : {in[1], out[0]})
          if (fd >= 0) ::close(fd);
      return false;
    };
    if (options.pipes && (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0))
      return close_child_ends(true);
    if (!options.log.empty()) {
      log = ::open(options.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log < 0) return close_child_ends(true);
    } else {
      out_file_ = ::memfd_create("out", MFD_CLOEXEC);
      err_file_ = ::memfd_create("err", MFD_CLOEXEC);
      if (out_file_ < 0 || err_file_ < 0) return close_child_ends(true);
    }
    const rlim_t nofile = options.max_open_files;
    pid_ = ::fork();
    if (pid_ < 0) return close_child_ends(true);
    if (pid_ == 0) {
      // A test that crashes takes its relay, peers and daemons with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(options.pipes ? in[0] : null_in, 0);
      ::dup2(options.pipes ? out[1] : log >= 0 ? log : out_file_, 1);
      ::dup2(log >= 0 ? log : err_file_, 2);
      ::setpgid(0, 0);
      if (nofile > 0) {
        rlimit limit{};
        ::getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = nofile;
        ::setrlimit(RLIMIT_NOFILE, &limit);
      }
      ::execvpe(cargv[0], cargv.data(), cenv.data());
      ::dprintf(2, "exec %s: %s\n", cargv[0], std::strerror(errno));
      ::_exit(127);
    }
    close_child_ends(false);
    in_ = in[1];
    out_ = out[0];
    return true;
  }
  // The form the daemon tests use: extra variables, a log, pipes when asked.
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::filesystem::path& log, bool pipes = false) {
    return Start(argv, {.env = env, .log = log, .pipes = pipes});
  }

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int st;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = st;
      return false;
    }
    return true;
  }
  void Kill(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
      if (sig == SIGKILL) Wait();
    }
    if (in_ >= 0) ::close(in_), in_ = -1;
    if (out_ >= 0) ::close(out_), out_ = -1;
  }
  // Waits for exit (with deadline); returns the wait status or -1.
  int Wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    if (pid_ <= 0) return status_;
    // A pidfd wakes the wait as soon as the child exits; without one, poll every 2 ms.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    const auto end = std::chrono::steady_clock::now() + limit;
    bool done = WaitUntil(
        [&] {
          if (!running()) return true;
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
          pollfd p{pidfd, POLLIN, 0};
          if (pidfd >= 0 && left > 0) ::poll(&p, 1, static_cast<int>(left));
          return !running();
        },
        limit);
    if (pidfd >= 0) ::close(pidfd);
    return done ? status_ : -1;
  }
  // SIGTERM, then SIGKILL when it has not exited after `grace`. The wait status of an
  // exit within the grace period, else -1.
  int Stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    const int status = Wait(grace);
    Kill(SIGKILL);
    return status;
  }
  // Waits up to `limit` (then kills it, and says so in `err`) and returns how it ended and
  // the output kept in memory.
  ProcessResult Finish(std::chrono::milliseconds limit = std::chrono::seconds(120)) {
    ProcessResult r;
    if (Wait(limit) == -1 && pid_ > 0) {
      Kill(SIGKILL);
      r.err = "timeout after " + std::to_string(limit.count() / 1000) + " s\n";
    }
    if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) r.signal = WTERMSIG(status_);
    r.out = ReadAll(out_file_);
    r.err += ReadAll(err_file_);
    return r;
  }

  bool WriteLine(const std::string& s) {
    std::string l = s + "\n";
    return ::write(in_, l.data(), l.size()) == static_cast<ssize_t>(l.size());
  }
  // One line from the child's stdout, or "" at the deadline.
  std::string ReadLine(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char b[65536];
      ssize_t n = ::read(out_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, static_cast<size_t>(n));
    }
  }

 private:
  static std::string ReadAll(int fd) {
    std::string s;
    if (fd < 0) return s;
    char buf[65536];
    for (ssize_t n; (n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(s.size()))) > 0;)
      s.append(buf, static_cast<size_t>(n));
    return s;
  }

  pid_t pid_ = -1;
  int status_ = -1;
  int in_ = -1, out_ = -1;
  int out_file_ = -1, err_file_ = -1;
  std::string buf_;
};

}  // namespace vaultd::testing
