// portwake's native addon: the module table and the helpers its two halves share. The halves:
//   conn.c      one proxied connection's bytes (read/write, then splice(2) for bulk), and its
//               connect to the upstream
//   listener.c  accepting connections on a listening socket
// src/proxy/native.ts is the only JavaScript that calls it.

#include "native.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

napi_value pw_throw_errno(napi_env env, const char *what, int e) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, "ERR_PORTWAKE_NATIVE", msg);
  return NULL;
}

void pw_tcp_options(int fd, int idle_s) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) return; /* not TCP */
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
}

int pw_int_arg(napi_env env, napi_value v, int32_t min, const char *what, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < min) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s must be an integer >= %d", what, min);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

void *pw_typed_arg(napi_env env, napi_value v, napi_typedarray_type type, size_t min, const char *usage, size_t *length) {
  bool typed = false;
  napi_typedarray_type actual;
  size_t n = 0;
  void *data = NULL;
  if (v != NULL) napi_is_typedarray(env, v, &typed);
  if (typed) napi_get_typedarray_info(env, v, &actual, &n, &data, NULL, NULL);
  if (!typed || actual != type || n < min || data == NULL) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (length != NULL) *length = n;
  return data;
}

void pw_call(napi_env env, napi_ref ref, napi_async_context async, size_t argc, napi_value *argv) {
  napi_value fn = NULL, recv, result;
  napi_get_reference_value(env, ref, &fn);
  if (fn == NULL) return;
  napi_get_global(env, &recv);
  napi_make_callback(env, async, recv, fn, argc, argv, &result);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setup", NULL, pw_conn_setup, NULL, NULL, NULL, napi_enumerable, NULL},
    {"forward", NULL, pw_conn_forward, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pump", NULL, pw_conn_pump, NULL, NULL, NULL, napi_enumerable, NULL},
    {"abort", NULL, pw_conn_abort, NULL, NULL, NULL, napi_enumerable, NULL},
    {"counts", NULL, pw_conn_counts, NULL, NULL, NULL, napi_enumerable, NULL},
    {"changed", NULL, pw_conn_changed, NULL, NULL, NULL, napi_enumerable, NULL},
    {"probe", NULL, pw_conn_probe, NULL, NULL, NULL, napi_enumerable, NULL},
    {"_testNearIdWrap", NULL, pw_conn_test_near_wrap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"listen", NULL, pw_listener_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unlisten", NULL, pw_listener_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
