/*
 * The NetworkPolicy e2e's servers and clients in one process (run inside the testbed's UML guest by
 * test/e2e/netpol-guest.ts). Starting a program costs tens to hundreds of milliseconds in the guest,
 * and the upstream suite probes every pair of pods for every case: a process per probe would take
 * hours. This one enters each pod's network namespace (setns), opens its sockets there (a socket stays
 * in the namespace it was made in) and then serves and probes from one event loop.
 *
 * stdin, one command a line; every command is answered with one line, `probe` batches with `done`:
 *   serve NETNS PORT...        TCP listeners (accept, close) and UDP echo on each port in NETNS
 *   probe ID NETNS IP PORT tcp|udp   queued; run by the next `go`
 *   go TIMEOUT_MS              runs every queued probe at once: a line `ID ok|fail REASON` each, then `done`
 * A TCP probe passes when the handshake completes; a UDP probe when the echo comes back. A reset or an
 * ICMP error (REJECT) fails at once; silence (DROP) fails at the timeout. TCP retransmits its SYN on its
 * own; a UDP probe resends its datagram every RESEND_MS until an answer or the timeout, as a real UDP
 * client does: one lost datagram is not a verdict.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4096
#define RESEND_MS 250

enum kind { TCP_LISTENER, UDP_SERVER, TCP_PROBE, UDP_PROBE };

struct slot {
  int fd;
  enum kind kind;
  char id[64];
  int done;
};

static struct slot slots[MAX_FDS];
static int nslots;
static int home_ns;

static int enter(const char *netns) {
  char path[256];
  snprintf(path, sizeof path, "/run/netns/%s", netns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  return rc;
}

/* A socket made inside NETNS; the process returns to its own namespace. */
static int socket_in(const char *netns, int type) {
  if (enter(netns) != 0) return -1;
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (setns(home_ns, CLONE_NEWNET) != 0) {
    perror("setns home");
    exit(1);
  }
  return fd;
}

static void add(int fd, enum kind kind, const char *id) {
  if (nslots == MAX_FDS) {
    fprintf(stderr, "too many sockets\n");
    exit(1);
  }
  slots[nslots].fd = fd;
  slots[nslots].kind = kind;
  slots[nslots].done = 0;
  snprintf(slots[nslots].id, sizeof slots[nslots].id, "%s", id ? id : "");
  nslots++;
}

static int serve(const char *netns, int port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  int one = 1;
  int tcp = socket_in(netns, SOCK_STREAM);
  int udp = socket_in(netns, SOCK_DGRAM);
  if (tcp < 0 || udp < 0) return -1;
  setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(tcp, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(tcp, 128) != 0) return -1;
  if (bind(udp, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
  add(tcp, TCP_LISTENER, NULL);
  add(udp, UDP_SERVER, NULL);
  return 0;
}

static void answer_servers(struct pollfd *fds) {
  for (int i = 0; i < nslots; i++) {
    if (!(fds[i].revents & POLLIN)) continue;
    if (slots[i].kind == TCP_LISTENER) {
      int conn = accept4(slots[i].fd, NULL, NULL, SOCK_CLOEXEC);
      if (conn >= 0) close(conn);
    } else if (slots[i].kind == UDP_SERVER) {
      char buf[64];
      struct sockaddr_in peer;
      socklen_t len = sizeof peer;
      ssize_t n = recvfrom(slots[i].fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
      if (n > 0) sendto(slots[i].fd, buf, n, 0, (struct sockaddr *)&peer, len);
    }
  }
}

static int probe(const char *id, const char *netns, const char *ip, int port, const char *proto) {
  int udp = strcmp(proto, "udp") == 0;
  int fd = socket_in(netns, udp ? SOCK_DGRAM : SOCK_STREAM);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
    printf("%s fail connect:%s\n", id, strerror(errno));
    close(fd);
    return 0;
  }
  if (udp && send(fd, "netpol", 6, 0) != 6) {
    printf("%s fail send:%s\n", id, strerror(errno));
    close(fd);
    return 0;
  }
  add(fd, udp ? UDP_PROBE : TCP_PROBE, id);
  return 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void finish(int i, const char *verdict, const char *reason) {
  printf("%s %s %s\n", slots[i].id, verdict, reason);
  close(slots[i].fd);
  slots[i].done = 1;
}

/* Sends the datagram of every UDP probe still waiting (again). */
static void resend_udp(void) {
  for (int i = 0; i < nslots; i++)
    if (!slots[i].done && slots[i].kind == UDP_PROBE && send(slots[i].fd, "netpol", 6, 0) < 0 &&
        errno != EAGAIN)
      finish(i, "fail", strerror(errno));
}

/* Serves and waits until every probe has an answer or the timeout passed; probes are then dropped. */
static void go(long timeout_ms) {
  static struct pollfd fds[MAX_FDS];
  long deadline = now_ms() + timeout_ms;
  long next_resend = now_ms() + RESEND_MS;
  for (;;) {
    int pending = 0;
    for (int i = 0; i < nslots; i++) {
      fds[i].fd = slots[i].done ? -1 : slots[i].fd;
      fds[i].events = slots[i].kind == TCP_PROBE ? POLLOUT : POLLIN;
      fds[i].revents = 0;
      if (!slots[i].done && (slots[i].kind == TCP_PROBE || slots[i].kind == UDP_PROBE)) pending++;
    }
    long now = now_ms();
    long left = deadline - now;
    if (pending == 0 || left <= 0) break;
    if (now >= next_resend) {
      resend_udp();
      next_resend = now + RESEND_MS;
      continue;
    }
    long wait = next_resend - now < left ? next_resend - now : left;
    if (poll(fds, nslots, wait) < 0 && errno != EINTR) break;
    answer_servers(fds);
    for (int i = 0; i < nslots; i++) {
      if (slots[i].done || !fds[i].revents) continue;
      if (slots[i].kind == TCP_PROBE) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(slots[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        finish(i, err == 0 ? "ok" : "fail", err == 0 ? "connected" : strerror(err));
      } else if (slots[i].kind == UDP_PROBE) {
        char buf[64];
        ssize_t n = recv(slots[i].fd, buf, sizeof buf, 0);
        if (n > 0) finish(i, "ok", "echoed");
        else if (n < 0 && errno != EAGAIN) finish(i, "fail", strerror(errno));
      }
    }
  }
  for (int i = 0; i < nslots; i++)
    if (!slots[i].done && (slots[i].kind == TCP_PROBE || slots[i].kind == UDP_PROBE))
      finish(i, "fail", "timeout");
  /* Keep only the servers. */
  int kept = 0;
  for (int i = 0; i < nslots; i++)
    if (slots[i].kind == TCP_LISTENER || slots[i].kind == UDP_SERVER) slots[kept++] = slots[i];
  nslots = kept;
  printf("done\n");
}

int main(void) {
  home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ns < 0) {
    perror("open own netns");
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    char netns[128], id[64], ip[64], proto[8];
    int port;
    long timeout;
    if (sscanf(line, "serve %127s", netns) == 1) {
      int ok = 1, offset = 0, used = 0;
      char *ports = strchr(line + 6, ' ');
      while (ports && sscanf(ports + offset, "%d%n", &port, &used) == 1) {
        if (serve(netns, port) != 0) ok = 0;
        offset += used;
      }
      printf(ok ? "ok\n" : "error serve %s: %s\n", netns, strerror(errno));
    } else if (sscanf(line, "probe %63s %127s %63s %d %7s", id, netns, ip, &port, proto) == 5) {
      if (probe(id, netns, ip, port, proto) != 0) printf("%s fail setup:%s\n", id, strerror(errno));
    } else if (sscanf(line, "go %ld", &timeout) == 1) {
      go(timeout);
    } else {
      printf("error unknown command: %s", line);
    }
  }
  return 0;
}
