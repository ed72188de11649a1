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
 *
 * Before that it checks that the loader and fwatchdog-bin are built for its own CPU architecture (the ELF
 * header's e_machine): a folder mixed from two builds (x86-64 and arm64) fails with a message naming both,
 * instead of the kernel's bare "exec format error".
 *
 * Started with no arguments (the watchdog itself, not --version or --run-healthcheck), it binds the
 * watchdog's port first (`port`, default 8080; [::] dual-stack, else 0.0.0.0, as Node's listen(port) does)
 * and hands the listening socket to the watchdog as FWATCHDOG_LISTEN_FD: the kernel queues connections from
 * the first millisecond after exec, while Node boots (about 100 ms after a cold start), instead of refusing
 * them. Anything unexpected (a port that is not a plain number, a bind that fails) binds nothing: the
 * watchdog then listens itself and reports the problem as usual. docs/running-on-openfaas.md.
 */
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LOADER
#define LOADER "ld-linux-x86-64.so.2"
#endif
#define BINARY "fwatchdog-bin"

#if defined(__x86_64__)
#define OWN_MACHINE 62
#elif defined(__aarch64__)
#define OWN_MACHINE 183
#else
#define OWN_MACHINE 0
#endif

static const char *machine_name(int machine) {
  switch (machine) {
    case 62: return "x86-64 (amd64)";
    case 183: return "arm64 (aarch64)";
    case 3: return "x86 (i386)";
    case 40: return "32-bit arm";
    case 243: return "riscv";
    case 21: return "ppc64";
    case 22: return "s390x";
    default: return "another";
  }
}

/* The e_machine of an ELF file; -1 if it cannot be read, 0 if it is no ELF file. */
static int elf_machine(const char *path) {
  unsigned char head[20];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  if (n != (ssize_t)sizeof head || memcmp(head, "\177ELF", 4) != 0) return 0;
  /* e_machine at offset 18, in the file's byte order (EI_DATA: 1 little, 2 big endian). */
  return head[5] == 2 ? (head[18] << 8) | head[19] : head[18] | (head[19] << 8);
}

/* Fails (126) when `path` is an ELF file for another CPU than this launcher's. */
static int check_machine(const char *path, const char *dir) {
  int machine = elf_machine(path);
  if (OWN_MACHINE == 0 || machine <= 0 || machine == OWN_MACHINE) return 0;
  fprintf(stderr,
          "fwatchdog: %s is built for %s, but this launcher (and so this image) is %s: the folder %s mixes two "
          "architectures. Copy the whole folder from the fwatchdog image of the image's platform (COPY --from=fwatchdog "
          "/opt/fwatchdog /opt/fwatchdog with the same --platform), or build it with npm run build:binary -- --arch %s\n",
          path, machine_name(machine), machine_name(OWN_MACHINE), dir, OWN_MACHINE == 183 ? "arm64" : "x64");
  return 126;
}

/* The listening socket on `port` (not close-on-exec: it must survive the exec), or -1. */
static int listen_early(void) {
  const char *value = getenv("port");
  long port = 8080;
  if (value != NULL) {
    char *end;
    if (*value < '0' || *value > '9') return -1;
    port = strtol(value, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) return -1;
  }
  const int one = 1;
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd >= 0) {
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port), .sin6_addr = IN6ADDR_ANY_INIT};
    const int zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0 &&
        bind(fd, (struct sockaddr *)&any6, sizeof any6) == 0 && listen(fd, 511) == 0)
      return fd;
    close(fd);
  }
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr = {htonl(INADDR_ANY)}};
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
      bind(fd, (struct sockaddr *)&any4, sizeof any4) == 0 && listen(fd, 511) == 0)
    return fd;
  close(fd);
  return -1;
}

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

  int bad = check_machine(binary, dir);
  if (bad == 0) bad = check_machine(loader, dir);
  if (bad != 0) return bad;

  unsetenv("FWATCHDOG_LISTEN_FD"); /* only ever this launcher's own */
  if (argc == 1) {
    int fd = listen_early();
    char number[16];
    if (fd >= 0) {
      snprintf(number, sizeof number, "%d", fd);
      if (setenv("FWATCHDOG_LISTEN_FD", number, 1) != 0) close(fd);
    }
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
