// portwake's zero-copy data path: moves the bytes of one established connection between its two
// sockets with splice(2), through one pipe per direction, so that they never enter user space.
// It runs on the Node event loop (one libuv poll per socket): no threads, no locks.
//
// JS API (src/proxy/splice.ts is the only caller):
//   pump(clientFd, upstreamFd, counters: Float64Array(2), done(errno, side)) -> handle
//     dups both descriptors (the caller then closes its own), forwards both ways until each has
//     ended (EOF → shutdown(SHUT_WR) on the other socket) or one fails (both are then reset). Counts
//     bytes client→upstream into counters[0] and upstream→client into counters[1] as they move.
//     done(0, -1) after an orderly end, done(errno, side) after a failure of side 0 (client) or 1
//     (upstream), done(ECANCELED, -1) after abort(). Called once, after every descriptor is closed.
//   abort(handle)  resets both sockets (RST) and finishes; no-op once finished.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* Each splice moves at most this much; the pipes are sized to match (like systemd-socket-proxyd). */
#define PIPE_BYTES (256 * 1024)

typedef struct pump pump_t;

typedef struct {
  pump_t *pump; /* NULL once the pump finished; freed by the JS handle's finalizer */
} token_t;

typedef struct {
  int pipe_r, pipe_w;
  size_t pending; /* bytes in the pipe, not yet written to the destination */
  int eof;        /* the source reached EOF */
  int done;       /* EOF passed on (shutdown) after every byte */
  int want_read, want_write;
} dir_t;

struct pump {
  napi_env env;
  napi_ref handle_ref;   /* the JS handle (external), strong while active */
  napi_ref done_ref;     /* the done callback */
  napi_ref counters_ref; /* the Float64Array the counts are written to */
  napi_async_context async;
  double *counters;
  token_t *token;
  int fd[2];        /* 0: client, 1: upstream (our duplicates) */
  uv_poll_t poll[2];
  int mask[2];      /* events each poll is started with (0: stopped) */
  dir_t dir[2];     /* dir[d] moves fd[d] → fd[1-d] */
  int finished;
  int reset;
  int err;
  int err_side;
  int closing;      /* polls not yet closed */
};

static void finish(pump_t *p, int err, int side, int reset);

static int socket_error(int fd) {
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) return errno;
  return e;
}

/* Moves what it can in direction d without blocking and notes what it waits for. */
static void step(pump_t *p, int d) {
  dir_t *x = &p->dir[d];
  int src = p->fd[d];
  int dst = p->fd[1 - d];
  x->want_read = 0;
  x->want_write = 0;
  if (x->done) return;
  for (;;) {
    if (x->pending > 0) {
      ssize_t n = splice(x->pipe_r, NULL, dst, NULL, x->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        x->pending -= (size_t)n;
        p->counters[d] += (double)n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        x->want_write = 1;
        return;
      }
      finish(p, n < 0 ? errno : EPIPE, 1 - d, 1);
      return;
    }
    if (x->eof) {
      /* Every byte is out: pass the FIN on; the other direction goes on (half-close). */
      if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN) {
        finish(p, errno, 1 - d, 1);
        return;
      }
      x->done = 1;
      return;
    }
    /* The pipe is empty here, so EAGAIN means the source has nothing to read. */
    ssize_t n = splice(src, NULL, x->pipe_w, NULL, PIPE_BYTES, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      x->pending = (size_t)n;
      continue;
    }
    if (n == 0) {
      x->eof = 1;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      x->want_read = 1;
      return;
    }
    finish(p, errno, d, 1);
    return;
  }
}

static void on_poll(uv_poll_t *h, int status, int events);

static void update_polls(pump_t *p) {
  for (int s = 0; s < 2; s++) {
    int mask = (p->dir[s].want_read ? UV_READABLE : 0) | (p->dir[1 - s].want_write ? UV_WRITABLE : 0);
    if (mask == p->mask[s]) continue;
    p->mask[s] = mask;
    if (mask == 0) {
      uv_poll_stop(&p->poll[s]);
    } else if (uv_poll_start(&p->poll[s], mask, on_poll) != 0) {
      finish(p, EIO, s, 1);
      return;
    }
  }
}

static void run(pump_t *p) {
  for (int d = 0; d < 2 && !p->finished; d++) step(p, d);
  if (p->finished) return;
  if (p->dir[0].done && p->dir[1].done) {
    finish(p, 0, -1, 0);
    return;
  }
  update_polls(p);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  pump_t *p = h->data;
  if (p->finished) return;
  if (status < 0) {
    /* libuv reports POLLERR as an error without the socket's own; ask the socket. */
    int side = h == &p->poll[0] ? 0 : 1;
    int e = socket_error(p->fd[side]);
    finish(p, e != 0 ? e : ECONNRESET, side, 1);
    return;
  }
  run(p);
}

static void close_fd(int fd) {
  if (fd >= 0) close(fd);
}

static void release(pump_t *p) {
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value done = NULL, recv, argv[2];
  napi_get_reference_value(env, p->done_ref, &done);
  napi_get_global(env, &recv);
  napi_create_int32(env, p->err, &argv[0]);
  napi_create_int32(env, p->err_side, &argv[1]);
  napi_async_context async = p->async;
  if (p->token != NULL) p->token->pump = NULL;
  napi_delete_reference(env, p->done_ref);
  napi_delete_reference(env, p->counters_ref);
  napi_delete_reference(env, p->handle_ref);
  free(p);
  if (done != NULL) {
    napi_value result;
    napi_make_callback(env, async, recv, done, 2, argv, &result);
  }
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

static void on_close(uv_handle_t *h) {
  pump_t *p = h->data;
  if (--p->closing > 0) return;
  for (int s = 0; s < 2; s++) {
    if (p->reset) {
      /* Linger 0: close() sends RST, the way a reset socket in the JS path ends. */
      struct linger l = {1, 0};
      setsockopt(p->fd[s], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close_fd(p->fd[s]);
    close_fd(p->dir[s].pipe_r);
    close_fd(p->dir[s].pipe_w);
  }
  release(p);
}

static void finish(pump_t *p, int err, int side, int reset) {
  if (p->finished) return;
  p->finished = 1;
  p->err = err;
  p->err_side = side;
  p->reset = reset;
  p->closing = 2;
  for (int s = 0; s < 2; s++) uv_close((uv_handle_t *)&p->poll[s], on_close);
}

static void token_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  token_t *t = data;
  if (t->pump != NULL) t->pump->token = NULL;
  free(t);
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, "ERR_PORTWAKE_SPLICE", msg);
  return NULL;
}

static napi_value js_pump(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "pump(clientFd, upstreamFd, counters, done)");
    return NULL;
  }
  int32_t fds[2];
  for (int i = 0; i < 2; i++) {
    if (napi_get_value_int32(env, argv[i], &fds[i]) != napi_ok || fds[i] < 0) {
      napi_throw_type_error(env, NULL, "pump: file descriptors must be non-negative integers");
      return NULL;
    }
  }
  bool is_typed = false;
  napi_is_typedarray(env, argv[2], &is_typed);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (is_typed) napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL);
  if (!is_typed || type != napi_float64_array || length < 2) {
    napi_throw_type_error(env, NULL, "pump: counters must be a Float64Array of length 2");
    return NULL;
  }
  napi_valuetype cb_type;
  napi_typeof(env, argv[3], &cb_type);
  if (cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "pump: done must be a function");
    return NULL;
  }

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "pump: no event loop", EINVAL);
  pump_t *p = calloc(1, sizeof *p);
  token_t *t = calloc(1, sizeof *t);
  if (p == NULL || t == NULL) {
    free(p);
    free(t);
    return throw_errno(env, "pump", ENOMEM);
  }
  for (int s = 0; s < 2; s++) {
    p->fd[s] = -1;
    p->dir[s].pipe_r = p->dir[s].pipe_w = -1;
  }
  int e = 0;
  const char *what = "pump";
  for (int s = 0; s < 2 && e == 0; s++) {
    p->fd[s] = fcntl(fds[s], F_DUPFD_CLOEXEC, 3);
    if (p->fd[s] < 0) {
      e = errno;
      what = "pump: dup";
      break;
    }
    int fl = fcntl(p->fd[s], F_GETFL);
    if (fl < 0 || fcntl(p->fd[s], F_SETFL, fl | O_NONBLOCK) < 0) {
      e = errno;
      what = "pump: fcntl";
      break;
    }
    int pp[2];
    if (pipe2(pp, O_NONBLOCK | O_CLOEXEC) < 0) {
      e = errno;
      what = "pump: pipe2";
      break;
    }
    p->dir[s].pipe_r = pp[0];
    p->dir[s].pipe_w = pp[1];
    (void)fcntl(pp[1], F_SETPIPE_SZ, PIPE_BYTES); /* best effort: a smaller pipe only means more splices */
  }
  if (e == 0) {
    for (int s = 0; s < 2; s++) {
      if (uv_poll_init(loop, &p->poll[s], p->fd[s]) != 0) {
        /* Only the first can have succeeded; it must be closed through libuv. Cannot happen for a socket. */
        e = EINVAL;
        what = "pump: uv_poll_init";
        break;
      }
      p->poll[s].data = p;
    }
  }
  if (e != 0) {
    for (int s = 0; s < 2; s++) {
      close_fd(p->fd[s]);
      close_fd(p->dir[s].pipe_r);
      close_fd(p->dir[s].pipe_w);
    }
    free(p);
    free(t);
    return throw_errno(env, what, e);
  }

  napi_value handle, resource_name;
  p->env = env;
  p->counters = data;
  p->token = t;
  t->pump = p;
  napi_create_external(env, t, token_finalize, NULL, &handle);
  napi_create_reference(env, handle, 1, &p->handle_ref);
  napi_create_reference(env, argv[3], 1, &p->done_ref);
  napi_create_reference(env, argv[2], 1, &p->counters_ref);
  napi_create_string_utf8(env, "portwake:splice", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &p->async);

  /* Both sources may already hold bytes the JS side left unread: start by reading both. */
  p->dir[0].want_read = 1;
  p->dir[1].want_read = 1;
  update_polls(p);
  return handle;
}

static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  token_t *t = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&t) != napi_ok || t == NULL) {
    napi_throw_type_error(env, NULL, "abort(handle): not a pump handle");
    return NULL;
  }
  if (t->pump != NULL) finish(t->pump, ECANCELED, -1, 1);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"pump", NULL, js_pump, NULL, NULL, NULL, napi_enumerable, NULL},
    {"abort", NULL, js_abort, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
