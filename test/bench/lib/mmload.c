// mmload: the bench's small HTTP/1.1 load generator for what wrk cannot do (wrk 4 is closed-loop
// and does not say when each request was sent or what it got back).
//
//   paced  (--rate R > 0): open loop. Request i is due at start + i/R, whatever the server does;
//          it goes out on an idle keep-alive connection, or waits for one. Its latency is counted
//          from when it was due ("intended", free of coordinated omission) and from when it was
//          written ("service").
//   closed (--rate 0):     each connection sends its next request as soon as the previous answer
//          has arrived, until the time is up.
//
// Every request's due, sent and answered times (CLOCK_MONOTONIC, the clock of Node's
// process.hrtime) and its status can be written to --records, one line each, in ns after
// "start_ns", so that the bench can line them up with events in other processes (a revoke).
// Tokens rotate through the lines of --tokens (sent as `Authorization: Bearer …`).
//
// Built by the bench at run time with the system cc (test/bench/lib/mmload.ts); nothing compiled
// is committed. Linux only (epoll, timerfd). One JSON object on stdout; exit 2 on a usage or
// set-up error with a message on stderr.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER 65536
#define MAX_TOKENS 10000
#define GRACE_NS 5000000000ull /* how long in-flight requests may take after the time is up */

typedef struct {
  uint64_t due, sent, done; /* ns, CLOCK_MONOTONIC */
  int status;               /* 0: no answer (connection failed or closed) */
} record_t;

typedef struct {
  int fd;
  int busy;
  record_t current;
  const char *out;
  size_t out_len, out_off;
  char in[READ_BUFFER];
  size_t in_len;
} conn_t;

static struct sockaddr_in address;
static int epoll_fd;
static conn_t *conns;
static int conn_count;
static int *idle_stack, idle_top;
static char **requests;
static size_t *request_lens;
static int request_count, next_request;
static record_t *records;
static size_t record_count, record_capacity;
static long errors, reconnects;

static void die(const char *message) {
  fprintf(stderr, "mmload: %s\n", message);
  exit(2);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void keep(record_t record) {
  if (record_count == record_capacity) {
    record_capacity = record_capacity ? record_capacity * 2 : 65536;
    records = realloc(records, record_capacity * sizeof(record_t));
    if (!records) die("out of memory");
  }
  records[record_count++] = record;
}

static int open_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void watch(int index, uint32_t events, int op) {
  struct epoll_event event = {.events = events, .data.u32 = (uint32_t)index};
  epoll_ctl(epoll_fd, op, conns[index].fd, &event);
}

/* The connection failed or the server closed it: count the request in flight, connect again.
 * Invariant: a connection is on the idle stack exactly when it is not busy. */
static void reset(int index) {
  conn_t *c = &conns[index];
  int was_busy = c->busy;
  if (was_busy) {
    c->current.done = now_ns();
    c->current.status = 0;
    keep(c->current);
    errors++;
  }
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->busy = 0;
  c->in_len = 0;
  c->out_off = c->out_len = 0;
  c->fd = open_socket();
  if (c->fd < 0) die("lost a connection and could not connect again");
  reconnects++;
  watch(index, EPOLLIN, EPOLL_CTL_ADD);
  if (was_busy) idle_stack[idle_top++] = index;
}

static void flush_out(int index) {
  conn_t *c = &conns[index];
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(index, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
      return;
    } else {
      reset(index);
      return;
    }
  }
}

static void send_on(int index, uint64_t due) {
  conn_t *c = &conns[index];
  c->busy = 1;
  c->out = requests[next_request];
  c->out_len = request_lens[next_request];
  c->out_off = 0;
  next_request = (next_request + 1) % request_count;
  c->current.due = due;
  c->current.sent = now_ns();
  flush_out(index);
}

/* One complete answer at the start of the buffer: its length, or 0 when more bytes are needed. */
static size_t answer_length(conn_t *c, int *status) {
  char *head_end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!head_end) return 0;
  size_t head = (size_t)(head_end - c->in) + 4;
  if (c->in_len < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) return (size_t)-1;
  *status = atoi(c->in + 9);
  for (char *line = memchr(c->in, '\n', head); line && line < head_end; line = memchr(line + 1, '\n', (size_t)(head_end - line))) {
    if (strncasecmp(line + 1, "content-length:", 15) == 0) {
      size_t total = head + (size_t)strtoull(line + 16, NULL, 10);
      return c->in_len >= total ? total : 0;
    }
    if (strncasecmp(line + 1, "transfer-encoding:", 18) == 0) {
      char *end = memmem(head_end, c->in_len - (head - 4), "\r\n0\r\n\r\n", 7);
      return end ? (size_t)(end - c->in) + 7 : 0;
    }
  }
  return head; /* no body (e.g. 204) */
}

/* Reads what arrived; returns how many answers completed (their connections are idle again). */
static int read_answers(int index) {
  conn_t *c = &conns[index];
  int completed = 0;
  for (;;) {
    if (c->in_len == sizeof c->in) {
      reset(index); /* an answer larger than the buffer: not what this tool is for */
      return completed;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n > 0) {
      c->in_len += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    reset(index); /* closed by the server, or an error */
    return completed;
  }
  uint64_t at = now_ns();
  for (;;) {
    int status = 0;
    size_t length = answer_length(c, &status);
    if (length == 0) break;
    if (length == (size_t)-1 || !c->busy) {
      reset(index);
      break;
    }
    c->current.done = at;
    c->current.status = status;
    keep(c->current);
    c->busy = 0;
    memmove(c->in, c->in + length, c->in_len - length);
    c->in_len -= length;
    idle_stack[idle_top++] = index;
    completed++;
  }
  return completed;
}

static void load_tokens(const char *path, const char *host, int port, const char *target, const char *body) {
  FILE *file = fopen(path, "r");
  if (!file) die("cannot read the tokens file");
  requests = calloc(MAX_TOKENS, sizeof(char *));
  request_lens = calloc(MAX_TOKENS, sizeof(size_t));
  char line[4096];
  while (fgets(line, sizeof line, file) && request_count < MAX_TOKENS) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    size_t size = strlen(line) + strlen(target) + strlen(host) + strlen(body) + 256;
    requests[request_count] = malloc(size);
    request_lens[request_count] = (size_t)snprintf(requests[request_count], size,
        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n%s", target, host, port, line, strlen(body), body);
    request_count++;
  }
  fclose(file);
  if (request_count == 0) die("the tokens file has no tokens (one per line)");
}

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void print_latency(const char *name, uint64_t *values, size_t count) {
  printf("\"%s\":{", name);
  if (count == 0) {
    printf("\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null,\"mean\":null}");
    return;
  }
  qsort(values, count, sizeof(uint64_t), by_value);
  double sum = 0;
  for (size_t i = 0; i < count; i++) sum += (double)values[i];
  const double ps[] = {50, 90, 99, 99.9};
  const char *names[] = {"p50", "p90", "p99", "p999"};
  for (int i = 0; i < 4; i++) {
    size_t rank = (size_t)(ps[i] / 100.0 * (double)count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    printf("\"%s\":%.1f,", names[i], (double)values[rank - 1] / 1000.0);
  }
  printf("\"max\":%.1f,\"mean\":%.1f}", (double)values[count - 1] / 1000.0, sum / (double)count / 1000.0);
}

static void usage(void) {
  die("usage: mmload --port PORT --tokens FILE [--host 127.0.0.1] [--path /v1/trigger/chat] "
      "[--body JSON] [--connections 16] [--seconds 5] [--rate 0 (closed loop) | N per second] [--records FILE]");
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *target = "/v1/trigger/chat", *tokens = NULL, *records_path = NULL;
  const char *body = "{\"message\":\"hello world\"}";
  int port = 0;
  double seconds = 5, rate = 0;
  conn_count = 16;
  static struct option options[] = {
      {"host", required_argument, 0, 'h'}, {"port", required_argument, 0, 'p'},
      {"path", required_argument, 0, 'u'}, {"tokens", required_argument, 0, 't'},
      {"body", required_argument, 0, 'b'}, {"connections", required_argument, 0, 'c'},
      {"seconds", required_argument, 0, 'd'}, {"rate", required_argument, 0, 'r'},
      {"records", required_argument, 0, 'o'}, {0, 0, 0, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", options, NULL)) != -1;) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': target = optarg; break;
      case 't': tokens = optarg; break;
      case 'b': body = optarg; break;
      case 'c': conn_count = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'o': records_path = optarg; break;
      default: usage();
    }
  }
  if (port <= 0 || port > 65535 || !tokens || conn_count < 1 || conn_count > 10000 || seconds <= 0 || rate < 0) usage();
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1) die("--host must be an IPv4 address");
  load_tokens(tokens, host, port, target, body);

  epoll_fd = epoll_create1(0);
  conns = calloc((size_t)conn_count, sizeof(conn_t));
  idle_stack = calloc((size_t)conn_count, sizeof(int));
  if (!conns || !idle_stack) die("out of memory");
  for (int i = 0; i < conn_count; i++) {
    conns[i].fd = open_socket();
    if (conns[i].fd < 0) {
      fprintf(stderr, "mmload: cannot connect to %s:%d: %s\n", host, port, strerror(errno));
      return 2;
    }
    watch(i, EPOLLIN, EPOLL_CTL_ADD);
    idle_stack[idle_top++] = i;
  }
  int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event timer_event = {.events = EPOLLIN, .data.u32 = (uint32_t)conn_count};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer_fd, &timer_event);

  const uint64_t start = now_ns();
  const uint64_t deadline = start + (uint64_t)(seconds * 1e9);
  const uint64_t interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
  const uint64_t scheduled_total = rate > 0 ? (uint64_t)(seconds * rate) : 0;
  uint64_t scheduled = 0, dispatched = 0, sent = 0;
  struct epoll_event events[256];

  for (;;) {
    uint64_t now = now_ns();
    if (rate > 0) {
      /* Open loop: everything due by now is scheduled; it goes out as connections come free. */
      while (scheduled < scheduled_total && start + scheduled * interval <= now) scheduled++;
      while (dispatched < scheduled && idle_top > 0) {
        send_on(idle_stack[--idle_top], start + dispatched * interval);
        dispatched++;
        sent++;
      }
      if (scheduled < scheduled_total) {
        uint64_t next = start + scheduled * interval;
        struct itimerspec when = {.it_value = {.tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull)}};
        timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &when, NULL);
      }
    } else if (now < deadline) {
      while (idle_top > 0) {
        send_on(idle_stack[--idle_top], 0);
        sent++;
      }
    }
    int in_flight = 0;
    for (int i = 0; i < conn_count; i++) in_flight += conns[i].busy;
    int schedule_done = rate > 0 ? scheduled == scheduled_total && dispatched == scheduled : now >= deadline;
    if ((schedule_done && in_flight == 0) || now >= deadline + GRACE_NS) break;

    int wait_ms = rate > 0 ? 100 : (int)((deadline > now ? deadline - now : 0) / 1000000ull) + 1;
    int n = epoll_wait(epoll_fd, events, 256, wait_ms);
    for (int e = 0; e < n; e++) {
      int index = (int)events[e].data.u32;
      if (index == conn_count) {
        uint64_t expirations;
        if (read(timer_fd, &expirations, sizeof expirations) < 0) { /* spurious wake-up */ }
        continue;
      }
      if (events[e].events & EPOLLOUT) {
        flush_out(index);
        if (conns[index].out_off == conns[index].out_len) watch(index, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_answers(index);
    }
  }
  const uint64_t end = now_ns();
  long unanswered = 0;
  for (int i = 0; i < conn_count; i++) {
    if (conns[i].busy) unanswered++;
    close(conns[i].fd);
  }

  uint64_t *service = malloc((record_count + 1) * sizeof(uint64_t));
  uint64_t *intended = malloc((record_count + 1) * sizeof(uint64_t));
  long statuses[600] = {0};
  size_t answered = 0;
  for (size_t i = 0; i < record_count; i++) {
    if (records[i].status == 0) continue;
    if (records[i].status > 0 && records[i].status < 600) statuses[records[i].status]++;
    service[answered] = records[i].done - records[i].sent;
    intended[answered] = records[i].done - (rate > 0 ? records[i].due : records[i].sent);
    answered++;
  }
  if (records_path) {
    FILE *out = fopen(records_path, "w");
    if (!out) die("cannot write the records file");
    for (size_t i = 0; i < record_count; i++) {
      record_t *r = &records[i];
      fprintf(out, "%llu %llu %llu %d\n", (unsigned long long)(r->due ? r->due - start : r->sent - start),
              (unsigned long long)(r->sent - start), (unsigned long long)(r->done - start), r->status);
    }
    fclose(out);
  }
  printf("{\"mode\":\"%s\",\"rate\":%g,\"connections\":%d,\"seconds\":%g,\"elapsed_s\":%.3f,\"start_ns\":\"%llu\","
         "\"scheduled\":%llu,\"sent\":%llu,\"answered\":%zu,\"errors\":%ld,\"reconnects\":%ld,\"unanswered\":%ld,\"statuses\":{",
         rate > 0 ? "paced" : "closed", rate, conn_count, seconds, (double)(end - start) / 1e9, (unsigned long long)start,
         (unsigned long long)(rate > 0 ? scheduled_total : sent), (unsigned long long)sent, answered, errors, reconnects, unanswered);
  int first = 1;
  for (int s = 0; s < 600; s++) {
    if (!statuses[s]) continue;
    printf("%s\"%d\":%ld", first ? "" : ",", s, statuses[s]);
    first = 0;
  }
  printf("},");
  print_latency("service_us", service, answered);
  printf(",");
  print_latency("intended_us", intended, answered);
  printf("}\n");
  return 0;
}
