// The fixture of the shim's integration tests: programs run with
// libvaultshim.so preloaded in a private mount namespace, and `vaultd
// recover`. Header-only: the integration test files include it.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "shim_test_util.h"

namespace vaultd::shimtest {

inline const std::string kShim = std::string(VAULTD_LIB_DIR) + "/libvaultshim.so";
inline const std::string kProbe = std::string(VAULTD_TESTS_DIR) + "/rename_probe";
inline const std::string kTool = std::string(VAULTD_TESTS_DIR) + "/shim_move_tool";
inline const std::string kVaultd = std::string(VAULTD_BIN_DIR) + "/vaultd";
inline const std::string kRace = std::string(VAULTD_TESTS_DIR) + "/shim_race";

inline void ClearDir(const std::string& dir) {
  ASSERT_EQ(std::system(("find '" + dir + "' -mindepth 1 -delete").c_str()), 0);
}

inline std::string ErrnoName(int e) {
  static const std::map<int, std::string> names = {
      {0, "OK"},          {ENOENT, "ENOENT"},   {EEXIST, "EEXIST"},
      {EISDIR, "EISDIR"}, {ENOTDIR, "ENOTDIR"}, {ENOTEMPTY, "ENOTEMPTY"},
      {EINVAL, "EINVAL"}, {EROFS, "EROFS"},     {EXDEV, "EXDEV"},
      {EBUSY, "EBUSY"},   {EACCES, "EACCES"},   {EPERM, "EPERM"},
      {ENOSPC, "ENOSPC"}, {EFBIG, "EFBIG"},     {ENAMETOOLONG, "ENAMETOOLONG"}};
  auto it = names.find(e);
  return it == names.end() ? "errno " + std::to_string(e) : it->second;
}

class ShimTest : public TwoMountsTest {
 protected:
  std::vector<std::string> ShimEnv() const {
    return {"LD_PRELOAD=" + kShim, "VAULTD_SHIM_ROOTS=" + vault_, "VAULTD_JOURNAL_DIR=" + journal_,
            "UV_USE_IO_URING=0", "VAULTD_SHIM_LOG=" + box_->Path("shim.log")};
  }

  // Runs the probe; returns the errno it saw (0 = success).
  int Probe(const std::string& fn, const std::string& src, const std::string& dst,
            const std::string& flag = "", bool preload = true) {
    std::vector<std::string> argv = {kProbe, fn, src, dst};
    if (!flag.empty()) argv.push_back(flag);
    ProcResult r = RunProc(argv, preload ? ShimEnv() : std::vector<std::string>{});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::atoi(r.out.c_str());
  }

  ProcResult Recover() { return RunProc({kVaultd, "recover", "--journal", journal_}, {}, 120); }

  void ExpectNoLeftovers() {
    EXPECT_EQ(TempLeftovers(a_), std::vector<std::string>{});
    EXPECT_EQ(TempLeftovers(b_), std::vector<std::string>{});
    EXPECT_EQ(JournalFiles(journal_), std::vector<std::string>{});
  }
};

}  // namespace vaultd::shimtest
