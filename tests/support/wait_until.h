// Waiting on a condition with a deadline, for tests and benchmarks that watch
// other processes or the disk (never a fixed sleep as synchronisation).
#pragma once

#include <chrono>
#include <thread>

namespace vaultd::testing {

// Polls `cond` every 2 ms until it holds or `deadline` has passed; the
// polling interval only yields the CPU to the processes being waited on.
template <typename F>
bool WaitUntil(F cond, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

}  // namespace vaultd::testing
