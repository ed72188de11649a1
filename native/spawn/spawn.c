/*
 * spawn.node: starts a function process with posix_spawn (glibc uses clone(CLONE_VM|CLONE_VFORK),
 * so nothing of the watchdog's memory is copied, unlike the fork() behind child_process.spawn),
 * in its own session and process group, with default signal dispositions and an empty signal mask.
 * Its stdio are new socket pairs (as libuv's 'pipe') or fds the caller passes. The exit status is
 * collected by pid (waitpid WNOHANG) when the JavaScript side sees SIGCHLD; never waitpid(-1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, NULL, "spawn.node: bad arguments");                      \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

/* A NUL-terminated copy of a JS string (caller frees), or NULL. */
static char *copy_string(napi_env env, napi_value value) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
  char *out = malloc(len + 1);
  if (out == NULL) return NULL;
  napi_get_value_string_utf8(env, value, out, len + 1, &len);
  return out;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p != NULL; p++) free(*p);
  free(list);
}

/* A NULL-terminated array of copies of a JS string array (caller frees), or NULL. */
static char **copy_strings(napi_env env, napi_value array) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **out = calloc((size_t)n + 1, sizeof(char *));
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok || (out[i] = copy_string(env, item)) == NULL) {
      free_strings(out);
      return NULL;
    }
  }
  return out;
}

/*
 * spawn(file, argv, envp, stdio) -> [pid, fd0, fd1, fd2] or [-errno].
 * stdio[i] >= 0: that fd becomes the child's fd i; -1: a new socket pair, whose parent end
 * (close-on-exec, blocking) is returned in fd<i>; -2: /dev/null.
 */
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 4) {
    napi_throw_error(env, NULL, "spawn.node: spawn(file, argv, envp, stdio)");
    return NULL;
  }
  int want[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value item;
    CHECK(napi_get_element(env, args[3], i, &item));
    CHECK(napi_get_value_int32(env, item, &want[i]));
  }
  char *file = copy_string(env, args[0]);
  char **argv = copy_strings(env, args[1]);
  char **envp = copy_strings(env, args[2]);
  int parent[3] = {-1, -1, -1};
  int child[3] = {-1, -1, -1};
  int err = (file == NULL || argv == NULL || envp == NULL) ? ENOMEM : 0;
  for (int i = 0; i < 3 && err == 0; i++) {
    if (want[i] >= 0) {
      child[i] = want[i];
      /* As libuv does in its child: a function's stdio is blocking. The flag lives on the shared
         open file description, so this is the same effect on the caller's copy that libuv has. */
      int flags = fcntl(want[i], F_GETFL);
      if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(want[i], F_SETFL, flags & ~O_NONBLOCK);
    } else if (want[i] == -1) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) err = errno;
      else {
        parent[i] = sv[0];
        child[i] = sv[1];
      }
    } else {
      child[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (child[i] < 0) err = errno;
    }
  }

  pid_t pid = -1;
  if (err == 0) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    /* dup2 onto 0..2 clears close-on-exec; an fd already in place gets it cleared by hand. */
    for (int i = 0; i < 3; i++) {
      if (child[i] == i) {
        int flags = fcntl(i, F_GETFD);
        if (flags >= 0) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
      } else {
        posix_spawn_file_actions_adddup2(&actions, child[i], i);
      }
    }
    sigset_t defaults, empty;
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults); /* Node ignores SIGPIPE; the function must not */
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    err = posix_spawn(&pid, file, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }

  /* Our copies of the child's ends: the new pairs and /dev/null are ours to close, passed fds are not. */
  for (int i = 0; i < 3; i++) {
    if (want[i] < 0 && child[i] >= 0) close(child[i]);
    if (err != 0 && parent[i] >= 0) close(parent[i]);
  }
  free(file);
  free_strings(argv);
  free_strings(envp);

  napi_value out, v;
  if (err != 0) {
    CHECK(napi_create_array_with_length(env, 1, &out));
    CHECK(napi_create_int32(env, -err, &v));
    CHECK(napi_set_element(env, out, 0, v));
    return out;
  }
  CHECK(napi_create_array_with_length(env, 4, &out));
  CHECK(napi_create_int32(env, pid, &v));
  CHECK(napi_set_element(env, out, 0, v));
  for (int i = 0; i < 3; i++) {
    CHECK(napi_create_int32(env, parent[i], &v));
    CHECK(napi_set_element(env, out, (uint32_t)i + 1, v));
  }
  return out;
}

/* wait(pid) -> null while it runs, [code, 0] after exit, [-1, signo] after a signal, [-errno, -1] on error. */
static napi_value Wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  int32_t pid;
  CHECK(napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  CHECK(napi_get_value_int32(env, arg, &pid));
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  napi_value out, a, b;
  if (r == 0) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  int first, second;
  if (r < 0) {
    first = -errno;
    second = -1;
  } else if (WIFSIGNALED(status)) {
    first = -1;
    second = WTERMSIG(status);
  } else {
    first = WEXITSTATUS(status);
    second = 0;
  }
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_int32(env, first, &a));
  CHECK(napi_create_int32(env, second, &b));
  CHECK(napi_set_element(env, out, 0, a));
  CHECK(napi_set_element(env, out, 1, b));
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "spawn", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "wait", NAPI_AUTO_LENGTH, Wait, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "wait", fn) != napi_ok) return NULL;
  return exports;
}
