// The JavaScript face of the native connections (conn.c moves their bytes).
//
// JS API (src/proxy/native.ts is the only caller). A connection is named by an id (a number: its
// slot and the slot's generation, exact and never given out twice: see GEN_LIMIT); no JS object,
// reference or finalizer is made per connection, which keeps the garbage collector out of it.
// Who owns a client's descriptor is said, never inferred: forward() returning an id means the addon
// owns it; forward() throwing means the caller still does; done()'s returnedFd (>= 0) gives it back.
//   setup(done)  once: done(id, errno, side, returnedFd, bytesIn, bytesOut, spliced) is called
//     once per connection, after every descriptor of ours is closed: errno 0 after an orderly end
//     both ways (EOF → shutdown(SHUT_WR) on the other socket, after every byte), else the failure
//     of side 0 (client) or 1 (upstream) — both sockets are then reset (RST) — or ECANCELED after
//     abort(). returnedFd: -1 (the addon closed the client), or the client's descriptor, left open
//     and untouched, now the caller's again: the upstream never connected (errno says why,
//     ETIMEDOUT after connectTimeoutMs, ECONNABORTED after abort with handBack; conn_give_back).
//   forward(clientFd, host, port, path, spliceAfter, connectTimeoutMs, keepAliveS) -> id
//     takes an accepted client (non-blocking) and connects to host:port (an IP literal) or to the
//     Unix socket `path`; from the moment it returns the addon owns the client. It throws when it
//     did not take it — nothing changed and the client is still the caller's: an Error with
//     `errno` and `syscall`, "connect" when the connect failed at once (no socket, or refused),
//     "forward" when the addon could not (ENOMEM). The client is not read before the
//     upstream is connected — which for a Unix socket or a local peer is within the call, so the
//     client's waiting bytes may be on their way before forward() returns.
//   pump(clientFd, upstreamFd) -> id
//     two connected sockets whose owner (a JavaScript connection) hands them over: duplicates both
//     (the caller closes its own); a direction splices once a read fills the copy buffer, as on a
//     natively forwarded connection, so a direction that stays small never takes a pipe. Throws
//     when it cannot set up.
//   probe(host, port, path) -> 0 | 1 | -errno
//     one connect, closed at once: 0 connected, -errno failed (refused, as a rule), 1 still
//     connecting (a peer that is not local: the caller probes the slow way).
//   abort(id, handBack, orderly)  resets both sockets (orderly: closes them) and finishes; no-op once finished. With handBack and
//     the upstream still connecting, the client is returned instead (ECONNABORTED, clientReturned).
//   counts(id, f64[2]) bytes delivered so far client→upstream and upstream→client; given f64[4],
//     also whether the client and the upstream have sent their EOF (1) or not (0); given f64[5],
//     also the upstream's bytes read but not yet delivered to the client.
//   changed(f64[3n]) -> count
//     the connections that moved bytes since the last call, as (id, bytesIn, bytesOut) triples,
//     at most n per call (call again while it returns n): idle connections cost nothing to watch.
//   _testNearIdWrap(uses) -> slot  (tests only) the next connection's slot is `uses` generations
//     short of retirement.
//   _testFailNextForward()  (tests only) the next forward() or pump() throws ENOMEM.


#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static conns_t *table_of(napi_env env) {
  conns_t *t = NULL;
  napi_get_instance_data(env, (void **)&t);
  return t;
}

/* Grows the table when no slot is free; 0 when it cannot (out of memory, or every slot is taken). */
static int table_make_room(conns_t *t) {
  if (t->free_head != NO_SLOT) return 1;
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
  return 1;
}

/* Set by _testFailNextForward(): the next conn_attach fails as if out of memory. */
static __thread int fail_next_attach;

/* Gives c a slot in the environment's table; 0 when out of memory (or setup() was not called). */
static int conn_attach(napi_env env, conn_t *c) {
  conns_t *t = table_of(env);
  if (fail_next_attach) {
    fail_next_attach = 0;
    return 0;
  }
  if (t == NULL || !table_make_room(t)) return 0;
  c->slot = t->free_head;
  t->free_head = t->next_free[c->slot];
  t->slots[c->slot] = c;
  c->table = t;
  c->env = env;
  return 1;
}

static double slot_id(conns_t *t, uint32_t slot) {
  return (double)(((uint64_t)t->gen[slot] << SLOT_BITS) | slot);
}

static void slot_free(conns_t *t, uint32_t slot) {
  t->slots[slot] = NULL;
  if (++t->gen[slot] >= GEN_LIMIT) return; /* retired: its ids would no longer be exact */
  t->next_free[slot] = t->free_head;
  t->free_head = slot;
}

/* The live connection an id names, or NULL (finished, never existed, or not an id at all). */
static conn_t *conn_by_id(napi_env env, napi_value v) {
  conns_t *t = table_of(env);
  double id;
  if (t == NULL || napi_get_value_double(env, v, &id) != napi_ok) return NULL;
  if (!(id >= 0 && id < (double)((uint64_t)GEN_LIMIT << SLOT_BITS)) || id != (double)(uint64_t)id) return NULL;
  uint64_t bits = (uint64_t)id;
  uint32_t slot = (uint32_t)(bits & ((UINT64_C(1) << SLOT_BITS) - 1));
  uint32_t gen = (uint32_t)(bits >> SLOT_BITS);
  if (slot >= t->cap || t->slots[slot] == NULL || t->gen[slot] != gen) return NULL;
  return t->slots[slot];
}

/* Test hook: _testFailNextForward() makes the next forward() (or pump()) throw ENOMEM, after its connect. */
napi_value pw_conn_test_fail_next(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  fail_next_attach = 1;
  return NULL;
}

/*
 * Test hook: _testNearIdWrap(uses) sets the generation of the slot the next connection takes to
 * `uses` short of the point where ids would stop being exact (GEN_LIMIT), and returns that slot.
 */
napi_value pw_conn_test_near_wrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t uses;
  if (argc < 1 || !pw_int_arg(env, argv[0], 1, "_testNearIdWrap: uses", &uses)) return NULL;
  conns_t *t = table_of(env);
  if (t == NULL || !table_make_room(t)) return pw_throw_errno(env, "_testNearIdWrap", ENOMEM);
  t->gen[t->free_head] = (uint32_t)uses >= GEN_LIMIT ? 0 : GEN_LIMIT - (uint32_t)uses;
  napi_value result;
  napi_create_uint32(env, t->free_head, &result);
  return result;
}

/*
 * Opens a non-blocking socket and starts connecting it; the socket, or -errno. *established: the
 * connection is already up (a Unix socket, or a loopback or bridge peer that answered within the
 * call: the kernel runs the whole handshake before connect() returns), so no turn of the event loop
 * is spent waiting for it to become writable. keepalive_s < 0: no TCP options (a probe).
 */
static int start_connect(napi_env env, napi_value host_v, int32_t port, napi_value path_v, int keepalive_s, int *established) {
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
  if (ss.ss_family != AF_UNIX && keepalive_s >= 0) pw_tcp_options(fd, keepalive_s);
  int r;
  do r = connect(fd, (struct sockaddr *)&ss, len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EINPROGRESS) {
    /* Asking again costs one system call: EISCONN when the handshake is done, EALREADY while it
     * runs, or the failure (a refusal from a local peer arrives within the first call too). */
    do r = connect(fd, (struct sockaddr *)&ss, len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EISCONN) r = 0;
    else if (r < 0 && errno == EALREADY) errno = EINPROGRESS;
  }
  if (r < 0 && errno != EINPROGRESS) {
    /* A Unix socket with a full backlog says EAGAIN; like Node's, the attempt fails. */
    int e = errno;
    close(fd);
    return -e;
  }
  *established = r == 0;
  return fd;
}

/* forward() did not take the client (it is still the caller's): throws Error{code, errno, syscall}. */
static napi_value throw_not_taken(napi_env env, const char *syscall, int e) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(e));
  napi_value code, text, err, v;
  if (napi_create_string_utf8(env, "ERR_PORTWAKE_NATIVE", NAPI_AUTO_LENGTH, &code) != napi_ok
      || napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok
      || napi_create_error(env, code, text, &err) != napi_ok) {
    return pw_throw_errno(env, syscall, e);
  }
  if (napi_create_int32(env, e, &v) == napi_ok) napi_set_named_property(env, err, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, err, "syscall", v);
  napi_throw(env, err);
  return NULL;
}

static napi_value number(napi_env env, double v) {
  napi_value result;
  napi_create_double(env, v, &result);
  return result;
}

/*
 * probe(host, port, path): one readiness probe, answered within the call where the kernel can — a
 * Unix socket, or a loopback or bridge peer, whose handshake (or refusal) completes inside
 * connect(). 0: it connected (and is closed again at once); a negative errno: it failed (refused,
 * as a rule: nothing listens yet); 1: the handshake is still running (a peer that is not local),
 * so the caller must probe the slow way. No event-loop turn, no JavaScript socket.
 */
napi_value pw_conn_probe(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t port;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "probe(host, port, path)");
    return NULL;
  }
  if (!pw_int_arg(env, argv[1], 0, "probe: port", &port)) return NULL;
  int established = 0;
  int fd = start_connect(env, argv[0], port, argv[2], -1, &established);
  if (fd < 0) return number(env, fd);
  close(fd);
  return number(env, established ? 0 : 1);
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
  int established = 0;
  int fd = start_connect(env, argv[1], port, argv[3], keepalive_s, &established);
  if (fd < 0) return throw_not_taken(env, "connect", -fd);
  conn_t *c = conn_new();
  if (c == NULL || !conn_attach(env, c)) {
    free(c);
    close(fd);
    return throw_not_taken(env, "forward", ENOMEM);
  }
  c->fd[0] = client;
  c->fd[1] = fd;
  c->splice_after = splice_after;
  c->connecting = 1;
  int e = conn_start_poll(c, 1);
  if (e != 0) {
    /* Cannot happen for a fresh socket; if it did, it is a failed connect like any other. */
    slot_free(c->table, c->slot);
    free(c);
    close(fd);
    return throw_not_taken(env, "connect", e);
  }
  /* From here on the client is the addon's (c->fd[0]) until done() closes or returns it. */
  if (established) {
    /* The client's first bytes usually wait already: they go out now. A failure here ends the
     * connection like one on the next turn would (the end is reported once its handles close). */
    conn_connected(c);
  } else {
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->timer_live = 1;
    c->handles++;
    uv_timer_start(&c->timer, conn_on_timer, (uint64_t)timeout_ms, 0);
    conn_update_polls(c);
  }
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
    }
  }
  if (e == 0 && !conn_attach(env, c)) e = ENOMEM;
  for (int s = 0; s < 2 && e == 0; s++) {
    e = conn_start_poll(c, s);
    /* Cannot happen for sockets. After the first poll: the connection fails (done reports it). */
    if (e != 0 && c->handles > 0) {
      conn_finish(c, e, 0, 1);
      return number(env, slot_id(c->table, c->slot));
    }
  }
  if (e != 0) {
    conn_close_all(c); /* our duplicates, quietly: nothing was moved */
    if (c->slot != NO_SLOT) slot_free(c->table, c->slot);
    free(c);
    return pw_throw_errno(env, what, e);
  }
  c->spliced = 1;
  c->splice_after = 0;
  /* Both sources may already hold bytes the JS side left unread: start by reading both. */
  c->dir[0].want_read = 1;
  c->dir[1].want_read = 1;
  conn_update_polls(c);
  return number(env, slot_id(c->table, c->slot));
}

/*
 * abort(id, handBack, orderly): resets both sockets (orderly: closes them, a FIN where nothing is
 * unread) — or, with handBack and the upstream still connecting
 * (nothing of the client's has gone anywhere), gives up the connect and returns the client's
 * descriptor untouched (the end reports ECONNABORTED with the client returned).
 */
napi_value pw_conn_abort(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc < 1 ? NULL : conn_by_id(env, argv[0]);
  bool hand_back = false;
  bool orderly = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &hand_back);
  if (argc >= 3) napi_get_value_bool(env, argv[2], &orderly);
  if (c == NULL) return NULL;
  if (hand_back && c->connecting) conn_give_back(c, ECONNABORTED);
  else conn_finish(c, ECANCELED, -1, !orderly);
  return NULL;
}

napi_value pw_conn_counts(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t length = 0;
  double *out = pw_typed_arg(env, argv[1], napi_float64_array, 2, "counts(id, out): out must be a Float64Array of length 2", &length);
  if (out == NULL) return NULL;
  conn_t *c = conn_by_id(env, argv[0]);
  if (c != NULL) {
    out[0] = c->moved[0];
    out[1] = c->moved[1];
    if (length >= 4) {
      out[2] = c->dir[0].eof; /* the client half-closed */
      out[3] = c->dir[1].eof; /* the upstream did */
    }
    if (length >= 5) out[4] = (double)(c->dir[1].len - c->dir[1].off + c->dir[1].in_pipe); /* upstream bytes the client has not taken yet */
  }
  return NULL;
}

napi_value pw_conn_changed(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t length = 0;
  double *out = pw_typed_arg(env, argv[0], napi_float64_array, 3, "changed(out): out must be a Float64Array of at least 3", &length);
  if (out == NULL) return NULL;
  conns_t *t = table_of(env);
  uint32_t count = 0;
  for (uint32_t slot = 0; t != NULL && slot < t->cap && (size_t)(count + 1) * 3 <= length; slot++) {
    conn_t *c = t->slots[slot];
    if (c == NULL || !c->dirty || c->finished) continue;
    c->dirty = 0;
    out[count * 3] = slot_id(t, slot);
    out[count * 3 + 1] = c->moved[0];
    out[count * 3 + 2] = c->moved[1];
    count++;
  }
  napi_value result;
  napi_create_uint32(env, count, &result);
  return result;
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

/* Tells JavaScript how connection c ended (called once its descriptors are closed) and frees it. */
void conn_report(conn_t *c) {
  napi_env env = c->env;
  conns_t *t = c->table;
  int client = c->client == CLIENT_RETURNED ? c->fd[0] : -1;
  napi_handle_scope scope = NULL;
  napi_value argv[7];
  napi_status s = napi_open_handle_scope(env, &scope);
  if (s == napi_ok) s = napi_create_double(env, slot_id(t, c->slot), &argv[0]);
  if (s == napi_ok) s = napi_create_int32(env, c->err, &argv[1]);
  if (s == napi_ok) s = napi_create_int32(env, c->err_side, &argv[2]);
  if (s == napi_ok) s = napi_create_int32(env, client, &argv[3]);
  if (s == napi_ok) s = napi_create_double(env, c->moved[0], &argv[4]);
  if (s == napi_ok) s = napi_create_double(env, c->moved[1], &argv[5]);
  if (s == napi_ok) s = napi_get_boolean(env, c->spliced, &argv[6]);
  slot_free(t, c->slot);
  free(c);
  /* A returned client JavaScript never heard of is still ours (a throw may have adopted it). */
  if (pw_call(env, s, t->done, t->async, 7, argv, "connection done") == PW_CALL_FAILED && client >= 0) close(client);
  if (scope != NULL) napi_close_handle_scope(env, scope);
}
