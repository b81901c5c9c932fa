// The event loop of `vault-orchestrator serve`: the HTTP server (http_server.cc)
// on our libuv loop, the policy file watch with hot reload (the load runs on
// libuv's thread pool and is swapped in on the loop when it is ready), the
// aggregate refusal report, and signal handling.
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "http_server.h"
#include "service_context.h"
#include "vaultd/common/fs.h"
#include "vaultd/common/log.h"
#include "vaultd/common/sha256.h"

namespace vaultd::orchestrator::service {
namespace {

// Editors write in several steps; act once the burst is over.
constexpr uint64_t kReloadDebounceMs = 25;
// Fallback for file systems without inotify (NFS) and for symlink swaps.
constexpr unsigned kPollIntervalMs = 1000;

struct Server {
  ServiceContext ctx;
  uv_loop_t loop{};
  std::unique_ptr<HttpServer> http;
  uv_poll_t watch{};
  int inotify_fd = -1;
  uv_fs_poll_t poll{};
  uv_timer_t debounce{};
  uv_timer_t report{};
  uv_signal_t sigterm{}, sigint{}, sighup{};
  std::string policy_dir;
  std::string policy_base;
  bool watching = false;
  bool stopping = false;
  bool loading = false;     // a load is on the thread pool
  bool load_again = false;  // the file changed while it was
};

// libuv closes handles asynchronously, so shutdown happens inside the loop: the
// HTTP server closes its listener and connections, we close our handles, and
// uv_run returns once every close callback has run and any policy load on the
// thread pool has finished (no uv_stop needed).
void CloseHandle(uv_handle_t* h) {
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

void BeginShutdown(Server& server) {
  if (server.stopping) return;
  server.stopping = true;
  if (server.http) server.http->Close();
  server.ctx.refusals.Flush(server.ctx.clock->Now(), *server.ctx.audit);
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.debounce));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.report));
  if (server.watching) CloseHandle(reinterpret_cast<uv_handle_t*>(&server.watch));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.poll));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sigterm));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sigint));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sighup));
}

struct LoadJob {
  uv_work_t req;
  Server* server;
  PolicyLoad load;
};

void StartLoad(Server& server);

void OnLoadWork(uv_work_t* req) { RunPolicyLoad(reinterpret_cast<LoadJob*>(req)->load); }

void OnLoadDone(uv_work_t* req, int) {
  std::unique_ptr<LoadJob> job(reinterpret_cast<LoadJob*>(req));
  Server& server = *job->server;
  server.loading = false;
  ApplyPolicyLoad(server.ctx, job->load, /*initial=*/false);
  if (server.load_again && !server.stopping) {
    server.load_again = false;
    StartLoad(server);
  }
}

// Reads and parses on libuv's thread pool: a huge policy, a FIFO or a slow file
// system never stops the loop that answers requests.
void StartLoad(Server& server) {
  if (server.stopping) return;
  if (server.loading) {
    server.load_again = true;
    return;
  }
  auto job = std::make_unique<LoadJob>();
  job->server = &server;
  job->load.path = server.ctx.options.policy_path;
  job->load.served_revision = server.ctx.policy.revision;
  job->load.failed_hash = server.ctx.policy.failed_hash;
  job->load.now = server.ctx.clock->Now();
  ++server.ctx.policy.reload_checks;
  if (uv_queue_work(&server.loop, &job->req, OnLoadWork, OnLoadDone) == 0) {
    server.loading = true;
    job.release();
  }
}

void OnDebounce(uv_timer_t* t) { StartLoad(*static_cast<Server*>(t->data)); }

void ScheduleReload(Server& server) {
  if (server.stopping) return;
  uv_timer_start(&server.debounce, OnDebounce, kReloadDebounceMs, 0);
}

// inotify on the directory, for the events that finish a change: a close after
// writing, a rename or a create over the name, a delete. Not IN_MODIFY, so a file
// someone keeps writing in the same directory (a log) does not wake the loop.
// Only the policy file's own name counts, and "..data", the symlink Kubernetes
// swaps when a ConfigMap changes.
void OnInotify(uv_poll_t* h, int status, int) {
  Server& server = *static_cast<Server*>(h->data);
  if (status < 0) return;
  alignas(inotify_event) char buf[16 * 1024];
  bool ours = false;
  while (true) {
    ssize_t n = ::read(server.inotify_fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) ours = true;
      if (ev->len == 0) continue;
      const char* name = ev->name;
      if (server.policy_base == name || std::strcmp(name, "..data") == 0) ours = true;
    }
  }
  if (ours) ScheduleReload(server);
}

void OnPoll(uv_fs_poll_t* h, int, const uv_stat_t*, const uv_stat_t*) {
  ScheduleReload(*static_cast<Server*>(h->data));
}

void OnReport(uv_timer_t* t) {
  Server& server = *static_cast<Server*>(t->data);
  server.ctx.refusals.Flush(server.ctx.clock->Now(), *server.ctx.audit);
}

void OnSignal(uv_signal_t* h, int signum) {
  Server& server = *static_cast<Server*>(h->data);
  if (signum == SIGHUP) {
    log::Info("SIGHUP: reloading policy");
    StartLoad(server);
    return;
  }
  log::Info("shutting down", {{"signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"}});
  BeginShutdown(server);
}

Result<std::string> ReadAdminKey(const std::string& path) {
  VAULTD_ASSIGN_OR_RETURN(std::string text, ReadSecretFile(path, 64 * 1024));
  if (text.size() < 16)
    return Status::InvalidArgument(path + ": the admin key must be at least 16 bytes");
  return text;
}

Status Setup(Server& server, const ServiceOptions& options) {
  ServiceContext& ctx = server.ctx;
  ctx.options = options;
  ctx.log_limiter.set_per_second(options.limits.log_lines_per_s);
  ctx.decisions.set_capacity(options.decision_cache_entries);
  VAULTD_ASSIGN_OR_RETURN(ctx.auth, LoadAuthConfigFile(options.auth_path));
  VAULTD_ASSIGN_OR_RETURN(ctx.verifier, JwtVerifier::FromConfig(ctx.auth));
  if (ctx.auth.token_cache_entries > 0)
    ctx.token_cache =
        std::make_unique<VerifiedTokenCache>(*ctx.verifier, ctx.auth.token_cache_entries);
  if (!ctx.auth.admin_key_file.empty()) {
    auto key = ReadAdminKey(ctx.auth.admin_key_file);
    if (!key.ok()) return key.status().WithContext(ctx.auth.source + ": admin_key_file");
    ctx.admin_key = std::move(*key);
  }
  VAULTD_ASSIGN_OR_RETURN(ctx.audit, AuditLog::Open(options.audit_path, options.audit_fsync));
  PolicyLoad load;
  load.path = options.policy_path;
  load.now = ctx.clock->Now();
  RunPolicyLoad(load);
  if (!ApplyPolicyLoad(ctx, load, /*initial=*/true))
    return Status::InvalidArgument(ctx.policy.reload_error.value_or("policy did not load"));
  return Status::Ok();
}

// Opens without blocking (a FIFO in the policy's place would otherwise block open()
// until someone writes to it) and reads only a regular file. Symlinks are followed:
// Kubernetes ConfigMaps are symlinks.
Result<std::string> ReadPolicyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::FromErrno(errno, path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno(e, path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxPolicyBytes) {
    ::close(fd);
    return Status::InvalidArgument(path + ": " + std::to_string(st.st_size) +
                                   " bytes; the limit is " + std::to_string(kMaxPolicyBytes));
  }
  std::string out;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Status::FromErrno(e, path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxPolicyBytes) {
      ::close(fd);
      return Status::InvalidArgument(path + ": larger than " + std::to_string(kMaxPolicyBytes) +
                                     " bytes");
    }
  }
  ::close(fd);
  return out;
}

// Diagnostics for the log and the admin status: a few, each cut short, so a
// file that is not a policy at all is never repeated back at length.
std::string SummarizeErrors(const std::vector<Diagnostic>& diagnostics, const std::string& path) {
  constexpr size_t kShown = 5, kMaxMessage = 200;
  std::string why;
  size_t shown = 0;
  for (const auto& d : diagnostics) {
    if (!d.error) continue;
    if (shown++ == kShown) {
      why += "; ...";
      break;
    }
    std::string line = d.ToString();
    if (line.size() > kMaxMessage) line = line.substr(0, kMaxMessage) + "...";
    if (!why.empty()) why += "; ";
    why += line;
  }
  return why.empty() ? path + ": policy did not load" : why;
}

}  // namespace

void RunPolicyLoad(PolicyLoad& load) {
  auto bytes = ReadPolicyFile(load.path);
  if (!bytes.ok()) {
    load.read_error = bytes.status().message();
    return;
  }
  load.hash = "sha256:" + Sha256Hex(*bytes);
  if ((!load.served_revision.empty() && load.hash == load.served_revision) ||
      (!load.failed_hash.empty() && load.hash == load.failed_hash)) {
    load.unchanged = true;
    return;
  }
  LoadOptions lo;
  lo.now = load.now;
  load.loaded = LoadPolicyString(*bytes, load.path, lo);
}

bool ApplyPolicyLoad(ServiceContext& ctx, PolicyLoad& load, bool initial) {
  const std::string& path = load.path;
  PolicyState& st = ctx.policy;
  auto fail = [&](const std::string& why, const std::string& hash) {
    if (!hash.empty() && hash == st.failed_hash)
      return false;  // already reported this exact content
    st.failed_hash = hash;
    st.reload_error = why;
    st.reload_error_at = ctx.clock->Now();
    ++st.reload_failures;
    if (initial) return false;
    log::Error("policy reload failed; still serving the last good policy",
               {{"path", path}, {"serving", st.revision}, {"error", why}});
    return false;
  };
  if (!load.read_error.empty()) return fail(load.read_error, "");
  if (load.unchanged && load.hash != st.revision)
    return false;  // the same broken bytes, reported already
  if (st.policy && (load.unchanged || load.hash == st.revision)) {
    if (st.reload_error) {  // a broken edit was reverted
      st.reload_error.reset();
      st.failed_hash.clear();
      log::Info("policy file is back to the served revision", {{"revision", st.revision}});
    }
    return false;
  }
  LoadResult& loaded = load.loaded;
  if (!loaded.policy) return fail(SummarizeErrors(loaded.diagnostics, path), load.hash);
  for (const auto& d : loaded.diagnostics)
    if (!d.error) log::Warn("policy lint", {{"diagnostic", d.ToString()}});
  const std::string previous = st.revision;
  st.policy = std::move(loaded.policy);
  st.revision = PolicyRevision(*st.policy);
  st.loaded_at = ctx.clock->Now();
  st.reload_error.reset();
  st.failed_hash.clear();
  ctx.decisions.Clear();
  if (!initial) ++st.reload_successes;
  log::Info(initial ? "policy loaded" : "policy reloaded",
            {{"path", path}, {"revision", st.revision}, {"previous", previous}});
  return true;
}

Status Run(const ServiceOptions& options) {
  auto server = std::make_unique<Server>();
  VAULTD_RETURN_IF_ERROR(Setup(*server, options));

  if (int rc = uv_loop_init(&server->loop); rc != 0)
    return Status::Internal(std::string("uv_loop_init: ") + uv_strerror(rc));

  server->http = std::make_unique<HttpServer>(&server->loop, server->ctx);
  auto port = server->http->Listen(options.listen_host, options.listen_port);
  if (!port.ok()) {
    server->http->Close();
    uv_run(&server->loop, UV_RUN_DEFAULT);
    uv_loop_close(&server->loop);
    return port.status();
  }

  // Policy watch: the directory via inotify, plus a stat poll as a safety net.
  server->policy_dir = DirName(options.policy_path);
  const auto slash = options.policy_path.rfind('/');
  server->policy_base =
      slash == std::string::npos ? options.policy_path : options.policy_path.substr(slash + 1);
  uv_timer_init(&server->loop, &server->debounce);
  server->debounce.data = server.get();
  server->inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (server->inotify_fd >= 0 &&
      ::inotify_add_watch(
          server->inotify_fd, server->policy_dir.c_str(),
          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_ONLYDIR) >= 0 &&
      uv_poll_init(&server->loop, &server->watch, server->inotify_fd) == 0) {
    server->watch.data = server.get();
    uv_poll_start(&server->watch, UV_READABLE, OnInotify);
    server->watching = true;
  } else {
    log::Warn("cannot watch the policy directory; polling only",
              {{"dir", server->policy_dir}, {"error", std::strerror(errno)}});
  }
  uv_fs_poll_init(&server->loop, &server->poll);
  server->poll.data = server.get();
  uv_fs_poll_start(&server->poll, OnPoll, options.policy_path.c_str(), kPollIntervalMs);
  uv_timer_init(&server->loop, &server->report);
  server->report.data = server.get();
  const uint64_t report_ms = uint64_t{options.limits.refusal_report_s} * 1000;
  uv_timer_start(&server->report, OnReport, report_ms, report_ms);
  for (auto [handle, sig] : {std::pair{&server->sigterm, SIGTERM},
                             {&server->sigint, SIGINT},
                             {&server->sighup, SIGHUP}}) {
    uv_signal_init(&server->loop, handle);
    handle->data = server.get();
    uv_signal_start(handle, OnSignal, sig);
  }

  log::Info("listening",
            {{"address", options.listen_host},
             {"port", *port},
             {"policy", options.policy_path},
             {"revision", server->ctx.policy.revision},
             {"audit", options.audit_path.empty() ? "stderr" : options.audit_path},
             {"token_cache", static_cast<unsigned long>(server->ctx.auth.token_cache_entries)},
             {"max_connections", static_cast<unsigned long>(server->http->max_connections())}});
  if (!options.port_file.empty()) {
    Status st = WriteFileAtomic(options.port_file, std::to_string(*port) + "\n",
                                {.mode = 0644, .sync = false});
    if (!st.ok()) log::Error("cannot write the port file", {{"error", st.ToString()}});
  }

  uv_run(&server->loop, UV_RUN_DEFAULT);

  server->http.reset();
  if (server->inotify_fd >= 0) ::close(server->inotify_fd);
  if (int rc = uv_loop_close(&server->loop); rc != 0)
    log::Warn("event loop closed with handles left", {{"error", uv_strerror(rc)}});
  log::Info("stopped");
  return Status::Ok();
}

Status ParseLimitValue(std::string_view name, std::string_view text, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v == 0 || v > max)
    return Status::InvalidArgument("limit " + std::string(name) + ": '" + std::string(text) +
                                   "' is not a number from 1 to " + std::to_string(max));
  *out = v;
  return Status::Ok();
}

}  // namespace vaultd::orchestrator::service

namespace vaultd::orchestrator {
Status RunService(const ServiceOptions& options) { return service::Run(options); }

Status SetServiceLimit(std::string_view assignment, ServiceLimits* limits) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos)
    return Status::InvalidArgument("limit '" + std::string(assignment) + "': expected name=value");
  const std::string_view name = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  struct Entry {
    std::string_view name;
    size_t* size;
    uint32_t* u32;
    uint64_t max;
  };
  const Entry entries[] = {
      {"max_connections", &limits->max_connections, nullptr, 1'000'000},
      {"max_connections_per_client", &limits->max_connections_per_client, nullptr, 1'000'000},
      {"header_timeout_ms", nullptr, &limits->header_timeout_ms, 3'600'000},
      {"body_timeout_ms", nullptr, &limits->body_timeout_ms, 3'600'000},
      {"idle_timeout_ms", nullptr, &limits->idle_timeout_ms, 3'600'000},
      {"write_timeout_ms", nullptr, &limits->write_timeout_ms, 3'600'000},
      {"max_head_bytes", &limits->max_head_bytes, nullptr, 1u << 20},
      {"max_headers", &limits->max_headers, nullptr, 10'000},
      {"max_buffered_bytes", &limits->max_buffered_bytes, nullptr, 1ull << 32},
      {"accept_backoff_ms", nullptr, &limits->accept_backoff_ms, 60'000},
      {"refusal_report_s", nullptr, &limits->refusal_report_s, 86'400},
      {"log_lines_per_s", nullptr, &limits->log_lines_per_s, 1'000'000},
  };
  for (const Entry& e : entries) {
    if (e.name != name) continue;
    uint64_t v = 0;
    VAULTD_RETURN_IF_ERROR(service::ParseLimitValue(name, text, e.max, &v));
    if (e.size) *e.size = static_cast<size_t>(v);
    if (e.u32) *e.u32 = static_cast<uint32_t>(v);
    return Status::Ok();
  }
  std::string known;
  for (const Entry& e : entries)
    known += std::string(known.empty() ? "" : ", ") + std::string(e.name);
  return Status::InvalidArgument("unknown limit '" + std::string(name) + "' (known: " + known +
                                 ")");
}
}  // namespace vaultd::orchestrator
