// One proxied connection in native code: connects to the upstream, then moves bytes both ways on
// the Node event loop (one libuv poll per socket; no threads). Small exchanges are copied with
// recv/send through one buffer shared by every connection — a connection holds no memory of its
// own unless a write could not take everything. Once a connection has moved `splice_after` bytes,
// a direction whose read filled the buffer switches to splice(2) through a pipe of its own, kernel
// to kernel, the way systemd-socket-proxyd moves every byte.
//
// Owns: a forwarded client's descriptor (fd[0]) from forward() until release() closes it — or, when
// the upstream never connected, gives it back (conn_give_back(), the only code that does); its own
// upstream socket, pipes and buffers; for a pump, the duplicates it was given.
//
// conn-js.c is the JavaScript face of these connections (ids, forward, pump, abort, counts, done).

#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pipe sizes. 1 MiB (the unprivileged maximum) takes a third of the splices of 256 KiB per byte
 * (docs/benchmarks.md); pipes count against their user's budget (pipe-user-pages-soft, 64 MiB), so
 * only BIG_PIPES_MAX bulk directions at a time get 1 MiB. A refused size falls back to the next. */
#define BIG_PIPE (1024 * 1024)
#define PIPE_BYTES (256 * 1024)
#define BIG_PIPES_MAX 32
static __thread int big_pipes; /* open pipes of BIG_PIPE bytes on this thread */

/* The shared copy buffer; a read that fills it marks a bulk stream. */
#define COPY_BYTES (64 * 1024)
/* Reads per direction per wake-up before other connections get their turn (the polls are level-
 * triggered): up to 256 MiB spliced or 16 MiB copied. 16 cost a tenth of bulk throughput. */
#define READ_BUDGET 256

static __thread char *copy_buf; /* one per thread (a Node worker has its own loop) */

static void on_poll(uv_poll_t *h, int status, int events);
static void on_close(uv_handle_t *h);

static int socket_error(int fd) {
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) return errno;
  return e;
}

static int make_pipe(dir_t *x) {
  int pp[2];
  if (pipe2(pp, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  x->pipe_r = pp[0];
  x->pipe_w = pp[1];
  int got = big_pipes < BIG_PIPES_MAX ? fcntl(pp[1], F_SETPIPE_SZ, BIG_PIPE) : -1;
  if (got < 0) got = fcntl(pp[1], F_SETPIPE_SZ, PIPE_BYTES);
  if (got < 0) got = fcntl(pp[1], F_GETPIPE_SZ); /* best effort: a smaller pipe only means more splices */
  if (got >= BIG_PIPE) big_pipes++;
  x->pipe_cap = got > 0 ? (size_t)got : 4096;
  return 0;
}

/* A read filled the copy buffer: past splice_after, this direction splices from now on. */
static void maybe_splice(conn_t *c, dir_t *x) {
  if (c->splice_after < 0 || x->pipe_r >= 0 || c->moved[0] + c->moved[1] < c->splice_after) return;
  if (make_pipe(x) == 0) c->spliced = 1; /* out of descriptors: go on copying */
}

/* Writes what is pending in direction d; 1 when everything is out, 0 when it waits or failed. */
static int flush(conn_t *c, int d) {
  dir_t *x = &c->dir[d];
  int dst = c->fd[1 - d];
  while (x->len > x->off || x->in_pipe > 0) {
    ssize_t n = x->len > x->off
      ? send(dst, x->buf + x->off, x->len - x->off, MSG_NOSIGNAL)
      : splice(x->pipe_r, NULL, dst, NULL, x->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      c->moved[d] += (double)n;
      c->dirty = 1;
      if (x->len > x->off) {
        x->off += (size_t)n;
        if (x->off == x->len) {
          free(x->buf);
          x->buf = NULL;
          x->off = x->len = 0;
        }
      } else {
        x->in_pipe -= (size_t)n;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      x->want_write = 1;
      return 0;
    }
    conn_finish(c, n < 0 ? errno : EPIPE, 1 - d, 1);
    return 0;
  }
  return 1;
}

/* Reads from direction d's source once; 1 to go on, 0 when it waits or failed. */
static int fill(conn_t *c, int d) {
  dir_t *x = &c->dir[d];
  int src = c->fd[d];
  ssize_t n;
  if (x->pipe_r >= 0) {
    /* The pipe is empty here, so EAGAIN means the source has nothing to read. */
    n = splice(src, NULL, x->pipe_w, NULL, x->pipe_cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) x->in_pipe = (size_t)n;
  } else {
    if (copy_buf == NULL && (copy_buf = malloc(COPY_BYTES)) == NULL) {
      conn_finish(c, ENOMEM, d, 1);
      return 0;
    }
    n = recv(src, copy_buf, COPY_BYTES, 0);
    if (n > 0) {
      /* Straight on; only what the destination cannot take now is kept. */
      ssize_t w = send(c->fd[1 - d], copy_buf, (size_t)n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          conn_finish(c, errno, 1 - d, 1);
          return 0;
        }
        w = 0;
      }
      c->moved[d] += (double)w;
      if (w > 0) c->dirty = 1;
      if (w < n) {
        x->buf = malloc((size_t)(n - w));
        if (x->buf == NULL) {
          conn_finish(c, ENOMEM, d, 1);
          return 0;
        }
        memcpy(x->buf, copy_buf + w, (size_t)(n - w));
        x->off = 0;
        x->len = (size_t)(n - w);
      } else if (n == COPY_BYTES) {
        maybe_splice(c, x);
      }
    }
  }
  if (n > 0) return 1;
  if (n == 0) {
    x->eof = 1;
    return 1;
  }
  if (errno == EINTR) return 1;
  if (errno == EAGAIN) {
    x->want_read = 1;
    return 0;
  }
  conn_finish(c, errno, d, 1);
  return 0;
}

/* Moves what it can in direction d without blocking and notes what it waits for. */
static void step(conn_t *c, int d) {
  dir_t *x = &c->dir[d];
  x->want_read = 0;
  x->want_write = 0;
  for (int budget = READ_BUDGET; !x->done && !c->finished;) {
    if (!flush(c, d)) return;
    if (x->eof) {
      /* Every byte is out: pass the FIN on; the other direction goes on (half-close). */
      if (shutdown(c->fd[1 - d], SHUT_WR) < 0 && errno != ENOTCONN) {
        conn_finish(c, errno, 1 - d, 1);
        return;
      }
      x->done = 1;
      return;
    }
    if (budget-- == 0) {
      x->want_read = 1; /* more to read: the poll fires again on the next turn of the loop */
      return;
    }
    if (!fill(c, d)) return;
  }
}

void conn_update_polls(conn_t *c) {
  for (int s = 0; s < 2; s++) {
    if (!c->poll_live[s]) continue;
    int mask = c->connecting ? UV_WRITABLE
      : (c->dir[s].want_read ? UV_READABLE : 0) | (c->dir[1 - s].want_write ? UV_WRITABLE : 0);
    if (mask == c->mask[s]) continue;
    c->mask[s] = mask;
    if (mask == 0) {
      uv_poll_stop(&c->poll[s]);
    } else if (uv_poll_start(&c->poll[s], mask, on_poll) != 0) {
      /* Cannot happen for a socket. While connecting, no byte has moved: the client goes back. */
      if (c->connecting) conn_give_back(c, EIO);
      else conn_finish(c, EIO, s, 1);
      return;
    }
  }
}

static void run(conn_t *c) {
  for (int d = 0; d < 2 && !c->finished; d++) step(c, d);
  if (c->finished) return;
  if (c->dir[0].done && c->dir[1].done) {
    conn_finish(c, 0, -1, 0);
    return;
  }
  conn_update_polls(c);
}

int conn_start_poll(conn_t *c, int s) {
  uv_loop_t *loop;
  napi_get_uv_event_loop(c->env, &loop);
  if (uv_poll_init(loop, &c->poll[s], c->fd[s]) != 0) return EIO;
  c->poll[s].data = c;
  c->poll_live[s] = 1;
  c->handles++;
  return 0;
}

/* The upstream is connected: read both sides from now on. */
void conn_connected(conn_t *c) {
  c->connecting = 0;
  if (c->timer_live) {
    c->timer_live = 0;
    uv_close((uv_handle_t *)&c->timer, on_close);
  }
  int e = conn_start_poll(c, 0);
  if (e != 0) {
    conn_finish(c, e, 0, 1);
    return;
  }
  run(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  conn_t *c = h->data;
  if (c->finished) return;
  int side = h == &c->poll[0] ? 0 : 1;
  if (c->connecting) {
    int e = socket_error(c->fd[1]);
    if (e == 0 && status < 0) e = ECONNREFUSED;
    if (e != 0) conn_give_back(c, e);
    else conn_connected(c);
    return;
  }
  if (status < 0) {
    /* libuv reports POLLERR as an error without the socket's own; ask the socket. */
    int e = socket_error(c->fd[side]);
    conn_finish(c, e != 0 ? e : ECONNRESET, side, 1);
    return;
  }
  run(c);
}

void conn_on_timer(uv_timer_t *t) {
  conn_t *c = t->data;
  if (c->connecting) conn_give_back(c, ETIMEDOUT);
}

static void close_fd(int fd) {
  if (fd >= 0) close(fd);
}

void conn_close_all(conn_t *c) {
  for (int s = 0; s < 2; s++) {
    if (s == 0 && c->client == CLIENT_RETURNED) continue;
    if (c->reset && c->fd[s] >= 0) {
      /* Linger 0: close() sends RST, the way a reset socket in the JS path ends. */
      struct linger l = {1, 0};
      setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close_fd(c->fd[s]);
    if (c->dir[s].pipe_r >= 0 && c->dir[s].pipe_cap >= BIG_PIPE) big_pipes--;
    close_fd(c->dir[s].pipe_r);
    close_fd(c->dir[s].pipe_w);
    free(c->dir[s].buf);
  }
}

/* Every handle is closed: close the descriptors (the client's unless returned) and report to JavaScript (conn-js.c). */
static void release(conn_t *c) {
  conn_close_all(c);
  conn_report(c);
}

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->handles == 0 && c->finished) release(c);
}

void conn_finish(conn_t *c, int err, int side, int reset) {
  if (c->finished) return;
  c->finished = 1;
  c->err = err;
  c->err_side = side;
  c->reset = reset;
  for (int s = 0; s < 2; s++) {
    if (!c->poll_live[s]) continue;
    c->poll_live[s] = 0;
    uv_close((uv_handle_t *)&c->poll[s], on_close);
  }
  if (c->timer_live) {
    c->timer_live = 0;
    uv_close((uv_handle_t *)&c->timer, on_close);
  }
  /* Every handle closes asynchronously: release() — and done() — never run inside a JS call. */
}

void conn_give_back(conn_t *c, int err) {
  if (c->finished) return;
  c->client = CLIENT_RETURNED;
  conn_finish(c, err, 1, 0);
}

conn_t *conn_new(void) {
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->slot = NO_SLOT;
  for (int s = 0; s < 2; s++) {
    c->fd[s] = -1;
    c->dir[s].pipe_r = c->dir[s].pipe_w = -1;
  }
  return c;
}
