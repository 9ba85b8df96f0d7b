// Accepting connections on a listening socket in native code, so that a connection to a ready
// service never becomes a JavaScript socket: its descriptor goes straight to forward() (conn.c).
//
// JS API (src/proxy/native.ts is the only caller):
//   listen(fd, fds: Int32Array, keepAliveS, onAccept(count, errno, refused)) -> handle
//     duplicates the listening descriptor (the caller closes its own) and accepts whenever it is
//     readable — after the other I/O callbacks of that turn of the event loop — up to fds.length
//     per call: onAccept(count) finds the new non-blocking descriptors
//     (Nagle off and keepalive for TCP, like the JavaScript listeners) in fds[0..count) and takes
//     each by setting its entry to -1; those it leaves (it threw, or unlistened in the middle) are
//     closed when it returns. A throw becomes an uncaught exception (pw_call). When the process is out of descriptors (EMFILE/ENFILE) the waiting connections are
//     accepted with a reserved descriptor and reset at once, and onAccept(count, errno, refused)
//     says how many; any other accept error comes as onAccept(count, errno, 0).
//   unlisten(handle)  stops accepting and closes the listening descriptor before it returns; onAccept
//     is not called again.

#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

typedef struct listener listener_t;

typedef struct {
  listener_t *listener; /* NULL once closed */
} ltoken_t;

struct listener {
  napi_env env;
  napi_ref handle_ref, cb_ref, fds_ref;
  napi_async_context async;
  ltoken_t *token;
  int fd;
  uv_poll_t poll;
  uv_check_t check; /* accepts after the turn's I/O callbacks */
  int handles;      /* libuv handles not yet closed */
  int32_t *fds;
  size_t cap;
  int keepalive_s;
};

/* Kept open so that a full descriptor table can still accept — and refuse — a connection
 * (libuv does the same for its own listeners). */
static __thread int reserve_fd = -1;

static void on_check(uv_check_t *h);

static void reserve(void) {
  if (reserve_fd < 0) reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
}

/* Out of descriptors: accepts and resets what waits (up to a batch; the poll fires again for the
 * rest), with the reserved descriptor's slot. */
static int refuse_waiting(int lfd, size_t batch) {
  int refused = 0;
  if (reserve_fd < 0) return 0;
  close(reserve_fd);
  reserve_fd = -1;
  while ((size_t)refused < batch) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      break;
    }
    struct linger l = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c);
    refused++;
  }
  reserve();
  return refused;
}

/* Connections wait: accept them once this turn's I/O callbacks have run (see on_check). */
static void on_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  listener_t *l = h->data;
  uv_check_start(&l->check, on_check);
}

/*
 * Accepting last in a turn of the event loop lets the connections already open move their bytes
 * first: a turn that accepts a burst does not make every response waiting in it wait for the burst
 * (their connect, their first read and send) too.
 */
static void on_check(uv_check_t *h) {
  listener_t *l = h->data;
  uv_check_stop(h);
  size_t count = 0;
  int err = 0, refused = 0;
  while (count < l->cap) {
    int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      pw_tcp_options(c, l->keepalive_s);
      l->fds[count++] = c;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN) break;
    err = errno;
    if (err == EMFILE || err == ENFILE) refused = refuse_waiting(l->fd, l->cap);
    break;
  }
  if (count == 0 && err == 0) return;
  napi_env env = l->env;
  napi_handle_scope scope = NULL;
  napi_value argv[3];
  napi_status s = napi_open_handle_scope(env, &scope);
  if (s == napi_ok) s = napi_create_uint32(env, (uint32_t)count, &argv[0]);
  if (s == napi_ok) s = napi_create_int32(env, err, &argv[1]);
  if (s == napi_ok) s = napi_create_int32(env, refused, &argv[2]);
  pw_call(env, s, l->cb_ref, l->async, 3, argv, "listen: onAccept");
  if (scope != NULL) napi_close_handle_scope(env, scope);
  /* JavaScript took each descriptor it set to -1; the rest are still ours — the callback threw,
   * could not be called, or the listener was closed in the middle of the batch. */
  for (size_t i = 0; i < count; i++) {
    if (l->fds[i] >= 0) close(l->fds[i]);
    l->fds[i] = -1;
  }
}

static void on_close(uv_handle_t *h) {
  listener_t *l = h->data;
  if (--l->handles > 0) return;
  napi_env env = l->env;
  napi_delete_reference(env, l->cb_ref);
  napi_delete_reference(env, l->fds_ref);
  napi_delete_reference(env, l->handle_ref);
  napi_async_destroy(env, l->async);
  free(l);
}

static void ltoken_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

napi_value pw_listener_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, keepalive_s;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "listen(fd, fds, keepAliveS, onAccept)");
    return NULL;
  }
  if (!pw_int_arg(env, argv[0], 0, "listen: fd", &fd) || !pw_int_arg(env, argv[2], 1, "listen: keepAliveS", &keepalive_s)) return NULL;
  size_t length = 0;
  int32_t *data = pw_typed_arg(env, argv[1], napi_int32_array, 1, "listen: fds must be a non-empty Int32Array", &length);
  if (data == NULL) return NULL;
  napi_valuetype cb_type;
  napi_typeof(env, argv[3], &cb_type);
  if (cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "listen: onAccept must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  listener_t *l = calloc(1, sizeof *l);
  ltoken_t *t = calloc(1, sizeof *t);
  if (l == NULL || t == NULL) {
    free(l);
    free(t);
    return pw_throw_errno(env, "listen", ENOMEM);
  }
  l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int fl = l->fd < 0 ? -1 : fcntl(l->fd, F_GETFL);
  int e = fl < 0 || fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0 ? errno : 0;
  if (e == 0 && uv_poll_init(loop, &l->poll, l->fd) != 0) e = EINVAL;
  if (e == 0) uv_check_init(loop, &l->check); /* cannot fail */
  if (e != 0) {
    if (l->fd >= 0) close(l->fd);
    free(l);
    free(t);
    return pw_throw_errno(env, "listen", e);
  }
  reserve();
  napi_value handle, name;
  napi_create_external(env, t, ltoken_finalize, NULL, &handle);
  t->listener = l;
  l->token = t;
  l->env = env;
  l->fds = data;
  l->cap = length;
  l->keepalive_s = keepalive_s;
  l->poll.data = l;
  l->check.data = l;
  l->handles = 2;
  napi_create_reference(env, handle, 1, &l->handle_ref);
  napi_create_reference(env, argv[1], 1, &l->fds_ref);
  napi_create_reference(env, argv[3], 1, &l->cb_ref);
  napi_create_string_utf8(env, "portwake:listener", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &l->async);
  if (uv_poll_start(&l->poll, UV_READABLE, on_readable) != 0) {
    t->listener = NULL;
    uv_close((uv_handle_t *)&l->poll, on_close);
    uv_close((uv_handle_t *)&l->check, on_close);
    close(l->fd);
    return pw_throw_errno(env, "listen: poll", EIO);
  }
  return handle;
}

napi_value pw_listener_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  ltoken_t *t = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&t) != napi_ok || t == NULL) {
    napi_throw_type_error(env, NULL, "unlisten(handle): not a listener handle");
    return NULL;
  }
  listener_t *l = t->listener;
  if (l == NULL) return NULL;
  t->listener = NULL;
  l->token = NULL;
  /* uv_close stops polling at once (the descriptor leaves epoll), so the descriptor can be closed
   * now, not in the close callback: the port is free when unlisten returns (a reload binds it again). */
  uv_close((uv_handle_t *)&l->poll, on_close);
  uv_close((uv_handle_t *)&l->check, on_close);
  close(l->fd);
  return NULL;
}
