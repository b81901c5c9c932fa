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
constexpr const char kRecordMagic[] = "vaultd-move-journal 2";
constexpr const char kEntriesMagic[] = "vaultd-move-entries 1";

int WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Appends the checksum line over everything in `b`.
void Seal(Buf* b) {
  uint64_t h = Fnv1a64(b->data, b->len);
  b->Append("checksum ");
  b->AppendHex64(h);
  b->AppendChar('\n');
}

// Creates <journal>/<id><suffix> holding `b`, durably: the file is fsynced,
// then the directory. With `staging` (the record), the file is written under
// <id><staging> first and renamed to its name after its fsync: a crash before
// that leaves only the staging name, which recovery can drop without doubt
// (nothing was ever done on the strength of it), while any damage to a file
// under the final name happened after it was complete. Without (the entries
// list, read only for a record in phase copied), it is created under its
// name. On success *keep_fd (if given) is the open file.
int CreateFileDurably(const char* journal_dir, const char* id, const char* suffix,
                      const char* staging, const Buf& b, int* keep_fd) {
  char path[PATH_MAX], staged[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s%s", journal_dir, id, suffix) >= PATH_MAX ||
      snprintf(staged, sizeof staged, "%s/%s%s", journal_dir, id, staging ? staging : suffix) >=
          PATH_MAX) {
    return -ENAMETOOLONG;
  }
  if (!FitsFileSizeLimit(b.len + 256)) return -EFBIG;  // 256: room for the phase lines
  int fd = open(staged, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  int r = WriteAll(fd, b.data, b.len);
  if (r == 0 && fsync(fd) != 0) r = -errno;
  // The id is unique: nothing is under the final name.
  if (r == 0 && staging) r = SysRenameat2(AT_FDCWD, staged, AT_FDCWD, path, 0);
  if (r == 0) r = FsyncDir(journal_dir);
  if (r != 0 || !keep_fd) {
    close(fd);
    if (r != 0) {
      unlink(staged);
      if (staging) unlink(path);
    }
    return r;
  }
  *keep_fd = fd;
  return 0;
}

// Checks one sealed block: `text` (NUL-terminated, `n` bytes) whose last
// line is "checksum <hex>\n" over every byte before that line. Returns the
// body length (the checksum line cut off) or -1.
long CheckSealed(char* text, size_t n, const char** why) {
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
  char* end = nullptr;
  uint64_t want = strtoull(last + 9, &end, 16);
  uint64_t got = Fnv1a64(text, static_cast<size_t>(last - text));
  if (end != text + n - 1 || want != got) {
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

// Checks a sealed block and its first line; returns the first body line or null.
char* OpenSealed(char* text, size_t n, const char* magic, const char** why) {
  if (CheckSealed(text, n, why) < 0) return nullptr;
  char* next = NextLine(text);
  if (!next || strcmp(text, magic) != 0) {
    *why = "unknown format or version";
    return nullptr;
  }
  return next;
}

// Finds the end of the first block: just past the first line that starts
// with "checksum " and ends with a newline. 0 when there is none.
size_t FirstBlockEnd(const char* text, size_t n) {
  for (size_t line = 0; line < n;) {
    const char* nl = static_cast<const char*>(memchr(text + line, '\n', n - line));
    if (!nl) return 0;
    size_t next = static_cast<size_t>(nl - text) + 1;
    if (n - line >= 9 && strncmp(text + line, "checksum ", 9) == 0) return next;
    line = next;
  }
  return 0;
}

// One appended phase line, without its newline: "phase NAME tmp_ino N checksum H".
bool ParsePhaseLine(char* line, Phase* phase, uint64_t* tmp_ino) {
  char* sum = strstr(line, " checksum ");
  if (!sum) return false;
  char* end = nullptr;
  uint64_t want = strtoull(sum + 10, &end, 16);
  if (end == sum + 10 || *end != '\0' || want != Fnv1a64(line, static_cast<size_t>(sum - line))) {
    return false;
  }
  *sum = '\0';
  char name[16];
  unsigned long long ino = 0;
  int consumed = 0;
  if (sscanf(line, "phase %15s tmp_ino %llu%n", name, &ino, &consumed) != 2 ||
      line[consumed] != '\0') {
    return false;
  }
  for (int p = 0; p <= 1; ++p) {
    if (strcmp(name, PhaseName(static_cast<Phase>(p))) == 0) {
      *phase = static_cast<Phase>(p);
      *tmp_ino = ino;
      return true;
    }
  }
  return false;
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

// "dev ino size nlink mode mtime_ns ctime_ns", the src_id line's value.
bool ParseSrcId(const char* value, Entry* e) {
  unsigned long long dev, ino, size, nlink, mode;
  long long mt, ct;
  if (sscanf(value, "%llu %llu %llu %llu %llu %lld %lld", &dev, &ino, &size, &nlink, &mode, &mt,
             &ct) != 7) {
    return false;
  }
  e->dev = dev;
  e->ino = ino;
  e->size = size;
  e->nlink = static_cast<uint32_t>(nlink);
  e->mode = static_cast<uint32_t>(mode);
  e->mtime_ns = mt;
  e->ctime_ns = ct;
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
  }
  return "?";
}

bool FormatRecord(const Record& r, Buf* out) {
  Buf& b = *out;
  b.Clear();
  char text[512];
  snprintf(text, sizeof text, "%s\nid %s\nkind %c\nflags %u", kRecordMagic, r.id, r.kind, r.flags);
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
           "\nsrc_id %llu %llu %llu %u %u %lld %lld\ndst_existed %d\nentries %ld\nstarted %lld\n",
           static_cast<ull>(s.dev), static_cast<ull>(s.ino), static_cast<ull>(s.size), s.nlink,
           s.mode, static_cast<long long>(s.mtime_ns), static_cast<long long>(s.ctime_ns),
           r.dst_existed ? 1 : 0, r.entry_count, static_cast<long long>(r.started_ns));
  b.Append(text);
  Seal(&b);
  return b.ok;
}

int CreateRecord(const char* journal_dir, const Record& r, int* fd) {
  Buf b;
  if (!FormatRecord(r, &b)) return -ENOMEM;
  return CreateFileDurably(journal_dir, r.id, ".move", ".new", b, fd);
}

int FormatPhaseLine(Phase phase, uint64_t tmp_ino, char* line, size_t size) {
  int n = snprintf(line, size, "phase %s tmp_ino %llu", PhaseName(phase),
                   static_cast<unsigned long long>(tmp_ino));
  uint64_t h = Fnv1a64(line, static_cast<size_t>(n));
  n += snprintf(line + n, size - static_cast<size_t>(n), " checksum %016llx\n",
                static_cast<unsigned long long>(h));
  return n;
}

int AppendPhase(int fd, Phase phase, uint64_t tmp_ino) {
  char line[128];
  int n = FormatPhaseLine(phase, tmp_ino, line, sizeof line);
  // One write of a short line to an O_APPEND file, then fdatasync (the file
  // size changes, so its metadata goes along). A crash before the sync may
  // leave the line missing or cut short: a torn last line is ignored, and the
  // mover acts on a phase only after this returned 0.
  int r = WriteAll(fd, line, static_cast<size_t>(n));
  if (r == 0 && fdatasync(fd) != 0) r = -errno;
  return r;
}

ParseOutcome ParseRecord(char* text, size_t len, Record* r, const char** why) {
  len = strnlen(text, len);
  size_t first = FirstBlockEnd(text, len);
  if (first == 0) {
    *why = "torn at creation";
    return ParseOutcome::kTornAtCreation;
  }
  // The appended phase lines follow the first block; cut them off first.
  char* rest = text + first;
  size_t rest_len = len - first;
  char saved = *rest;
  *rest = '\0';
  char* next = OpenSealed(text, first, kRecordMagic, why);
  *rest = saved;
  if (!next) return ParseOutcome::kCorrupt;
  *r = Record();
  enum : unsigned {
    kId = 1,
    kKind = 2,
    kFlags = 4,
    kSrc = 8,
    kDst = 16,
    kTmp = 32,
    kSrcId = 64,
    kDstExisted = 128,
    kEntries = 256,
    kStarted = 512,
    kAll = 1023
  };
  unsigned seen = 0;
  auto fail = [&](const char* what) {
    *why = what;
    return ParseOutcome::kCorrupt;
  };
  for (char* line = next; line && *line; line = next) {
    next = NextLine(line);
    if (!next) break;
    char* value = strchr(line, ' ');
    if (!value) return fail("malformed line");
    *value++ = '\0';
    int64_t v = 0;
    if (strcmp(line, "id") == 0) {
      if (strlen(value) >= sizeof r->id || strspn(value, "0123456789abcdef-") != strlen(value)) {
        return fail("bad id");
      }
      strcpy(r->id, value);
      seen |= kId;
    } else if (strcmp(line, "kind") == 0) {
      if (strlen(value) != 1 || !strchr("fdlo", value[0])) return fail("bad kind");
      r->kind = value[0];
      seen |= kKind;
    } else if (strcmp(line, "flags") == 0) {
      if (!ParseI64(value, &v) || v < 0 || v > 0xffff) return fail("bad flags");
      r->flags = static_cast<unsigned>(v);
      seen |= kFlags;
    } else if (strcmp(line, "src") == 0) {
      if (!CopyPath(value, r->src, sizeof r->src)) return fail("bad src path");
      seen |= kSrc;
    } else if (strcmp(line, "dst") == 0) {
      if (!CopyPath(value, r->dst, sizeof r->dst)) return fail("bad dst path");
      seen |= kDst;
    } else if (strcmp(line, "tmp") == 0) {
      if (!CopyPath(value, r->tmp, sizeof r->tmp)) return fail("bad tmp path");
      seen |= kTmp;
    } else if (strcmp(line, "src_id") == 0) {
      if (!ParseSrcId(value, &r->src_id)) return fail("bad src_id");
      seen |= kSrcId;
    } else if (strcmp(line, "dst_existed") == 0) {
      if (!ParseI64(value, &v) || (v != 0 && v != 1)) return fail("bad dst_existed");
      r->dst_existed = static_cast<int>(v);
      seen |= kDstExisted;
    } else if (strcmp(line, "entries") == 0) {
      if (!ParseI64(value, &v) || v < 1) return fail("bad entries");
      r->entry_count = static_cast<long>(v);
      seen |= kEntries;
    } else if (strcmp(line, "started") == 0) {
      if (!ParseI64(value, &v)) return fail("bad started");
      r->started_ns = v;
      seen |= kStarted;
    }
    // Unknown keys are ignored: later minor additions stay readable.
  }
  if (seen != kAll) return fail("missing required fields");
  // The temp name must be ours for this id: recovery deletes it.
  char want[128];
  snprintf(want, sizeof want, "/.vaultd-move-%s.tmp", r->id);
  size_t tl = strlen(r->tmp), wl = strlen(want);
  if (tl < wl || strcmp(r->tmp + tl - wl, want) != 0) {
    return fail("temp path is not this move's temp name");
  }
  // ... and it must sit in the destination's folder, where the mover put it.
  size_t dl = strlen(r->dst);
  while (dl > 1 && r->dst[dl - 1] == '/') --dl;
  while (dl > 0 && r->dst[dl - 1] != '/') --dl;  // dl: length of the parent with its '/'
  // The mover writes "<parent>/.vaultd-move-ID.tmp", and "/.vaultd-move-ID.tmp" for the root.
  size_t parent_len = dl > 1 ? dl - 1 : 0;  // "/a/b/c" -> "/a/b"; "/c" -> ""
  if (dl == 0 || tl - wl != parent_len || strncmp(r->tmp, r->dst, parent_len) != 0) {
    return fail("temp path is not in the destination's folder");
  }
  // Appended phases, in order; the last valid one wins. Only the very last
  // line may be torn (cut short or garbled by a crash during its append).
  r->phase = Phase::kPrepared;
  r->tmp_ino = 0;
  for (size_t off = 0; off < rest_len;) {
    char* line = rest + off;
    char* nl = static_cast<char*>(memchr(line, '\n', rest_len - off));
    if (!nl) break;  // an unfinished last line: the append never completed
    *nl = '\0';
    off = static_cast<size_t>(nl - rest) + 1;
    Phase phase;
    uint64_t ino;
    if (!ParsePhaseLine(line, &phase, &ino)) {
      if (off >= rest_len) break;  // the last line, torn
      return fail("bad phase line");
    }
    if (phase == Phase::kCopied && ino == 0) return fail("phase copied without tmp_ino");
    r->phase = phase;
    r->tmp_ino = ino;
  }
  return ParseOutcome::kOk;
}

unsigned SalvageRecord(const char* data, size_t len, const char* id, Record* r) {
  *r = Record();
  snprintf(r->id, sizeof r->id, "%s", id);
  unsigned found = 0;
  char line[PATH_MAX * 3 + 64];
  for (size_t off = 0; off < len;) {
    const char* nl = static_cast<const char*>(memchr(data + off, '\n', len - off));
    if (!nl) break;  // an unfinished line says nothing
    size_t n = static_cast<size_t>(nl - (data + off));
    const char* start = data + off;
    off += n + 1;
    if (n >= sizeof line || memchr(start, '\0', n)) continue;  // damaged line
    memcpy(line, start, n);
    line[n] = '\0';
    Phase phase;
    uint64_t ino;
    if (strncmp(line, "phase ", 6) == 0) {
      if (ParsePhaseLine(line, &phase, &ino) && (phase != Phase::kCopied || ino != 0)) {
        r->phase = phase;
        r->tmp_ino = ino;
        found |= kSalvagedPhase;
      }
      continue;
    }
    char* value = strchr(line, ' ');
    if (!value) continue;
    *value++ = '\0';
    if (strcmp(line, "src") == 0 && CopyPath(value, r->src, sizeof r->src)) {
      found |= kSalvagedSrc;
    } else if (strcmp(line, "dst") == 0 && CopyPath(value, r->dst, sizeof r->dst)) {
      found |= kSalvagedDst;
    } else if (strcmp(line, "tmp") == 0 && CopyPath(value, r->tmp, sizeof r->tmp)) {
      found |= kSalvagedTmp;
    } else if (strcmp(line, "kind") == 0 && strlen(value) == 1 && strchr("fdlo", value[0])) {
      r->kind = value[0];
      found |= kSalvagedKind;
    } else if (strcmp(line, "src_id") == 0 && ParseSrcId(value, &r->src_id)) {
      found |= kSalvagedSrcId;
    }
  }
  // The temp name is the one this id gives, beside the destination.
  char want[PATH_MAX + 96];
  bool from_dst = false;
  if ((found & kSalvagedDst) && strlen(r->dst) > 1) {
    const char* slash = strrchr(r->dst, '/');
    size_t parent_len = slash ? static_cast<size_t>(slash - r->dst) : 0;
    if (snprintf(want, sizeof want, "%.*s/.vaultd-move-%s.tmp", static_cast<int>(parent_len),
                 r->dst, id) < int{sizeof want}) {
      if ((found & kSalvagedTmp) && strcmp(want, r->tmp) != 0) return 0;  // not this move's
      snprintf(r->tmp, sizeof r->tmp, "%s", want);
      found |= kSalvagedTmp;
      from_dst = true;
    }
  }
  // Without a destination to derive it from (none salvaged, or "/"), a
  // salvaged temp path counts only if it ends in this move's temp name.
  if (!from_dst && (found & kSalvagedTmp)) {
    snprintf(want, sizeof want, "/.vaultd-move-%s.tmp", id);
    size_t tl = strlen(r->tmp), wl = strlen(want);
    if (tl < wl || strcmp(r->tmp + tl - wl, want) != 0) found &= ~kSalvagedTmp;
  }
  return found;
}

bool FormatEntries(const Tree& t, Buf* out) {
  Buf& b = *out;
  b.Clear();
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
  Seal(&b);
  return b.ok;
}

int WriteEntries(const char* journal_dir, const char* id, const Tree& t) {
  Buf b;
  if (!FormatEntries(t, &b)) return -ENOMEM;
  return CreateFileDurably(journal_dir, id, ".entries", nullptr, b, nullptr);
}

bool ParseEntries(char* text, size_t len, Tree* t, const char** why) {
  char* next = OpenSealed(text, strnlen(text, len), kEntriesMagic, why);
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

void RemoveRecordFiles(const char* journal_dir, const char* id) {
  static const char* const kSuffixes[] = {".move", ".entries", ".new"};
  char p[PATH_MAX];
  for (const char* s : kSuffixes) {
    if (snprintf(p, sizeof p, "%s/%s%s", journal_dir, id, s) < PATH_MAX) unlink(p);
  }
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
