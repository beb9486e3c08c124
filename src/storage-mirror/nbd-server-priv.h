/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of the NBD server, shared by its modules (not installed). */
#pragma once

#include <sys/uio.h>

#include <xenmig/nbd-server.h>
#include "storage-mirror/tls.h"

/* Default time a client may take from connecting to the end of option
 * haggling (TLS handshake included) before it is dropped. */
#define XM_NBD_HANDSHAKE_TIMEOUT_MS 30000

struct _XmNbdServer {
    /* immutable after xm_nbd_server_new() */
    char *image_path;
    char *export_name;
    gboolean readonly;
    gboolean verify_peer;
    guint max_connections;
    guint handshake_timeout_ms;
    int image_fd;
    guint64 size;
    gboolean is_blockdev;
    XmTlsCreds *tls;            /* NULL: plaintext */

    /* what the image's file system turned out not to support */
    gint no_punch;
    gint no_zero_range;
    /* bumped after every operation that may turn data into holes */
    gint hole_generation;

    /* listeners; touched only before start and after the accept thread
     * ended */
    GArray *listen_fds;         /* int */
    char *unix_path;
    int wake_fd;                /* eventfd waking the accept thread */
    GThread *accept_thread;

    GMutex lock;                /* protects what follows */
    GList *conns;               /* XmNbdConn*, live and finished */
    guint n_live;
    gboolean started;
    gboolean stopping;
    gboolean stopped;
    GCond stopped_cond;         /* signalled when stopped is set */

    GMutex hook_mutex;          /* protects what follows */
    GCond hook_cond;
    XmNbdWriteHook hook;
    gpointer hook_data;
    guint hook_active;          /* hook calls running now */
    gboolean hook_switching;    /* a set_write_hook() is waiting */

    /* hashes of whole chunks as last sent by READ (NULL until
     * xm_nbd_server_enable_chunk_hashes(); then constant) */
    struct _XmNbdChunkHashes *chunk_hashes;
    guint64 digest_read;        /* atomic: bytes read by image_digest */
};

/* A range known to be data. Writes only ever add data, so the knowledge
 * stays true until a zero or trim bumps the server's hole_generation.
 * It spares a SEEK_HOLE per request, which file systems such as tmpfs
 * answer by scanning every page up to the next hole. */
typedef struct {
    gint generation;
    guint64 start;
    guint64 end;
} XmNbdDataCache;

typedef struct {
    XmNbdServer *server;
    int fd;                     /* -1 once closed (under server->lock) */
    XmTlsSession *tls;
    GThread *thread;
    gboolean finished;          /* under server->lock */
    guint64 id;

    /* negotiated state */
    gboolean no_zeroes;
    gboolean structured;
    gboolean meta_base_alloc;
    gint64 deadline;            /* monotonic µs; 0 once transmitting */

} XmNbdConn;

/* nbd-server-io.c: blocking I/O on a connection, plaintext or TLS.
 * Every function returns FALSE when the connection is unusable. */
gboolean xm_nbd_conn_read(XmNbdConn *c, void *buf, gsize len);
gboolean xm_nbd_conn_discard(XmNbdConn *c, guint64 len);
gboolean xm_nbd_conn_writev(XmNbdConn *c, const struct iovec *iov, int n);
gboolean xm_nbd_conn_write(XmNbdConn *c, const void *buf, gsize len);

/* nbd-server-handshake.c: returns TRUE when the client entered the
 * transmission phase, FALSE when the connection must be closed. */
gboolean xm_nbd_conn_handshake(XmNbdConn *c);
guint16 xm_nbd_conn_transmission_flags(XmNbdConn *c);

/* nbd-server-transmit.c: serves requests until the client disconnects
 * or breaks the protocol. */
void xm_nbd_conn_transmit(XmNbdConn *c);

/* nbd-server-image.c: operations on the image; return 0 or an errno. */
typedef struct {
    guint64 length;
    guint32 flags;              /* NBD_STATE_HOLE | NBD_STATE_ZERO */
} XmNbdExtent;

int xm_nbd_image_extents(XmNbdServer *s, XmNbdDataCache *cache,
                         guint64 offset, guint64 length,
                         guint max_extents, GArray *extents);
int xm_nbd_image_pread(XmNbdServer *s, void *buf, gsize len, guint64 offset);
int xm_nbd_image_pwrite(XmNbdServer *s, const void *buf, gsize len,
                        guint64 offset);
/* *@changed tells whether the range was modified (a trim the file system
 * cannot do changes nothing). */
int xm_nbd_image_zero(XmNbdServer *s, guint64 offset, guint64 length,
                      gboolean may_punch, gboolean fast);
int xm_nbd_image_trim(XmNbdServer *s, guint64 offset, guint64 length,
                      gboolean *changed);
int xm_nbd_image_flush(XmNbdServer *s);
/* NBD_CMD_CACHE: asks the kernel to read the range ahead */
int xm_nbd_image_prefetch(XmNbdServer *s, guint64 offset, guint64 length);
guint32 xm_nbd_errno_to_wire(int err);

/* nbd-server-hashes.c: the per-chunk hashes of what READ sent. A read
 * of one whole chunk calls _begin() before reading the image and _record()
 * with the bytes it sends; every write, zero or trim calls _changed() once
 * its data is in the image. All three do nothing while hashes are off. */
typedef struct {
    guint64 index;
    guint64 generation;
    gboolean active;
} XmNbdChunkRead;

void xm_nbd_chunk_read_begin(XmNbdServer *s, guint64 offset, guint64 length,
                             XmNbdChunkRead *rd);
void xm_nbd_chunk_read_record(XmNbdServer *s, const XmNbdChunkRead *rd,
                              const void *data, gsize length);
void xm_nbd_chunk_changed(XmNbdServer *s, guint64 offset, guint64 length);
void xm_nbd_chunk_hashes_free(struct _XmNbdChunkHashes *h);

/* nbd-server.c: runs the write hook, if any; FALSE means it failed. */
gboolean xm_nbd_server_run_hook(XmNbdServer *s, XmNbdWriteKind kind,
                                guint64 offset, guint64 length,
                                const void *data);

/* Marks the calling thread as serving @c (NULL: no longer). */
void xm_nbd_server_enter_conn(XmNbdConn *c);

/* Serves one already-connected client on the calling thread and closes
 * @fd; for the fuzzer and for callers that accept connections
 * themselves. */
void xm_nbd_server_serve_fd(XmNbdServer *s, int fd);
