// The bridge between one room folder and its Yjs document. The rules
// (docs/daemon-sync.md) in one sentence each:
//  - the shadow is the disk content whose every change is in the document;
//  - disk != shadow: merge the local change into the document (three-way,
//    base = shadow), then write back what the merge produced;
//  - document != shadow, disk == shadow: write the document's content;
//  - nothing is written to disk before the document change that explains it
//    is committed to the store, and nothing is sent before that either;
//  - a delete or replace by a writer that had not seen our last change of
//    the path loses against that change (edit beats delete).
#include <malloc.h>
#include <uv.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>
#include <set>

#include "vaultd/common/log.h"
#include "vaultd/common/sha256.h"
#include "vaultd/common/utf8.h"
#include "vaultd/crdt/doc.h"
#include "vaultd/crdt/sync.h"
#include "vaultd/daemon/backoff.h"
#include "vaultd/daemon/paths.h"
#include "vaultd/daemon/room.h"
#include "vaultd/daemon/room_fs.h"
#include "vaultd/daemon/text_merge.h"
#include "vaultd/daemon/ws_url.h"

namespace vaultd::daemon {
namespace {

using crdt::Any;

constexpr const char* kSchemaName = "vaultd/1";
constexpr uint64_t kCompactAfterUpdates = 500;
// A reconcile's slice (see Room::Reconcile).
constexpr size_t kSlicePaths = 1000;
constexpr size_t kSliceBytes = 4 << 20;

bool IsTextName(const std::string& p) {
  static const char* kExt[] = {"md",   "markdown", "txt",  "canvas", "css",  "js",
                               "json", "csv",      "tsv",  "yaml",   "yml",  "html",
                               "htm",  "xml",      "svg",  "tex",    "org",  "rst",
                               "adoc", "ini",      "toml", "log",    "base", "excalidraw"};
  size_t slash = p.rfind('/');
  size_t dot = p.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
  std::string ext = p.substr(dot + 1);
  for (auto& c : ext) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  for (const char* e : kExt)
    if (ext == e) return true;
  return false;
}

enum class EntryKind { kNone, kText, kBinary, kUnsupported };
struct Entry {
  EntryKind kind = EntryKind::kNone;
  std::string content;
  crdt::TextRef text;
};

// "notes/a.png" -> "notes/a (conflict alice 2026-12-04 181500).png"
std::string ConflictName(const std::string& p, const std::string& user, WallTime now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H%M%S", &tm);
  size_t slash = p.rfind('/');
  size_t dot = p.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) ||
      dot == (slash == std::string::npos ? 0 : slash + 1))
    dot = p.size();
  return p.substr(0, dot) + " (conflict " + user + " " + when + ")" + p.substr(dot);
}

struct DiskOp {
  enum Kind { kWrite, kUnlink, kRename } kind = kWrite;
  std::string path, to;
  std::string data;
  bool is_text = true;
  FileStat expect;
  bool prune = false;
};

class Room final : public RoomSession {
 public:
  Room(const DaemonConfig& dc, const RoomConfig& rc, std::string token, RoomDeps deps)
      : dc_(dc), rc_(rc), token_(std::move(token)), deps_(std::move(deps)), fs_(dc.RoomDir(rc)) {
    st_.name = rc_.name;
    st_.room = rc_.room;
    st_.path = rc_.path;
    st_.read_only = rc_.read_only;
    std::random_device rd;
    rng_.seed(rd());
  }
  ~Room() override { Stop(); }

  const RoomConfig& config() const override { return rc_; }

  Status Start() override {
    client_ = deps_.store->client_id();
    doc_ = std::make_unique<crdt::Doc>(crdt::DocOptions{.client_id = client_});
    files_ = doc_->GetMap("files");
    marks_ = doc_->GetMap("marks");
    meta_ = doc_->GetMap("meta");
    VAULTD_RETURN_IF_ERROR(
        deps_.store->ForEachUpdate(rc_.room, [&](std::span<const uint8_t> u) -> Status {
          if (Status s = doc_->ApplyUpdate(u, "store"); !s.ok())
            return Status::Corruption("room " + rc_.room +
                                      ": a stored update does not apply: " + s.message());
          return Status::Ok();
        }));
    auto recs = deps_.store->LoadFiles(rc_.room);
    if (!recs.ok()) return recs.status();
    recs_ = std::move(*recs);
    handler_ = doc_->OnUpdate([this](std::span<const uint8_t> u, const crdt::TransactionEvent& ev) {
      OnDocUpdate(u, ev);
    });
    if (int n = fs_.RemoveStaleTemps(); n > 0)
      log::Info("removed stale temp files", {{"room", rc_.room}, {"count", n}});

    timer_ = new uv_timer_t;
    uv_timer_init(deps_.loop, timer_);
    timer_->data = this;
    reconnect_timer_ = new uv_timer_t;
    uv_timer_init(deps_.loop, reconnect_timer_);
    reconnect_timer_->data = this;
    kick_ = new uv_idle_t;
    uv_idle_init(deps_.loop, kick_);
    kick_->data = this;

    if (rc_.expires_at && deps_.clock->Now() >= *rc_.expires_at) {
      Expire();
      return Status::Ok();
    }
    if (!deps_.watcher)
      deps_.watcher =
          NewInotifyWatcher(deps_.loop, fs_.root(), *deps_.clock, {.debounce_ms = dc_.debounce_ms});
    if (Status s =
            deps_.watcher->Start([this](std::vector<WatchEvent> evs) { OnWatch(std::move(evs)); });
        !s.ok()) {
      st_.degraded = true;
      st_.degraded_reason = s.message();
      log::Warn("watcher did not start", {{"room", rc_.room}, {"error", s.message()}});
    }
    started_ = true;
    if (!deps_.transport) {
      live_ = true;
      FullReconcile();
    } else {
      Connect();
    }
    ArmTimer();
    return Status::Ok();
  }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (deps_.watcher) deps_.watcher->Stop();
    Flush();
    if (conn_) {
      conn_.reset();  // no on_close after this
    }
    graveyard_.clear();
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(timer_), reinterpret_cast<uv_handle_t*>(reconnect_timer_),
          reinterpret_cast<uv_handle_t*>(kick_)}) {
      if (h && !uv_is_closing(h))
        uv_close(h, [](uv_handle_t* hh) {
          if (hh->type == UV_TIMER)
            delete reinterpret_cast<uv_timer_t*>(hh);
          else
            delete reinterpret_cast<uv_idle_t*>(hh);
        });
    }
    timer_ = nullptr;
    reconnect_timer_ = nullptr;
    kick_ = nullptr;
    if (doc_ && handler_ >= 0) doc_->RemoveHandler(handler_);
    handler_ = -1;
  }

  RoomStatus status() const override {
    RoomStatus s = st_;
    s.queued_paths = dirty_.size() + retry_.size() + busy_.size();
    s.unsent_changes = s.synced ? 0 : offline_changes_;
    s.pending_local = s.queued_paths + s.unsent_changes;
    s.files = recs_.size();
    if (deps_.watcher) {
      s.watcher = deps_.watcher->health();
      if (s.watcher.degraded) {
        s.degraded = true;
        if (s.degraded_reason.empty()) s.degraded_reason = s.watcher.reason;
      }
    }
    return s;
  }

  void Rescan() override { FullReconcile(); }

  std::string DocJson() const override {
    return doc_ ? doc_->ToJson({{"files", crdt::TypeKind::kMap},
                                {"marks", crdt::TypeKind::kMap},
                                {"meta", crdt::TypeKind::kMap}})
                : "{}";
  }

 private:
  // ---- document plumbing --------------------------------------------------

  void OnDocUpdate(std::span<const uint8_t> u, const crdt::TransactionEvent& ev) {
    pending_.updates.emplace_back(u.begin(), u.end());
    if (ev.local) {
      if (!rc_.read_only) unsent_.emplace_back(u.begin(), u.end());
      if (!st_.synced) ++offline_changes_;
      return;
    }
    for (const auto& c : ev.changes) {
      if (c.root == "files") {
        for (const auto& k : c.keys) {
          remote_entry_.insert(k);
          remote_dirty_.insert(k);
        }
        for (const auto& k : c.nested_keys) remote_dirty_.insert(k);
      } else if (c.root == "marks") {
        for (const auto& k : c.keys) remote_marks_.insert(k);
      }
    }
  }

  Entry EntryOf(const std::string& p) const {
    Entry e;
    auto out = files_.Get(p);
    if (!out) return e;
    if (out->is_type()) {
      e.text = out->AsText();
      if (!e.text.valid()) {
        e.kind = EntryKind::kUnsupported;
        return e;
      }
      e.kind = EntryKind::kText;
      e.content = e.text.ToString();
      return e;
    }
    if (const auto* b = std::get_if<crdt::Binary>(&out->any().v)) {
      e.kind = EntryKind::kBinary;
      e.content.assign(b->begin(), b->end());
      return e;
    }
    e.kind = EntryKind::kUnsupported;
    return e;
  }

  // Records in memory keep the shadow's hash only; the text is in the store.
  static bool ContentEq(const Entry& e, const FileRecord& r) {
    if ((e.kind == EntryKind::kText) != r.is_text) return false;
    return Sha256Hex(e.content) == r.hash;
  }
  static bool DiskEq(const std::string& k, const FileRecord& r) { return Sha256Hex(k) == r.hash; }
  std::string ShadowOf(const std::string& p) {
    if (auto it = pending_.files.find(p); it != pending_.files.end() && it->second)
      return it->second->shadow;
    auto s = deps_.store->LoadShadow(rc_.room, p);
    if (!s.ok()) {
      ++st_.errors;
      st_.last_error = s.status().message();
      return std::string();
    }
    return *s;
  }
  bool Classify(const std::string& p, const std::string& k) const {
    return IsTextName(p) && k.size() <= dc_.limits.text_max_bytes && IsValidUtf8(k);
  }
  uint64_t MaxBytes() const {
    return std::max(dc_.limits.text_max_bytes, dc_.limits.binary_max_bytes);
  }

  void SetEntry(const std::string& p, const std::string& k, bool text) {
    if (text) {
      (void)files_.Set(p, crdt::NewType{crdt::TypeKind::kText});
      auto out = files_.Get(p);
      if (out) (void)out->AsText().Insert(0, k);
    } else {
      (void)files_.Set(p, Any(crdt::Binary(k.begin(), k.end())));
    }
    touched_.insert(p);
  }

  void WriteMark(const std::string& p, const char* op, const std::string& to = {}) {
    crdt::AnyObject seen;
    for (const auto& [c, clk] : doc_->StateVector())
      seen.emplace_back(std::to_string(c), Any(static_cast<double>(clk)));
    crdt::AnyObject m;
    m.emplace_back("op", Any(op));
    m.emplace_back("client", Any(static_cast<double>(client_)));
    m.emplace_back("user", Any(dc_.user));
    m.emplace_back("at", Any(FormatRfc3339(deps_.clock->Now())));
    m.emplace_back("seen", Any(std::move(seen)));
    if (!to.empty()) m.emplace_back("to", Any(to));
    (void)marks_.Set(p, Any(std::move(m)));
    touched_.insert(p);
  }

  // The mark of `p` as a remote writer left it in this batch, if it did.
  const crdt::AnyObject* RemoteMark(const std::string& p, Any* holder) const {
    if (!remote_marks_.count(p)) return nullptr;
    auto out = marks_.Get(p);
    if (!out || out->is_type()) return nullptr;
    *holder = out->any();
    auto* obj = std::get_if<std::shared_ptr<crdt::AnyObject>>(&holder->v);
    return obj && *obj ? obj->get() : nullptr;
  }
  static const Any* Field(const crdt::AnyObject& o, const std::string& k) {
    for (const auto& [key, v] : o)
      if (key == k) return &v;
    return nullptr;
  }

  // Did the remote writer that just deleted or replaced `p` see our last
  // change of it? Writers that keep no marks (plain Yjs clients) count as
  // having seen everything.
  bool RemoteHadSeen(const std::string& p) const {
    auto it = recs_.find(p);
    if (it == recs_.end() || it->second.local_clock == 0) return true;
    Any holder;
    const crdt::AnyObject* m = RemoteMark(p, &holder);
    if (!m) return true;
    const Any* seen = Field(*m, "seen");
    uint64_t clock = 0;
    if (seen) {
      if (auto* so = std::get_if<std::shared_ptr<crdt::AnyObject>>(&seen->v); so && *so) {
        if (const Any* c = Field(**so, std::to_string(client_))) {
          if (auto* d = std::get_if<double>(&c->v); d && *d >= 0) clock = static_cast<uint64_t>(*d);
        }
      }
    }
    return clock >= it->second.local_clock;
  }

  // `hash`: the content's SHA-256 when the caller has it already.
  FileRecord MakeRecord(const std::string& content, bool text, const FileStat& st,
                        const FileRecord* old, const std::string& hash = {}) {
    FileRecord r;
    r.is_text = text;
    if (text) r.shadow = content;
    r.hash = hash.empty() ? Sha256Hex(content) : hash;
    r.size = st.size;
    r.mtime_ns = st.mtime_ns;
    r.ino = st.ino;
    r.local_clock = old ? old->local_clock : 0;
    return r;
  }
  // `r` carries the shadow text for the store; memory keeps the rest.
  void SetRecord(const std::string& p, FileRecord r) {
    pending_.files[p] = r;
    pending_.clocks.erase(p);
    r.shadow.clear();
    r.shadow.shrink_to_fit();
    recs_[p] = std::move(r);
  }
  void ForgetRecord(const std::string& p) {
    pending_.files[p] = std::nullopt;
    pending_.clocks.erase(p);
    recs_.erase(p);
  }

  void ScheduleWrite(const std::string& p, const std::string& data, bool text,
                     const FileStat& expect) {
    ops_.push_back({DiskOp::kWrite, p, {}, data, text, expect, false});
  }

  void Reject(const std::string& p, const std::string& why) {
    ++st_.rejected_paths;
    if (rejected_logged_.insert(p).second)
      log::Warn("document entry not written", {{"room", rc_.room}, {"path", p}, {"why", why}});
  }

  // ---- the bridge ---------------------------------------------------------

  void ReconcilePath(const std::string& p) {
    if (!IsSafeDocKey(p)) {
      if (files_.Get(p)) Reject(p, "unsafe or ignored path");
      return;
    }
    Entry e = EntryOf(p);
    if (e.kind == EntryKind::kUnsupported) return Reject(p, "not a text or binary entry");
    if (e.kind == EntryKind::kText && e.content.size() > dc_.limits.text_max_bytes)
      return Reject(p, "text over text_max_bytes");
    if (e.kind == EntryKind::kBinary && e.content.size() > dc_.limits.binary_max_bytes)
      return Reject(p, "binary over binary_max_bytes");
    FileStat ds = fs_.Stat(p);
    if (ds.type == EntryType::kDir || ds.type == EntryType::kOther) {
      if (e.kind != EntryKind::kNone) Reject(p, "a folder or special file is in the way on disk");
      return;
    }
    bool have_disk = ds.type == EntryType::kFile;
    std::string k;
    if (have_disk) {
      if (ds.size > MaxBytes()) {
        if (too_large_logged_.insert(p).second) {
          ++st_.rejected_paths;
          log::Warn("file over the size limits, not synced",
                    {{"room", rc_.room}, {"path", p}, {"bytes", ds.size}});
        }
        return;
      }
      bool changed = false;
      auto r = fs_.Read(p, MaxBytes(), &ds, &changed);
      if (!r.ok()) {
        if (!changed && fs_.Stat(p).type == EntryType::kMissing) {
          have_disk = false;
          ds = {};
        } else if (changed) {
          busy_.insert(p);  // being written or changed while read: look again shortly
          ArmTimer();
          return;
        } else {
          retry_.insert(p);
          ArmTimer();
          return;
        }
      } else {
        k = std::move(*r);
      }
    }
    // Each side hashed once: a note's bytes are compared with the shadow's hash
    // up to three times below, and the file may be megabytes.
    const std::string k_hash = have_disk ? Sha256Hex(k) : std::string();
    std::optional<std::string> e_hash_cache;
    auto e_hash = [&]() -> const std::string& {
      if (!e_hash_cache) e_hash_cache = Sha256Hex(e.content);
      return *e_hash_cache;
    };
    auto entry_is_shadow = [&](const FileRecord& r) {
      return (e.kind == EntryKind::kText) == r.is_text && e_hash() == r.hash;
    };
    auto rit = recs_.find(p);
    FileRecord* rec = rit == recs_.end() ? nullptr : &rit->second;
    bool disk_same = have_disk ? (rec && k_hash == rec->hash) : (rec == nullptr);
    bool entry_changed = remote_entry_.count(p) > 0;

    if (disk_same) {
      if (!have_disk) {
        if (e.kind != EntryKind::kNone) ScheduleWrite(p, e.content, e.kind == EntryKind::kText, {});
        return;
      }
      if (rec->size != ds.size || rec->mtime_ns != ds.mtime_ns || rec->ino != ds.ino) {
        FileRecord nr = *rec;
        nr.size = ds.size, nr.mtime_ns = ds.mtime_ns, nr.ino = ds.ino;
        if (nr.is_text) nr.shadow = k;  // disk == shadow here
        SetRecord(p, nr);
        rec = &recs_[p];
      }
      if (e.kind == EntryKind::kNone) {
        if (rc_.read_only || RemoteHadSeen(p)) {
          ops_.push_back({DiskOp::kUnlink, p, {}, {}, rec->is_text, ds, true});
        } else {
          log::Info("kept a file deleted by a client that had not seen its last change",
                    {{"room", rc_.room}, {"path", p}});
          SetEntry(p, k, rec->is_text);
          WriteMark(p, "write");
        }
        return;
      }
      if (entry_is_shadow(*rec)) return;
      if (entry_changed && !rc_.read_only && !RemoteHadSeen(p)) {
        // Replaced by a writer that had not seen our last change.
        if (e.kind == EntryKind::kText && rec->is_text) {
          auto edits = MergeIntoTheirs("", k, e.content);
          ApplyTextEdits(e.text, edits);
          touched_.insert(p);
          ScheduleWrite(p, e.text.ToString(), true, ds);
        } else {
          WriteConflictCopy(p, k, rec->is_text);
          ScheduleWrite(p, e.content, e.kind == EntryKind::kText, ds);
        }
        return;
      }
      ScheduleWrite(p, e.content, e.kind == EntryKind::kText, ds);
      return;
    }

    // The disk moved on since the shadow.
    if (rc_.read_only) {
      ++st_.ro_edits;
      log::Warn("local change in a read-only room; writing the room's state back",
                {{"room", rc_.room}, {"path", p}});
      if (e.kind != EntryKind::kNone) ScheduleWrite(p, e.content, e.kind == EntryKind::kText, ds);
      return;
    }
    if (!have_disk) {  // deleted locally
      if (e.kind == EntryKind::kNone) return ForgetRecord(p);
      if (entry_is_shadow(*rec)) {
        (void)files_.Delete(p);
        WriteMark(p, "delete");
        ForgetRecord(p);
        return;
      }
      log::Info("restored a file deleted here but changed in the room",
                {{"room", rc_.room}, {"path", p}});
      ScheduleWrite(p, e.content, e.kind == EntryKind::kText, {});
      return;
    }
    bool text = Classify(p, k);
    if (text && e.kind == EntryKind::kText) {
      std::vector<TextEdit> edits;
      if (rec && rec->is_text && entry_is_shadow(*rec)) {
        edits = DiffText(e.content, k);  // the document is still at the shadow
      } else {
        std::string base = rec && rec->is_text ? ShadowOf(p) : std::string();
        edits = e.content == base ? DiffText(base, k) : MergeIntoTheirs(base, k, e.content);
      }
      if (!edits.empty()) {
        ApplyTextEdits(e.text, edits);
        touched_.insert(p);
      }
      SetRecord(p, MakeRecord(k, true, ds, rec, k_hash));
      std::string merged = edits.empty() ? e.content : e.text.ToString();
      if (merged != k) ScheduleWrite(p, merged, true, ds);
      return;
    }
    if (e.kind == EntryKind::kBinary && !text && rec && !rec->is_text && e_hash() != rec->hash) {
      // Both sides changed a binary file: the room's version keeps the name.
      WriteConflictCopy(p, k, false);
      ScheduleWrite(p, e.content, false, ds);
      return;
    }
    if (e.kind != EntryKind::kNone && e.content == k && (e.kind == EntryKind::kText) == text) {
      SetRecord(p, MakeRecord(k, text, ds, rec, k_hash));
      return;
    }
    SetEntry(p, k, text);
    WriteMark(p, "write");
    SetRecord(p, MakeRecord(k, text, ds, rec, k_hash));
  }

  void ApplyTextEdits(crdt::TextRef& t, const std::vector<TextEdit>& edits) {
    for (const auto& ed : edits) {
      if (ed.delete_units) (void)t.Delete(ed.index, ed.delete_units);
      if (!ed.insert.empty()) (void)t.Insert(ed.index, ed.insert);
    }
  }

  void WriteConflictCopy(const std::string& p, const std::string& k, bool text) {
    std::string c = ConflictName(p, dc_.user, deps_.clock->Now());
    for (int n = 2; files_.Get(c) || fs_.Stat(c).type != EntryType::kMissing; ++n)
      c = ConflictName(p, dc_.user + " " + std::to_string(n), deps_.clock->Now());
    SetEntry(c, k, text);
    WriteMark(c, "write");
    ScheduleWrite(c, k, text, {});
    ++st_.conflicts;
    log::Warn("concurrent change: kept this side as a conflict copy",
              {{"room", rc_.room}, {"path", p}, {"copy", c}});
  }

  // A local rename inside the room: one transaction that removes `from` and
  // adds `to` with the same content, so other vaults rename too.
  bool TryLocalRename(const std::string& from, const std::string& to) {
    if (rc_.read_only || !IsSafeDocKey(from) || !IsSafeDocKey(to)) return false;
    auto rit = recs_.find(from);
    if (rit == recs_.end() || fs_.Stat(from).type != EntryType::kMissing) return false;
    if (files_.Get(to)) return false;
    Entry e = EntryOf(from);
    if (e.kind == EntryKind::kNone || e.kind == EntryKind::kUnsupported ||
        !ContentEq(e, rit->second))
      return false;
    FileStat ds;
    bool changed = false;
    auto k = fs_.Read(to, MaxBytes(), &ds, &changed);
    if (!k.ok() || !DiskEq(*k, rit->second)) return false;
    FileRecord r = rit->second;
    if (r.is_text) r.shadow = *k;
    SetEntry(to, *k, r.is_text);
    (void)files_.Delete(from);
    WriteMark(from, "rename", to);
    WriteMark(to, "write");
    ForgetRecord(from);
    r.size = ds.size, r.mtime_ns = ds.mtime_ns, r.ino = ds.ino;
    SetRecord(to, r);
    return true;
  }

  // A remote rename (a mark "rename" to a path added in the same batch) is
  // done as a rename on disk when both sides still hold what was renamed.
  bool TryRemoteRename(const std::string& from) {
    Any holder;
    const crdt::AnyObject* m = RemoteMark(from, &holder);
    if (!m || files_.Get(from)) return false;
    const Any* op = Field(*m, "op");
    const Any* to_any = Field(*m, "to");
    auto* ops = op ? std::get_if<std::string>(&op->v) : nullptr;
    auto* tos = to_any ? std::get_if<std::string>(&to_any->v) : nullptr;
    if (!ops || *ops != "rename" || !tos || !IsSafeDocKey(*tos) || !remote_entry_.count(*tos))
      return false;
    auto rit = recs_.find(from);
    if (rit == recs_.end() || recs_.count(*tos)) return false;
    Entry e = EntryOf(*tos);
    if (!ContentEq(e, rit->second)) return false;
    FileStat ds;
    bool changed = false;
    auto k = fs_.Read(from, MaxBytes(), &ds, &changed);
    if (!k.ok() || !DiskEq(*k, rit->second) || fs_.Stat(*tos).type != EntryType::kMissing)
      return false;
    ops_.push_back({DiskOp::kRename, from, *tos, {}, rit->second.is_text, ds, true});
    return true;
  }

  // Reconciles `paths` in slices of at most kSlicePaths paths or kSliceBytes
  // of content to write: each slice is one transaction, one store commit and
  // one batch of disk writes, so a first sync of a large folder holds one
  // slice's copies of the notes at a time, not the whole folder's.
  void Reconcile(std::set<std::string> paths) {
    if (stopped_) return;
    doc_->Transact(
        [&] {
          for (const auto& p : std::vector<std::string>(paths.begin(), paths.end())) {
            if (remote_entry_.count(p) && TryRemoteRename(p)) {
              Any holder;
              const crdt::AnyObject* m = RemoteMark(p, &holder);
              if (const Any* to = m ? Field(*m, "to") : nullptr)
                paths.erase(std::get<std::string>(to->v));
              paths.erase(p);
            }
          }
        },
        "local");
    auto next = paths.begin();
    do {
      doc_->Transact(
          [&] {
            size_t n = 0, bytes = 0;
            for (; next != paths.end() && n < kSlicePaths && bytes < kSliceBytes; ++next, ++n) {
              size_t before = ops_.size();
              ReconcilePath(*next);
              for (size_t i = before; i < ops_.size(); ++i) bytes += ops_[i].data.size();
            }
          },
          "local");
      StampLocalClocks();
      Flush();
      RunDiskOps();
    } while (next != paths.end() && !stopped_);
    remote_entry_.clear();
    remote_marks_.clear();
    remote_dirty_.clear();
  }

  void StampLocalClocks() {
    if (touched_.empty()) return;
    auto sv = doc_->StateVector();
    uint64_t mine = sv.count(client_) ? sv[client_] : 0;
    for (const auto& p : touched_) {
      auto it = recs_.find(p);
      if (it != recs_.end() && it->second.local_clock != mine) {
        it->second.local_clock = mine;
        if (auto pf = pending_.files.find(p); pf != pending_.files.end() && pf->second) {
          pf->second->local_clock = mine;
        } else {
          pending_.clocks[p] = mine;
        }
      }
    }
    touched_.clear();
  }

  void RunDiskOps() {
    auto ops = std::move(ops_);
    ops_.clear();
    if (!pending_.updates.empty() || !pending_.files.empty()) {
      // The store did not take the document change: write nothing it would explain.
      for (auto& op : ops) retry_.insert(op.path);
      ArmTimer();
      return;
    }
    // Writes first, as one batch: every temp file durable with one sync,
    // then each checked and renamed, then the folders synced.
    std::vector<RoomFs::Prepared> batch;
    std::vector<DiskOp*> batch_ops;
    for (auto& op : ops) {
      if (op.kind != DiskOp::kWrite) continue;
      RoomFs::Prepared p;
      if (Status s = fs_.Prepare(op.path, op.data, 0644, &p); !s.ok()) {
        OnDiskError(op, s);
        continue;
      }
      batch.push_back(std::move(p));
      batch_ops.push_back(&op);
    }
    if (Status s = fs_.SyncPrepared(batch); !s.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        fs_.Abort(batch[i]);
        OnDiskError(*batch_ops[i], s);
      }
      batch.clear();
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      DiskOp& op = *batch_ops[i];
      FileStat written;
      Status s = fs_.Commit(batch[i], op.expect, &written);
      if (s.ok()) {
        auto it = recs_.find(op.path);
        SetRecord(op.path, MakeRecord(op.data, op.is_text, written,
                                      it == recs_.end() ? nullptr : &it->second));
      } else {
        OnDiskError(op, s);
      }
    }
    fs_.SyncFolders(batch);
    for (auto& op : ops) {
      Status s;
      if (op.kind == DiskOp::kWrite) {
        continue;
      } else if (op.kind == DiskOp::kUnlink) {
        s = fs_.UnlinkChecked(op.path, op.expect);
        if (s.ok()) {
          ForgetRecord(op.path);
          if (op.prune) fs_.PruneEmptyParents(op.path);
        }
      } else {
        s = fs_.RenameChecked(op.path, op.to, op.expect);
        if (s.ok()) {
          FileRecord r = recs_[op.path];
          if (r.is_text) r.shadow = ShadowOf(op.path);
          ForgetRecord(op.path);
          FileStat ns = fs_.Stat(op.to);
          r.size = ns.size, r.mtime_ns = ns.mtime_ns, r.ino = ns.ino;
          SetRecord(op.to, r);
          fs_.PruneEmptyParents(op.path);
        } else {
          dirty_.insert(op.to);
        }
      }
      if (!s.ok()) OnDiskError(op, s);
    }
    Flush();
    if (!dirty_.empty()) Kick();
    if (!retry_.empty()) ArmTimer();
  }

  void OnDiskError(const DiskOp& op, const Status& s) {
    if (s.code() == StatusCode::kAlreadyExists) {
      dirty_.insert(op.path);  // the disk moved on: look again
      if (op.kind == DiskOp::kRename) dirty_.insert(op.to);
      return;
    }
    if (s.sys_errno() == ELOOP || s.sys_errno() == ENOTDIR || s.sys_errno() == EISDIR) {
      // A symlink or a file where the path needs a folder: never followed, not retried.
      Reject(op.path, "the path on disk goes through a symlink or a non-folder");
      return;
    }
    ++st_.errors;
    st_.last_error = s.message();
    if (s.sys_errno() == EROFS) return;  // a read-only mount: the next change tries again
    retry_.insert(op.path);
    if (op.kind == DiskOp::kRename) retry_.insert(op.to);
    log::Warn("disk write failed; will retry",
              {{"room", rc_.room}, {"path", op.path}, {"error", s.message()}});
  }

  void Flush() {
    if (pending_.updates.empty() && pending_.files.empty() && pending_.clocks.empty()) return;
    if (Status s = deps_.store->Commit(rc_.room, pending_); !s.ok()) {
      ++st_.errors;
      st_.last_error = s.message();
      log::Error("store commit failed; will retry", {{"room", rc_.room}, {"error", s.message()}});
      ArmTimer();
      return;
    }
    pending_ = {};
    if (!unsent_.empty()) {
      if (conn_ && conn_->is_open() && sync_) {
        for (const auto& u : unsent_)
          for (const auto& f : sync_->LocalUpdateFrames(u)) (void)conn_->Send(f);
      }
      unsent_.clear();  // otherwise the next sync handshake carries them
    }
    if (++commits_ % 64 == 0 && deps_.store->UpdateCount(rc_.room) > kCompactAfterUpdates) {
      auto state = doc_->EncodeStateAsUpdate();
      if (state.ok()) {
        if (Status s = deps_.store->Compact(rc_.room, *state); !s.ok())
          log::Warn("compaction failed", {{"room", rc_.room}, {"error", s.message()}});
      }
    }
  }

  void FullReconcile() {
    std::set<std::string> all(dirty_.begin(), dirty_.end());
    dirty_.clear();
    for (auto& f : fs_.Scan()) all.insert(f.path);
    for (auto& [p, r] : recs_) all.insert(p);
    for (auto& p : files_.Keys()) all.insert(p);
    for (auto& p : retry_) all.insert(p);
    for (auto& p : busy_) all.insert(p);
    retry_.clear();
    busy_.clear();
    if (deps_.watcher) deps_.watcher->RescanDone();
    rescan_wanted_ = false;
    Reconcile(std::move(all));
    malloc_trim(0);  // a first sync's transient copies are large; give them back
  }

  void ProcessDirty() {
    if (!live_ || stopped_ || expired_) return;
    std::set<std::string> paths = std::move(dirty_);
    dirty_.clear();
    if (paths.empty()) return;
    Reconcile(std::move(paths));
  }

  void Kick() {
    if (!kick_ || uv_is_active(reinterpret_cast<uv_handle_t*>(kick_))) return;
    uv_idle_start(kick_, [](uv_idle_t* h) {
      uv_idle_stop(h);
      static_cast<Room*>(h->data)->ProcessDirty();
    });
  }

  // ---- watcher --------------------------------------------------------------

  void OnWatch(std::vector<WatchEvent> evs) {
    if (stopped_ || expired_) return;
    bool rescan = false;
    std::vector<std::pair<std::string, std::string>> renames;
    for (auto& ev : evs) {
      switch (ev.kind) {
        case WatchEventKind::kRescan:
          rescan = true;
          log::Warn("watcher lost events; rescanning", {{"room", rc_.room}, {"reason", ev.reason}});
          break;
        case WatchEventKind::kRenamed:
          if (ev.is_dir) {
            std::string fp = ev.from + "/", tp = ev.path + "/";
            for (auto& [p, r] : recs_)
              if (p.compare(0, fp.size(), fp) == 0)
                renames.emplace_back(p, tp + p.substr(fp.size()));
            AddSubtree(ev.path);
            AddSubtree(ev.from);
          } else {
            renames.emplace_back(ev.from, ev.path);
          }
          break;
        default:
          if (ev.is_dir || ev.path.empty())
            AddSubtree(ev.path);
          else
            dirty_.insert(ev.path);
      }
    }
    if (!live_) {
      for (auto& [f, t] : renames) dirty_.insert(f), dirty_.insert(t);
      if (rescan) rescan_wanted_ = true;
      return;
    }
    if (!renames.empty()) {
      doc_->Transact(
          [&] {
            for (auto& [f, t] : renames) {
              if (!TryLocalRename(f, t))
                dirty_.insert(f), dirty_.insert(t);
              else
                dirty_.erase(f), dirty_.erase(t);
            }
          },
          "local");
      StampLocalClocks();
      Flush();
    }
    if (rescan) {
      FullReconcile();
    } else {
      ProcessDirty();
    }
  }

  void AddSubtree(const std::string& dir) {
    std::string prefix = dir.empty() ? "" : dir + "/";
    for (auto& [p, r] : recs_)
      if (p.compare(0, prefix.size(), prefix) == 0) dirty_.insert(p);
    for (auto& f : fs_.Scan())
      if (f.path.compare(0, prefix.size(), prefix) == 0) dirty_.insert(f.path);
  }

  // ---- relay ------------------------------------------------------------------

  void Connect() {
    if (stopped_ || expired_ || !deps_.transport) return;
    auto url_or = RoomUrl(dc_.relay.url, rc_.room, token_);
    if (!url_or.ok()) {
      st_.last_error = url_or.status().message();
      log::Error("cannot make the room URL",
                 {{"room", rc_.room}, {"error", url_or.status().message()}});
      return;
    }
    std::string url = *url_or;
    ConnectionCallbacks cb;
    uint64_t gen = ++conn_gen_;
    cb.on_open = [this, gen] {
      if (gen == conn_gen_) OnOpen();
    };
    cb.on_message = [this, gen](std::span<const uint8_t> m) {
      if (gen == conn_gen_) OnMessage(m);
    };
    cb.on_close = [this, gen](const std::string& why) {
      if (gen == conn_gen_) OnClose(why);
    };
    auto c = deps_.transport->Connect(url, std::move(cb));
    if (!c.ok()) {
      OnClose(c.status().message());
      return;
    }
    conn_ = std::move(*c);
  }

  void OnOpen() {
    st_.connected = true;
    attempt_ = 0;
    // A read-only session sends SyncStep1 and nothing else (no SyncStep2
    // answer, no updates), whatever the room's document does locally.
    sync_ = std::make_unique<crdt::SyncSession>(*doc_, nullptr,
                                                crdt::SyncOptions{.read_only = rc_.read_only});
    for (const auto& f : sync_->Start()) (void)conn_->Send(f);
    log::Info("room connected", {{"room", rc_.room}});
  }

  void OnMessage(std::span<const uint8_t> frame) {
    if (!sync_ || expired_ || stopped_) return;
    bool was_synced = sync_->synced();
    auto out = sync_->Receive(frame, NowMs());
    if (!out.ok()) {
      ++st_.malformed;
      log::Warn("dropped a malformed frame",
                {{"room", rc_.room}, {"bytes", frame.size()}, {"error", out.status().message()}});
      return;
    }
    st_.updates_received = sync_->updates_received() + updates_before_;
    if (doc_->HasPending() && !pending_.updates.empty()) {
      // Keep structs that wait for missing ones too, so a restart has them.
      if (auto full = doc_->EncodeStateAsUpdate(); full.ok()) pending_.updates.push_back(*full);
    }
    if (conn_) {
      for (const auto& f : *out) (void)conn_->Send(f);
    }
    if (sync_->synced()) st_.last_sync = deps_.clock->Now();
    if (!was_synced && sync_->synced()) {
      st_.synced = true;
      offline_changes_ = 0;
      live_ = true;
      log::Info("room synced", {{"room", rc_.room}});
      EnsureSchema();
      FullReconcile();
      return;
    }
    Flush();  // remote updates are committed before anything is acted on
    if (live_ && !remote_dirty_.empty()) {
      std::set<std::string> paths = std::move(remote_dirty_);
      for (auto& p : dirty_) paths.insert(p);
      dirty_.clear();
      Reconcile(std::move(paths));
    }
  }

  void EnsureSchema() {
    auto s = meta_.Get("schema");
    if (!s) {
      if (!rc_.read_only)
        doc_->Transact([&] { (void)meta_.Set("schema", Any(kSchemaName)); }, "local");
      return;
    }
    if (s->is_type() || !std::holds_alternative<std::string>(s->any().v) ||
        std::get<std::string>(s->any().v) != kSchemaName) {
      log::Warn("room document has another schema", {{"room", rc_.room}});
    }
  }

  void OnClose(const std::string& why) {
    bool was = st_.connected;
    st_.connected = false;
    st_.synced = false;
    if (sync_) updates_before_ += sync_->updates_received();
    sync_.reset();
    if (conn_) graveyard_.push_back(std::move(conn_));
    if (stopped_ || expired_) return;
    ++st_.reconnects;
    int delay = static_cast<int>(
        BackoffDelayMs(attempt_++, 250, 30000, std::uniform_real_distribution<double>(0, 1)(rng_)));
    if (was)
      log::Warn("room disconnected", {{"room", rc_.room}, {"reason", why}, {"retry_ms", delay}});
    else
      log::Debug("room connect failed", {{"room", rc_.room}, {"reason", why}, {"retry_ms", delay}});
    uv_timer_start(
        reconnect_timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Room*>(t->data);
          self->graveyard_.clear();
          self->Connect();
        },
        static_cast<uint64_t>(delay), 0);
  }

  // ---- timers -----------------------------------------------------------------

  void ArmTimer() {
    if (!timer_ || stopped_) return;
    uint64_t due = UINT64_MAX;
    if (!retry_.empty() || !pending_.updates.empty() || !pending_.files.empty()) due = 1000;
    // A writer's close is reported (IN_CLOSE_WRITE) a moment before the
    // kernel drops its write access, so a read right after it may still find
    // the file "being written": look again after 1 ms, then 10 ms, then every
    // 50 ms while an editor keeps it open.
    if (!busy_.empty())
      due = std::min<uint64_t>(due, busy_rounds_ == 0 ? 1 : busy_rounds_ < 4 ? 10 : 50);
    if (deps_.watcher && deps_.watcher->health().degraded) due = std::min<uint64_t>(due, 5000);
    if (rc_.expires_at && !expired_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*rc_.expires_at -
                                                                        deps_.clock->Now())
                      .count();
      due = std::min<uint64_t>(due, left < 0 ? 0 : static_cast<uint64_t>(left) + 1);
    }
    if (due == UINT64_MAX) return;
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<Room*>(t->data)->OnTimer(); }, due, 0);
  }

  void OnTimer() {
    if (stopped_) return;
    if (rc_.expires_at && deps_.clock->Now() >= *rc_.expires_at) return Expire();
    Flush();
    if (live_) {
      if (deps_.watcher && deps_.watcher->health().degraded) {
        FullReconcile();
      } else if (!retry_.empty() || !busy_.empty()) {
        busy_rounds_ = busy_.empty() ? 0 : busy_rounds_ + 1;
        for (auto& p : retry_) dirty_.insert(p);
        for (auto& p : busy_) dirty_.insert(p);
        retry_.clear();
        busy_.clear();
        ProcessDirty();
        if (busy_.empty()) busy_rounds_ = 0;
      }
    }
    ArmTimer();
  }

  void Expire() {
    expired_ = true;
    st_.expired = true;
    st_.connected = false;
    st_.synced = false;
    Flush();
    if (deps_.watcher) deps_.watcher->Stop();
    ++conn_gen_;  // nothing of the old connection reaches the room any more
    sync_.reset();
    if (conn_) {
      conn_->Close();
      graveyard_.push_back(std::move(conn_));
    }
    if (reconnect_timer_) uv_timer_stop(reconnect_timer_);
    log::Warn("room access expired; stopped syncing", {{"room", rc_.room}});
  }

  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               deps_.clock->Monotonic().time_since_epoch())
        .count();
  }

  DaemonConfig dc_;
  RoomConfig rc_;
  std::string token_;
  RoomDeps deps_;
  RoomFs fs_;
  uint64_t client_ = 0;
  std::unique_ptr<crdt::Doc> doc_;
  crdt::MapRef files_, marks_, meta_;
  int handler_ = -1;
  std::map<std::string, FileRecord> recs_;
  RoomCommit pending_;
  std::vector<Bytes> unsent_;
  std::vector<DiskOp> ops_;
  std::set<std::string> dirty_, retry_, busy_, touched_;
  int busy_rounds_ = 0;  // timer rounds in a row that found some file still being written
  std::set<std::string> remote_entry_, remote_marks_, remote_dirty_;
  std::set<std::string> rejected_logged_, too_large_logged_;
  std::unique_ptr<Connection> conn_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::unique_ptr<crdt::SyncSession> sync_;
  uint64_t conn_gen_ = 0;
  int attempt_ = 0;
  uint64_t commits_ = 0;
  uint64_t offline_changes_ = 0;
  uint64_t updates_before_ = 0;  // updates received on earlier connections
  bool started_ = false, stopped_ = false, live_ = false, expired_ = false, rescan_wanted_ = false;
  uv_timer_t* timer_ = nullptr;
  uv_timer_t* reconnect_timer_ = nullptr;
  uv_idle_t* kick_ = nullptr;
  std::mt19937_64 rng_;
  RoomStatus st_;
};

}  // namespace

std::unique_ptr<RoomSession> NewRoomSession(const DaemonConfig& daemon, const RoomConfig& room,
                                            std::string token, RoomDeps deps) {
  return std::make_unique<Room>(daemon, room, std::move(token), std::move(deps));
}

}  // namespace vaultd::daemon
