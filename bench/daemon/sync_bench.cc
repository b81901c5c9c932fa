// Benchmarks of `vaultd run`, two daemons through the real local relay:
//   latency   save on one disk -> the file on the other disk, N edits, p50/p99
//   firstsync a vault of N notes (~3 KB each) into an empty daemon
//   restart   a daemon with nothing changed: start -> synced
//   idle      wake-ups of an idle daemon over S seconds (voluntary context switches)
//   rss       resident memory with the first-sync vault loaded
// Usage: bench_daemon_sync [--edits 1000] [--notes 10000] [--idle-seconds 60]
// Prints one line per figure with its target beside it.
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "daemon_harness.h"

using namespace vaultd::itest;

namespace {

long ProcField(pid_t pid, const char* file, const char* key) {
  std::string s = Slurp("/proc/" + std::to_string(pid) + "/" + file);
  auto p = s.find(key);
  if (p == std::string::npos) return -1;
  return std::atol(s.c_str() + p + std::strlen(key));
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Waits for `path` (in a watched folder) to hold `want`, woken by inotify.
bool WaitContent(int ifd, const fs::path& path, const std::string& want) {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (Slurp(path) == want) return true;
    pollfd p{ifd, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char buf[65536];
      while (read(ifd, buf, sizeof buf) > 0) {
      }
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int edits = 1000, notes = 10000, idle_s = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--edits")) edits = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--notes")) notes = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--idle-seconds")) idle_s = std::atoi(argv[i + 1]);
  }
  fs::path root = fs::temp_directory_path() / ("vaultd-bench-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  Relay relay(root);
  if (!relay.Start()) return std::fprintf(stderr, "relay did not start\n"), 1;

  // Latency.
  {
    Daemon a(root / "lat-a", "alice"), b(root / "lat-b", "bob");
    a.Configure(relay.url(), {{"lat", "lat"}});
    b.Configure(relay.url(), {{"lat", "lat"}});
    if (!a.Start() || !b.Start() || !a.WaitSynced() || !b.WaitSynced())
      return std::fprintf(stderr, "daemons did not start\n%s\n", a.Log().c_str()), 1;
    int ifd = inotify_init1(IN_NONBLOCK);
    inotify_add_watch(ifd, (b.vault / "lat").c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
    std::vector<double> ms;
    std::string text = "# latency\n";
    for (int i = 0; i < edits; ++i) {
      text += "edit " + std::to_string(i) + "\n";
      auto t0 = Clock::now();
      Spit(a.vault / "lat" / "note.md", text);
      if (!WaitContent(ifd, b.vault / "lat" / "note.md", text))
        return std::fprintf(stderr, "edit %d never arrived\n", i), 1;
      ms.push_back(Ms(Clock::now() - t0));
    }
    close(ifd);
    std::sort(ms.begin(), ms.end());
    std::printf(
        "latency  save->other disk, %d edits: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
        "   (target p50 <= 20 ms, p99 <= 100 ms)\n",
        edits, ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
    a.Stop();
    b.Stop();
  }

  // First sync, restart, idle, RSS.
  {
    Daemon a(root / "fs-a", "alice"), b(root / "fs-b", "bob");
    a.Configure(relay.url(), {{"big", "big"}});
    b.Configure(relay.url(), {{"big", "big"}});
    std::mt19937 rng(1);
    uint64_t bytes = 0;
    for (int i = 0; i < notes; ++i) {
      std::string s = "# Note " + std::to_string(i) + "\n";
      while (s.size() < 3000)
        s += "Some words of a note " + std::to_string(rng()) + " and more text.\n";
      bytes += s.size();
      Spit(a.vault / "big" / ("folder" + std::to_string(i % 50)) /
               ("note" + std::to_string(i) + ".md"),
           s);
    }
    auto t0 = Clock::now();
    if (!a.Start() || !a.WaitSynced(std::chrono::seconds(300)))
      return std::fprintf(stderr, "a did not sync\n"), 1;
    if (!WaitFor([&] { return a.RoomStatus("big")["files"].get<int>() == notes; },
                 std::chrono::seconds(300)))
      return std::fprintf(stderr, "a did not index\n"), 1;
    double index_ms = Ms(Clock::now() - t0);
    auto t1 = Clock::now();
    if (!b.Start()) return 1;
    bool ok = WaitFor(
        [&] {
          auto r = b.RoomStatus("big");
          return !r.is_null() && r["files"].get<int>() == notes;
        },
        std::chrono::seconds(300));
    double first_ms = Ms(Clock::now() - t1);
    std::printf(
        "firstsync %d notes, %.1f MB into an empty daemon: %.0f ms%s   (target <= 5000 ms; "
        "indexing them on the "
        "sending side took %.0f ms)\n",
        notes, bytes / 1e6, first_ms, ok ? "" : " (DID NOT FINISH)", index_ms);
    WaitFor([&] { return b.RoomStatus("big")["pending_local"].get<int>() == 0; });
    long rss_kb = ProcField(b.pid(), "status", "VmRSS:");
    std::printf(
        "rss      receiving daemon with %.1f MB of text: %.1f MB, peak %.1f MB   (target <= 30 MB "
        "+ "
        "2 x text = %.1f MB)\n",
        bytes / 1e6, rss_kb / 1024.0, ProcField(b.pid(), "status", "VmHWM:") / 1024.0,
        30 + 2 * bytes / 1048576.0);
    b.Stop();
    auto t2 = Clock::now();
    if (!b.Start() || !b.WaitSynced()) return 1;
    WaitFor([&] { return b.RoomStatus("big")["pending_local"].get<int>() == 0; });
    std::printf("restart  %d notes, nothing changed: %.0f ms to synced   (target <= 1000 ms)\n",
                notes, Ms(Clock::now() - t2));
    std::printf("rss      the same daemon after the restart: %.1f MB, peak %.1f MB\n",
                ProcField(b.pid(), "status", "VmRSS:") / 1024.0,
                ProcField(b.pid(), "status", "VmHWM:") / 1024.0);
    if (std::getenv("BENCH_PAUSE")) {
      std::printf("pid %d, state %s; press enter\n", b.pid(), b.state.c_str());
      std::getchar();
    }
    long v0 = ProcField(b.pid(), "status", "voluntary_ctxt_switches:");
    long n0 = ProcField(b.pid(), "status", "nonvoluntary_ctxt_switches:");
    sleep(static_cast<unsigned>(idle_s));
    long v1 = ProcField(b.pid(), "status", "voluntary_ctxt_switches:");
    long n1 = ProcField(b.pid(), "status", "nonvoluntary_ctxt_switches:");
    std::printf(
        "idle     %d s: %ld voluntary + %ld involuntary context switches (%.2f wake-ups/s)   "
        "(target: no busy "
        "wake-ups)\n",
        idle_s, v1 - v0, n1 - n0, (v1 - v0) / static_cast<double>(idle_s));
    a.Stop();
    b.Stop();
  }
  relay.Stop();
  fs::remove_all(root);
  return 0;
}
