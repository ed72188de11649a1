/*
 * spawn.node: starts a function process with posix_spawn (glibc uses clone(CLONE_VM|CLONE_VFORK),
 * so nothing of the watchdog's memory is copied, unlike the fork() behind child_process.spawn),
 * in its own session and process group, with default signal dispositions and an empty signal mask.
 * Its stdio are new socket pairs (as libuv's 'pipe') or fds the caller passes. The exit status is
 * collected by pid (waitpid WNOHANG) when the JavaScript side sees SIGCHLD; never waitpid(-1).
 *
 * posix_spawn itself runs on a libuv pool thread: with CLONE_VFORK the calling thread is suspended
 * until the child has exec'd, which on the event loop thread stalled every other request. The
 * parent ends of the child's stdio are made on the calling thread, so JavaScript can use them at
 * once; the pid (or the errno) is handed to the callback given to init().
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

/* stdio codes: >= 0 the caller's fd, -1 a new socket pair, -2 /dev/null, -3 the same as the child's fd 1. */
#define STDIO_PAIR -1
#define STDIO_NULL -2
#define STDIO_SAME_AS_1 -3

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

/* A NULL-terminated array of copies of a JS string array (caller frees), or NULL. *count gets its length. */
static char **copy_strings(napi_env env, napi_value array, uint32_t *count) {
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
  if (count != NULL) *count = n;
  return out;
}

/* An environment prepared once (prepareEnv) and shared by every spawn that names it. */
typedef struct {
  char **list;
  uint32_t count;
} base_env_t;

static void free_base_env(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  base_env_t *base = data;
  free_strings(base->list);
  free(base);
}

/* prepareEnv(["K=V", ...]) -> an external handle for spawn's base environment. */
static napi_value PrepareEnv(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, out;
  CHECK(napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  base_env_t *base = calloc(1, sizeof(base_env_t));
  if (base == NULL || (base->list = copy_strings(env, arg, &base->count)) == NULL) {
    free(base);
    napi_throw_error(env, NULL, "spawn.node: prepareEnv([\"K=V\", ...])");
    return NULL;
  }
  if (napi_create_external(env, base, free_base_env, NULL, &out) != napi_ok) {
    free_base_env(env, base, NULL);
    napi_throw_error(env, NULL, "spawn.node: prepareEnv failed");
    return NULL;
  }
  return out;
}

/* One spawn on its way through the pool. */
typedef struct {
  napi_async_work work;
  napi_ref base_ref; /* keeps the base environment alive while the pool thread reads it */
  base_env_t *base;
  char *file;
  char **argv;
  char **extra;
  uint32_t extra_count;
  int child[3]; /* the child's stdio: all ours to close once it has started */
  int token;
  pid_t pid;
  int err;
} job_t;

/* The JavaScript function told about each finished spawn, (token, pid or -errno): per napi_env (instance data). */
static napi_ref spawned_callback(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (napi_ref)data;
}

static void drop_callback(napi_env env, void *data, void *hint) {
  (void)hint;
  napi_delete_reference(env, (napi_ref)data);
}

/* A copy of fd numbered 3 or above (close-on-exec), so the dup2s onto 0..2 never clobber each other. */
static int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

/* Closes each of the child's ends once (fd 2 may be fd 1's channel): a second close could hit an fd
   number the event loop thread has been given again in the meantime. */
static void close_child_ends(job_t *job) {
  int fds[3] = {job->child[0], job->child[1], job->child[2]};
  job->child[0] = job->child[1] = job->child[2] = -1;
  for (int i = 0; i < 3; i++) {
    if (fds[i] < 0) continue;
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= fds[j] == fds[i];
    if (!seen) close(fds[i]);
  }
}

/* On a pool thread: the posix_spawn call (the calling thread waits here until the child has exec'd). */
static void Execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  uint32_t n = (job->base != NULL ? job->base->count : 0) + job->extra_count;
  char **envp = malloc(((size_t)n + 1) * sizeof(char *));
  if (envp == NULL) {
    job->err = ENOMEM;
    close_child_ends(job);
    return;
  }
  uint32_t k = 0;
  if (job->base != NULL)
    for (uint32_t i = 0; i < job->base->count; i++) envp[k++] = job->base->list[i];
  for (uint32_t i = 0; i < job->extra_count; i++) envp[k++] = job->extra[i];
  envp[k] = NULL;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  /* The child ends are close-on-exec copies; dup2 onto 0..2 clears the flag on the new fds. */
  for (int i = 0; i < 3; i++) posix_spawn_file_actions_adddup2(&actions, job->child[i], i);
  sigset_t defaults, empty;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults); /* Node ignores SIGPIPE; the function must not */
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  job->err = posix_spawn(&job->pid, job->file, &actions, &attr, job->argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  free(envp);
  close_child_ends(job);
}

static void free_job(napi_env env, job_t *job) {
  close_child_ends(job);
  if (job->base_ref != NULL) napi_delete_reference(env, job->base_ref);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job->file);
  free_strings(job->argv);
  free_strings(job->extra);
  free(job);
}

/* Back on the JavaScript thread: report the pid (or -errno) to on_spawned. */
static void Complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  int result = status != napi_ok ? -ECANCELED : job->err != 0 ? -job->err : (int)job->pid;
  int token = job->token;
  free_job(env, job);
  napi_ref on_spawned = spawned_callback(env);
  napi_value fn, global, argv[2], ignored;
  if (on_spawned == NULL || napi_get_reference_value(env, on_spawned, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &global);
  napi_create_int32(env, token, &argv[0]);
  napi_create_int32(env, result, &argv[1]);
  napi_call_function(env, global, fn, 2, argv, &ignored);
}

/* init(onSpawned): the function called as onSpawned(token, pid or -errno) after each spawn. */
static napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn;
  napi_ref ref;
  CHECK(napi_get_cb_info(env, info, &argc, &fn, NULL, NULL));
  napi_ref old = spawned_callback(env);
  CHECK(napi_create_reference(env, fn, 1, &ref));
  CHECK(napi_set_instance_data(env, ref, drop_callback, NULL));
  if (old != NULL) napi_delete_reference(env, old);
  return NULL;
}

/*
 * spawn(file, argv, baseEnv | null, envp, stdio, token) -> [0, fd0, fd1, fd2] or [-errno].
 * baseEnv is a prepareEnv() handle; envp entries follow its entries. stdio[i]: the STDIO_* codes
 * above. The parent ends of new pairs (close-on-exec, blocking) come back in fd<i> (else -1).
 * A file that cannot be executed fails here, at once; any later failure goes to onSpawned.
 */
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 6 || spawned_callback(env) == NULL) {
    napi_throw_error(env, NULL, "spawn.node: init(onSpawned), then spawn(file, argv, baseEnv, envp, stdio, token)");
    return NULL;
  }
  int want[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value item;
    CHECK(napi_get_element(env, args[4], i, &item));
    CHECK(napi_get_value_int32(env, item, &want[i]));
  }
  job_t *job = calloc(1, sizeof(job_t));
  if (job == NULL) {
    napi_throw_error(env, NULL, "spawn.node: out of memory");
    return NULL;
  }
  job->child[0] = job->child[1] = job->child[2] = -1;
  CHECK(napi_get_value_int32(env, args[5], &job->token));
  napi_valuetype base_type;
  CHECK(napi_typeof(env, args[2], &base_type));
  if (base_type == napi_external) {
    CHECK(napi_get_value_external(env, args[2], (void **)&job->base));
    CHECK(napi_create_reference(env, args[2], 1, &job->base_ref));
  }
  job->file = copy_string(env, args[0]);
  job->argv = copy_strings(env, args[1], NULL);
  job->extra = copy_strings(env, args[3], &job->extra_count);
  int parent[3] = {-1, -1, -1};
  int err = (job->file == NULL || job->argv == NULL || job->extra == NULL) ? ENOMEM : 0;
  /* The usual start failures (ENOENT, EACCES) are reported at once, as before the pool was used. */
  if (err == 0 && access(job->file, X_OK) != 0) err = errno;
  for (int i = 0; i < 3 && err == 0; i++) {
    if (want[i] >= 0) {
      /* Our own copy: the caller may close its fd before the pool thread gets to it. */
      job->child[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 3);
      if (job->child[i] < 0) {
        err = errno;
        break;
      }
      /* As libuv does in its child: a function's stdio is blocking. The flag lives on the shared
         open file description, so this is the same effect on the caller's copy that libuv has. */
      int flags = fcntl(job->child[i], F_GETFL);
      if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(job->child[i], F_SETFL, flags & ~O_NONBLOCK);
    } else if (want[i] == STDIO_PAIR) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) err = errno;
      else {
        parent[i] = sv[0];
        job->child[i] = above_stdio(sv[1]);
        if (job->child[i] < 0) err = errno;
      }
    } else if (want[i] == STDIO_SAME_AS_1 && i == 2) {
      job->child[2] = job->child[1];
    } else {
      job->child[i] = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
      if (job->child[i] < 0) err = errno;
    }
  }
  napi_value name, out, v;
  if (err == 0) {
    CHECK(napi_create_string_utf8(env, "spawn.node", NAPI_AUTO_LENGTH, &name));
    if (napi_create_async_work(env, NULL, name, Execute, Complete, job, &job->work) != napi_ok || napi_queue_async_work(env, job->work) != napi_ok) err = EAGAIN;
  }
  if (err != 0) {
    for (int i = 0; i < 3; i++)
      if (parent[i] >= 0) close(parent[i]);
    free_job(env, job);
    CHECK(napi_create_array_with_length(env, 1, &out));
    CHECK(napi_create_int32(env, -err, &v));
    CHECK(napi_set_element(env, out, 0, v));
    return out;
  }
  CHECK(napi_create_array_with_length(env, 4, &out));
  CHECK(napi_create_int32(env, 0, &v));
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
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"init", Init}, {"prepareEnv", PrepareEnv}, {"spawn", Spawn}, {"wait", Wait}};
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok) return NULL;
  }
  return exports;
}
