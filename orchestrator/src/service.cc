// The HTTP layer and the event loop of `vault-orchestrator serve`:
// libwebsockets serving HTTP/1.1 on our own libuv loop (LWS_SERVER_OPTION_LIBUV
// with a foreign loop; Debian ships the uv event-lib as a plugin), the policy
// file watch with hot reload, and signal handling. Endpoints live in
// service_endpoints.cc and are found through the endpoint table.
#include <libwebsockets.h>
#include <uv.h>

#include <cstring>

#include "service_internal.h"
#include "vaultd/common/fs.h"
#include "vaultd/common/log.h"
#include "vaultd/common/sha256.h"

namespace vaultd::orchestrator::service {
namespace {

// Large enough for a token at the configured cap plus the usual headers; a
// token over the cap still arrives whole, so it is refused with 401, not cut.
constexpr unsigned kMaxHeaderBytes = 64 * 1024;
// Editors write in several steps; act once the burst is over.
constexpr uint64_t kReloadDebounceMs = 25;
// Fallback for file systems without inotify (NFS) and for symlink swaps.
constexpr unsigned kPollIntervalMs = 1000;

struct Session {
  HttpRequest req;
  const Endpoint* endpoint = nullptr;
  MonoTime start;
  bool body_too_large = false;
  bool close_after = false;
  bool pending = false;
  std::string out;  // LWS_PRE bytes of headroom, then the body
};

struct PerSession {
  Session* s;
};

struct Server {
  ServiceContext ctx;
  uv_loop_t loop{};
  lws_context* lws = nullptr;
  uv_fs_event_t watch{};
  uv_fs_poll_t poll{};
  uv_timer_t debounce{};
  uv_signal_t sigterm{}, sigint{}, sighup{};
  std::string policy_dir;
  std::string policy_base;
  bool watching = false;
  bool stopping = false;
};

Server* ServerOf(lws* wsi) { return static_cast<Server*>(lws_context_user(lws_get_context(wsi))); }

std::string Header(lws* wsi, lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0) return {};
  std::string out(static_cast<size_t>(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, out.data(), len + 1, token);
  if (n < 0) return {};
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Method(lws* wsi) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) return "GET";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) return "POST";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) return "HEAD";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0) return "PUT";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0) return "DELETE";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0) return "PATCH";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) return "OPTIONS";
  return "OTHER";
}

// The body, then the end of the transaction (keep-alive) or of the connection.
int WriteBody(lws* wsi, Session& s) {
  s.pending = false;
  size_t n = s.out.size() - LWS_PRE;
  if (lws_write(wsi, reinterpret_cast<unsigned char*>(s.out.data()) + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) !=
      static_cast<int>(n))
    return -1;
  s.out.clear();
  if (s.close_after) return -1;
  if (lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

// Headers now; the body now too when the socket can take it, else on the writeable callback.
int Respond(Server& server, lws* wsi, Session& s, const HttpResponse& resp) {
  const double seconds =
      std::chrono::duration<double>(server.ctx.clock->Monotonic() - s.start).count();
  const std::string metric_path = s.endpoint ? s.endpoint->path : "other";
  server.ctx.metrics.CountRequest(metric_path, resp.status, seconds);

  unsigned char buf[LWS_PRE + 2048];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned>(resp.status), resp.content_type.c_str(),
                                  resp.body.size(), &p, end))
    return -1;
  for (const auto& [name, value] : resp.headers) {
    std::string n = name + ":";
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(n.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), &p, end))
      return -1;
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  s.out.assign(LWS_PRE, '\0');
  s.out += resp.body;
  s.pending = true;
  // Small answers usually fit the socket at once: send the body now instead of
  // waiting a loop turn for the writeable callback (halves the wakeups per request).
  if (!lws_send_pipe_choked(wsi)) return WriteBody(wsi, s);
  lws_callback_on_writable(wsi);
  return 0;
}

int Dispatch(Server& server, lws* wsi, Session& s) {
  HttpResponse resp;
  if (s.body_too_large) {
    JsonResponse(resp, 413, {{"error", "body_too_large"},
                             {"error_description", "the request body is larger than " +
                                                       std::to_string(s.endpoint->max_body_bytes) + " bytes"}});
    s.close_after = true;
  } else {
    try {
      s.endpoint->handle(server.ctx, s.req, resp);
    } catch (const std::exception& e) {
      log::Error("handler failed", {{"endpoint", s.req.path}, {"error", e.what()}});
      resp = HttpResponse{};
      JsonResponse(resp, 500, {{"error", "internal_error"}});
    }
  }
  return Respond(server, wsi, s, resp);
}

int Callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<PerSession*>(user);
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      Server& server = *ServerOf(wsi);
      if (!pss->s) pss->s = new Session();
      Session& s = *pss->s;
      s = Session{};
      s.start = server.ctx.clock->Monotonic();
      s.req.path = in ? static_cast<const char*>(in) : "";
      s.req.method = Method(wsi);
      s.req.authorization = Header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
      char peer[128] = {0};
      lws_get_peer_simple(wsi, peer, sizeof peer);
      s.req.client_address = peer;
      s.endpoint = Endpoints().Find(s.req.method, s.req.path);
      if (!s.endpoint) {
        HttpResponse resp;
        if (Endpoints().KnowsPath(s.req.path)) {
          JsonResponse(resp, 405, {{"error", "method_not_allowed"}});
        } else {
          JsonResponse(resp, 404, {{"error", "not_found"}});
        }
        if (s.req.method == "POST" || s.req.method == "PUT" || s.req.method == "PATCH") s.close_after = true;
        return Respond(server, wsi, s, resp);
      }
      if (s.endpoint->max_body_bytes > 0) {
        std::string length = Header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > s.endpoint->max_body_bytes) {
          s.body_too_large = true;
          return Dispatch(server, wsi, s);
        }
        return 0;  // wait for LWS_CALLBACK_HTTP_BODY_COMPLETION
      }
      return Dispatch(server, wsi, s);
    }
    case LWS_CALLBACK_HTTP_BODY: {
      if (!pss->s || !pss->s->endpoint) return -1;
      Session& s = *pss->s;
      if (s.req.body.size() + len > s.endpoint->max_body_bytes) {
        s.body_too_large = true;
        s.req.body.clear();
      } else if (!s.body_too_large) {
        s.req.body.append(static_cast<const char*>(in), len);
      }
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
      if (!pss->s || !pss->s->endpoint) return -1;
      return Dispatch(*ServerOf(wsi), wsi, *pss->s);
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (!pss->s || !pss->s->pending) return 0;
      return WriteBody(wsi, *pss->s);
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      if (pss && pss->s) {
        delete pss->s;
        pss->s = nullptr;
      }
      return 0;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const lws_protocols kProtocols[] = {
    {"http", Callback, sizeof(PerSession), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void LwsLog(int level, const char* line) {
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (level & LLL_ERR) {
    log::Error("libwebsockets", {{"detail", text}});
  } else {
    log::Warn("libwebsockets", {{"detail", text}});
  }
}

// libuv closes handles asynchronously, so shutdown happens inside the loop:
// lws starts closing its listener and connections, we close our handles, and
// uv_run returns once every close callback has run (no uv_stop needed).
void CloseHandle(uv_handle_t* h) {
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

void BeginShutdown(Server& server) {
  if (server.stopping) return;
  server.stopping = true;
  if (server.lws) lws_context_destroy(server.lws);  // clears server.lws (pcontext) once complete
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.debounce));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.watch));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.poll));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sigterm));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sigint));
  CloseHandle(reinterpret_cast<uv_handle_t*>(&server.sighup));
}

void OnDebounce(uv_timer_t* t) { ReloadPolicy(static_cast<Server*>(t->data)->ctx, /*initial=*/false); }

void ScheduleReload(Server& server) {
  if (server.stopping) return;
  uv_timer_start(&server.debounce, OnDebounce, kReloadDebounceMs, 0);
}

// inotify on the directory: it sees writes in place, editors' rename-over and
// deletes-then-creates alike, which a watch on the file's inode would miss.
void OnDirEvent(uv_fs_event_t* h, const char* filename, int events, int status) {
  Server& server = *static_cast<Server*>(h->data);
  if (status < 0) {
    log::Warn("policy watch error", {{"dir", server.policy_dir}, {"error", uv_strerror(status)}});
    return;
  }
  // Only our file matters; "..data" style names are Kubernetes ConfigMap symlink swaps.
  if (!filename || server.policy_base == filename || std::strncmp(filename, "..", 2) == 0) ScheduleReload(server);
}

void OnPoll(uv_fs_poll_t* h, int status, const uv_stat_t*, const uv_stat_t*) {
  ScheduleReload(*static_cast<Server*>(h->data));
}

void OnSignal(uv_signal_t* h, int signum) {
  Server& server = *static_cast<Server*>(h->data);
  if (signum == SIGHUP) {
    log::Info("SIGHUP: reloading policy");
    ReloadPolicy(server.ctx, false);
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
  ctx.decisions.set_capacity(options.decision_cache_entries);
  VAULTD_ASSIGN_OR_RETURN(ctx.auth, LoadAuthConfigFile(options.auth_path));
  VAULTD_ASSIGN_OR_RETURN(ctx.verifier, JwtVerifier::FromConfig(ctx.auth));
  if (ctx.auth.token_cache_entries > 0)
    ctx.token_cache = std::make_unique<VerifiedTokenCache>(*ctx.verifier, ctx.auth.token_cache_entries);
  if (!ctx.auth.admin_key_file.empty()) {
    auto key = ReadAdminKey(ctx.auth.admin_key_file);
    if (!key.ok()) return key.status().WithContext(ctx.auth.source + ": admin_key_file");
    ctx.admin_key = std::move(*key);
  }
  VAULTD_ASSIGN_OR_RETURN(ctx.audit, AuditLog::Open(options.audit_path, options.audit_fsync));
  if (!ReloadPolicy(ctx, /*initial=*/true))
    return Status::InvalidArgument(ctx.policy.reload_error.value_or("policy did not load"));
  return Status::Ok();
}

}  // namespace

bool ReloadPolicy(ServiceContext& ctx, bool initial) {
  const std::string& path = ctx.options.policy_path;
  PolicyState& st = ctx.policy;
  auto fail = [&](const std::string& why, const std::string& hash) {
    if (!hash.empty() && hash == st.failed_hash) return false;  // already reported this exact content
    st.failed_hash = hash;
    st.reload_error = why;
    st.reload_error_at = ctx.clock->Now();
    ++st.reload_failures;
    if (initial) return false;
    log::Error("policy reload failed; still serving the last good policy",
               {{"path", path}, {"serving", st.revision}, {"error", why}});
    return false;
  };
  auto bytes = ReadFile(path, kMaxPolicyBytes);
  if (!bytes.ok()) return fail(bytes.status().message(), "");
  const std::string hash = "sha256:" + Sha256Hex(*bytes);
  if (st.policy && hash == st.revision) {
    if (st.reload_error) {  // a broken edit was reverted
      st.reload_error.reset();
      st.failed_hash.clear();
      log::Info("policy file is back to the served revision", {{"revision", st.revision}});
    }
    return false;
  }
  LoadOptions lo;
  lo.now = ctx.clock->Now();
  LoadResult loaded = LoadPolicyString(*bytes, path, lo);
  if (!loaded.policy) {
    std::string why;
    int shown = 0;
    for (const auto& d : loaded.diagnostics) {
      if (!d.error) continue;
      if (shown++ == 5) {
        why += "; ...";
        break;
      }
      if (!why.empty()) why += "; ";
      why += d.ToString();
    }
    return fail(why.empty() ? path + ": policy did not load" : why, hash);
  }
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

  lws_set_log_level(LLL_ERR | LLL_WARN, LwsLog);
  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {&server->loop};
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                 LWS_SERVER_OPTION_DISABLE_IPV6;
  if (options.listen_host.find(':') != std::string::npos) info.options &= ~LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = foreign_loops;
  info.port = options.listen_port;
  info.iface = options.listen_host.c_str();
  info.protocols = kProtocols;
  info.user = server.get();
  info.max_http_header_data2 = kMaxHeaderBytes;
  info.max_http_header_data = 0;
  info.keepalive_timeout = 60;
  info.timeout_secs = 30;
  info.server_string = "vaultd";
  info.vhost_name = "default";
  info.pcontext = &server->lws;
  server->lws = lws_create_context(&info);
  if (!server->lws) {
    uv_loop_close(&server->loop);
    return Status::Unavailable("cannot listen on " + options.listen_host + ":" +
                               std::to_string(options.listen_port) +
                               " (address in use, or the libwebsockets uv event library is missing)");
  }
  lws_vhost* vhost = lws_get_vhost_by_name(server->lws, "default");
  const int port = vhost ? lws_get_vhost_listen_port(vhost) : options.listen_port;

  // Policy watch: the directory via inotify, plus a stat poll as a safety net.
  server->policy_dir = DirName(options.policy_path);
  const auto slash = options.policy_path.rfind('/');
  server->policy_base = slash == std::string::npos ? options.policy_path : options.policy_path.substr(slash + 1);
  uv_timer_init(&server->loop, &server->debounce);
  server->debounce.data = server.get();
  uv_fs_event_init(&server->loop, &server->watch);
  server->watch.data = server.get();
  if (int rc = uv_fs_event_start(&server->watch, OnDirEvent, server->policy_dir.c_str(), 0); rc != 0)
    log::Warn("cannot watch the policy directory; polling only",
              {{"dir", server->policy_dir}, {"error", uv_strerror(rc)}});
  uv_fs_poll_init(&server->loop, &server->poll);
  server->poll.data = server.get();
  uv_fs_poll_start(&server->poll, OnPoll, options.policy_path.c_str(), kPollIntervalMs);
  for (auto [handle, sig] : {std::pair{&server->sigterm, SIGTERM}, {&server->sigint, SIGINT}, {&server->sighup, SIGHUP}}) {
    uv_signal_init(&server->loop, handle);
    handle->data = server.get();
    uv_signal_start(handle, OnSignal, sig);
  }

  log::Info("listening", {{"address", options.listen_host}, {"port", port},
                          {"policy", options.policy_path}, {"revision", server->ctx.policy.revision},
                          {"audit", options.audit_path.empty() ? "stderr" : options.audit_path},
                          {"token_cache", static_cast<unsigned long>(server->ctx.auth.token_cache_entries)}});
  if (!options.port_file.empty()) {
    Status st = WriteFileAtomic(options.port_file, std::to_string(port) + "\n", {.mode = 0644, .sync = false});
    if (!st.ok()) log::Error("cannot write the port file", {{"error", st.ToString()}});
  }

  uv_run(&server->loop, UV_RUN_DEFAULT);

  // The loop ends after BeginShutdown once every handle is closed. lws may
  // need a second destroy call to free what it could only free after its
  // handles' close callbacks ran.
  if (server->lws) {
    lws_context_destroy(server->lws);
    uv_run(&server->loop, UV_RUN_DEFAULT);
  }
  if (int rc = uv_loop_close(&server->loop); rc != 0)
    log::Warn("event loop closed with handles left", {{"error", uv_strerror(rc)}});
  log::Info("stopped");
  return Status::Ok();
}

}  // namespace vaultd::orchestrator::service

namespace vaultd::orchestrator {
Status RunService(const ServiceOptions& options) { return service::Run(options); }
}  // namespace vaultd::orchestrator
