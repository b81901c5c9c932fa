// Test helper: runs one libvaultd_move move in its own process, so a crash
// test can SIGKILL it (VAULTD_MOVE_CRASH_AT) or kill -9 it from outside.
//   shim_move_tool SRC DST [--noreplace] --journal DIR
// Prints "ok steps=N entries=N path=P" or "error ERRNO NAME"; exit 0 / 1.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "vaultd/shim/move.h"

int main(int argc, char** argv) {
  const char* src = nullptr;
  const char* dst = nullptr;
  const char* journal = nullptr;
  unsigned flags = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--noreplace") == 0) {
      flags |= vaultd::move::kRenameNoReplace;
    } else if (std::strcmp(argv[i], "--journal") == 0 && i + 1 < argc) {
      journal = argv[++i];
    } else if (!src) {
      src = argv[i];
    } else if (!dst) {
      dst = argv[i];
    } else {
      std::fprintf(stderr, "usage: shim_move_tool SRC DST [--noreplace] --journal DIR\n");
      return 2;
    }
  }
  if (!src || !dst || !journal) {
    std::fprintf(stderr, "usage: shim_move_tool SRC DST [--noreplace] --journal DIR\n");
    return 2;
  }
  vaultd::move::MoveStats stats;
  int r = vaultd::move::MovePaths(src, dst, flags, journal, &stats);
  if (r != 0) {
    std::printf("error %d %s\n", -r, std::strerror(-r));
    return 1;
  }
  std::printf("ok steps=%d entries=%ld path=%s\n", stats.steps, stats.entries, stats.data_path);
  return 0;
}
