/*
 * reaper.node: lists this process's zombie children and reaps one by pid (waitpid), for the
 * watchdog running as PID 1. It never calls waitpid(-1): the JavaScript side only reaps zombies
 * that libuv does not track, so Node's own children keep their exit codes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>

#define MAX_PIDS 4096

/* Reads a small file into buf (NUL-terminated); returns bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  close(fd);
  buf[used] = '\0';
  return (ssize_t)used;
}

/* State letter and parent pid of /proc/<pid>/stat; returns 0 on success. */
static int proc_state(long pid, char *state, long *ppid) {
  char path[64];
  char buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  char *close_paren = strrchr(buf, ')');
  if (close_paren == NULL || close_paren[1] == '\0' || close_paren[2] == '\0') return -1;
  *state = close_paren[2];
  *ppid = strtol(close_paren + 3, NULL, 10);
  return 0;
}

/* Appends the zombie children listed in /proc/self/task/<tid>/children; returns -1 if unsupported. */
static int zombies_from_task_children(long *out, int *count) {
  DIR *tasks = opendir("/proc/self/task");
  if (tasks == NULL) return -1;
  struct dirent *t;
  int supported = 0;
  static char buf[65536];
  while ((t = readdir(tasks)) != NULL) {
    if (t->d_name[0] < '0' || t->d_name[0] > '9') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", t->d_name);
    if (read_small(path, buf, sizeof buf) < 0) continue;
    supported = 1;
    char *p = buf;
    while (*p != '\0' && *count < MAX_PIDS) {
      char *end;
      long pid = strtol(p, &end, 10);
      if (end == p) break;
      p = end;
      char state;
      long ppid;
      if (proc_state(pid, &state, &ppid) == 0 && state == 'Z') out[(*count)++] = pid;
    }
  }
  closedir(tasks);
  return supported ? 0 : -1;
}

/* Fallback without CONFIG_PROC_CHILDREN: every /proc/<pid> whose parent is us and state is Z. */
static void zombies_from_proc_scan(long *out, int *count) {
  DIR *proc = opendir("/proc");
  if (proc == NULL) return;
  long self = (long)getpid();
  struct dirent *d;
  while ((d = readdir(proc)) != NULL && *count < MAX_PIDS) {
    if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
    long pid = strtol(d->d_name, NULL, 10);
    char state;
    long ppid;
    if (proc_state(pid, &state, &ppid) == 0 && state == 'Z' && ppid == self) out[(*count)++] = pid;
  }
  closedir(proc);
}

/* zombieChildren(): number[] of this process's children that are zombies now. */
static napi_value ZombieChildren(napi_env env, napi_callback_info info) {
  (void)info;
  static long pids[MAX_PIDS];
  int count = 0;
  if (zombies_from_task_children(pids, &count) != 0) zombies_from_proc_scan(pids, &count);
  napi_value arr;
  if (napi_create_array_with_length(env, (size_t)count, &arr) != napi_ok) return NULL;
  for (int i = 0; i < count; i++) {
    napi_value v;
    napi_create_int32(env, (int32_t)pids[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  return arr;
}

/* reap(pid): waitpid(pid, WNOHANG); returns pid when reaped, 0 if it has not exited, -errno on error. */
static napi_value Reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t pid = 0;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid) needs a positive pid");
    return NULL;
  }
  int status;
  pid_t r;
  do {
    r = waitpid((pid_t)pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"zombieChildren", NULL, ZombieChildren, NULL, NULL, NULL, napi_default, NULL},
    {"reap", NULL, Reap, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
