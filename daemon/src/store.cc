#include "vaultd/daemon/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace vaultd::daemon {
namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS room_updates(
  room TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(room, seq));
CREATE TABLE IF NOT EXISTS files(
  room TEXT NOT NULL, path TEXT NOT NULL, is_text INTEGER NOT NULL, shadow BLOB,
  hash TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,
  local_clock INTEGER NOT NULL, PRIMARY KEY(room, path));
)sql";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void Text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob64(s_, i, n ? p : "", n, SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int Step() { return sqlite3_step(s_); }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string ColText(int i) {
    auto* p = sqlite3_column_blob(s_, i);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(s_, i))
             : std::string();
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override {
    if (db_) sqlite3_close_v2(db_);
  }

  Status Init(const std::string& state_dir) {
    path_ = state_dir + "/vaultd.db";
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Err("open");
    sqlite3_busy_timeout(db_, 2000);
    if (Status s = Exec("PRAGMA journal_mode=WAL"); !s.ok()) return s;
    if (Status s = Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = Exec(kSchema);
    if (s.ok()) s = LoadMeta();
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  uint64_t client_id() const override { return client_id_; }

  Status ForEachUpdate(const std::string& room,
                       const std::function<Status(std::span<const uint8_t>)>& fn) override {
    Stmt q(db_, "SELECT data FROM room_updates WHERE room=? ORDER BY seq");
    if (!q.ok()) return Err("prepare");
    q.Text(1, room);
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(q.get(), 0));
      VAULTD_RETURN_IF_ERROR(fn({p, static_cast<size_t>(sqlite3_column_bytes(q.get(), 0))}));
    }
    if (rc != SQLITE_DONE) return Err("reading updates of room " + room);
    return Status::Ok();
  }

  Result<std::map<std::string, FileRecord>> LoadFiles(const std::string& room) override {
    Stmt q(db_,
           "SELECT path,is_text,NULL,hash,size,mtime_ns,ino,local_clock FROM files WHERE room=?");
    if (!q.ok()) return Err("prepare");
    q.Text(1, room);
    std::map<std::string, FileRecord> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      FileRecord r;
      r.is_text = q.ColInt(1) != 0;
      r.shadow = q.ColText(2);
      r.hash = q.ColText(3);
      r.size = static_cast<uint64_t>(q.ColInt(4));
      r.mtime_ns = q.ColInt(5);
      r.ino = static_cast<uint64_t>(q.ColInt(6));
      r.local_clock = static_cast<uint64_t>(q.ColInt(7));
      out.emplace(q.ColText(0), std::move(r));
    }
    if (rc != SQLITE_DONE) return Err("reading files of room " + room);
    return out;
  }

  Result<std::string> LoadShadow(const std::string& room, const std::string& path) override {
    Stmt q(db_, "SELECT shadow FROM files WHERE room=? AND path=?");
    if (!q.ok()) return Err("prepare");
    q.Text(1, room);
    q.Text(2, path);
    int rc = q.Step();
    if (rc == SQLITE_ROW) return q.ColText(0);
    if (rc == SQLITE_DONE) return std::string();
    return Err("reading the shadow of " + path);
  }

  Status Commit(const std::string& room, const RoomCommit& c) override {
    if (c.updates.empty() && c.files.empty() && c.clocks.empty()) return Status::Ok();
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = WriteCommit(room, c);
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Status Compact(const std::string& room, const Bytes& state) override {
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Stmt del(db_, "DELETE FROM room_updates WHERE room=?");
    del.Text(1, room);
    Status s = del.Step() == SQLITE_DONE ? Status::Ok() : Err("compacting room " + room);
    if (s.ok()) s = Append(room, state);
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  uint64_t UpdateCount(const std::string& room) override {
    return static_cast<uint64_t>(Scalar("SELECT count(*) FROM room_updates WHERE room=?", room));
  }
  uint64_t UpdateBytes(const std::string& room) override {
    return static_cast<uint64_t>(
        Scalar("SELECT coalesce(sum(length(data)),0) FROM room_updates WHERE room=?", room));
  }

  Status DropRoom(const std::string& room) override {
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Stmt a(db_, "DELETE FROM room_updates WHERE room=?");
    Stmt b(db_, "DELETE FROM files WHERE room=?");
    a.Text(1, room);
    b.Text(1, room);
    if (a.Step() != SQLITE_DONE || b.Step() != SQLITE_DONE) {
      Status s = Err("dropping room " + room);
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

 private:
  Status Exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return Status::IoError(path_ + ": " + m);
    }
    return Status::Ok();
  }
  Status Err(const std::string& what) {
    return Status::IoError(path_ + ": " + what + ": " +
                           (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  int64_t Scalar(const char* sql, const std::string& room) {
    Stmt q(db_, sql);
    q.Text(1, room);
    return q.Step() == SQLITE_ROW ? q.ColInt(0) : 0;
  }

  Status LoadMeta() {
    Stmt q(db_, "SELECT key, value FROM meta");
    std::string version, client;
    while (q.Step() == SQLITE_ROW) {
      std::string k = q.ColText(0);
      if (k == "schema") version = q.ColText(1);
      if (k == "client_id") client = q.ColText(1);
    }
    if (!version.empty() && version != std::to_string(kSchemaVersion)) {
      return Status::Corruption(path_ + ": store schema " + version + ", this vaultd reads " +
                                std::to_string(kSchemaVersion));
    }
    if (!client.empty()) {
      client_id_ = std::stoull(client);
      return Status::Ok();
    }
    // Yjs draws 32-bit ids (uint32); keep in that range so JS clients agree.
    uint32_t id = 0;
    while (id == 0) {
      if (getrandom(&id, sizeof id, 0) != sizeof id) return Status::FromErrno(errno, "getrandom");
    }
    client_id_ = id;
    Stmt ins(db_, "INSERT OR REPLACE INTO meta(key,value) VALUES(?,?)");
    ins.Text(1, "schema");
    ins.Text(2, std::to_string(kSchemaVersion));
    if (ins.Step() != SQLITE_DONE) return Err("writing meta");
    ins.Reset();
    ins.Text(1, "client_id");
    ins.Text(2, std::to_string(client_id_));
    if (ins.Step() != SQLITE_DONE) return Err("writing meta");
    return Status::Ok();
  }

  Status Append(const std::string& room, const Bytes& data) {
    Stmt ins(db_,
             "INSERT INTO room_updates(room,seq,data) VALUES(?1,"
             "(SELECT coalesce(max(seq),0)+1 FROM room_updates WHERE room=?1),?2)");
    ins.Text(1, room);
    ins.Blob(2, data.data(), data.size());
    if (ins.Step() != SQLITE_DONE) return Err("appending an update to room " + room);
    return Status::Ok();
  }

  Status WriteCommit(const std::string& room, const RoomCommit& c) {
    for (const auto& u : c.updates) {
      if (Status s = Append(room, u); !s.ok()) return s;
    }
    Stmt up(
        db_,
        "INSERT OR REPLACE INTO files(room,path,is_text,shadow,hash,size,mtime_ns,ino,local_clock)"
        " VALUES(?,?,?,?,?,?,?,?,?)");
    Stmt del(db_, "DELETE FROM files WHERE room=? AND path=?");
    for (const auto& [path, rec] : c.files) {
      if (rec) {
        up.Reset();
        up.Text(1, room);
        up.Text(2, path);
        up.Int(3, rec->is_text ? 1 : 0);
        up.Blob(4, rec->shadow.data(), rec->shadow.size());
        up.Text(5, rec->hash);
        up.Int(6, static_cast<int64_t>(rec->size));
        up.Int(7, rec->mtime_ns);
        up.Int(8, static_cast<int64_t>(rec->ino));
        up.Int(9, static_cast<int64_t>(rec->local_clock));
        if (up.Step() != SQLITE_DONE) return Err("writing file record " + path);
      } else {
        del.Reset();
        del.Text(1, room);
        del.Text(2, path);
        if (del.Step() != SQLITE_DONE) return Err("removing file record " + path);
      }
    }
    Stmt clk(db_, "UPDATE files SET local_clock=? WHERE room=? AND path=?");
    for (const auto& [path, clock] : c.clocks) {
      clk.Reset();
      clk.Int(1, static_cast<int64_t>(clock));
      clk.Text(2, room);
      clk.Text(3, path);
      if (clk.Step() != SQLITE_DONE) return Err("writing the clock of " + path);
    }
    return Status::Ok();
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  uint64_t client_id_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& state_dir) {
  auto s = std::make_unique<SqliteStore>();
  if (Status st = s->Init(state_dir); !st.ok()) return st;
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace vaultd::daemon
