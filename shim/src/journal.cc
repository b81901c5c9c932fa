#include "journal.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>

namespace vaultd::move::internal {

namespace {
constexpr const char kRecordMagic[] = "vaultd-move-journal 1";
constexpr const char kEntriesMagic[] = "vaultd-move-entries 1";

// Seals `b` with its checksum line and writes it as <journal>/<id><suffix>.
int WriteSealed(const char* journal_dir, const char* id, const char* suffix, Buf* b) {
  uint64_t h = Fnv1a64(b->data, b->len);
  b->Append("checksum ");
  b->AppendHex64(h);
  b->AppendChar('\n');
  if (!b->ok) return -ENOMEM;
  char name[128];
  snprintf(name, sizeof name, "%s%s", id, suffix);
  return WriteFileDurable(journal_dir, name, b->data, b->len);
}

// Verifies and strips the trailing "checksum <hex>\n" line. Returns the body
// length or -1.
long CheckChecksum(char* text, const char** why) {
  size_t n = strlen(text);
  if (n == 0 || text[n - 1] != '\n') {
    *why = "truncated (no final newline)";
    return -1;
  }
  char* last = nullptr;
  for (char* p = text + n - 1; p > text; --p) {
    if (p[-1] == '\n') {
      last = p;
      break;
    }
  }
  if (!last || strncmp(last, "checksum ", 9) != 0) {
    *why = "no checksum line";
    return -1;
  }
  uint64_t want = strtoull(last + 9, nullptr, 16);
  uint64_t got = Fnv1a64(text, static_cast<size_t>(last - text));
  if (want != got) {
    *why = "checksum mismatch";
    return -1;
  }
  *last = '\0';
  return last - text;
}

bool ParseI64(const char* s, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s) return false;
  *out = v;
  return true;
}

// Splits "key value..." lines; returns next line start.
char* NextLine(char* p) {
  char* nl = strchr(p, '\n');
  if (!nl) return nullptr;
  *nl = '\0';
  return nl + 1;
}

// Checks the checksum and the first line; returns the first body line or null.
char* OpenSealed(char* text, const char* magic, const char** why) {
  if (CheckChecksum(text, why) < 0) return nullptr;
  char* next = NextLine(text);
  if (!next || strcmp(text, magic) != 0) {
    *why = "unknown format or version";
    return nullptr;
  }
  return next;
}

// "a/b.md" yes; "", "/a", "a//b", "./a", "a/../b" no ("v1..2.md" is a fine name).
bool IsSafeRelative(const char* rel) {
  if (*rel == '\0') return false;
  for (const char* p = rel;;) {
    const char* slash = strchr(p, '/');
    size_t n = slash ? static_cast<size_t>(slash - p) : strlen(p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return false;
    if (!slash) return true;
    p = slash + 1;
  }
}

bool CopyPath(char* value, char* out, size_t size) {
  if (!Unescape(value)) return false;
  size_t n = strlen(value);
  if (n == 0 || n >= size || value[0] != '/') return false;
  memcpy(out, value, n + 1);
  return true;
}

std::atomic<unsigned> g_counter{0};
}  // namespace

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kPrepared:
      return "prepared";
    case Phase::kCopied:
      return "copied";
    case Phase::kCommitted:
      return "committed";
  }
  return "?";
}

char KindOf(uint32_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  return 'o';
}

bool Tree::Add(Entry e, const char* rel) {
  if (names.len > UINT32_MAX - PATH_MAX) return false;
  e.rel_off = static_cast<uint32_t>(names.len);
  names.Append(rel, strlen(rel) + 1);
  return names.ok && entries.Push(e);
}

int WriteRecord(const char* journal_dir, const Record& r) {
  Buf b;
  char text[512];
  snprintf(text, sizeof text, "%s\nid %s\nphase %s\nkind %c\nflags %u", kRecordMagic, r.id,
           PhaseName(r.phase), r.kind, r.flags);
  b.Append(text);
  const struct {
    const char* key;
    const char* path;
  } paths[] = {{"src", r.src}, {"dst", r.dst}, {"tmp", r.tmp}};
  for (const auto& p : paths) {
    b.AppendChar('\n');
    b.Append(p.key);
    b.AppendChar(' ');
    b.AppendEscaped(p.path);
  }
  const Entry& s = r.src_id;
  using ull = unsigned long long;
  snprintf(text, sizeof text,
           "\nsrc_id %llu %llu %llu %u %u %lld %lld\ndst_existed %d\ntmp_ino %llu\nentries %ld"
           "\nstarted %lld\n",
           static_cast<ull>(s.dev), static_cast<ull>(s.ino), static_cast<ull>(s.size), s.nlink,
           s.mode, static_cast<long long>(s.mtime_ns), static_cast<long long>(s.ctime_ns),
           r.dst_existed ? 1 : 0, static_cast<ull>(r.tmp_ino), r.entry_count,
           static_cast<long long>(r.started_ns));
  b.Append(text);
  return WriteSealed(journal_dir, r.id, ".move", &b);
}

bool ParseRecord(char* text, Record* r, const char** why) {
  char* next = OpenSealed(text, kRecordMagic, why);
  if (!next) return false;
  unsigned seen = 0;
  for (char* line = next; line && *line; line = next) {
    next = NextLine(line);
    if (!next) break;
    char* value = strchr(line, ' ');
    if (!value) {
      *why = "malformed line";
      return false;
    }
    *value++ = '\0';
    int64_t v = 0;
    if (strcmp(line, "id") == 0) {
      if (strlen(value) >= sizeof r->id || strspn(value, "0123456789abcdef-") != strlen(value)) {
        *why = "bad id";
        return false;
      }
      strcpy(r->id, value);
      seen |= 1;
    } else if (strcmp(line, "phase") == 0) {
      bool ok = false;
      for (int p = 0; p <= 2; ++p) {
        if (strcmp(value, PhaseName(static_cast<Phase>(p))) == 0) {
          r->phase = static_cast<Phase>(p);
          ok = true;
        }
      }
      if (!ok) {
        *why = "unknown phase";
        return false;
      }
      seen |= 2;
    } else if (strcmp(line, "kind") == 0) {
      if (strlen(value) != 1 || !strchr("fdlo", value[0])) {
        *why = "bad kind";
        return false;
      }
      r->kind = value[0];
      seen |= 4;
    } else if (strcmp(line, "flags") == 0) {
      if (!ParseI64(value, &v)) return *why = "bad flags", false;
      r->flags = static_cast<unsigned>(v);
    } else if (strcmp(line, "src") == 0) {
      if (!CopyPath(value, r->src, sizeof r->src)) return *why = "bad src path", false;
      seen |= 8;
    } else if (strcmp(line, "dst") == 0) {
      if (!CopyPath(value, r->dst, sizeof r->dst)) return *why = "bad dst path", false;
      seen |= 16;
    } else if (strcmp(line, "tmp") == 0) {
      if (!CopyPath(value, r->tmp, sizeof r->tmp)) return *why = "bad tmp path", false;
      seen |= 32;
    } else if (strcmp(line, "src_id") == 0) {
      unsigned long long dev, ino, size, nlink, mode;
      long long mt, ct;
      if (sscanf(value, "%llu %llu %llu %llu %llu %lld %lld", &dev, &ino, &size, &nlink, &mode, &mt,
                 &ct) != 7) {
        *why = "bad src_id";
        return false;
      }
      r->src_id.dev = dev;
      r->src_id.ino = ino;
      r->src_id.size = size;
      r->src_id.nlink = static_cast<uint32_t>(nlink);
      r->src_id.mode = static_cast<uint32_t>(mode);
      r->src_id.mtime_ns = mt;
      r->src_id.ctime_ns = ct;
      seen |= 64;
    } else if (strcmp(line, "dst_existed") == 0) {
      if (!ParseI64(value, &v)) return *why = "bad dst_existed", false;
      r->dst_existed = v != 0;
    } else if (strcmp(line, "tmp_ino") == 0) {
      if (!ParseI64(value, &v)) return *why = "bad tmp_ino", false;
      r->tmp_ino = static_cast<uint64_t>(v);
    } else if (strcmp(line, "entries") == 0) {
      if (!ParseI64(value, &v)) return *why = "bad entries", false;
      r->entry_count = static_cast<long>(v);
    } else if (strcmp(line, "started") == 0) {
      if (!ParseI64(value, &v)) return *why = "bad started", false;
      r->started_ns = v;
    }
    // Unknown keys are ignored: later minor additions stay readable.
  }
  if (seen != 127) {
    *why = "missing required fields";
    return false;
  }
  // The temp name must be ours for this id: recovery deletes it.
  char want[128];
  snprintf(want, sizeof want, "/.vaultd-move-%s.tmp", r->id);
  size_t tl = strlen(r->tmp), wl = strlen(want);
  if (tl < wl || strcmp(r->tmp + tl - wl, want) != 0) {
    *why = "temp path is not this move's temp name";
    return false;
  }
  // ... and it must sit in the destination's folder, where the mover put it.
  size_t dl = strlen(r->dst);
  while (dl > 1 && r->dst[dl - 1] == '/') --dl;
  while (dl > 0 && r->dst[dl - 1] != '/') --dl;  // dl: length of the parent with its '/'
  // The mover writes "<parent>/.vaultd-move-ID.tmp", and "/.vaultd-move-ID.tmp" for the root.
  size_t parent_len = dl > 1 ? dl - 1 : 0;  // "/a/b/c" -> "/a/b"; "/c" -> ""
  if (dl == 0 || tl - wl != parent_len || strncmp(r->tmp, r->dst, parent_len) != 0) {
    *why = "temp path is not in the destination's folder";
    return false;
  }
  return true;
}

int WriteEntries(const char* journal_dir, const char* id, const Tree& t) {
  Buf b;
  b.Append(kEntriesMagic);
  b.AppendChar('\n');
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& e = t.entries[i];
    b.AppendChar(KindOf(e.mode));
    uint64_t nums[] = {e.ino, e.size, e.nlink};
    for (uint64_t v : nums) {
      b.AppendChar(' ');
      b.AppendU64(v);
    }
    b.AppendChar(' ');
    b.AppendI64(e.mtime_ns);
    b.AppendChar(' ');
    b.AppendI64(e.ctime_ns);
    b.AppendChar(' ');
    const char* rel = t.Rel(e);
    if (*rel) {
      b.AppendEscaped(rel);
    } else {
      b.AppendChar('.');
    }
    b.AppendChar('\n');
  }
  return WriteSealed(journal_dir, id, ".entries", &b);
}

bool ParseEntries(char* text, Tree* t, const char** why) {
  char* next = OpenSealed(text, kEntriesMagic, why);
  if (!next) return false;
  for (char* line = next; line && *line; line = next) {
    next = NextLine(line);
    if (!next) break;
    char kind;
    unsigned long long ino, size, nlink;
    long long mt, ct;
    int consumed = 0;
    if (sscanf(line, "%c %llu %llu %llu %lld %lld %n", &kind, &ino, &size, &nlink, &mt, &ct,
               &consumed) != 6 ||
        consumed == 0) {
      *why = "malformed entry line";
      return false;
    }
    char* rel = line + consumed;
    if (strcmp(rel, ".") == 0) {
      rel[0] = '\0';
    } else if (!Unescape(rel) || !IsSafeRelative(rel)) {
      *why = "bad entry path";
      return false;
    }
    Entry e;
    e.mode = kind == 'f' ? S_IFREG : kind == 'd' ? S_IFDIR : kind == 'l' ? S_IFLNK : 0;
    e.ino = ino;
    e.size = size;
    e.nlink = static_cast<uint32_t>(nlink);
    e.mtime_ns = mt;
    e.ctime_ns = ct;
    if (!t->Add(e, rel)) {
      *why = "out of memory";
      return false;
    }
  }
  return true;
}

int StatEntry(const char* path, Entry* e) {
  struct statx sx;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, &sx) !=
      0) {
    return -errno;
  }
  e->mode = sx.stx_mode;
  e->uid = sx.stx_uid;
  e->gid = sx.stx_gid;
  e->nlink = sx.stx_nlink;
  e->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  e->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  e->ino = sx.stx_ino;
  e->size = sx.stx_size;
  e->atime_ns = ToNs(sx.stx_atime);
  e->mtime_ns = ToNs(sx.stx_mtime);
  e->ctime_ns = ToNs(sx.stx_ctime);
  e->mount_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                  (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
  return 0;
}

bool SameObject(const Entry& snap, const Entry& now, bool relaxed_ctime) {
  if (snap.ino != now.ino || KindOf(snap.mode) != KindOf(now.mode)) return false;
  if (S_ISDIR(snap.mode)) return true;  // rmdir decides: it fails on anything new inside
  if (snap.size != now.size || snap.mtime_ns != now.mtime_ns) return false;
  if (snap.ctime_ns == now.ctime_ns) return true;
  return relaxed_ctime && snap.nlink > 1 && now.nlink < snap.nlink;
}

namespace {
int EntryPath(char* out, const char* root, const char* rel) {
  int n = *rel ? snprintf(out, PATH_MAX, "%s/%s", root, rel) : snprintf(out, PATH_MAX, "%s", root);
  return n >= PATH_MAX ? -ENAMETOOLONG : 0;
}
}  // namespace

int DeleteSource(const char* root, const Tree& t, CrashSeam* seam, long* kept) {
  char path[PATH_MAX];
  *kept = 0;
  // rename(2) moves a tree whose inner directories are read-only; deleting
  // its copy-source needs them writable. Such directories (ours, unchanged)
  // get u+wx first, and their old mode back if they have to stay.
  uint32_t* restore = static_cast<uint32_t*>(calloc(t.entries.size, sizeof(uint32_t)));
  if (!restore) return -ENOMEM;
  for (size_t k = 0; k < t.entries.size; ++k) {
    const Entry& e = t.entries[k];
    Entry now;
    if (!S_ISDIR(e.mode) || EntryPath(path, root, t.Rel(e)) != 0) continue;
    if (faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) == 0) continue;
    if (StatEntry(path, &now) == 0 && SameObject(e, now, true) &&
        chmod(path, (now.mode | S_IWUSR | S_IXUSR) & 07777) == 0) {
      restore[k] = (now.mode & 07777) | 0x80000000u;
    }
  }
  for (size_t k = t.entries.size; k-- > 0;) {
    const Entry& e = t.entries[k];
    if (EntryPath(path, root, t.Rel(e)) != 0) {
      ++*kept;
      continue;
    }
    Entry now;
    int r = StatEntry(path, &now);
    if (r == -ENOENT) continue;  // already gone (an earlier, interrupted attempt)
    if (r != 0 || !SameObject(e, now, true)) {
      ++*kept;
      continue;
    }
    if (S_ISDIR(e.mode)) {
      if (rmdir(path) != 0 && errno != ENOENT) {
        ++*kept;
        if (restore[k]) chmod(path, restore[k] & 07777);
      }
    } else if (unlink(path) != 0 && errno != ENOENT) {
      ++*kept;
    }
    if (seam) seam->Step("delete");
  }
  free(restore);
  return 0;
}

int MoveId(char* out, size_t size) {
  uint64_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rnd = static_cast<uint64_t>(ts.tv_nsec) * 0x9e3779b97f4a7c15ull ^
          static_cast<uint64_t>(ts.tv_sec);
  }
  unsigned c = g_counter.fetch_add(1, std::memory_order_relaxed);
  int n = snprintf(out, size, "%x-%lx-%x-%016llx", static_cast<unsigned>(getpid()),
                   static_cast<long>(syscall(SYS_gettid)), c, static_cast<unsigned long long>(rnd));
  return n > 0 && static_cast<size_t>(n) < size ? 0 : -ENAMETOOLONG;
}

}  // namespace vaultd::move::internal
