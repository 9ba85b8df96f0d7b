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

/* The pending exception, or else an Error for the last failed N-API call, goes to 'uncaughtException'. */
static void raise_uncaught(napi_env env, const char *what, napi_status status) {
  bool pending = false;
  napi_value err = NULL;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &err) == napi_ok && err != NULL) {
    if (napi_fatal_exception(env, err) == napi_ok) return;
    fprintf(stderr, "portwake native: %s threw, and the exception could not be raised\n", what);
    return;
  }
  const napi_extended_error_info *info = NULL;
  char msg[200];
  napi_get_last_error_info(env, &info);
  snprintf(msg, sizeof msg, "%s: calling into JavaScript failed (N-API status %d%s%s)", what, (int)status,
    info != NULL && info->error_message != NULL ? ": " : "", info != NULL && info->error_message != NULL ? info->error_message : "");
  napi_value code = NULL, text = NULL;
  if (napi_create_string_utf8(env, "ERR_PORTWAKE_NATIVE", NAPI_AUTO_LENGTH, &code) == napi_ok
      && napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) == napi_ok
      && napi_create_error(env, code, text, &err) == napi_ok && napi_fatal_exception(env, err) == napi_ok) {
    return;
  }
  fprintf(stderr, "portwake native: %s\n", msg);
}

pw_call_result pw_call(napi_env env, napi_status status, napi_ref ref, napi_async_context async, size_t argc, napi_value *argv, const char *what) {
  napi_value fn = NULL, recv = NULL, result;
  if (status == napi_ok) status = napi_get_reference_value(env, ref, &fn);
  if (status == napi_ok && fn == NULL) status = napi_invalid_arg; /* the function was collected */
  if (status == napi_ok) status = napi_get_global(env, &recv);
  if (status != napi_ok) {
    raise_uncaught(env, what, status);
    return PW_CALL_FAILED;
  }
  status = napi_make_callback(env, async, recv, fn, argc, argv, &result);
  if (status == napi_ok) return PW_CALL_OK;
  bool threw = false;
  napi_is_exception_pending(env, &threw);
  raise_uncaught(env, what, status);
  return threw ? PW_CALL_THREW : PW_CALL_FAILED;
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
    {"_testFailNextForward", NULL, pw_conn_test_fail_next, NULL, NULL, NULL, napi_enumerable, NULL},
    {"listen", NULL, pw_listener_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unlisten", NULL, pw_listener_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
