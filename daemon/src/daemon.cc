#include "vaultd/daemon/daemon.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "vaultd/common/log.h"
#include "vaultd/daemon/store.h"
#include "vaultd/daemon/transport.h"
#include "vaultd/shim/move.h"

namespace vaultd::daemon {

std::string StatusSocketPath(const std::string& state_dir) { return state_dir + "/vaultd.sock"; }

std::string StatusJson(const DaemonConfig& c, uint64_t client_id,
                       const std::vector<RoomStatus>& rooms, WallTime started, WallTime now) {
  nlohmann::ordered_json j;
  j["schema"] = "vaultd.status/1";
  j["pid"] = static_cast<int>(getpid());
  j["user"] = c.user;
  j["client_id"] = client_id;
  j["vault"] = c.vault;
  j["relay"] = c.relay.url;
  j["started_at"] = FormatRfc3339(started);
  j["now"] = FormatRfc3339(now);
  j["rooms"] = nlohmann::json::array();
  for (const auto& r : rooms) {
    nlohmann::ordered_json o;
    o["name"] = r.name;
    o["room"] = r.room;
    o["path"] = r.path;
    o["mode"] = r.read_only ? "ro" : "rw";
    o["connected"] = r.connected;
    o["synced"] = r.synced;
    o["expired"] = r.expired;
    o["last_sync"] = r.last_sync ? nlohmann::ordered_json(FormatRfc3339(*r.last_sync))
                                 : nlohmann::ordered_json();
    o["files"] = r.files;
    o["pending_local"] = r.pending_local;
    o["queued_paths"] = r.queued_paths;
    o["unsent_changes"] = r.unsent_changes;
    o["conflicts"] = r.conflicts;
    o["rejected_paths"] = r.rejected_paths;
    o["malformed"] = r.malformed;
    o["updates_received"] = r.updates_received;
    o["errors"] = r.errors;
    o["ro_edits"] = r.ro_edits;
    o["reconnects"] = r.reconnects;
    o["degraded"] = r.degraded;
    o["degraded_reason"] = r.degraded_reason;
    o["last_error"] = r.last_error;
    o["watcher"] = {{"watches", r.watcher.watches},
                    {"overflows", r.watcher.overflows},
                    {"events", r.watcher.events}};
    j["rooms"].push_back(o);
  }
  return j.dump() + "\n";
}

namespace {

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : opts_(o), clock_(o.clock ? *o.clock : RealClock()) {}

  int Run() {
    auto cfg = LoadDaemonConfig(opts_.config_path);
    if (!cfg.ok()) {
      std::fprintf(stderr, "vaultd run: %s\n", cfg.status().message().c_str());
      return 1;
    }
    config_ = std::move(*cfg);
    log::SetLevel(config_.log_level);
    // A first sync moves tens of MB through transient buffers (the SyncStep2
    // frame, its update, the files to write). With a fixed mmap threshold
    // those come from mmap and go back to the system when freed, instead of
    // staying in the heap (glibc otherwise raises the threshold to 32 MB).
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    started_ = clock_.Now();
    if (mkdir(config_.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      log::Error("cannot create state_dir",
                 {{"path", config_.state_dir}, {"error", strerror(errno)}});
      return 1;
    }
    RecoverMoves();
    auto store = Store::Open(config_.state_dir);
    if (!store.ok()) {
      log::Error("cannot open the store", {{"error", store.status().message()}});
      return 1;
    }
    store_ = std::move(*store);
    uv_loop_init(&loop_);
    TransportOptions topts;
    if (const char* idle = std::getenv("VAULTD_RELAY_IDLE_TIMEOUT_MS"); idle && *idle)
      topts.idle_timeout_ms = std::atoi(idle);
    auto t = NewLwsTransport(&loop_, topts);
    if (!t.ok()) {
      log::Error("cannot start the websocket transport", {{"error", t.status().message()}});
      return 1;
    }
    transport_ = std::move(*t);
    if (!StartStatusSocket()) return 1;
    StartSignals();
    StartRooms();
    log::Info("vaultd running", {{"config", opts_.config_path},
                                 {"rooms", static_cast<int>(rooms_.size())},
                                 {"client_id", store_->client_id()}});
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Second pass: handles closed by Stop() and the transport finish here.
    uv_run(&loop_, UV_RUN_DEFAULT);
    transport_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) log::Debug("loop closed with handles open", {{"error", uv_strerror(rc)}});
    store_.reset();
    log::Info("vaultd stopped");
    return 0;
  }

 private:
  void RecoverMoves() {
    std::string dir = opts_.journal_dir;
    if (dir.empty()) {
      char buf[4096];
      if (move::DefaultJournalDir(buf, sizeof buf) == 0) dir = buf;
    }
    if (dir.empty()) return;
    move::RecoverResult r;
    int rc = move::RecoverMoves(
        dir.c_str(),
        [](void*, const char* line) {
          log::Info("move recovery", {{"line", line}});
        },
        nullptr, &r);
    if (rc != 0 && rc != -ENOENT)
      log::Warn("cannot read the move journal", {{"path", dir}, {"error", strerror(-rc)}});
    if (r.unresolved > 0)
      log::Warn("unresolved moves in the journal; run vaultd recover", {{"count", r.unresolved}});
  }

  void StartRooms() {
    auto token = LoadRelayToken(config_.relay);
    if (!token.ok()) log::Warn("no relay token", {{"error", token.status().message()}});
    for (const auto& rc : config_.rooms) StartRoom(rc, token.ok() ? *token : "");
  }

  void StartRoom(const RoomConfig& rc, const std::string& token) {
    RoomDeps deps;
    deps.loop = &loop_;
    deps.store = store_.get();
    deps.transport = transport_.get();
    deps.clock = &clock_;
    auto room = NewRoomSession(config_, rc, token, std::move(deps));
    if (Status s = room->Start(); !s.ok()) {
      log::Error("room did not start", {{"room", rc.room}, {"error", s.message()}});
      return;
    }
    log::Info(
        "room started",
        {{"room", rc.room}, {"path", config_.RoomDir(rc)}, {"mode", rc.read_only ? "ro" : "rw"}});
    rooms_.push_back(std::move(room));
  }

  void Reload() {
    auto cfg = LoadDaemonConfig(opts_.config_path);
    if (!cfg.ok()) {
      log::Error("reload refused; keeping the running config", {{"error", cfg.status().message()}});
      return;
    }
    DaemonConfig next = std::move(*cfg);
    bool base_changed = next.vault != config_.vault || next.relay.url != config_.relay.url ||
                        next.relay.token_file != config_.relay.token_file ||
                        next.user != config_.user ||
                        next.limits.text_max_bytes != config_.limits.text_max_bytes ||
                        next.limits.binary_max_bytes != config_.limits.binary_max_bytes ||
                        next.debounce_ms != config_.debounce_ms;
    if (next.state_dir != config_.state_dir) {
      log::Error("reload refused: state_dir cannot change while running", {});
      return;
    }
    auto same = [&](const RoomConfig& a, const RoomConfig& b) {
      return a.name == b.name && a.room == b.room && a.path == b.path &&
             a.read_only == b.read_only && a.expires_at == b.expires_at;
    };
    std::vector<std::unique_ptr<RoomSession>> keep;
    for (auto& r : rooms_) {
      bool found = false;
      for (const auto& rc : next.rooms) found = found || (!base_changed && same(r->config(), rc));
      if (found) {
        keep.push_back(std::move(r));
      } else {
        log::Info("room removed", {{"room", r->config().room}});
        r->Stop();
      }
    }
    rooms_ = std::move(keep);
    log::SetLevel(next.log_level);
    config_ = next;
    auto token = LoadRelayToken(config_.relay);
    for (const auto& rc : config_.rooms) {
      bool running = false;
      for (auto& r : rooms_) running = running || same(r->config(), rc);
      if (!running) StartRoom(rc, token.ok() ? *token : "");
    }
    log::Info("config reloaded", {{"rooms", static_cast<int>(rooms_.size())}});
  }

  void Shutdown() {
    if (stopping_) return;
    stopping_ = true;
    log::Info("stopping");
    for (auto& r : rooms_) r->Stop();
    rooms_.clear();
    transport_->Shutdown();
    for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_})
      uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    unlink(sock_path_.c_str());
  }

  void StartSignals() {
    for (auto [s, signum] : {std::pair{&sigterm_, SIGTERM}, std::pair{&sigint_, SIGINT},
                             std::pair{&sighup_, SIGHUP}}) {
      uv_signal_init(&loop_, s);
      s->data = this;
      uv_signal_start(
          s,
          [](uv_signal_t* h, int sig) {
            auto* d = static_cast<Daemon*>(h->data);
            if (sig == SIGHUP)
              d->Reload();
            else
              d->Shutdown();
          },
          signum);
    }
  }

  bool StartStatusSocket() {
    sock_path_ = StatusSocketPath(config_.state_dir);
    uv_pipe_init(&loop_, &server_, 0);
    server_.data = this;
    unlink(sock_path_.c_str());
    int rc = uv_pipe_bind(&server_, sock_path_.c_str());
    if (rc == 0) chmod(sock_path_.c_str(), 0600);
    if (rc == 0)
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 8, [](uv_stream_t* s, int status) {
        if (status < 0) return;
        static_cast<Daemon*>(s->data)->AcceptStatus();
      });
    if (rc != 0) {
      log::Error("cannot listen on the status socket",
                 {{"path", sock_path_}, {"error", uv_strerror(rc)}});
      uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
      uv_run(&loop_, UV_RUN_NOWAIT);
      return false;
    }
    return true;
  }

  void AcceptStatus() {
    auto* client = new uv_pipe_t;
    uv_pipe_init(&loop_, client, 0);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&server_),
                  reinterpret_cast<uv_stream_t*>(client)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(client),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
      return;
    }
    std::vector<RoomStatus> st;
    for (auto& r : rooms_) st.push_back(r->status());
    struct Write {
      uv_write_t req;
      std::string data;
    };
    auto* w = new Write;
    w->data = StatusJson(config_, store_->client_id(), st, started_, clock_.Now());
    w->req.data = client;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(client), &buf, 1, [](uv_write_t* req, int) {
      auto* c = static_cast<uv_pipe_t*>(req->data);
      delete reinterpret_cast<Write*>(req);
      uv_close(reinterpret_cast<uv_handle_t*>(c),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    });
  }

  DaemonOptions opts_;
  const Clock& clock_;
  DaemonConfig config_;
  WallTime started_;
  uv_loop_t loop_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Transport> transport_;
  std::vector<std::unique_ptr<RoomSession>> rooms_;
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_pipe_t server_;
  std::string sock_path_;
  bool stopping_ = false;
};

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  Daemon d(options);
  return d.Run();
}

}  // namespace vaultd::daemon
