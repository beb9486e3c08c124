/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The memory channel: one TCP connection per migration from the source to
 * the destination, authenticated by the per-migration secret (and with TLS
 * by the client certificate), carrying framed records. See channel.c for
 * the wire format.
 */
#pragma once

#include <gio/gio.h>

#include "migration/cookie.h"

typedef enum {
    XM_CHANNEL_DATA = 1,     /* a piece of the backend's memory stream */
    XM_CHANNEL_END = 2,      /* the memory stream ended (empty) */
    XM_CHANNEL_PING = 3,     /* keepalive while disks copy (empty) */
    XM_CHANNEL_COMPLETE = 4, /* disks drained and verified; per-disk checksums */
    XM_CHANNEL_ABORT = 5,    /* the source gives up; payload: reason */
} XmChannelRecord;

#define XM_CHANNEL_MAX_PAYLOAD (1024u * 1024)

typedef struct _XmChannelListener XmChannelListener;
typedef struct _XmChannel XmChannel;

/* Takes ownership of @listen_fd. With @tls_dir, connections must complete
 * a TLS handshake with a client certificate signed by its CA. */
XmChannelListener *xm_channel_listener_new(int listen_fd,
                                           const guint8 secret[XM_COOKIE_SECRET_BYTES],
                                           const char *tls_dir, GError **error);
/* Waits up to @timeout_ms for a connection that authenticates; others are
 * refused and counted. XM_ERR_OPERATION_TIMEOUT when nobody did. */
XmChannel *xm_channel_accept(XmChannelListener *l, guint timeout_ms,
                             GCancellable *cancellable, GError **error);
guint xm_channel_listener_get_refused(XmChannelListener *l);
void xm_channel_listener_free(XmChannelListener *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmChannelListener, xm_channel_listener_free)

XmChannel *xm_channel_connect(const char *host, guint port,
                              const guint8 secret[XM_COOKIE_SECRET_BYTES],
                              const char *tls_dir, guint timeout_ms,
                              GCancellable *cancellable, GError **error);

/* Sends one record; serialised between threads. A record not sent within
 * the send timeout (30 s: the peer stopped reading) fails the send with
 * XM_ERR_OPERATION_TIMEOUT and shuts the channel down. */
gboolean xm_channel_send(XmChannel *ch, XmChannelRecord type,
                         const void *buf, guint32 len, GError **error);
/* Changes the send timeout (0: the default). */
void xm_channel_set_send_timeout(XmChannel *ch, guint timeout_ms);
/* Receives one record into @buf (XM_CHANNEL_MAX_PAYLOAD bytes). Waits at
 * most @idle_ms for it to start (0: forever). */
gboolean xm_channel_recv(XmChannel *ch, XmChannelRecord *type, guint8 *buf,
                         guint32 *len, guint idle_ms, GError **error);
/* TRUE if a small record can be sent within @timeout_ms without blocking
 * (for last words to a peer that may have stalled). */
gboolean xm_channel_writable(XmChannel *ch, guint timeout_ms);
/* Unblocks every pending and future send/recv (any thread). */
void xm_channel_shutdown(XmChannel *ch);
gboolean xm_channel_is_tls(XmChannel *ch);
void xm_channel_free(XmChannel *ch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XmChannel, xm_channel_free)

/* Hex <-> raw secret. */
char *xm_channel_secret_to_hex(const guint8 secret[XM_COOKIE_SECRET_BYTES]);
gboolean xm_channel_secret_from_hex(const char *hex,
                                    guint8 secret[XM_COOKIE_SECRET_BYTES]);
void xm_channel_secret_generate(guint8 secret[XM_COOKIE_SECRET_BYTES]);
