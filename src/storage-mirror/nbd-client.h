/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A thin layer over one libnbd handle for the mirror engine: URI checks,
 * a connect that honours a timeout and a cancel flag, asynchronous
 * requests with bounded waiting, and detection of stalled peers. One
 * thread drives a connection at a time.
 */
#pragma once

#include <glib.h>
#include <libnbd.h>

typedef struct _XmNbdConn XmNbdConn;

/* Called exactly once per request, with 0 or an errno value (ECANCELED
 * when the connection was closed before the reply came). */
typedef void (*XmNbdDoneFunc)(gpointer data, int err);

/* Checks that @uri is an nbd://, nbds://, nbd+unix:// or nbds+unix://
 * URI libnbd can connect to (host or socket present, port numeric). */
gboolean xm_nbd_uri_check(const char *uri, gboolean *tls, GError **error);
/* What messages and logs say about a destination: where it is, without
 * its export name or query (a migration's export name is its secret). */
char *xm_nbd_uri_describe(const char *uri);

/* Connects; gives up after @timeout_ms without progress or when *@cancel
 * becomes non-zero. @tls_dir may be NULL. */
XmNbdConn *xm_nbd_conn_open(const char *uri, const char *tls_dir,
                            guint timeout_ms, const gint *cancel,
                            GError **error);
void xm_nbd_conn_close(XmNbdConn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmNbdConn, xm_nbd_conn_close)

guint64 xm_nbd_conn_get_size(XmNbdConn *c);
gboolean xm_nbd_conn_can_multi_conn(XmNbdConn *c);

/* Asynchronous requests. @done and @free_data may be NULL. The buffer
 * must stay valid until @done ran. */
gboolean xm_nbd_conn_submit_write(XmNbdConn *c, const void *buf, guint64 len,
                                  guint64 offset, XmNbdDoneFunc done,
                                  gpointer data, GError **error);
/* Writes zeroes, letting the server punch a hole; falls back to a write
 * of a zero buffer when the server has no WRITE_ZEROES. */
gboolean xm_nbd_conn_submit_zero(XmNbdConn *c, guint64 len, guint64 offset,
                                 XmNbdDoneFunc done, gpointer data,
                                 GError **error);
gboolean xm_nbd_conn_submit_read(XmNbdConn *c, void *buf, guint64 len,
                                 guint64 offset, XmNbdDoneFunc done,
                                 gpointer data, GError **error);

/* Whether the server reports which ranges read as zeros
 * (base:allocation). */
gboolean xm_nbd_conn_can_zero_status(XmNbdConn *c);
/* Called for each extent the server reports as reading as zeros. */
typedef void (*XmNbdZeroFunc)(gpointer data, guint64 offset, guint64 length);
/* Asks which parts of [offset, offset+len) read as zeros; the server may
 * describe only a prefix. @zero runs before @done, both with @data, in
 * the thread that polls. */
gboolean xm_nbd_conn_submit_zero_status(XmNbdConn *c, guint64 len,
                                        guint64 offset, XmNbdZeroFunc zero,
                                        XmNbdDoneFunc done, gpointer data,
                                        GError **error);

/* Serves the connection until at most @max_reqs requests and @max_bytes
 * bytes are in flight (0 and 0: all done). Fails on the first request
 * error, on a dead or stalled peer, and on cancel. */
gboolean xm_nbd_conn_wait(XmNbdConn *c, guint max_reqs, guint64 max_bytes,
                          GError **error);
/* Serves until *@flag becomes TRUE (set by a done callback). */
gboolean xm_nbd_conn_wait_flag(XmNbdConn *c, const gboolean *flag,
                               GError **error);
/* One poll round of at most @timeout_ms. */
gboolean xm_nbd_conn_poll(XmNbdConn *c, int timeout_ms, GError **error);

guint xm_nbd_conn_in_flight(XmNbdConn *c);

/* Synchronous helpers built on the above. */
gboolean xm_nbd_conn_pwrite(XmNbdConn *c, const void *buf, guint64 len,
                            guint64 offset, GError **error);
gboolean xm_nbd_conn_zero(XmNbdConn *c, guint64 len, guint64 offset,
                          GError **error);
gboolean xm_nbd_conn_flush(XmNbdConn *c, GError **error);
