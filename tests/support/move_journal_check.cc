#include "move_journal_check.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "journal.h"

namespace vaultd::move::internal {
namespace {

bool SameRecord(const Record& a, const Record& b) {
  return strcmp(a.id, b.id) == 0 && a.phase == b.phase && a.kind == b.kind && a.flags == b.flags &&
         strcmp(a.src, b.src) == 0 && strcmp(a.dst, b.dst) == 0 && strcmp(a.tmp, b.tmp) == 0 &&
         a.src_id.dev == b.src_id.dev && a.src_id.ino == b.src_id.ino &&
         a.src_id.size == b.src_id.size && a.src_id.nlink == b.src_id.nlink &&
         a.src_id.mode == b.src_id.mode && a.src_id.mtime_ns == b.src_id.mtime_ns &&
         a.src_id.ctime_ns == b.src_id.ctime_ns && a.dst_existed == b.dst_existed &&
         a.tmp_ino == b.tmp_ino && a.entry_count == b.entry_count && a.started_ns == b.started_ns;
}

const char* CheckRecord(const char* data, size_t size) {
  std::string text(data, size);
  // Records are large (three PATH_MAX paths): on the heap.
  auto rec = std::make_unique<Record>();
  const char* why = "";
  ParseOutcome out = ParseRecord(text.data(), text.size(), rec.get(), &why);
  if (out == ParseOutcome::kOk) {
    if (!(rec->src[0] == '/' && rec->dst[0] == '/' && rec->tmp[0] == '/')) return "relative path";
    std::string tail = std::string("/.vaultd-move-") + rec->id + ".tmp";
    std::string tmp = rec->tmp;
    if (!(tmp.size() >= tail.size() &&
          tmp.compare(tmp.size() - tail.size(), tail.size(), tail) == 0))
      return "temp name is not the move's";
    if (rec->phase == Phase::kCopied && rec->tmp_ino == 0) return "copied without tmp_ino";
    if (rec->entry_count < 1) return "no entries";
    // Format what was parsed, append its phase, parse again: the same record.
    Buf b;
    if (!FormatRecord(*rec, &b)) return "format failed";
    std::string again(b.data, b.len);
    if (rec->phase != Phase::kPrepared) {
      char line[128];
      int n = FormatPhaseLine(rec->phase, rec->tmp_ino, line, sizeof line);
      again.append(line, static_cast<size_t>(n));
    }
    auto back = std::make_unique<Record>();
    if (ParseRecord(again.data(), again.size(), back.get(), &why) != ParseOutcome::kOk)
      return "a formatted record does not parse";
    if (!SameRecord(*rec, *back)) return "round trip changed the record";
  } else if (out == ParseOutcome::kTornAtCreation) {
    // Torn means: before the first NUL, no complete line starts with "checksum ".
    std::string view(data, strnlen(data, size));
    for (size_t at = 0, nl; (nl = view.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (view.compare(at, 9, "checksum ") == 0 && nl - at >= 9)
        return "a record with a complete first block was called torn";
    }
  }
  // Whatever survives of a damaged record: paths that recovery may touch are
  // absolute, and a temp path is this move's name beside the destination.
  unsigned got = SalvageRecord(data, size, "1-2-3-00000000000000ff", rec.get());
  if ((got & kSalvagedSrc) && rec->src[0] != '/') return "salvaged a relative source";
  if ((got & kSalvagedDst) && rec->dst[0] != '/') return "salvaged a relative destination";
  if (got & kSalvagedTmp) {
    std::string tmp = rec->tmp, tail = "/.vaultd-move-1-2-3-00000000000000ff.tmp";
    if (!(tmp[0] == '/' && tmp.size() >= tail.size() &&
          tmp.compare(tmp.size() - tail.size(), tail.size(), tail) == 0))
      return "salvaged a temp path that is not the move's";
  }
  if ((got & kSalvagedPhase) && rec->phase == Phase::kCopied && rec->tmp_ino == 0)
    return "salvaged copied without tmp_ino";
  return nullptr;
}

const char* CheckEntries(const char* data, size_t size) {
  std::string text(data, size);
  Tree t;
  const char* why = "";
  if (!ParseEntries(text.data(), text.size(), &t, &why)) return nullptr;
  for (size_t i = 0; i < t.entries.size; ++i) {
    const char* rel = t.Rel(t.entries[i]);
    if (rel[0] == '/') return "absolute entry path";
    for (const char* p = rel; *p;) {
      const char* slash = strchr(p, '/');
      size_t n = slash ? static_cast<size_t>(slash - p) : strlen(p);
      if (!(n != 0 && !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.')))
        return "unsafe entry path";
      if (!slash) break;
      p = slash + 1;
    }
  }
  Buf b;
  if (!FormatEntries(t, &b)) return "format failed";
  std::string again(b.data, b.len);
  Tree back;
  if (!ParseEntries(again.data(), again.size(), &back, &why))
    return "formatted entries do not parse";
  if (back.entries.size != t.entries.size) return "round trip changed the entry count";
  for (size_t i = 0; i < t.entries.size; ++i) {
    const Entry& x = t.entries[i];
    const Entry& y = back.entries[i];
    if (!(KindOf(x.mode) == KindOf(y.mode) && x.ino == y.ino && x.size == y.size &&
          x.nlink == y.nlink && x.mtime_ns == y.mtime_ns && x.ctime_ns == y.ctime_ns &&
          strcmp(t.Rel(x), back.Rel(y)) == 0))
      return "round trip changed an entry";
  }
  return nullptr;
}

std::string Hex64(uint64_t v) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(v));
  return hex;
}

// Mutations almost never keep a checksum right, which would leave everything
// behind the checksum check unexplored: rewrite the checksums of the first
// block and of every phase line after it to match their bytes.
std::string SealRecord(std::string text) {
  size_t line = 0;
  bool sealed = false;
  for (size_t nl; !sealed && (nl = text.find('\n', line)) != std::string::npos; line = nl + 1) {
    if (text.compare(line, 9, "checksum ") == 0) {
      text.replace(line, nl - line, "checksum " + Hex64(Fnv1a64(text.data(), line)));
      nl = text.find('\n', line);
      sealed = true;
    }
  }
  if (!sealed) return text;
  for (size_t nl; line < text.size(); line = nl + 1) {
    nl = text.find('\n', line);
    if (nl == std::string::npos) nl = text.size();
    size_t sum = text.find(" checksum ", line);
    if (sum != std::string::npos && sum < nl) {
      text.replace(sum, nl - sum, " checksum " + Hex64(Fnv1a64(text.data() + line, sum - line)));
      nl = text.find('\n', sum);
      if (nl == std::string::npos) break;
    }
  }
  return text;
}

// The same for an entries file: its last line is the checksum.
std::string SealEntries(std::string text) {
  size_t last = text.rfind("\nchecksum ");
  if (last == std::string::npos) return text;
  text.erase(last + 1);
  return text + "checksum " + Hex64(Fnv1a64(text.data(), text.size())) + "\n";
}

}  // namespace

const char* CheckJournalInvariants(const uint8_t* data, size_t size) {
  if (size == 0) return nullptr;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 'E':
      return CheckEntries(text.data(), text.size());
    case 'F':
      text = SealEntries(std::move(text));
      return CheckEntries(text.data(), text.size());
    case 'S':
      text = SealRecord(std::move(text));
      return CheckRecord(text.data(), text.size());
    default:
      return CheckRecord(text.data(), text.size());
  }
}

}  // namespace vaultd::move::internal
