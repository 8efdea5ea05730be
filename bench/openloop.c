/* Open-loop HTTP/1.1 load generator for bench/serve.py (the role of wrk2, which is not packaged).

   Sends one pre-serialized request at a constant rate (request i is due at start + i / rate) over N
   keep-alive connections, one request in flight per connection, from one thread (epoll). A request
   that is due while every connection is busy waits in the queue: its latency is measured from its
   SCHEDULED send time, so a stalled server is not hidden by a client that slows down with it
   (coordinated omission). The latency from the actual send is reported beside it, and the send lag
   (actual - scheduled send: waiting for a free connection, or the client itself late).

   Every latency is kept; the percentiles are exact (sorted). Answers are read by Content-Length
   (no chunked encoding: the servers under test answer with a length). The first `warmup` seconds are
   sent at the same rate and not counted. A connection the server closes is opened again (a request
   left unanswered on it counts in `errors`). Output: one JSON line on stdout.

   Build: cc -O2 -o openloop openloop.c
   Run:   openloop HOST PORT PATH BODY_FILE TOKEN|"" RATE DURATION_S CONNECTIONS [WARMUP_S]
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

typedef struct {
    int fd;
    int busy;            /* a request is in flight */
    int64_t scheduled;   /* ns: when the in-flight request was due */
    int64_t sent;        /* ns: when it was written */
    int64_t counted;     /* counted in the measurement (not warm-up) */
    size_t have;         /* bytes of the answer read so far */
    size_t need;         /* header + body bytes, 0 while the header is incomplete */
    int status;
    char buf[BUF];
} conn_t;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int open_conn(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "openloop: HOST must be an IPv4 address, got %s\n", host);
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Parse the header once it is complete: status and Content-Length; 0 while incomplete, -1 on error. */
static int parse_header(conn_t *c) {
    char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (!end) return c->have >= BUF ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
    c->status = atoi(c->buf + 9);
    long length = -1;
    for (char *p = c->buf; p < end;) {
        char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (!eol) break;
        if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0) length = strtol(p + 15, NULL, 10);
        p = eol + 2;
    }
    if (length < 0 || head + (size_t)length > BUF) return -1;
    c->need = head + (size_t)length;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: openloop HOST PORT PATH BODY_FILE TOKEN RATE DURATION_S CONNECTIONS [WARMUP_S]\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3], *token = argv[5];
    int port = atoi(argv[2]), nconn = atoi(argv[8]);
    double rate = atof(argv[6]), duration = atof(argv[7]), warmup = argc > 9 ? atof(argv[9]) : 0.0;
    if (rate <= 0 || duration <= 0 || nconn <= 0) {
        fprintf(stderr, "openloop: RATE, DURATION_S and CONNECTIONS must be > 0\n");
        return 2;
    }
    prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within ~1 us of the due time, not the default 50 us */

    FILE *f = fopen(argv[4], "rb");
    if (!f) die(argv[4]);
    fseek(f, 0, SEEK_END);
    long blen = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *body = malloc((size_t)blen + 1);
    if (fread(body, 1, (size_t)blen, f) != (size_t)blen) die("fread");
    fclose(f);
    size_t cap = (size_t)blen + 1024 + strlen(path) + strlen(token);
    char *req = malloc(cap);
    int hl = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n", path, host, port);
    if (token[0]) hl += snprintf(req + hl, cap - (size_t)hl, "Authorization: Bearer %s\r\n", token);
    hl += snprintf(req + hl, cap - (size_t)hl, "Content-Length: %ld\r\n\r\n", blen);
    memcpy(req + hl, body, (size_t)blen);
    size_t reqlen = (size_t)hl + (size_t)blen;

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conn_t *conns = calloc((size_t)nconn, sizeof(conn_t));
    int *idle = malloc(sizeof(int) * (size_t)nconn); /* stack of idle connection indexes */
    int nidle = 0;
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = open_conn(host, port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
        idle[nidle++] = i;
    }

    int64_t total_warm = (int64_t)(rate * warmup), total = total_warm + (int64_t)(rate * duration);
    int64_t measured = total - total_warm;
    int64_t *lat_sched = malloc(sizeof(int64_t) * (size_t)(measured + 1));
    int64_t *lat_send = malloc(sizeof(int64_t) * (size_t)(measured + 1));
    int64_t *lag = malloc(sizeof(int64_t) * (size_t)(measured + 1)); /* sent - scheduled */
    int64_t done = 0, ndone_measured = 0, non200 = 0, errors = 0, max_queue = 0;
    double interval = 1e9 / rate;
    int64_t start = now_ns() + 20000000LL; /* 20 ms to settle */
    int64_t measure_start = start + (int64_t)(total_warm * interval), last_done = measure_start;
    int64_t next = 0; /* index of the next request to send */
    struct epoll_event events[256];

    while (done < total) {
        int64_t t = now_ns();
        /* send everything that is due, as long as a connection is free */
        while (next < total && nidle > 0) {
            int64_t due = start + (int64_t)(next * interval);
            if (due > t) break;
            conn_t *c = &conns[idle[--nidle]];
            c->busy = 1;
            c->scheduled = due;
            c->counted = next >= total_warm;
            c->have = c->need = 0;
            c->sent = now_ns();
            size_t off = 0;
            while (off < reqlen) { /* the request is small: the socket buffer takes it at once */
                ssize_t w = write(c->fd, req + off, reqlen - off);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    die("write");
                }
                off += (size_t)w;
            }
            next++;
        }
        if (next < total && nidle == 0) {
            int64_t due_count = (int64_t)((t - start) / interval) + 1 - next;
            if (due_count > max_queue) max_queue = due_count;
        }
        /* wait for answers, or until the next request is due */
        struct timespec timeout = {1, 0}, *tp = &timeout;
        if (next < total && nidle > 0) {
            int64_t wait = start + (int64_t)(next * interval) - now_ns();
            if (wait < 0) wait = 0;
            timeout.tv_sec = wait / 1000000000LL;
            timeout.tv_nsec = wait % 1000000000LL;
        }
        int n = epoll_pwait2(ep, events, 256, tp, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2");
        }
        for (int k = 0; k < n; k++) {
            int i = (int)events[k].data.u32;
            conn_t *c = &conns[i];
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->have, BUF - c->have);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    die("read");
                }
                if (r == 0) { /* closed by the server: reconnect; an unanswered request is an error */
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = open_conn(host, port);
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
                    if (c->busy) {
                        errors++;
                        c->busy = 0;
                        done++;
                        idle[nidle++] = i;
                    }
                    c->have = c->need = 0;
                    break;
                }
                c->have += (size_t)r;
                if (!c->need) {
                    int h = parse_header(c);
                    if (h < 0) {
                        fprintf(stderr, "openloop: cannot parse the answer (no Content-Length?)\n");
                        exit(3);
                    }
                }
                if (c->need && c->have >= c->need) break;
            }
            if (!c->busy || !c->need || c->have < c->need) {
                if (!c->busy) c->have = 0; /* nothing asked: drop whatever came */
                continue;
            }
            int64_t t_done = now_ns();
            if (c->have > c->need) errors++; /* bytes nobody asked for */
            if (c->counted) {
                lat_sched[ndone_measured] = t_done - c->scheduled;
                lat_send[ndone_measured] = t_done - c->sent;
                lag[ndone_measured] = c->sent - c->scheduled;
                ndone_measured++;
                if (c->status != 200) non200++;
                last_done = t_done;
            }
            c->busy = 0;
            done++;
            idle[nidle++] = i;
        }
    }
    qsort(lat_sched, (size_t)ndone_measured, sizeof(int64_t), cmp_i64);
    qsort(lat_send, (size_t)ndone_measured, sizeof(int64_t), cmp_i64);
    qsort(lag, (size_t)ndone_measured, sizeof(int64_t), cmp_i64);
    if (ndone_measured == 0) {
        fprintf(stderr, "openloop: no answer in the measured window\n");
        return 3;
    }
    double elapsed = (double)(last_done - measure_start) / 1e9;
    static const double qs[] = {50, 90, 99, 99.9};
    static const char *names[] = {"50", "90", "99", "99.9"};
    printf("{\"requests\": %lld, \"non_200\": %lld, \"errors\": %lld, \"target_rps\": %.1f, "
           "\"achieved_rps\": %.1f, \"connections\": %d, \"max_queue\": %lld",
           (long long)ndone_measured, (long long)non200, (long long)errors, rate,
           elapsed > 0 ? (double)ndone_measured / elapsed : 0.0, nconn, (long long)max_queue);
    int64_t *lists[] = {lat_sched, lat_send, lag};
    const char *keys[] = {"from_scheduled_ms", "from_send_ms", "send_lag_ms"};
    for (int l = 0; l < 3; l++) {
        printf(", \"%s\": {", keys[l]);
        for (int q = 0; q < 4; q++) {
            size_t idx = (size_t)(qs[q] / 100.0 * (double)ndone_measured);
            if (idx >= (size_t)ndone_measured) idx = (size_t)ndone_measured - 1;
            printf("\"%s\": %.4f, ", names[q], (double)lists[l][idx] / 1e6);
        }
        printf("\"max\": %.4f}", (double)lists[l][ndone_measured - 1] / 1e6);
    }
    printf("}\n");
    return 0;
}
