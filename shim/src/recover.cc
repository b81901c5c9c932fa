// Recovery: finish or roll back every move whose process died.
//   torn at creation -> drop it: the move never started copying
//   prepared -> roll back: remove the (partial) temp copy; the source is intact
//   copied   -> temp still there: roll back; temp renamed onto dst (dst has
//               the copy's inode): roll forward, delete the unchanged source
// A record whose process still holds its lock is left alone.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
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
  if (strcmp(dot, ".move") != 0 && strcmp(dot, ".entries") != 0 && strcmp(dot, ".lock") != 0) {
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
  ParseOutcome parsed = ParseRecord(text.data, text.len, rec, &why);
  if (parsed == ParseOutcome::kTornAtCreation) {
    // Cut short by a crash before its first fsync returned: the mover had not
    // created its temp copy yet (it does only after that fsync), so there is
    // nothing to undo.
    RemoveRecordFiles(journal, id);
    Emit(fn, ctx, "dropped %s: record %s torn at creation; the move never started copying", id,
         path);
    return 0;
  }
  if (parsed != ParseOutcome::kOk || strcmp(rec->id, id) != 0) {
    if (parsed == ParseOutcome::kOk) why = "id does not match the file name";
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
      Emit(fn, ctx, "unresolved %s: %s -> %s (phase %s): folder of %s not present here (mounts not set up?); not acted upon",
           id, rec->src, rec->dst, phase, where);
      return 1;
    }
  }
  bool forward = false;
  Entry tmp, dst;
  bool tmp_there = StatEntry(rec->tmp, &tmp) == 0;
  if (rec->phase == Phase::kCopied) {
    bool dst_ours = StatEntry(rec->dst, &dst) == 0 && dst.ino == rec->tmp_ino;
    if (dst_ours) {
      // Renamed (or linked, on file systems without RENAME_NOREPLACE) before
      // the process died: a temp name still there is a second link to it.
      forward = true;
      if (tmp_there && tmp.ino == rec->tmp_ino && !S_ISDIR(tmp.mode)) unlink(rec->tmp);
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
  r = DeleteSource(rec->src, tree, seam, &kept);
  if (r != 0) {
    Emit(fn, ctx, "unresolved %s: %s -> %s: cannot make the source deletion durable: %s", id,
         rec->src, rec->dst, strerror(-r));
    return 1;
  }
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
  char path[PATH_MAX];
  for (size_t off = 0; off < ids.names.len; off += strlen(ids.names.data + off) + 1) {
    const char* mid = ids.names.data + off;
    snprintf(path, sizeof path, "%s/%s.lock", journal_dir, mid);
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) {
      ++result->unresolved;
      Emit(on_line, ctx, "unresolved %s: cannot open its lock %s", mid, path);
      continue;
    }
    snprintf(path, sizeof path, "%s/%s.move", journal_dir, mid);
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
      struct stat st;
      if (stat(path, &st) == 0) {
        ++result->busy;
        Emit(on_line, ctx, "in progress %s: its process is alive; left alone", mid);
      }
      close(lfd);
      continue;
    }
    struct stat st, held, named;
    char lock_path[PATH_MAX];
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", journal_dir, mid);
    if (fstat(lfd, &held) != 0 || stat(lock_path, &named) != 0 || held.st_ino != named.st_ino) {
      close(lfd);  // replaced under us by a starting move: it is alive
      continue;
    }
    if (stat(path, &st) == 0) {
      if (RecoverOne(journal_dir, mid, rec, on_line, ctx, &seam) == 0) {
        ++result->resolved;
      } else {
        ++result->unresolved;
      }
    } else {
      // No record: a move that had only taken its lock, or leftovers of a
      // finished move. The move had not created anything yet, or is done.
      RemoveRecordFiles(journal_dir, mid);
    }
    snprintf(path, sizeof path, "%s/%s.move", journal_dir, mid);
    if (stat(path, &st) != 0) {
      snprintf(path, sizeof path, "%s/%s.lock", journal_dir, mid);
      unlink(path);
    }
    close(lfd);
  }
  free(rec);
  return 0;
}

}  // namespace vaultd::move
