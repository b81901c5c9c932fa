// Recovery: finish or roll back every move whose process died.
//   torn at creation -> drop it: the move never started copying
//   prepared -> roll back: remove the (partial) temp copy; the source is intact
//   copied   -> temp still there: roll back; temp renamed onto dst (dst has
//               the copy's inode): roll forward, delete the unchanged source
// A record whose process still holds its lock is left alone.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdarg>
#include <cstdio>

#include "journal.h"
#include "vaultd/shim/move.h"

namespace vaultd::move {
namespace internal {
namespace {

struct Ids {
  Buf names;  // NUL-separated unique ids
  bool Has(const char* id) const {
    for (size_t off = 0; off < names.len; off += strlen(names.data + off) + 1) {
      if (strcmp(names.data + off, id) == 0) return true;
    }
    return false;
  }
};

bool IdFromName(const char* name, char* id, size_t size) {
  const char* dot = strchr(name, '.');
  if (!dot || dot == name) return false;
  if (strcmp(dot, ".move") != 0 && strcmp(dot, ".entries") != 0 && strcmp(dot, ".lock") != 0 &&
      strcmp(dot, ".new") != 0) {
    return false;
  }
  size_t n = static_cast<size_t>(dot - name);
  if (n >= size || strspn(name, "0123456789abcdef-") != n) return false;
  memcpy(id, name, n);
  id[n] = '\0';
  return true;
}

__attribute__((format(printf, 3, 4))) void Emit(RecoverLineFn fn, void* ctx, const char* fmt, ...) {
  if (!fn) return;
  char line[4 * PATH_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fn(ctx, line);
}

// statx of a path that may be longer than PATH_MAX (a temp name beside a long one).
int StatLongPath(const char* path, Entry* e) {
  if (strlen(path) < PATH_MAX) return StatEntry(path, e);
  const char* name = nullptr;
  int dirfd = OpenParent(path, &name);
  if (dirfd < 0) return dirfd;
  int r = StatEntryAt(dirfd, name, e);
  close(dirfd);
  return r;
}

// A record damaged after it was written (see RecoverOne). What is on disk
// decides, with what the damaged record still tells (SalvageRecord):
//   temp copy there, source there        -> roll back: remove the copy (the
//                                           rename never happened; the caller
//                                           never saw success)
//   temp gone, dst is the copy (tmp_ino) -> roll forward as for a good record,
//                                           if the source's identity is known
//   temp gone, nothing copied at dst     -> drop the record (nothing to undo)
//   anything else                        -> unresolved, nothing touched
// Returns 0 resolved, 1 unresolved.
int RecoverDamaged(const char* journal, const char* id, const char* path, const char* why,
                   const Buf& text, Record* rec, RecoverLineFn fn, void* ctx, CrashSeam* seam) {
  unsigned got = SalvageRecord(text.data, text.len, id, rec);
  bool src_known = got & kSalvagedSrc, dst_known = got & kSalvagedDst;
  if (!(got & kSalvagedTmp)) {
    Emit(fn, ctx,
         "unresolved %s: damaged record %s (%s) names no destination; look for "
         ".vaultd-move-%s.tmp beside the destination; not acted upon",
         id, path, why, id);
    return 1;
  }
  Entry tmp, src;
  bool tmp_there = StatLongPath(rec->tmp, &tmp) == 0;
  bool src_there = src_known && StatEntry(rec->src, &src) == 0 &&
                   (!(got & kSalvagedSrcId) || src.ino == rec->src_id.ino);
  if (tmp_there && src_there) {
    if (RemoveTree(rec->tmp) != 0) {
      Emit(fn, ctx, "unresolved %s: damaged record %s (%s): cannot remove the copy %s", id, path,
           why, rec->tmp);
      return 1;
    }
    if (seam) seam->Step("recover-rolledback");
    RemoveRecordFiles(journal, id);
    Emit(fn, ctx,
         "rolled back %s: %s -> %s: damaged record %s (%s); removed the copy %s, source intact", id,
         rec->src, dst_known ? rec->dst : "?", path, why, rec->tmp);
    return 0;
  }
  if (tmp_there) {
    Emit(fn, ctx,
         "unresolved %s: damaged record %s (%s): the source is gone or unknown; the copy is kept "
         "at %s; not acted upon",
         id, path, why, rec->tmp);
    return 1;
  }
  Entry dst;
  bool dst_there = dst_known && StatEntry(rec->dst, &dst) == 0;
  bool dst_ours = dst_there && (got & kSalvagedPhase) && rec->phase == Phase::kCopied &&
                  dst.ino == rec->tmp_ino;
  if (dst_ours && src_known && (got & kSalvagedSrcId) && (got & kSalvagedKind)) {
    if (rec->kind == 'd') rec->entry_count = 2;  // the entries list (checksummed) decides
    return -1;  // committed: the caller rolls forward with the salvaged record
  }
  if ((src_known && !src_there) || (src_there && dst_known && !dst_there)) {
    // No temp copy, and either the source is gone (whatever is at the
    // destination is all there is) or no copy reached the destination.
    RemoveRecordFiles(journal, id);
    Emit(fn, ctx, "dropped %s: damaged record %s (%s); no temp copy, nothing to undo", id, path,
         why);
    return 0;
  }
  Emit(fn, ctx,
       "unresolved %s: damaged record %s (%s): source %s and destination %s may both hold the "
       "data; keep the one you want and delete this record; not acted upon",
       id, path, why, src_known ? rec->src : "?", dst_known ? rec->dst : "?");
  return 1;
}

// A crash while the mover copied a changed file again can leave
// .vaultd-move-<id>.re beside that file at the destination. It is never the
// only copy of anything (the source file it was read from is deleted only
// after the rename over the destination), so it goes: from the destination's
// folder (a moved file) and from every directory of a moved tree.
void RemoveRecopyLeftovers(const Record& rec, const char* id, const Tree& t) {
  char dir[PATH_MAX], name[NAME_MAX + 1], leftover[NAME_MAX + 1], p[PATH_MAX + NAME_MAX + 2];
  if (MoveTempName(leftover, sizeof leftover, id, "re") != 0) return;
  for (size_t i = 0; i <= t.entries.size; ++i) {
    if (i == t.entries.size) {
      if (SplitPath(rec.dst, dir, sizeof dir, name, sizeof name) != 0) continue;
    } else if (!S_ISDIR(t.entries[i].mode) || JoinRel(dir, rec.dst, t.Rel(t.entries[i])) != 0) {
      continue;
    }
    const char* sep = strcmp(dir, "/") == 0 ? "" : "/";
    if (snprintf(p, sizeof p, "%s%s%s", dir, sep, leftover) >= int{sizeof p}) continue;
    if (unlink(p) == 0) FsyncDir(dir);
  }
}

// Returns 0 resolved, 1 unresolved.
int RecoverOne(const char* journal, const char* id, Record* rec, RecoverLineFn fn, void* ctx,
               CrashSeam* seam) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.move", journal, id);
  Buf text;
  int r = ReadSmallFile(path, 1 << 20, &text);
  if (r != 0) {
    Emit(fn, ctx, "unresolved %s: cannot read record %s: %s", id, path, strerror(-r));
    return 1;
  }
  const char* why = "";
  *rec = Record();
  Buf copy;  // ParseRecord cuts the text up; a salvage needs it whole
  copy.Append(text.data, text.len);
  if (!copy.ok) return 1;
  ParseOutcome parsed = ParseRecord(text.data, text.len, rec, &why);
  if (parsed == ParseOutcome::kOk && strcmp(rec->id, id) != 0) {
    parsed = ParseOutcome::kCorrupt;
    why = "id does not match the file name";
  }
  bool has_nul = memchr(copy.data, '\0', copy.len) != nullptr;
  if (parsed == ParseOutcome::kTornAtCreation || (parsed == ParseOutcome::kCorrupt && has_nul)) {
    // Under its final name a record was complete once (it is written under
    // <id>.new and renamed): it was cut short or overwritten with zeros
    // afterwards, and the move may have copied, committed, or both. Decide
    // from what is on disk. (A record whose text is all there but wrong is
    // corrupt, below: reported, not acted upon.)
    why = has_nul ? "zero bytes in it" : "cut short";
    int d = RecoverDamaged(journal, id, path, why, copy, rec, fn, ctx, seam);
    if (d >= 0) return d;
  } else if (parsed != ParseOutcome::kOk) {
    Emit(fn, ctx, "unresolved %s: corrupt record %s (%s); not acted upon", id, path, why);
    return 1;
  }
  const char* phase = PhaseName(rec->phase);
  char parent[PATH_MAX], name[NAME_MAX + 1];
  // Record paths are the mover's view (the container's mounts). Where they are
  // not all there (run on the host, or before the bind mounts exist), a missing
  // path means nothing: keep the record for a recovery that can see them.
  const char* const wheres[] = {rec->src, rec->tmp};
  for (const char* where : wheres) {
    Entry dir;
    if (SplitPath(where, parent, sizeof parent, name, sizeof name) != 0 ||
        StatEntry(parent, &dir) != 0 || !S_ISDIR(dir.mode)) {
      Emit(fn, ctx,
           "unresolved %s: %s -> %s (phase %s): folder of %s not present here (mounts not set "
           "up?); not acted upon",
           id, rec->src, rec->dst, phase, where);
      return 1;
    }
  }
  bool forward = false;
  Entry tmp, dst;
  bool tmp_there = StatLongPath(rec->tmp, &tmp) == 0;
  if (rec->phase == Phase::kCopied) {
    bool dst_ours = StatEntry(rec->dst, &dst) == 0 && dst.ino == rec->tmp_ino;
    if (dst_ours) {
      // Renamed (or linked, on file systems without RENAME_NOREPLACE) before
      // the process died: a temp name still there is a second link to it.
      forward = true;
      if (tmp_there && tmp.ino == rec->tmp_ino && !S_ISDIR(tmp.mode)) RemoveTree(rec->tmp);
    } else if (tmp_there) {
      forward = false;  // the commit rename never happened
    } else {
      Emit(fn, ctx,
           "unresolved %s: %s -> %s (phase %s): neither the temp copy nor the committed copy is "
           "there; source left in place",
           id, rec->src, rec->dst, phase);
      return 1;
    }
  }
  if (!forward && rec->phase == Phase::kCopied && tmp_there) {
    // Never remove the only complete copy: if the source is gone (deleted by
    // someone after the crash, or lost by a disk that reordered writes), the
    // copy is what is left of the data.
    Entry now;
    if (StatEntry(rec->src, &now) != 0 || now.ino != rec->src_id.ino) {
      Emit(fn, ctx,
           "unresolved %s: %s -> %s (phase copied): the source is gone but the rename did not "
           "happen; the complete copy is kept at %s; not acted upon",
           id, rec->src, rec->dst, rec->tmp);
      return 1;
    }
  }
  if (!forward) {
    r = RemoveTree(rec->tmp);
    if (r != 0) {
      Emit(fn, ctx, "unresolved %s: %s -> %s: cannot remove the partial copy %s", id, rec->src,
           rec->dst, rec->tmp);
      return 1;
    }
    if (SplitPath(rec->tmp, parent, sizeof parent, name, sizeof name) == 0) FsyncDir(parent);
    if (seam) seam->Step("recover-rolledback");
    RemoveRecordFiles(journal, id);
    Emit(fn, ctx, "rolled back %s: %s -> %s (phase %s): removed the partial copy, source intact",
         id, rec->src, rec->dst, phase);
    return 0;
  }
  Tree tree;
  if (rec->kind == 'd' && rec->entry_count > 1) {
    snprintf(path, sizeof path, "%s/%s.entries", journal, id);
    Buf etext;
    r = ReadSmallFile(path, 512u << 20, &etext);
    if (r != 0 || !ParseEntries(etext.data, etext.len, &tree, &why)) {
      Emit(fn, ctx,
           "unresolved %s: %s -> %s (phase %s): entries list %s unreadable (%s); source "
           "left in place",
           id, rec->src, rec->dst, phase, path, r != 0 ? strerror(-r) : why);
      return 1;
    }
  } else if (!tree.Add(rec->src_id, "")) {
    return 1;
  }
  long kept = 0;
  r = DeleteSource(rec->src, tree, nullptr, seam, &kept);
  if (r != 0) {
    Emit(fn, ctx, "unresolved %s: %s -> %s: cannot make the source deletion durable: %s", id,
         rec->src, rec->dst, strerror(-r));
    return 1;
  }
  RemoveRecopyLeftovers(*rec, id, tree);
  RemoveRecordFiles(journal, id);
  if (kept == 0) {
    Emit(fn, ctx, "completed %s: %s -> %s (phase %s): removed the source", id, rec->src, rec->dst,
         phase);
  } else {
    Emit(fn, ctx, "completed %s: %s -> %s: kept %ld source entries that changed after the copy", id,
         rec->src, rec->dst, kept);
  }
  return 0;
}

}  // namespace
}  // namespace internal

int RecoverMoves(const char* journal_dir, RecoverLineFn on_line, void* ctx, RecoverResult* result) {
  using namespace internal;
  *result = RecoverResult();
  DIR* d = opendir(journal_dir);
  if (!d) return errno == ENOENT ? 0 : -errno;
  Ids ids;
  char id[80];
  for (struct dirent* de; (de = readdir(d));) {
    if (IdFromName(de->d_name, id, sizeof id) && !ids.Has(id)) ids.names.Append(id, strlen(id) + 1);
  }
  closedir(d);
  if (!ids.names.ok) return -ENOMEM;
  Record* rec = static_cast<Record*>(calloc(1, sizeof(Record)));
  if (!rec) return -ENOMEM;
  CrashSeam seam;
  seam.Init();
  char path[PATH_MAX], lock_path[PATH_MAX], staged[PATH_MAX];
  char own_prefix[24];
  snprintf(own_prefix, sizeof own_prefix, "%x-", static_cast<unsigned>(getpid()));
  for (size_t off = 0; off < ids.names.len; off += strlen(ids.names.data + off) + 1) {
    const char* mid = ids.names.data + off;
    snprintf(path, sizeof path, "%s/%s.move", journal_dir, mid);
    snprintf(staged, sizeof staged, "%s/%s.new", journal_dir, mid);
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", journal_dir, mid);
    struct stat st, held, named;
    bool has_record = lstat(path, &st) == 0 || lstat(staged, &st) == 0;
    // A move of this very process: its POSIX lock does not exclude us, and
    // closing our fd of its lock file would even drop that lock.
    if (MovesRunInThisProcess() && strncmp(mid, own_prefix, strlen(own_prefix)) == 0) {
      if (has_record) {
        ++result->busy;
        Emit(on_line, ctx, "in progress %s: a move of this process; left alone", mid);
      }
      continue;
    }
    int lfd =
        open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
    if (lfd < 0 || fstat(lfd, &held) != 0 || !S_ISREG(held.st_mode)) {
      if (lfd >= 0) close(lfd);
      ++result->unresolved;
      Emit(on_line, ctx, "unresolved %s: cannot use its lock %s (not a regular file?)", mid,
           lock_path);
      continue;
    }
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(lfd, F_SETLK, &fl) != 0) {
      if (has_record) {
        ++result->busy;
        Emit(on_line, ctx, "in progress %s: its process is alive; left alone", mid);
      }
      close(lfd);
      continue;
    }
    if (stat(lock_path, &named) != 0 || held.st_ino != named.st_ino) {
      close(lfd);  // replaced under us by a starting move: it is alive
      continue;
    }
    if (lstat(path, &st) == 0) {
      unlink(staged);
      if (RecoverOne(journal_dir, mid, rec, on_line, ctx, &seam) == 0) {
        ++result->resolved;
      } else {
        ++result->unresolved;
      }
    } else if (lstat(staged, &st) == 0) {
      // Never renamed to its final name: the mover died before its record was
      // durable, and does nothing (no temp copy) before that.
      RemoveRecordFiles(journal_dir, mid);
      ++result->resolved;
      Emit(on_line, ctx, "dropped %s: record %s never completed; the move never started copying",
           mid, staged);
    } else {
      // No record: a move that had only taken its lock, or leftovers of a
      // finished move. The move had not created anything yet, or is done.
      RemoveRecordFiles(journal_dir, mid);
    }
    if (lstat(path, &st) != 0) unlink(lock_path);
    close(lfd);
  }
  free(rec);
  return 0;
}

}  // namespace vaultd::move
