/*
 * fwatchdog portable launcher: the entry point of the folder /opt/fwatchdog (or wherever it is put).
 *
 * The watchdog binary (fwatchdog-bin, the single-file binary) needs glibc and libstdc++, which an
 * Alpine, busybox, distroless/static or FROM scratch image lacks. This launcher is linked statically
 * (it needs nothing from the image) and execs the binary through the glibc loader bundled in lib/:
 *
 *   <dir>/lib/<loader> --inhibit-cache --library-path <dir>/lib --argv0 <argv[0]> <dir>/fwatchdog-bin ARGS...
 *
 * --library-path applies to the watchdog only: the processes it starts see the image's own libraries.
 * <dir> is the folder of this file, from /proc/self/exe (symlinks resolved), else from argv[0].
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LOADER
#define LOADER "ld-linux-x86-64.so.2"
#endif
#define BINARY "fwatchdog-bin"

static int own_dir(const char *argv0, char *dir, size_t size) {
  ssize_t n = readlink("/proc/self/exe", dir, size - 1);
  if (n > 0) {
    dir[n] = '\0';
  } else {
    /* No /proc: fall back to the path this launcher was started by. */
    if (argv0 == NULL || strchr(argv0, '/') == NULL || realpath(argv0, dir) == NULL) return -1;
  }
  char *slash = strrchr(dir, '/');
  if (slash == NULL) return -1;
  if (slash == dir) slash[1] = '\0'; else *slash = '\0';
  return 0;
}

int main(int argc, char **argv) {
  char dir[PATH_MAX], loader[PATH_MAX], libdir[PATH_MAX], binary[PATH_MAX];
  if (own_dir(argv[0], dir, sizeof dir) != 0) {
    fprintf(stderr, "fwatchdog: cannot find the folder of %s (/proc is not mounted): start it by its full path\n", argv[0] ? argv[0] : "the launcher");
    return 127;
  }
  const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
  if (snprintf(loader, sizeof loader, "%s%slib/%s", dir, sep, LOADER) >= (int)sizeof loader ||
      snprintf(libdir, sizeof libdir, "%s%slib", dir, sep) >= (int)sizeof libdir ||
      snprintf(binary, sizeof binary, "%s%s%s", dir, sep, BINARY) >= (int)sizeof binary) {
    fprintf(stderr, "fwatchdog: the path %s is too long\n", dir);
    return 127;
  }

  /* loader, 6 options, the binary, the arguments, NULL */
  char **args = calloc((size_t)argc + 9, sizeof *args);
  if (args == NULL) {
    fprintf(stderr, "fwatchdog: out of memory\n");
    return 127;
  }
  int i = 0;
  args[i++] = loader;
  args[i++] = "--inhibit-cache";
  args[i++] = "--library-path";
  args[i++] = libdir;
  args[i++] = "--argv0";
  args[i++] = argv[0] ? argv[0] : binary;
  args[i++] = binary;
  for (int a = 1; a < argc; a++) args[i++] = argv[a];
  args[i] = NULL;

  execv(loader, args);
  int err = errno;
  fprintf(stderr, "fwatchdog: cannot run %s: %s (the folder %s must hold fwatchdog-bin and lib/ as built by npm run build:portable)\n", loader, strerror(err), dir);
  return err == ENOENT ? 127 : 126;
}
