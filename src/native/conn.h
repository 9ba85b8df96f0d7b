// The native connections' shared structures: conn.c moves their bytes, conn-js.c is their N-API face.

#ifndef PORTWAKE_CONN_H
#define PORTWAKE_CONN_H

#include "native.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct conn conn_t;

/* Who owns the client's descriptor (fd[0]) from forward() on. Set once, by the function that ends the
 * connection: conn_give_back() is the only code that returns the client; every other end closes it. */
typedef enum {
  CLIENT_OURS = 0,  /* conn.c: closed with the connection when it finishes */
  CLIENT_RETURNED,  /* the upstream never connected: left open and untouched, reported to the caller */
} client_owner_t;

/* Per Node environment (the main thread, or a worker): the done callback and the id table. */
typedef struct {
  napi_ref done;
  napi_async_context async;
  conn_t **slots;
  uint32_t *gen;       /* bumped when a slot is freed; GEN_LIMIT: retired */
  uint32_t *next_free;
  uint32_t cap, free_head;
} conns_t;

/* An id is gen * 2^SLOT_BITS + slot, exact in a double (< 2^53). A slot whose generation reaches
 * GEN_LIMIT is retired, never reused: no id is ever given out twice in the process's lifetime
 * (2^53 connections: centuries at a million a second), so a stale id never names a newer one. */
#define SLOT_BITS 24
#define GEN_LIMIT (UINT32_C(1) << (53 - SLOT_BITS))
#define NO_SLOT UINT32_MAX

typedef struct {
  char *buf;          /* copy mode: bytes read but not yet written (only while the destination is full) */
  size_t off, len;
  int pipe_r, pipe_w; /* splice mode once pipe_r >= 0 */
  size_t in_pipe;     /* bytes in the pipe, not yet written to the destination */
  size_t pipe_cap;    /* the pipe's size: what one splice into it may move */
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
  int dirty;          /* moved bytes since changed() last reported them */
  int finished, reset, err, err_side;
  client_owner_t client; /* CLIENT_RETURNED only through conn_give_back() */
};

/* conn.c */
conn_t *conn_new(void);
int conn_start_poll(conn_t *c, int s);
/* The upstream is connected (after poll[1] is started): moves what it can now, then polls both sides. */
void conn_connected(conn_t *c);
void conn_update_polls(conn_t *c);
void conn_on_timer(uv_timer_t *t);
/* Closes the sockets (all but the client's when it is returned; with RST if c->reset), pipes and buffers. */
void conn_close_all(conn_t *c);
/* Ends the connection (once): its descriptors are closed when its handles are, then conn_report(). */
void conn_finish(conn_t *c, int err, int side, int reset);
/* Ends a connection whose upstream never connected, returning the client untouched (err: why). */
void conn_give_back(conn_t *c, int err);

/* conn-js.c: tells JavaScript how c ended, with the client's descriptor when it was returned. */
void conn_report(conn_t *c);

#endif
