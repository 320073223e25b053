// An LD_PRELOAD fault injector for the syscall-faults drill (issue 15, item 2): fails the Nth call
// of one family (fsync, write, rename, open) whose file lies under a path prefix, with one errno.
// strace's inject cannot scope a fault to the data folder here: -P matches exact paths only (the
// temp files have random names) and libuv's eventfd writes, the sockets and the log pipe share
// write(2) with the staging files. This shim matches the fd's path (/proc/self/fd) instead.
//
// SYSCALL_FAULT_CONTROL names a file holding "<generation> <family> <errno> <nth> <prefix>"
// (or nothing: disarmed); the test replaces it by rename, and a new generation restarts the count.
// SYSCALL_FAULT_LOG names a file that gets one line per matching call while armed:
// "<generation> <n> <family> <function> <fd> <injected 0|1> <path>".
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum family { F_NONE, F_FSYNC, F_WRITE, F_RENAME, F_OPEN };
static const char *const FAMILY_NAMES[] = { "none", "fsync", "write", "rename", "open" };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ino_t control_ino;
static struct timespec control_mtime;
static long generation;
static enum family armed_family = F_NONE;
static int armed_errno;
static long armed_nth;
static char armed_prefix[1024];
static long matched;

/** Reads the control file with raw syscalls: open and read here must not re-enter the shim. */
static void reload_control(void) {
  const char *control = getenv("SYSCALL_FAULT_CONTROL");
  struct stat st;
  if (!control || stat(control, &st) != 0) {
    armed_family = F_NONE;
    return;
  }
  if (st.st_ino == control_ino && st.st_mtim.tv_sec == control_mtime.tv_sec && st.st_mtim.tv_nsec == control_mtime.tv_nsec) return;
  control_ino = st.st_ino;
  control_mtime = st.st_mtim;
  char text[1200] = { 0 };
  int fd = (int)syscall(SYS_openat, AT_FDCWD, control, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  long n = syscall(SYS_read, fd, text, sizeof text - 1);
  syscall(SYS_close, fd);
  if (n < 0) return;
  char family[16] = { 0 };
  long gen = 0, nth = 0;
  int err = 0;
  armed_family = F_NONE;
  if (sscanf(text, "%ld %15s %d %ld %1023s", &gen, family, &err, &nth, armed_prefix) != 5) return;
  for (int f = F_FSYNC; f <= F_OPEN; f++) {
    if (strcmp(family, FAMILY_NAMES[f]) == 0) armed_family = (enum family)f;
  }
  if (gen != generation) matched = 0;
  generation = gen;
  armed_errno = err;
  armed_nth = nth;
}

static void log_call(long n, enum family f, const char *fn, int fd, int injected, const char *path) {
  const char *log = getenv("SYSCALL_FAULT_LOG");
  if (!log) return;
  char line[1400];
  int len = snprintf(line, sizeof line, "%ld %ld %s %s %d %d %s\n", generation, n, FAMILY_NAMES[f], fn, fd, injected, path);
  int out = (int)syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) return;
  syscall(SYS_write, out, line, (size_t)len);
  syscall(SYS_close, out);
}

/**
 * Whether this call (of family `f`, on `fd` or on `path`) is to fail; sets errno when it is.
 * Called before the real function, so a failed call has done nothing.
 */
static int should_fail(enum family f, const char *fn, int fd, const char *path) {
  int saved = errno;
  pthread_mutex_lock(&lock);
  reload_control();
  int fail = 0;
  if (armed_family == f) {
    char resolved[1024];
    const char *target = path;
    if (!target) {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t len = readlink(link, resolved, sizeof resolved - 1);
      resolved[len < 0 ? 0 : len] = '\0';
      target = resolved;
    }
    if (strncmp(target, armed_prefix, strlen(armed_prefix)) == 0) {
      long n = ++matched;
      fail = n == armed_nth;
      log_call(n, f, fn, fd, fail, target);
    }
  }
  pthread_mutex_unlock(&lock);
  errno = fail ? armed_errno : saved;
  return fail;
}

#define REAL(name, ret, args) static ret (*real_##name) args; if (!real_##name) real_##name = (ret (*) args)dlsym(RTLD_NEXT, #name)

int fsync(int fd) {
  REAL(fsync, int, (int));
  return should_fail(F_FSYNC, "fsync", fd, NULL) ? -1 : real_fsync(fd);
}
int fdatasync(int fd) {
  REAL(fdatasync, int, (int));
  return should_fail(F_FSYNC, "fdatasync", fd, NULL) ? -1 : real_fdatasync(fd);
}

ssize_t write(int fd, const void *buf, size_t count) {
  REAL(write, ssize_t, (int, const void *, size_t));
  return should_fail(F_WRITE, "write", fd, NULL) ? -1 : real_write(fd, buf, count);
}
ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  REAL(writev, ssize_t, (int, const struct iovec *, int));
  return should_fail(F_WRITE, "writev", fd, NULL) ? -1 : real_writev(fd, iov, iovcnt);
}
ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  REAL(pwrite, ssize_t, (int, const void *, size_t, off_t));
  return should_fail(F_WRITE, "pwrite", fd, NULL) ? -1 : real_pwrite(fd, buf, count, offset);
}
ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  REAL(pwrite64, ssize_t, (int, const void *, size_t, off_t));
  return should_fail(F_WRITE, "pwrite64", fd, NULL) ? -1 : real_pwrite64(fd, buf, count, offset);
}
ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  REAL(pwritev, ssize_t, (int, const struct iovec *, int, off_t));
  return should_fail(F_WRITE, "pwritev", fd, NULL) ? -1 : real_pwritev(fd, iov, iovcnt, offset);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  REAL(pwritev64, ssize_t, (int, const struct iovec *, int, off_t));
  return should_fail(F_WRITE, "pwritev64", fd, NULL) ? -1 : real_pwritev64(fd, iov, iovcnt, offset);
}
ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
  REAL(pwritev2, ssize_t, (int, const struct iovec *, int, off_t, int));
  return should_fail(F_WRITE, "pwritev2", fd, NULL) ? -1 : real_pwritev2(fd, iov, iovcnt, offset, flags);
}

int rename(const char *from, const char *to) {
  REAL(rename, int, (const char *, const char *));
  return should_fail(F_RENAME, "rename", -1, from) ? -1 : real_rename(from, to);
}
int renameat(int fromfd, const char *from, int tofd, const char *to) {
  REAL(renameat, int, (int, const char *, int, const char *));
  return should_fail(F_RENAME, "renameat", -1, from) ? -1 : real_renameat(fromfd, from, tofd, to);
}
int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
  REAL(renameat2, int, (int, const char *, int, const char *, unsigned int));
  return should_fail(F_RENAME, "renameat2", -1, from) ? -1 : real_renameat2(fromfd, from, tofd, to, flags);
}

/** The mode argument is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags) mode_t mode = 0; if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }

int open(const char *path, int flags, ...) {
  REAL(open, int, (const char *, int, ...));
  MODE_ARG(flags);
  return should_fail(F_OPEN, "open", -1, path) ? -1 : real_open(path, flags, mode);
}
int open64(const char *path, int flags, ...) {
  REAL(open64, int, (const char *, int, ...));
  MODE_ARG(flags);
  return should_fail(F_OPEN, "open64", -1, path) ? -1 : real_open64(path, flags, mode);
}
int openat(int dirfd, const char *path, int flags, ...) {
  REAL(openat, int, (int, const char *, int, ...));
  MODE_ARG(flags);
  return should_fail(F_OPEN, "openat", -1, path) ? -1 : real_openat(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) {
  REAL(openat64, int, (int, const char *, int, ...));
  MODE_ARG(flags);
  return should_fail(F_OPEN, "openat64", -1, path) ? -1 : real_openat64(dirfd, path, flags, mode);
}
