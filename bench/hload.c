/* hload: a minimal closed-loop HTTP/1.1 keep-alive load generator for the benchmark.
 *
 * Why it exists: wrk 4.1 hangs on HEAD (it waits for a body of Content-Length bytes),
 * and ab speaks only HTTP/1.0. Registry clients HEAD blobs over HTTP/1.1 keep-alive,
 * which is what this measures. run.sh compiles it into the temp dir:
 *   cc -O2 -pthread -o hload bench/hload.c
 *
 * usage: hload [-c CONNS] [-t THREADS] [-d SECONDS] [-m METHOD] [-T TIMEOUT_S]
 *              [-H 'Name: value']... http://HOST:PORT/PATH
 * Prints "key value" lines: requests, seconds, rps, non2xx, errors_connect, errors_read,
 * errors_timeout, errors_parse, p50_ms, p90_ms, p99_ms, max_ms.
 * Responses with Transfer-Encoding: chunked are not supported (counted as parse errors).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FINE_US 100000          /* 1 us buckets up to 100 ms */
#define COARSE 100000           /* then 100 us buckets up to 10 s */
#define BUF 65536

typedef struct {
  int fd;
  int connected;
  size_t sent;
  size_t have;                  /* bytes in buf */
  long long body_left;          /* -1: still reading the head */
  int close_after;
  uint64_t start;
  char buf[BUF];
} conn_t;

typedef struct {
  int nconns;
  pthread_t tid;
  uint64_t requests, non2xx, e_connect, e_read, e_timeout, e_parse;
  uint32_t *fine, *coarse;
  uint64_t over, max_us;
} worker_t;

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static char *g_req;
static size_t g_reqlen;
static int g_head;
static uint64_t g_end_us, g_timeout_us = 5000000;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void record(worker_t *w, uint64_t us) {
  if (us < FINE_US) w->fine[us]++;
  else if ((us - FINE_US) / 100 < COARSE) w->coarse[(us - FINE_US) / 100]++;
  else w->over++;
  if (us > w->max_us) w->max_us = us;
}

static int open_conn(worker_t *w, int ep, conn_t *c) {
  c->fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->connected = 0;
  c->sent = c->have = 0;
  c->body_left = -1;
  c->close_after = 0;
  c->start = now_us();
  if (connect(c->fd, (struct sockaddr *)&g_addr, g_addrlen) < 0 && errno != EINPROGRESS) {
    w->e_connect++;
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static void reopen(worker_t *w, int ep, conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (now_us() < g_end_us) open_conn(w, ep, c);
}

static void arm(int ep, conn_t *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends (the rest of) the request. Returns -1 on error. */
static int send_req(conn_t *c) {
  if (c->sent == 0) c->start = now_us();
  while (c->sent < g_reqlen) {
    ssize_t n = send(c->fd, g_req + c->sent, g_reqlen - c->sent, MSG_NOSIGNAL);
    if (n < 0) return (errno == EAGAIN) ? 0 : -1;
    c->sent += (size_t)n;
  }
  return 0;
}

/* Parses the response head in c->buf[0..len). Returns head length, 0 if incomplete, -1 bad. */
static long parse_head(worker_t *w, conn_t *c) {
  char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
  if (!end) return c->have >= BUF ? -1 : 0;
  size_t hlen = (size_t)(end - c->buf) + 4;
  if (hlen < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
  int status = atoi(c->buf + 9);
  int minor = c->buf[7] - '0';
  if (status < 200 || status > 399) w->non2xx++;
  long long clen = -1;
  int close_hdr = 0, keep_hdr = 0;
  for (char *p = memchr(c->buf, '\n', hlen); p && p < c->buf + hlen; p = memchr(p, '\n', c->buf + hlen - p)) {
    p++;
    if (!strncasecmp(p, "Content-Length:", 15)) clen = atoll(p + 15);
    else if (!strncasecmp(p, "Transfer-Encoding:", 18)) return -1;
    else if (!strncasecmp(p, "Connection:", 11)) {
      char *q = p + 11;
      while (*q == ' ') q++;
      if (!strncasecmp(q, "close", 5)) close_hdr = 1;
      if (!strncasecmp(q, "keep-alive", 10)) keep_hdr = 1;
    }
  }
  c->close_after = close_hdr || (minor == 0 && !keep_hdr);
  if (g_head || status == 204 || status == 304) c->body_left = 0;
  else if (clen >= 0) c->body_left = clen;
  else return -1;               /* read-until-close bodies are not supported */
  return (long)hlen;
}

static void on_readable(worker_t *w, int ep, conn_t *c) {
  for (;;) {
    ssize_t n = recv(c->fd, c->buf + c->have, BUF - c->have, 0);
    if (n == 0) { w->e_read++; reopen(w, ep, c); return; }
    if (n < 0) {
      if (errno == EAGAIN) return;
      w->e_read++;
      reopen(w, ep, c);
      return;
    }
    c->have += (size_t)n;
    if (c->body_left < 0) {
      long h = parse_head(w, c);
      if (h < 0) { w->e_parse++; reopen(w, ep, c); return; }
      if (h == 0) continue;
      long long extra = (long long)c->have - h;
      c->have = 0;
      c->body_left -= extra;    /* body bytes that came with the head */
    } else {
      c->body_left -= (long long)c->have;
      c->have = 0;
    }
    if (c->body_left > 0) continue;
    if (c->body_left < 0) { w->e_parse++; reopen(w, ep, c); return; }  /* more than asked for */
    /* response complete */
    uint64_t t = now_us();
    if (t <= g_end_us) {
      w->requests++;
      record(w, t - c->start);
    }
    c->body_left = -1;
    c->sent = 0;
    if (c->close_after) { reopen(w, ep, c); return; }
    if (t >= g_end_us) return;
    if (send_req(c) < 0) { w->e_read++; reopen(w, ep, c); return; }
    if (c->sent < g_reqlen) arm(ep, c, EPOLLIN | EPOLLOUT);
    return;
  }
}

static void *run_worker(void *arg) {
  worker_t *w = arg;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  conn_t *conns = calloc((size_t)w->nconns, sizeof(conn_t));
  for (int i = 0; i < w->nconns; i++) { conns[i].fd = -1; open_conn(w, ep, &conns[i]); }
  struct epoll_event evs[256];
  while (now_us() < g_end_us) {
    int n = epoll_wait(ep, evs, 256, 10);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      if (!c->connected && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { w->e_connect++; reopen(w, ep, c); continue; }
        c->connected = 1;
        if (send_req(c) < 0) { w->e_connect++; reopen(w, ep, c); continue; }
        arm(ep, c, c->sent < g_reqlen ? EPOLLIN | EPOLLOUT : EPOLLIN);
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        if (send_req(c) < 0) { w->e_read++; reopen(w, ep, c); continue; }
        if (c->sent == g_reqlen) arm(ep, c, EPOLLIN);
      }
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, ep, c);
    }
    uint64_t t = now_us();
    for (int i = 0; i < w->nconns; i++) {
      conn_t *c = &conns[i];
      if (c->fd >= 0 && t - c->start > g_timeout_us) { w->e_timeout++; reopen(w, ep, c); }
      else if (c->fd < 0 && t < g_end_us) open_conn(w, ep, c);
    }
  }
  for (int i = 0; i < w->nconns; i++)
    if (conns[i].fd >= 0) close(conns[i].fd);
  free(conns);
  close(ep);
  return NULL;
}

static double pct(worker_t *ws, int nt, uint64_t total, double p) {
  uint64_t want = (uint64_t)(p / 100.0 * (double)total + 0.5), seen = 0;
  if (want == 0) want = 1;
  for (uint64_t i = 0; i < FINE_US; i++) {
    for (int t = 0; t < nt; t++) seen += ws[t].fine[i];
    if (seen >= want) return (double)i / 1000.0;
  }
  for (uint64_t i = 0; i < COARSE; i++) {
    for (int t = 0; t < nt; t++) seen += ws[t].coarse[i];
    if (seen >= want) return (double)(FINE_US + i * 100) / 1000.0;
  }
  return (double)(FINE_US + COARSE * 100) / 1000.0;
}

static void usage(void) {
  fprintf(stderr, "usage: hload [-c CONNS] [-t THREADS] [-d SECONDS] [-m METHOD] [-T TIMEOUT_S] "
                  "[-H 'Name: value']... http://HOST:PORT/PATH\n");
  exit(2);
}

int main(int argc, char **argv) {
  int conns = 64, threads = 2, secs = 10, opt;
  const char *method = "GET";
  char headers[8192] = "";
  while ((opt = getopt(argc, argv, "c:t:d:m:T:H:")) != -1) {
    switch (opt) {
      case 'c': conns = atoi(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'd': secs = atoi(optarg); break;
      case 'm': method = optarg; break;
      case 'T': g_timeout_us = (uint64_t)atoi(optarg) * 1000000u; break;
      case 'H':
        if (strlen(headers) + strlen(optarg) + 3 >= sizeof headers) usage();
        strcat(headers, optarg);
        strcat(headers, "\r\n");
        break;
      default: usage();
    }
  }
  if (optind != argc - 1 || conns < 1 || threads < 1 || secs < 1) usage();
  if (threads > conns) threads = conns;
  const char *url = argv[optind];
  if (strncmp(url, "http://", 7) != 0) usage();
  char hostport[256], host[256], port[16] = "80";
  const char *path = strchr(url + 7, '/');
  size_t hl = path ? (size_t)(path - url - 7) : strlen(url + 7);
  if (hl >= sizeof hostport) usage();
  memcpy(hostport, url + 7, hl);
  hostport[hl] = 0;
  if (!path) path = "/";
  strcpy(host, hostport);
  char *colon = strrchr(host, ':');
  if (colon) { snprintf(port, sizeof port, "%s", colon + 1); *colon = 0; }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0) { fprintf(stderr, "hload: cannot resolve %s\n", host); return 1; }
  memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
  g_addrlen = ai->ai_addrlen;
  freeaddrinfo(ai);
  g_head = strcmp(method, "HEAD") == 0;
  g_reqlen = (size_t)asprintf(&g_req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hload\r\n%s\r\n",
                              method, path, hostport, headers);

  worker_t *ws = calloc((size_t)threads, sizeof(worker_t));
  uint64_t t0 = now_us();
  g_end_us = t0 + (uint64_t)secs * 1000000u;
  for (int t = 0; t < threads; t++) {
    ws[t].nconns = conns / threads + (t < conns % threads);
    ws[t].fine = calloc(FINE_US, sizeof(uint32_t));
    ws[t].coarse = calloc(COARSE, sizeof(uint32_t));
    pthread_create(&ws[t].tid, NULL, run_worker, &ws[t]);
  }
  uint64_t req = 0, non2xx = 0, ec = 0, er = 0, et = 0, ep = 0, mx = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ws[t].tid, NULL);
    req += ws[t].requests; non2xx += ws[t].non2xx; ec += ws[t].e_connect;
    er += ws[t].e_read; et += ws[t].e_timeout; ep += ws[t].e_parse;
    if (ws[t].max_us > mx) mx = ws[t].max_us;
  }
  double el = (double)(g_end_us - t0) / 1e6;
  printf("requests %llu\nseconds %.3f\nrps %.2f\nnon2xx %llu\n", (unsigned long long)req, el,
         (double)req / el, (unsigned long long)non2xx);
  printf("errors_connect %llu\nerrors_read %llu\nerrors_timeout %llu\nerrors_parse %llu\n",
         (unsigned long long)ec, (unsigned long long)er, (unsigned long long)et, (unsigned long long)ep);
  if (req) {
    printf("p50_ms %.3f\np90_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n", pct(ws, threads, req, 50),
           pct(ws, threads, req, 90), pct(ws, threads, req, 99), (double)mx / 1000.0);
  }
  return req ? 0 : 1;
}
