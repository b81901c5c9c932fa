// Helper threads of a move (see parallel.h).
#include "parallel.h"

#include <sched.h>
#include <signal.h>

#include <cstdlib>

namespace vaultd::move::internal {
namespace {

constexpr size_t kMinItems = 8;
constexpr size_t kBatch = 8;  // indices taken per visit to the shared counter

struct Shared {
  size_t n;
  ItemFn fn;
  void* ctx;
  const std::atomic<bool>* stop;
  std::atomic<size_t> next{0};
};

struct Worker {
  Shared* shared;
  int id;
};

void Drain(Shared* s, int id) {
  for (;;) {
    size_t begin = s->next.fetch_add(kBatch, std::memory_order_relaxed);
    if (begin >= s->n) return;
    size_t end = begin + kBatch < s->n ? begin + kBatch : s->n;
    for (size_t i = begin; i < end; ++i) {
      if (s->stop && s->stop->load(std::memory_order_relaxed)) return;
      s->fn(s->ctx, id, i);
    }
  }
}

void* RunWorker(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  Drain(w->shared, w->id);
  return nullptr;
}

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

}  // namespace

bool StartHelperThread(pthread_t* t, void* (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool ok = pthread_create(t, &attr, fn, arg) == 0;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return ok;
}

int ThreadsFor(size_t items) {
  if (items < kMinItems) return 1;
  int n = 0;
  if (const char* v = getenv("VAULTD_MOVE_THREADS")) {
    char* end = nullptr;
    long k = strtol(v, &end, 10);
    if (end && end != v && *end == '\0' && k > 0)
      n = k < kMaxThreads ? static_cast<int>(k) : kMaxThreads;
  }
  if (n == 0) n = UsableCpus() < kMaxThreads ? UsableCpus() : kMaxThreads;
  return n;
}

void ParallelFor(size_t n, int threads, ItemFn fn, void* ctx, const std::atomic<bool>* stop) {
  Shared s;
  s.n = n;
  s.fn = fn;
  s.ctx = ctx;
  s.stop = stop;
  if (threads > kMaxThreads) threads = kMaxThreads;
  Worker workers[kMaxThreads];
  pthread_t ids[kMaxThreads];
  bool started[kMaxThreads] = {};
  for (int k = 1; k < threads; ++k) {
    workers[k] = Worker{&s, k};
    started[k] = StartHelperThread(&ids[k], &RunWorker, &workers[k]);
  }
  Drain(&s, 0);
  for (int k = 1; k < threads; ++k) {
    if (started[k]) pthread_join(ids[k], nullptr);
  }
}

}  // namespace vaultd::move::internal
