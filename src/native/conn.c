// One proxied connection in native code: connects to the upstream, then moves bytes both ways on
// the Node event loop (one libuv poll per socket; no threads). Small exchanges are copied with
// recv/send through one buffer shared by every connection — a connection holds no memory of its
// own unless a write could not take everything. Once a connection has moved `splice_after` bytes,
// a direction whose read filled the buffer switches to splice(2) through a pipe of its own, kernel
// to kernel, the way systemd-socket-proxyd moves every byte.
//
// JS API (src/proxy/native.ts is the only caller). A connection is named by an id (a number: its
// slot and the slot's generation, so a stale id never reaches a newer connection); no JS object,
// reference or finalizer is made per connection, which keeps the garbage collector out of it.
//   setup(done)  once: done(id, errno, side, clientReturned, bytesIn, bytesOut, spliced) is called
//     once per connection, after every descriptor of ours is closed: errno 0 after an orderly end
//     both ways (EOF → shutdown(SHUT_WR) on the other socket, after every byte), else the failure
//     of side 0 (client) or 1 (upstream) — both sockets are then reset (RST) — or ECANCELED after
//     abort(). clientReturned: the upstream could not be connected (errno says why, ETIMEDOUT after
//     connectTimeoutMs); the client descriptor was left open, untouched, and is the caller's again.
//   forward(clientFd, host, port, path, spliceAfter, connectTimeoutMs, keepAliveS) -> id | -errno
//     takes an accepted client (non-blocking) and connects to host:port (an IP literal) or to the
//     Unix socket `path`. A negative number: the connect failed at once (no socket, or refused),
//     nothing changed and the client is still the caller's. The client is not read before the
//     upstream is connected.
//   pump(clientFd, upstreamFd) -> id
//     two connected sockets whose owner (a JavaScript connection) hands them over: duplicates both
//     (the caller closes its own) and splices from the first byte. Throws when it cannot set up.
//   abort(id)          resets both sockets and finishes; no-op once finished.
//   counts(id, f64[2]) bytes delivered so far client→upstream and upstream→client.

#include "native.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

/* Each splice moves at most this much; the pipes are sized to match (like systemd-socket-proxyd). */
#define PIPE_BYTES (256 * 1024)
/* The shared copy buffer; a read that fills it marks a bulk stream. */
#define COPY_BYTES (64 * 1024)
/* Reads per direction per wake-up before other connections get their turn (the polls are level-
 * triggered): up to 64 MiB spliced or 16 MiB copied. 16 cost a tenth of bulk throughput. */
#define READ_BUDGET 256

typedef struct conn conn_t;

/* Per Node environment (the main thread, or a worker): the done callback and the id table. */
typedef struct {
  napi_ref done;
  napi_async_context async;
  conn_t **slots;
  uint32_t *gen;       /* bumped when a slot is freed */
  uint32_t *next_free;
  uint32_t cap, free_head;
} conns_t;

#define SLOT_BITS 24
#define NO_SLOT UINT32_MAX

typedef struct {
  char *buf;          /* copy mode: bytes read but not yet written (only while the destination is full) */
  size_t off, len;
  int pipe_r, pipe_w; /* splice mode once pipe_r >= 0 */
  size_t in_pipe;     /* bytes in the pipe, not yet written to the destination */
  int eof;            /* the source reached EOF */
  int done;           /* EOF passed on (shutdown) after every byte */
  int want_read, want_write;
} dir_t;

struct conn {
  napi_env env;
  conns_t *table;
  uint32_t slot;
  int fd[2];          /* 0: client, 1: upstream */
  uv_poll_t poll[2];
  int poll_live[2];   /* initialised and not closed */
  int mask[2];        /* events each poll is started with (0: stopped) */
  uv_timer_t timer;   /* the connect deadline */
  int timer_live;
  int handles;        /* libuv handles not yet closed */
  dir_t dir[2];       /* dir[d] moves fd[d] → fd[1-d] */
  double moved[2];
  double splice_after; /* < 0: never splice */
  int connecting;
  int spliced;
  int finished, reset, err, err_side;
};

static __thread char *copy_buf; /* one per thread (a Node worker has its own loop) */

static void finish(conn_t *c, int err, int side, int reset);
static double slot_id(conns_t *t, uint32_t slot);
static void slot_free(conns_t *t, uint32_t slot);
static void on_poll(uv_poll_t *h, int status, int events);

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
  (void)fcntl(pp[1], F_SETPIPE_SZ, PIPE_BYTES); /* best effort: a smaller pipe only means more splices */
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
    finish(c, n < 0 ? errno : EPIPE, 1 - d, 1);
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
    n = splice(src, NULL, x->pipe_w, NULL, PIPE_BYTES, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) x->in_pipe = (size_t)n;
  } else {
    if (copy_buf == NULL && (copy_buf = malloc(COPY_BYTES)) == NULL) {
      finish(c, ENOMEM, d, 1);
      return 0;
    }
    n = recv(src, copy_buf, COPY_BYTES, 0);
    if (n > 0) {
      /* Straight on; only what the destination cannot take now is kept. */
      ssize_t w = send(c->fd[1 - d], copy_buf, (size_t)n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          finish(c, errno, 1 - d, 1);
          return 0;
        }
        w = 0;
      }
      c->moved[d] += (double)w;
      if (w < n) {
        x->buf = malloc((size_t)(n - w));
        if (x->buf == NULL) {
          finish(c, ENOMEM, d, 1);
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
  finish(c, errno, d, 1);
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
        finish(c, errno, 1 - d, 1);
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

static void update_polls(conn_t *c) {
  for (int s = 0; s < 2; s++) {
    if (!c->poll_live[s]) continue;
    int mask = c->connecting ? UV_WRITABLE
      : (c->dir[s].want_read ? UV_READABLE : 0) | (c->dir[1 - s].want_write ? UV_WRITABLE : 0);
    if (mask == c->mask[s]) continue;
    c->mask[s] = mask;
    if (mask == 0) {
      uv_poll_stop(&c->poll[s]);
    } else if (uv_poll_start(&c->poll[s], mask, on_poll) != 0) {
      finish(c, EIO, s, 1);
      return;
    }
  }
}

static void run(conn_t *c) {
  for (int d = 0; d < 2 && !c->finished; d++) step(c, d);
  if (c->finished) return;
  if (c->dir[0].done && c->dir[1].done) {
    finish(c, 0, -1, 0);
    return;
  }
  update_polls(c);
}

static int start_poll(conn_t *c, int s) {
  uv_loop_t *loop;
  napi_get_uv_event_loop(c->env, &loop);
  if (uv_poll_init(loop, &c->poll[s], c->fd[s]) != 0) return EIO;
  c->poll[s].data = c;
  c->poll_live[s] = 1;
  c->handles++;
  return 0;
}

static void on_close(uv_handle_t *h);

/* The upstream is connected: read both sides from now on. */
static void connected(conn_t *c) {
  c->connecting = 0;
  if (c->timer_live) {
    c->timer_live = 0;
    uv_close((uv_handle_t *)&c->timer, on_close);
  }
  int e = start_poll(c, 0);
  if (e != 0) {
    finish(c, e, 0, 1);
    return;
  }
  c->dir[0].want_read = 1;
  c->dir[1].want_read = 1;
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
    if (e != 0) finish(c, e, 1, 0);
    else connected(c);
    return;
  }
  if (status < 0) {
    /* libuv reports POLLERR as an error without the socket's own; ask the socket. */
    int e = socket_error(c->fd[side]);
    finish(c, e != 0 ? e : ECONNRESET, side, 1);
    return;
  }
  run(c);
}

static void on_timer(uv_timer_t *t) {
  conn_t *c = t->data;
  if (c->connecting) finish(c, ETIMEDOUT, 1, 0);
}

static void close_fd(int fd) {
  if (fd >= 0) close(fd);
}

/* Every handle is closed: close the descriptors and report to JavaScript. */
static void release(conn_t *c) {
  int keep_client = c->connecting && c->err != ECANCELED;
  for (int s = 0; s < 2; s++) {
    if (s == 0 && keep_client) continue;
    if (c->reset) {
      /* Linger 0: close() sends RST, the way a reset socket in the JS path ends. */
      struct linger l = {1, 0};
      setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close_fd(c->fd[s]);
    close_fd(c->dir[s].pipe_r);
    close_fd(c->dir[s].pipe_w);
    free(c->dir[s].buf);
  }
  napi_env env = c->env;
  conns_t *t = c->table;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[7];
  napi_create_double(env, slot_id(t, c->slot), &argv[0]);
  napi_create_int32(env, c->err, &argv[1]);
  napi_create_int32(env, c->err_side, &argv[2]);
  napi_get_boolean(env, keep_client, &argv[3]);
  napi_create_double(env, c->moved[0], &argv[4]);
  napi_create_double(env, c->moved[1], &argv[5]);
  napi_get_boolean(env, c->spliced, &argv[6]);
  slot_free(t, c->slot);
  free(c);
  pw_call(env, t->done, t->async, 7, argv);
  napi_close_handle_scope(env, scope);
}

static void on_close(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->handles == 0 && c->finished) release(c);
}

static void finish(conn_t *c, int err, int side, int reset) {
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

static conn_t *conn_new(void) {
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->slot = NO_SLOT;
  for (int s = 0; s < 2; s++) {
    c->fd[s] = -1;
    c->dir[s].pipe_r = c->dir[s].pipe_w = -1;
  }
  return c;
}

static conns_t *table_of(napi_env env) {
  conns_t *t = NULL;
  napi_get_instance_data(env, (void **)&t);
  return t;
}

/* Gives c a slot in the environment's table; 0 when out of memory (or setup() was not called). */
static int conn_attach(napi_env env, conn_t *c) {
  conns_t *t = table_of(env);
  if (t == NULL) return 0;
  if (t->free_head == NO_SLOT) {
    uint32_t cap = t->cap == 0 ? 1024 : t->cap * 2;
    if (cap > (1u << SLOT_BITS)) return 0;
    conn_t **slots = realloc(t->slots, cap * sizeof *slots);
    if (slots != NULL) t->slots = slots;
    uint32_t *gen = realloc(t->gen, cap * sizeof *gen);
    if (gen != NULL) t->gen = gen;
    uint32_t *next = realloc(t->next_free, cap * sizeof *next);
    if (next != NULL) t->next_free = next;
    if (slots == NULL || gen == NULL || next == NULL) return 0;
    for (uint32_t i = t->cap; i < cap; i++) {
      slots[i] = NULL;
      gen[i] = 0;
      next[i] = i + 1 < cap ? i + 1 : NO_SLOT;
    }
    t->free_head = t->cap;
    t->cap = cap;
  }
  c->slot = t->free_head;
  t->free_head = t->next_free[c->slot];
  t->slots[c->slot] = c;
  c->table = t;
  c->env = env;
  return 1;
}

static double slot_id(conns_t *t, uint32_t slot) {
  return (double)t->gen[slot] * (double)(1u << SLOT_BITS) + (double)slot;
}

static void slot_free(conns_t *t, uint32_t slot) {
  t->slots[slot] = NULL;
  t->gen[slot]++;
  t->next_free[slot] = t->free_head;
  t->free_head = slot;
}

/* The live connection an id names, or NULL (finished, or never existed). */
static conn_t *conn_by_id(napi_env env, napi_value v) {
  conns_t *t = table_of(env);
  double id;
  if (t == NULL || napi_get_value_double(env, v, &id) != napi_ok || id < 0) return NULL;
  double slot_d = id - (double)(uint64_t)(id / (double)(1u << SLOT_BITS)) * (double)(1u << SLOT_BITS);
  uint32_t slot = (uint32_t)slot_d;
  if (slot >= t->cap || t->slots[slot] == NULL || slot_id(t, slot) != id) return NULL;
  return t->slots[slot];
}


/* Opens a non-blocking socket and starts connecting it; the socket, or -errno. */
static int start_connect(napi_env env, napi_value host_v, int32_t port, napi_value path_v, int keepalive_s) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  char text[110];
  size_t n = 0;
  napi_valuetype type;
  napi_typeof(env, path_v, &type);
  if (type == napi_string) {
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    if (napi_get_value_string_utf8(env, path_v, un->sun_path, sizeof un->sun_path, &n) != napi_ok) return -EINVAL;
    if (n + 1 >= sizeof un->sun_path) return -ENAMETOOLONG;
    un->sun_family = AF_UNIX;
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  } else {
    if (napi_get_value_string_utf8(env, host_v, text, sizeof text, &n) != napi_ok) return -EINVAL;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons((uint16_t)port);
      len = sizeof *in4;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons((uint16_t)port);
      len = sizeof *in6;
    } else {
      return -EINVAL;
    }
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (ss.ss_family != AF_UNIX) pw_tcp_options(fd, keepalive_s);
  int r;
  do r = connect(fd, (struct sockaddr *)&ss, len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    /* A Unix socket with a full backlog says EAGAIN; like Node's, the attempt fails. */
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static napi_value number(napi_env env, double v) {
  napi_value result;
  napi_create_double(env, v, &result);
  return result;
}

napi_value pw_conn_forward(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t client, port, timeout_ms, keepalive_s;
  double splice_after;
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "forward(clientFd, host, port, path, spliceAfter, connectTimeoutMs, keepAliveS)");
    return NULL;
  }
  if (!pw_int_arg(env, argv[0], 0, "forward: clientFd", &client) || !pw_int_arg(env, argv[2], 0, "forward: port", &port)
      || !pw_int_arg(env, argv[5], 1, "forward: connectTimeoutMs", &timeout_ms) || !pw_int_arg(env, argv[6], 1, "forward: keepAliveS", &keepalive_s)) {
    return NULL;
  }
  if (napi_get_value_double(env, argv[4], &splice_after) != napi_ok) {
    napi_throw_type_error(env, NULL, "forward: spliceAfter must be a number");
    return NULL;
  }
  int fd = start_connect(env, argv[1], port, argv[3], keepalive_s);
  if (fd < 0) return number(env, fd);
  conn_t *c = conn_new();
  if (c == NULL || !conn_attach(env, c)) {
    free(c);
    close(fd);
    return pw_throw_errno(env, "forward", ENOMEM);
  }
  c->fd[0] = client;
  c->fd[1] = fd;
  c->splice_after = splice_after;
  c->connecting = 1;
  int e = start_poll(c, 1);
  if (e != 0) {
    /* Cannot happen for a fresh socket; if it did, it is a failed connect like any other. */
    slot_free(c->table, c->slot);
    free(c);
    close(fd);
    return number(env, -e);
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->timer_live = 1;
  c->handles++;
  uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
  update_polls(c);
  return number(env, slot_id(c->table, c->slot));
}

napi_value pw_conn_pump(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fds[2];
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "pump(clientFd, upstreamFd)");
    return NULL;
  }
  if (!pw_int_arg(env, argv[0], 0, "pump: clientFd", &fds[0]) || !pw_int_arg(env, argv[1], 0, "pump: upstreamFd", &fds[1])) return NULL;
  conn_t *c = conn_new();
  if (c == NULL) return pw_throw_errno(env, "pump", ENOMEM);
  int e = 0;
  const char *what = "pump";
  for (int s = 0; s < 2 && e == 0; s++) {
    c->fd[s] = fcntl(fds[s], F_DUPFD_CLOEXEC, 3);
    int fl = c->fd[s] < 0 ? -1 : fcntl(c->fd[s], F_GETFL);
    if (fl < 0 || fcntl(c->fd[s], F_SETFL, fl | O_NONBLOCK) < 0) {
      e = errno;
      what = "pump: dup";
    } else if ((e = make_pipe(&c->dir[s])) != 0) {
      what = "pump: pipe2";
    }
  }
  if (e == 0 && !conn_attach(env, c)) e = ENOMEM;
  for (int s = 0; s < 2 && e == 0; s++) {
    e = start_poll(c, s);
    /* Cannot happen for sockets. After the first poll: the connection fails (done reports it). */
    if (e != 0 && c->handles > 0) {
      finish(c, e, 0, 1);
      return number(env, slot_id(c->table, c->slot));
    }
  }
  if (e != 0) {
    for (int s = 0; s < 2; s++) {
      close_fd(c->fd[s]);
      close_fd(c->dir[s].pipe_r);
      close_fd(c->dir[s].pipe_w);
    }
    if (c->slot != NO_SLOT) slot_free(c->table, c->slot);
    free(c);
    return pw_throw_errno(env, what, e);
  }
  c->spliced = 1;
  c->splice_after = 0;
  /* Both sources may already hold bytes the JS side left unread: start by reading both. */
  c->dir[0].want_read = 1;
  c->dir[1].want_read = 1;
  update_polls(c);
  return number(env, slot_id(c->table, c->slot));
}

napi_value pw_conn_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc < 1 ? NULL : conn_by_id(env, argv[0]);
  if (c != NULL) finish(c, ECANCELED, -1, 1);
  return NULL;
}

napi_value pw_conn_counts(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (argc >= 2) napi_is_typedarray(env, argv[1], &typed);
  if (typed) napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL);
  if (!typed || type != napi_float64_array || length < 2) {
    napi_throw_type_error(env, NULL, "counts(id, out): out must be a Float64Array of length 2");
    return NULL;
  }
  conn_t *c = conn_by_id(env, argv[0]);
  if (c != NULL) {
    ((double *)data)[0] = c->moved[0];
    ((double *)data)[1] = c->moved[1];
  }
  return NULL;
}

static void table_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  conns_t *t = data;
  napi_delete_reference(env, t->done);
  napi_async_destroy(env, t->async);
  free(t->slots);
  free(t->gen);
  free(t->next_free);
  free(t);
}

napi_value pw_conn_setup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_function) {
    napi_throw_type_error(env, NULL, "setup(done): done must be a function");
    return NULL;
  }
  if (table_of(env) != NULL) {
    napi_throw_error(env, "ERR_PORTWAKE_NATIVE", "setup(done): already set up");
    return NULL;
  }
  conns_t *t = calloc(1, sizeof *t);
  if (t == NULL) return pw_throw_errno(env, "setup", ENOMEM);
  t->free_head = NO_SLOT;
  napi_create_reference(env, argv[0], 1, &t->done);
  napi_create_string_utf8(env, "portwake:connection", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &t->async);
  napi_set_instance_data(env, t, table_finalize, NULL);
  return NULL;
}
