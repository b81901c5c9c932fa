// The inotify watcher: one inotify fd per room, polled on the libuv loop.
//
// Folders are kept as a tree of watches (wd -> parent wd + name), not as a
// map of paths: a folder renamed inside the room is then one re-link, and
// every watch below it reports the new paths at once. inotify watches are per
// inode, so a folder moved away and back (different cookies) gets its old wd
// again from inotify_add_watch; Attach() re-links it wherever it shows up.
#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "vaultd/common/log.h"
#include "vaultd/daemon/event_aggregator.h"
#include "vaultd/daemon/paths.h"
#include "vaultd/daemon/watcher.h"

namespace vaultd::daemon {
namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE |
                              IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF |
                              IN_DONT_FOLLOW | IN_ONLYDIR | IN_EXCL_UNLINK;

// Reads per readable callback before the loop gets a turn again.
constexpr int kMaxReadsPerTurn = 16;

std::string JoinRel(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty()) out += '/';
  out += name;
  return out;
}

WatchEvent MakeEvent(WatchEventKind kind, std::string path, bool is_dir = false) {
  return WatchEvent{
      .kind = kind, .path = std::move(path), .from = {}, .is_dir = is_dir, .reason = {}};
}

std::string AddWatchError(int err) {
  if (err == ENOSPC) return "ENOSPC (out of inotify watches: raise fs.inotify.max_user_watches)";
  return std::strerror(err);
}

class InotifyWatcher final : public Watcher {
 public:
  InotifyWatcher(uv_loop_s* loop, std::string root, const Clock& clock, WatcherOptions options)
      : loop_(loop),
        root_(std::move(root)),
        clock_(clock),
        options_(options),
        aggregator_(std::chrono::milliseconds(options.debounce_ms), options.max_delay_factor) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  ~InotifyWatcher() override { Stop(); }

  Status Start(Sink sink) override;
  void Stop() override;
  WatcherHealth health() const override {
    WatcherHealth h = health_;
    h.watches = dirs_.size();
    return h;
  }
  void RescanDone() override;

 private:
  struct Dir {
    int parent = -1;  // wd of the folder holding this one; -1 for the root
    std::string name;
    bool attached = true;  // false while moved away (awaiting its rename's second half)
    std::unordered_map<std::string, int> children;  // watched subfolders: name -> wd
  };
  // The first half of a rename, waiting for its second (same cookie).
  struct PendingMove {
    std::string from;
    bool is_dir = false;
    bool ignored = false;
    int dir_wd = -1;  // the moved folder's own watch, detached meanwhile
    MonoTime deadline;
  };
  enum class Report {
    kNone,        // start: nothing is reported for what already exists
    kAll,         // a folder appeared: report it and everything in it
    kNewFolders,  // a re-walk after a loss: report folders that had no watch
  };

  std::string Full(std::string_view rel) const {
    return rel.empty() ? root_ : root_ + "/" + std::string(rel);
  }
  std::optional<std::string> Path(int wd) const;
  bool IsAncestorOrSelf(int maybe_ancestor, int wd) const;

  void Emit(WatchEvent e) { aggregator_.Add(std::move(e), clock_.Monotonic()); }
  void Loss(const std::string& reason, bool request_rescan = true);

  // `failed_before`: folders refused before a re-walk, which fail again
  // without asking for another rescan; nullptr: every failure asks.
  int AddWatch(const std::string& rel, const std::unordered_set<std::string>* failed_before);
  void Attach(int wd, int parent, const std::string& name);
  void Detach(int wd);
  void RemoveTree(int wd);
  void Forget(int wd);
  void WatchTree(int parent, const std::string& name, const std::string& rel, Report report,
                 std::unordered_set<int>* visited,
                 const std::unordered_set<std::string>* failed_before);
  void Rewalk(Report report);

  void HandleEvent(const struct inotify_event& ev);
  void OnMovedFrom(int wd, const std::string& name, std::string rel, bool is_dir, bool ignored,
                   uint32_t cookie);
  void OnMovedTo(int wd, const std::string& name, const std::string& rel, bool is_dir, bool ignored,
                 uint32_t cookie);
  void FinishMove(PendingMove pm);
  void ExpireMoves(MonoTime now);

  void OnReadable(int status);
  void Flush();
  void Schedule();

  uv_loop_s* loop_;
  std::string root_;
  const Clock& clock_;
  WatcherOptions options_;
  EventAggregator aggregator_;
  Sink sink_;
  bool started_ = false;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  int root_wd_ = -1;
  std::unordered_map<int, Dir> dirs_;
  std::unordered_map<uint32_t, PendingMove> pending_moves_;
  std::unordered_set<std::string> failed_;  // folders inotify_add_watch refused
  WatcherHealth health_;
};

std::optional<std::string> InotifyWatcher::Path(int wd) const {
  std::vector<const std::string*> parts;
  for (size_t guard = 0; guard <= dirs_.size(); ++guard) {
    if (wd == root_wd_ && wd >= 0) {
      std::string out;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (!out.empty()) out += '/';
        out += **it;
      }
      return out;
    }
    auto it = dirs_.find(wd);
    if (it == dirs_.end() || !it->second.attached || it->second.parent < 0) return std::nullopt;
    parts.push_back(&it->second.name);
    wd = it->second.parent;
  }
  return std::nullopt;
}

bool InotifyWatcher::IsAncestorOrSelf(int maybe_ancestor, int wd) const {
  for (size_t guard = 0; guard <= dirs_.size() && wd >= 0; ++guard) {
    if (wd == maybe_ancestor) return true;
    auto it = dirs_.find(wd);
    if (it == dirs_.end()) return false;
    wd = it->second.parent;
  }
  return false;
}

void InotifyWatcher::Loss(const std::string& reason, bool request_rescan) {
  bool was_degraded = health_.degraded;
  health_.degraded = true;
  health_.reason = reason;
  if (request_rescan) {
    WatchEvent e = MakeEvent(WatchEventKind::kRescan, "");
    e.reason = reason;
    Emit(std::move(e));
  }
  if (!was_degraded) log::Warn("watcher degraded", {{"folder", root_}, {"reason", reason}});
}

// The wd of a new or known watch on the folder `rel`, or -1 when it is gone,
// is no folder (any more), or cannot be watched (a loss: degraded; a rescan is
// asked for unless the folder was refused already before).
int InotifyWatcher::AddWatch(const std::string& rel,
                             const std::unordered_set<std::string>* failed_before) {
  std::string full = Full(rel);
  int wd = inotify_add_watch(fd_, full.c_str(), kDirMask);
  if (wd >= 0) return wd;
  int err = errno;
  if (err == ENOENT || err == ENOTDIR) return -1;  // removed, or replaced by a file or symlink
  bool new_failure = failed_before == nullptr || failed_before->count(rel) == 0;
  failed_.insert(rel);
  Loss("no watch for " + (rel.empty() ? full : rel) + ": " + AddWatchError(err), new_failure);
  return -1;
}

void InotifyWatcher::Detach(int wd) {
  auto it = dirs_.find(wd);
  if (it == dirs_.end()) return;
  Dir& node = it->second;
  if (node.attached && node.parent >= 0) {
    auto p = dirs_.find(node.parent);
    if (p != dirs_.end()) {
      auto c = p->second.children.find(node.name);
      if (c != p->second.children.end() && c->second == wd) p->second.children.erase(c);
    }
  }
  node.attached = false;
}

void InotifyWatcher::Attach(int wd, int parent, const std::string& name) {
  Detach(wd);
  Dir& node = dirs_[wd];  // references into an unordered_map survive rehashing
  node.parent = parent;
  node.name = name;
  node.attached = true;
  if (parent < 0) {
    root_wd_ = wd;
    return;
  }
  auto p = dirs_.find(parent);
  if (p == dirs_.end()) {
    node.attached = false;
    return;
  }
  auto [c, inserted] = p->second.children.try_emplace(name, wd);
  if (!inserted && c->second != wd) {
    auto old = dirs_.find(c->second);
    if (old != dirs_.end()) old->second.attached = false;
    c->second = wd;
  }
}

void InotifyWatcher::RemoveTree(int wd) {
  Detach(wd);
  std::vector<int> stack{wd};
  while (!stack.empty()) {
    int w = stack.back();
    stack.pop_back();
    auto it = dirs_.find(w);
    if (it == dirs_.end()) continue;
    for (const auto& [name, child] : it->second.children) stack.push_back(child);
    if (w == root_wd_) root_wd_ = -1;
    dirs_.erase(it);
    inotify_rm_watch(fd_, w);  // its IN_IGNORED arrives later and finds nothing
  }
}

void InotifyWatcher::Forget(int wd) {
  if (dirs_.find(wd) == dirs_.end()) return;
  Detach(wd);
  dirs_.erase(wd);
  if (wd == root_wd_) {
    root_wd_ = -1;
    Loss("room folder " + root_ + " is no longer watched (deleted, or unmounted)");
  }
}

// Watches the folder `rel` (the child `name` of `parent`, or the root when
// `parent` < 0) and every folder below it. A watch is added before its
// folder is read, so whatever is created meanwhile shows up at least once:
// in the listing, as an event, or both.
void InotifyWatcher::WatchTree(int parent, const std::string& name, const std::string& rel,
                               Report report, std::unordered_set<int>* visited,
                               const std::unordered_set<std::string>* failed_before) {
  struct Item {
    int parent;
    std::string name;
    std::string rel;
  };
  std::unordered_set<int> local_visited;
  if (visited == nullptr) visited = &local_visited;
  std::vector<Item> stack{{parent, name, rel}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    int wd = AddWatch(item.rel, failed_before);
    if (wd < 0) continue;
    // The same folder twice (a bind mount inside the room), or a folder that
    // holds itself: watched once, where it was met first.
    if (!visited->insert(wd).second) continue;
    if (item.parent >= 0 && IsAncestorOrSelf(wd, item.parent)) continue;
    bool is_new = dirs_.find(wd) == dirs_.end();
    Attach(wd, item.parent, item.name);
    if (!item.rel.empty() &&
        (report == Report::kAll || (report == Report::kNewFolders && is_new))) {
      Emit(MakeEvent(WatchEventKind::kChanged, item.rel, true));
    }
    dirs_[wd].children.clear();  // re-filled as the subfolders are watched

    int dfd = open(Full(item.rel).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
      int err = errno;
      if (err != ENOENT && err != ENOTDIR) {
        Loss("cannot read folder " + Full(item.rel) + ": " + std::strerror(err));
      }
      continue;
    }
    DIR* d = fdopendir(dfd);
    if (d == nullptr) {
      close(dfd);
      continue;
    }
    while (struct dirent* de = readdir(d)) {
      std::string_view child = de->d_name;
      if (child == "." || child == "..") continue;
      bool is_dir = de->d_type == DT_DIR;
      if (de->d_type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        is_dir = S_ISDIR(st.st_mode);
      }
      std::string child_rel = JoinRel(item.rel, child);
      if (is_dir) {
        if (!IsIgnoredDirName(child)) stack.push_back({wd, std::string(child), child_rel});
      } else if (report == Report::kAll && !IsIgnoredPath(child_rel)) {
        Emit(MakeEvent(WatchEventKind::kChanged, std::move(child_rel)));
      }
    }
    closedir(d);
  }
}

// Brings the watch tree in line with the disk: folders whose creation was
// lost get watched, refused folders are retried, watches of folders that are
// gone are dropped.
void InotifyWatcher::Rewalk(Report report) {
  std::unordered_set<std::string> failed_before = std::move(failed_);
  failed_.clear();
  std::unordered_set<int> visited;
  WatchTree(-1, "", "", report, &visited, &failed_before);
  std::vector<int> stale;
  for (const auto& [wd, dir] : dirs_) {
    if (visited.count(wd) == 0) stale.push_back(wd);
  }
  for (int wd : stale) {
    dirs_.erase(wd);
    inotify_rm_watch(fd_, wd);
  }
  if (root_wd_ >= 0 && visited.count(root_wd_) == 0) root_wd_ = -1;
}

Status InotifyWatcher::Start(Sink sink) {
  if (started_) return Status::Internal("watcher for " + root_ + " started twice");
  struct stat st;
  if (lstat(root_.c_str(), &st) != 0) return Status::FromErrno(errno, "watch " + root_);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("watch " + root_ + ": not a folder");
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return Status::FromErrno(errno, "inotify_init1 for " + root_);

  auto* poll = new uv_poll_t;
  int rc = uv_poll_init(loop_, poll, fd_);
  if (rc != 0) {
    delete poll;
    close(fd_);
    fd_ = -1;
    return Status::IoError("watch " + root_ + ": uv_poll_init: " + uv_strerror(rc));
  }
  poll->data = this;
  poll_ = poll;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  sink_ = std::move(sink);
  started_ = true;

  Rewalk(Report::kNone);
  if (root_wd_ < 0 && failed_.count("") == 0) {
    Stop();
    return Status::NotFound("watch " + root_ + ": the folder vanished");
  }
  rc = uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int status, int /*events*/) {
    static_cast<InotifyWatcher*>(h->data)->OnReadable(status);
  });
  if (rc != 0) {
    Stop();
    return Status::IoError("watch " + root_ + ": uv_poll_start: " + uv_strerror(rc));
  }
  Schedule();  // a folder refused at start is reported on the loop's first turn
  return Status::Ok();
}

void InotifyWatcher::Stop() {
  if (!started_) return;
  started_ = false;
  uv_poll_stop(poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
  close(fd_);  // fine once the poll handle is closing (libuv has dropped the fd)
  fd_ = -1;
  root_wd_ = -1;
  dirs_.clear();
  pending_moves_.clear();
  failed_.clear();
  aggregator_ =
      EventAggregator(std::chrono::milliseconds(options_.debounce_ms), options_.max_delay_factor);
}

void InotifyWatcher::RescanDone() {
  if (!started_) return;
  Rewalk(Report::kNewFolders);
  if (failed_.empty() && root_wd_ >= 0 && !aggregator_.rescan_pending()) {
    health_.degraded = false;
    health_.reason.clear();
  }
  Schedule();
}

void InotifyWatcher::OnReadable(int status) {
  if (status < 0) Loss(std::string("inotify poll: ") + uv_strerror(status));
  alignas(struct inotify_event) char buf[64 * 1024];
  for (int i = 0; i < kMaxReadsPerTurn; ++i) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) Loss(std::string("read inotify: ") + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(struct inotify_event)) <= n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (off > n) break;
      HandleEvent(*ev);
    }
  }
  ExpireMoves(clock_.Monotonic());
  Flush();
}

void InotifyWatcher::HandleEvent(const struct inotify_event& ev) {
  uint32_t m = ev.mask;
  if (m & IN_Q_OVERFLOW) {
    ++health_.overflows;
    Loss("inotify queue overflow (events lost; raise fs.inotify.max_queued_events)");
    return;
  }
  if (dirs_.find(ev.wd) == dirs_.end()) return;  // a watch already dropped
  if (m & IN_IGNORED) {
    Forget(ev.wd);
    return;
  }
  if (m & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    // A subfolder's own removal or move is handled through its parent's
    // events; the room folder has no parent in the room.
    if (ev.wd == root_wd_) Loss("room folder " + root_ + " was moved or deleted");
    return;
  }
  if (ev.len == 0) return;  // about a watched folder itself (e.g. its attributes)
  std::optional<std::string> dir_path = Path(ev.wd);
  if (!dir_path) return;  // inside a folder moved away
  std::string name(ev.name, strnlen(ev.name, ev.len));
  std::string rel = JoinRel(*dir_path, name);
  bool is_dir = (m & IN_ISDIR) != 0;
  // A folder is ignored (not watched, not reported) by its name; a file by
  // its whole path (temp and swap names too).
  bool ignored = is_dir ? IsIgnoredDirName(name) : IsIgnoredPath(rel);

  if (m & IN_MOVED_FROM) {
    OnMovedFrom(ev.wd, name, std::move(rel), is_dir, ignored, ev.cookie);
  } else if (m & IN_MOVED_TO) {
    OnMovedTo(ev.wd, name, rel, is_dir, ignored, ev.cookie);
  } else if (m & IN_CREATE) {
    if (ignored) return;
    if (is_dir) {
      WatchTree(ev.wd, name, rel, Report::kAll, nullptr, nullptr);
    } else {
      Emit(MakeEvent(WatchEventKind::kChanged, std::move(rel)));
    }
  } else if (m & IN_DELETE) {
    if (is_dir) {
      auto p = dirs_.find(ev.wd);
      auto c = p->second.children.find(name);
      if (c != p->second.children.end()) Detach(c->second);  // its IN_IGNORED follows
    }
    if (!ignored) Emit(MakeEvent(WatchEventKind::kChanged, std::move(rel), is_dir));
  } else if (m & IN_CLOSE_WRITE) {
    if (!ignored) Emit(MakeEvent(WatchEventKind::kClosedWrite, std::move(rel)));
  } else if (m & (IN_MODIFY | IN_ATTRIB)) {
    if (!ignored && !is_dir) Emit(MakeEvent(WatchEventKind::kChanged, std::move(rel)));
  }
}

void InotifyWatcher::OnMovedFrom(int wd, const std::string& name, std::string rel, bool is_dir,
                                 bool ignored, uint32_t cookie) {
  PendingMove pm;
  pm.from = std::move(rel);
  pm.is_dir = is_dir;
  pm.ignored = ignored;
  pm.deadline = clock_.Monotonic() + std::chrono::milliseconds(options_.move_pair_ms);
  if (is_dir) {
    auto p = dirs_.find(wd);
    auto c = p->second.children.find(name);
    if (c != p->second.children.end()) {
      pm.dir_wd = c->second;
      Detach(pm.dir_wd);  // events from below it are dropped until it lands
    }
  }
  auto old = pending_moves_.find(cookie);
  if (old != pending_moves_.end()) {
    FinishMove(std::move(old->second));
    pending_moves_.erase(old);
  }
  pending_moves_.emplace(cookie, std::move(pm));
}

void InotifyWatcher::OnMovedTo(int wd, const std::string& name, const std::string& rel, bool is_dir,
                               bool ignored, uint32_t cookie) {
  auto it = pending_moves_.find(cookie);
  if (it == pending_moves_.end()) {  // moved in from outside the room: created
    if (ignored) return;
    if (is_dir) {
      WatchTree(wd, name, rel, Report::kAll, nullptr, nullptr);
    } else {
      // A file renamed into place is complete: act at once.
      Emit(MakeEvent(WatchEventKind::kClosedWrite, rel));
    }
    return;
  }
  PendingMove pm = std::move(it->second);
  pending_moves_.erase(it);

  if (is_dir) {
    bool known = pm.dir_wd >= 0 && dirs_.find(pm.dir_wd) != dirs_.end();
    if (ignored) {
      if (known) RemoveTree(pm.dir_wd);
    } else if (known && !pm.ignored) {
      Attach(pm.dir_wd, wd, name);
    } else {
      WatchTree(wd, name, rel, Report::kAll, nullptr, nullptr);  // reports it: no event below
      if (pm.ignored) return;
    }
  }
  if (!pm.ignored && !ignored) {
    WatchEvent e = MakeEvent(WatchEventKind::kRenamed, rel, is_dir);
    e.from = std::move(pm.from);
    Emit(std::move(e));
  } else if (!pm.ignored) {  // renamed to an ignored name: gone
    Emit(MakeEvent(WatchEventKind::kChanged, std::move(pm.from), is_dir));
  } else if (!ignored && !is_dir) {  // a temp file renamed into place: complete
    Emit(MakeEvent(WatchEventKind::kClosedWrite, rel));
  }
}

// A rename's first half that found no second: moved out of the room.
void InotifyWatcher::FinishMove(PendingMove pm) {
  if (!pm.ignored) Emit(MakeEvent(WatchEventKind::kChanged, std::move(pm.from), pm.is_dir));
  if (pm.dir_wd >= 0) {
    auto d = dirs_.find(pm.dir_wd);
    // Still away (not re-linked by a later move back in, or by a re-walk).
    if (d != dirs_.end() && !d->second.attached) RemoveTree(pm.dir_wd);
  }
}

void InotifyWatcher::ExpireMoves(MonoTime now) {
  std::vector<uint32_t> due;
  for (const auto& [cookie, pm] : pending_moves_) {
    if (pm.deadline <= now) due.push_back(cookie);
  }
  std::sort(due.begin(), due.end());
  for (uint32_t cookie : due) {
    auto it = pending_moves_.find(cookie);
    PendingMove pm = std::move(it->second);
    pending_moves_.erase(it);
    FinishMove(std::move(pm));
  }
}

void InotifyWatcher::Flush() {
  if (!started_) return;
  std::vector<WatchEvent> events = aggregator_.PopDue(clock_.Monotonic());
  if (!events.empty()) {
    health_.events += events.size();
    sink_(std::move(events));
    if (!started_) return;  // the sink stopped us
  }
  Schedule();
}

void InotifyWatcher::Schedule() {
  if (!started_) return;
  std::optional<MonoTime> next = aggregator_.NextDeadline();
  for (const auto& [cookie, pm] : pending_moves_) {
    if (!next || pm.deadline < *next) next = pm.deadline;
  }
  if (!next) {
    uv_timer_stop(timer_);
    return;
  }
  auto wait = *next - clock_.Monotonic();
  uint64_t ms = 0;
  if (wait > wait.zero()) {
    ms = static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  }
  uv_update_time(loop_);
  uv_timer_start(
      timer_,
      [](uv_timer_t* h) {
        auto* self = static_cast<InotifyWatcher*>(h->data);
        self->ExpireMoves(self->clock_.Monotonic());
        self->Flush();
      },
      ms, 0);
}

}  // namespace

std::unique_ptr<Watcher> NewInotifyWatcher(uv_loop_s* loop, std::string root, const Clock& clock,
                                           WatcherOptions options) {
  return std::make_unique<InotifyWatcher>(loop, std::move(root), clock, options);
}

}  // namespace vaultd::daemon
