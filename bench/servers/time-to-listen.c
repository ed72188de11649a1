// time-to-listen <port> <program> [args...]: execs the program and prints the milliseconds from just before
// the exec to the first TCP connect to 127.0.0.1:<port> that succeeds (the program called listen()), then
// kills it (SIGKILL: the Go watchdogs wait out healthcheck_interval on SIGTERM, and only the listen is measured). Static (musl-gcc or gcc -static) so it runs in any image as the container's entrypoint;
// bench/scenarios/cold-listen.mjs runs it with the page cache dropped before each start.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: time-to-listen <port> <program> [args...]\n");
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  double start = now_ms();
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[2], argv + 2);
    perror("time-to-listen: exec");
    _exit(127);
  }
  if (pid < 0) {
    perror("time-to-listen: fork");
    return 1;
  }
  const struct timespec pause = {0, 200 * 1000}; // 0.2 ms between attempts
  for (;;) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int ok = connect(s, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(s);
    double at = now_ms() - start;
    if (ok) {
      printf("%.2f\n", at);
      fflush(stdout);
      break;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "time-to-listen: %s exited before it listened (status %d)\n", argv[2], status);
      return 1;
    }
    if (at > 20000) {
      fprintf(stderr, "time-to-listen: %s did not listen on %s within 20 s\n", argv[2], argv[1]);
      kill(pid, SIGKILL);
      return 1;
    }
    nanosleep(&pause, NULL);
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  return 0;
}
