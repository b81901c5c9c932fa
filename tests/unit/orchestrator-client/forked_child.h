// Runs a piece of a test in a forked child (so unshare() and mounts leave the
// test process alone) and hands back what the child wrote.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace vaultd::orchestrator_client::test_util {

struct ChildOutput {
  bool exited_ok = false;  // exit status 0
  std::string text;        // everything the child wrote to its out_fd
};

// `body` writes its result to out_fd and returns (the child then exits 0) or
// calls _exit(non-zero) itself.
inline ChildOutput RunInForkedChild(const std::function<void(int out_fd)>& body) {
  ChildOutput out;
  int pipefd[2];
  if (::pipe(pipefd) != 0) return {false, "pipe failed"};
  pid_t pid = ::fork();
  if (pid < 0) return {false, "fork failed"};
  if (pid == 0) {
    ::close(pipefd[0]);
    body(pipefd[1]);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.text.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

inline void WriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace vaultd::orchestrator_client::test_util
