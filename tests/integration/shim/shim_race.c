/* Test helper for the shim's race tests, run under LD_PRELOAD=libvaultshim.so
 * (built without sanitizers, like rename_probe: a "foreign" program).
 *   shim_race rename2 DELAY_US OLD1 NEW1 OLD2 NEW2
 *       Two processes released together (a pipe closed at once): the first
 *       renames OLD1 to NEW1, the second waits DELAY_US (spinning on the
 *       clock: the random instant is the point) and renames OLD2 to NEW2.
 *       Prints "1 ERRNO" and "2 ERRNO" (0 = success), one line each.
 *   shim_race writer FILE SIZE MAX_PAUSE_US SEED
 *       Rewrites FILE (O_TRUNC, then SIZE bytes "vNNNNNNNN\n...") as an
 *       editor does, with a pause of up to MAX_PAUSE_US between saves, until
 *       the name is gone (or 100000 saves). Prints "linked V": the last
 *       version whose write finished while the file still had a name (a
 *       later one went to a file already moved away: the documented limit of
 *       a writer holding an fd across the move). Prints "started" first,
 *       after the first save.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void spin_us(long us) {
  long long end = now_us() + us;
  while (now_us() < end) {
  }
}

static int do_rename(const char* a, const char* b) { return rename(a, b) == 0 ? 0 : errno; }

static int rename2(int argc, char** argv) {
  if (argc != 7) return 2;
  long delay = atol(argv[2]);
  int gate[2], result[2];
  if (pipe(gate) != 0 || pipe(result) != 0) return 2;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    char c;
    close(gate[1]);
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
    }
    spin_us(delay);
    int e = do_rename(argv[5], argv[6]);
    /* The parent prints both results: one writer, whole lines. */
    close(result[0]);
    if (write(result[1], &e, sizeof e) != (ssize_t)sizeof e) _exit(3);
    _exit(0);
  }
  close(gate[0]);
  close(result[1]);
  close(gate[1]); /* releases the child */
  int e = do_rename(argv[3], argv[4]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int e2 = -1;
  ssize_t got;
  while ((got = read(result[0], &e2, sizeof e2)) < 0 && errno == EINTR) {
  }
  if (got != (ssize_t)sizeof e2) return 3;
  printf("1 %d\n2 %d\n", e, e2);
  fflush(stdout);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3;
}

static int writer(int argc, char** argv) {
  if (argc != 6) return 2;
  const char* file = argv[2];
  size_t size = (size_t)atol(argv[3]);
  long max_pause = atol(argv[4]);
  unsigned seed = (unsigned)strtoul(argv[5], NULL, 10);
  char* buf = malloc(size);
  if (!buf || size < 10) return 2;
  long linked = -1;
  for (long v = 1; v <= 100000; ++v) {
    int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) break;
    memset(buf, 'a' + (int)(v % 26), size);
    snprintf(buf, 11, "v%08ld", v);
    buf[9] = '\n';
    ssize_t w = write(fd, buf, size);
    struct stat st;
    if (w == (ssize_t)size && fstat(fd, &st) == 0 && st.st_nlink > 0) linked = v;
    close(fd);
    if (v == 1) {
      printf("started\n");
      fflush(stdout);
    }
    if (max_pause > 0) {
      long us = (long)(rand_r(&seed) % (unsigned)max_pause);
      struct timespec ts = {0, us * 1000};
      nanosleep(&ts, NULL);
    }
  }
  printf("linked %ld\n", linked);
  free(buf);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "rename2") == 0) return rename2(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "writer") == 0) return writer(argc, argv);
  fprintf(stderr,
          "usage: shim_race rename2 DELAY_US OLD1 NEW1 OLD2 NEW2 | writer FILE SIZE MAX_PAUSE_US "
          "SEED\n");
  return 2;
}
