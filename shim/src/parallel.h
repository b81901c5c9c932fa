// Helper threads of a move. A tree's per-entry work (copying its files,
// re-checking them, deleting the source) is independent system calls on
// different inodes; on two or more CPUs it finishes sooner side by side.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>

namespace vaultd::move::internal {

// Starts a small helper thread with every signal blocked (the host
// process's handlers never run on it; a signal the work raises, SIGXFSZ say,
// turns into an error return instead). True when it runs.
bool StartHelperThread(pthread_t* t, void* (*fn)(void*), void* arg);

// At most this many threads work on one move, the caller's included.
constexpr int kMaxThreads = 4;

// How many threads ParallelFor should use for `items` entries: one for a
// tree of fewer than 8 entries, else the CPUs this process may run on (its
// affinity mask), at most kMaxThreads. VAULTD_MOVE_THREADS=<n> sets it (1:
// everything on the caller's thread).
int ThreadsFor(size_t items);

// Calls fn(ctx, worker, i) once for every i in [0, n): on the calling thread
// (worker 0) and threads-1 helpers (workers 1..), which take indices from a
// shared counter. Once *stop is true no further index is started. Returns
// after every helper is joined, so whatever they wrote is visible to the
// caller. A helper that cannot be started leaves its share to the others.
using ItemFn = void (*)(void* ctx, int worker, size_t i);
void ParallelFor(size_t n, int threads, ItemFn fn, void* ctx, const std::atomic<bool>* stop);

// The errors the threads of one ParallelFor met. Fail() also stops it. Each
// thread takes its indices in increasing order, so its first failure is its
// lowest; First() is the error of the lowest failing index overall (the one a
// loop in order would have stopped at), or 0.
struct Failures {
  std::atomic<bool> stop{false};
  int err[kMaxThreads] = {};
  size_t at[kMaxThreads] = {};

  void Fail(int worker, size_t i, int e) {
    if (err[worker] == 0) {
      err[worker] = e;
      at[worker] = i;
    }
    stop.store(true, std::memory_order_relaxed);
  }
  int First() const {
    int r = 0;
    size_t lowest = 0;
    for (int w = 0; w < kMaxThreads; ++w) {
      if (err[w] != 0 && (r == 0 || at[w] < lowest)) {
        r = err[w];
        lowest = at[w];
      }
    }
    return r;
  }
};

}  // namespace vaultd::move::internal
