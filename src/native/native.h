// Shared by portwake's native data path (conn.c, listener.c, addon.c).

#ifndef PORTWAKE_NATIVE_H
#define PORTWAKE_NATIVE_H

#define _GNU_SOURCE
#include <node_api.h>

/* Throws Error(code ERR_PORTWAKE_NATIVE, "what: strerror(e)") and returns NULL. */
napi_value pw_throw_errno(napi_env env, const char *what, int e);

/* Nagle off and TCP keepalive after idle_s seconds, as the JavaScript path sets them; best effort
 * (a Unix socket has neither). */
void pw_tcp_options(int fd, int idle_s);

/* Reads argv[i] as an int32 >= min; throws a TypeError naming `what` otherwise. */
int pw_int_arg(napi_env env, napi_value v, int32_t min, const char *what, int32_t *out);

/* Reads v as a typed array of `type` with at least `min` elements: its data (and length, when
 * `length` is not NULL); otherwise throws a TypeError saying `usage` and returns NULL. */
void *pw_typed_arg(napi_env env, napi_value v, napi_typedarray_type type, size_t min, const char *usage, size_t *length);

/* How a call into JavaScript from a libuv callback went (pw_call). */
typedef enum {
  PW_CALL_OK,     /* the function ran and returned */
  PW_CALL_THREW,  /* it ran and threw: the exception went to process 'uncaughtException' */
  PW_CALL_FAILED, /* it could not be called (reported the same way, as an Error naming `what`) */
} pw_call_result;

/*
 * Calls the JS function held by `ref` with argc arguments, in async context `async`, from a libuv
 * callback (no JavaScript on the stack). Every N-API status is checked: a JS exception is never
 * left pending (it would surface from the next unrelated call into the addon) but raised as an
 * uncaught exception, as Node does for a throw in an I/O callback. status: the caller's own
 * status so far (building the arguments); not napi_ok: the function is not called, that failure
 * is reported instead.
 */
pw_call_result pw_call(napi_env env, napi_status status, napi_ref ref, napi_async_context async, size_t argc, napi_value *argv, const char *what);

napi_value pw_conn_setup(napi_env env, napi_callback_info info);
napi_value pw_conn_forward(napi_env env, napi_callback_info info);
napi_value pw_conn_pump(napi_env env, napi_callback_info info);
napi_value pw_conn_abort(napi_env env, napi_callback_info info);
napi_value pw_conn_counts(napi_env env, napi_callback_info info);
napi_value pw_conn_changed(napi_env env, napi_callback_info info);
napi_value pw_conn_probe(napi_env env, napi_callback_info info);
napi_value pw_conn_test_near_wrap(napi_env env, napi_callback_info info);
napi_value pw_conn_test_fail_next(napi_env env, napi_callback_info info);
napi_value pw_listener_open(napi_env env, napi_callback_info info);
napi_value pw_listener_close(napi_env env, napi_callback_info info);

#endif
