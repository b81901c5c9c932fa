/* Test helper: one rename call the way a C program makes it, for running
 * under LD_PRELOAD=libvaultshim.so. Built without sanitizers (it is a
 * "foreign" program the shim is preloaded into).
 *   rename_probe rename    OLD NEW
 *   rename_probe renameat  OLD NEW      (dirfds of both parents + the last names)
 *   rename_probe renameat2 OLD NEW [noreplace|exchange|whiteout]
 * Prints "0" (and the errno left behind) on success or the errno number;
 * exit 0 when the call ran. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int open_parent(const char* path, const char** name) {
  const char* slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) {
    *name = path;
    return open(".", O_RDONLY | O_DIRECTORY);
  }
  size_t n = (size_t)(slash - path);
  if (n == 0) n = 1;
  if (n >= sizeof dir) return -1;
  memcpy(dir, path, n);
  dir[n] = '\0';
  *name = slash + 1;
  return open(dir, O_RDONLY | O_DIRECTORY);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rename_probe rename|renameat|renameat2 OLD NEW [FLAG]\n");
    return 2;
  }
  int r;
  errno = ENOTTY; /* a success must leave errno alone */
  if (strcmp(argv[1], "rename") == 0) {
    r = rename(argv[2], argv[3]);
  } else {
    const char *on, *nn;
    int ofd = open_parent(argv[2], &on);
    int nfd = open_parent(argv[3], &nn);
    if (ofd < 0 || nfd < 0) {
      fprintf(stderr, "rename_probe: cannot open a parent directory: %s\n", strerror(errno));
      return 2;
    }
    if (strcmp(argv[1], "renameat") == 0) {
      r = renameat(ofd, on, nfd, nn);
    } else {
      unsigned flags = 0;
      if (argc > 4 && strcmp(argv[4], "noreplace") == 0) flags = RENAME_NOREPLACE;
      if (argc > 4 && strcmp(argv[4], "exchange") == 0) flags = RENAME_EXCHANGE;
      if (argc > 4 && strcmp(argv[4], "whiteout") == 0) flags = RENAME_WHITEOUT;
      r = renameat2(ofd, on, nfd, nn, flags);
    }
  }
  if (r == 0) {
    printf("0\nerrno_after_success=%d\n", errno);
  } else {
    printf("%d\n", errno);
  }
  return 0;
}
