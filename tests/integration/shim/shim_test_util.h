// Test support for the shim: a private mount namespace with tmpfs and bind
// mounts, a process runner, and a tree description to compare moved data.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace vaultd::shimtest {

// Moves this process into a private mount namespace (once). "" or why not.
std::string EnterPrivateMountNamespace();

// A temp directory under /tmp whose mounts are undone at destruction.
class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  // mkdir -p root/rel and mount a fresh tmpfs there; returns the path.
  std::string MountTmpfs(const std::string& rel, const std::string& options = "size=2g");
  // Mounts a file system image (through a loop device) at root/rel.
  std::string MountImage(const std::string& image, const std::string& type, const std::string& rel);
  // Bind-mounts root/from at root/to (mkdir -p); returns the path.
  std::string Bind(const std::string& from, const std::string& to);
  // Turns an existing mount point read-only (mount -o remount,bind,ro).
  void RemountReadOnly(const std::string& rel);

 private:
  std::string root_;
  std::vector<std::string> mounts_;
};

// A test in a private mount namespace with two tmpfs mounts, <root>/vault/a
// and <root>/vault/b (a cross-device pair), and a journal directory outside
// them. Skips when the namespace cannot be entered (not root).
class TwoMountsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  std::unique_ptr<Sandbox> box_;
  std::string vault_, a_, b_, journal_;
};

using ProcResult = vaultd::testing::ProcessResult;

// Starts argv[0] (a path, or looked up in PATH) with extra "K=V" variables, its
// output kept in memory.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env);
// Waits (with a deadline, then kills it) and collects the output of a Spawn()ed process.
ProcResult Wait(pid_t pid, int timeout_s = 120);
ProcResult RunProc(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                   int timeout_s = 120);

// The seed of a randomized test: $VAULTD_TEST_SEED, else random. Printed
// with the way to replay it.
unsigned TestSeed(const std::string& test);

// Every object under `path`, one sorted line each: relative path, type, mode,
// size, mtime (ns), uid/gid, sha256 of the content or the link target, and the
// user.* xattrs. "<absent>" when nothing is there.
std::string Describe(const std::string& path);
// Names (relative) of leftover temp files ".vaultd-move-*" under `dir`.
std::vector<std::string> TempLeftovers(const std::string& dir);

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);
void MakeDirs(const std::string& path);
bool Exists(const std::string& path);
// Files in `dir` (non-recursive) except the stripe-NN.lock files.
std::vector<std::string> JournalFiles(const std::string& dir);

}  // namespace vaultd::shimtest
