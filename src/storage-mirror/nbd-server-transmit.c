/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transmission phase: one request at a time per connection (clients
 * that want parallelism open several connections; CAN_MULTI_CONN is safe
 * because every connection shares the one image descriptor).
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "util/util.h"
#include "storage-mirror/nbd-proto.h"
#include "storage-mirror/nbd-server-priv.h"

/* Bounds the reply to one BLOCK_STATUS request. */
#define MAX_EXTENTS 1024
/* Largest data buffer a connection keeps between requests. */
#define KEEP_BUFFER (4u * 1024 * 1024)

typedef struct {
    guint16 flags;
    guint16 type;
    guint64 cookie;
    guint64 offset;
    guint32 length;
} Request;

static gboolean
send_simple(XmNbdConn *c, const Request *r, guint32 error, const void *data,
            gsize len)
{
    struct nbd_simple_reply hdr = {
        .magic = htobe32(NBD_SIMPLE_REPLY_MAGIC),
        .error = htobe32(error),
        .cookie = r->cookie,   /* opaque: echoed as received */
    };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    return xm_nbd_conn_writev(c, iov, len ? 2 : 1);
}

/* A structured reply chunk: header, a fixed part, then bulk data. */
static gboolean
send_chunk(XmNbdConn *c, const Request *r, guint16 flags, guint16 type,
           const void *fixed, gsize fixed_len, const void *data,
           gsize data_len)
{
    struct nbd_structured_reply hdr = {
        .magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC),
        .flags = htobe16(flags),
        .type = htobe16(type),
        .cookie = r->cookie,
        .length = htobe32(fixed_len + data_len),
    };
    struct iovec iov[3] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)fixed, .iov_len = fixed_len },
        { .iov_base = (void *)data, .iov_len = data_len },
    };

    return xm_nbd_conn_writev(c, iov, data_len ? 3 : fixed_len ? 2 : 1);
}

static gboolean
send_error(XmNbdConn *c, const Request *r, int err)
{
    guint32 wire = xm_nbd_errno_to_wire(err);

    if (c->structured &&
        (r->type == NBD_CMD_READ || r->type == NBD_CMD_BLOCK_STATUS)) {
        struct {
            guint32 error;
            guint16 msg_len;
        } __attribute__((packed)) e = { htobe32(wire), 0 };

        return send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                          &e, sizeof(e), NULL, 0);
    }
    return send_simple(c, r, wire, NULL, 0);
}

static gboolean
send_ok(XmNbdConn *c, const Request *r)
{
    return send_simple(c, r, 0, NULL, 0);
}

/* The connection's data buffer, grown to at least @len bytes; NULL when
 * memory is short. Reusing it saves an mmap/munmap pair per big request. */
static char *
conn_buffer(XmNbdConn *c, gsize len)
{
    if (c->buf_size < len) {
        char *b = g_try_realloc(c->buf, len);

        if (!b)
            return NULL;
        c->buf = b;
        c->buf_size = len;
    }
    return c->buf;
}

static gboolean
in_bounds(XmNbdConn *c, const Request *r)
{
    return r->offset <= c->server->size &&
           r->length <= c->server->size - r->offset;
}

static gboolean
do_read(XmNbdConn *c, const Request *r)
{
    XmNbdServer *s = c->server;
    g_autoptr(GArray) extents = g_array_new(FALSE, FALSE,
                                            sizeof(XmNbdExtent));
    char *buf;
    guint64 off = r->offset;
    int err;

    if (r->length == 0 || r->length > XM_NBD_MAX_PAYLOAD ||
        !in_bounds(c, r))
        return send_error(c, r, EINVAL);

    /* Read everything first so that an I/O error becomes one clean error
     * reply rather than a half-sent series of chunks. */
    buf = conn_buffer(c, r->length);
    if (!buf)
        return send_error(c, r, ENOMEM);
    if (!c->structured || (r->flags & NBD_CMD_FLAG_DF))
        g_array_append_vals(extents, &(XmNbdExtent){ r->length, 0 }, 1);
    else
        xm_nbd_image_extents(s, &c->data_cache, r->offset, r->length, G_MAXUINT, extents);
    for (guint i = 0; i < extents->len; i++) {
        const XmNbdExtent *e = &g_array_index(extents, XmNbdExtent, i);

        if (!(e->flags & NBD_STATE_HOLE)) {
            err = xm_nbd_image_pread(s, buf + (off - r->offset), e->length,
                                     off);
            if (err)
                return send_error(c, r, err);
        }
        off += e->length;
    }

    if (!c->structured)
        return send_simple(c, r, 0, buf, r->length);

    off = r->offset;
    for (guint i = 0; i < extents->len; i++) {
        const XmNbdExtent *e = &g_array_index(extents, XmNbdExtent, i);
        guint16 flags = i + 1 == extents->len ? NBD_REPLY_FLAG_DONE : 0;
        gboolean ok;

        if (e->flags & NBD_STATE_HOLE) {
            struct {
                guint64 offset;
                guint32 length;
            } __attribute__((packed)) h = {
                htobe64(off), htobe32((guint32)e->length)
            };

            ok = send_chunk(c, r, flags, NBD_REPLY_TYPE_OFFSET_HOLE,
                            &h, sizeof(h), NULL, 0);
        } else {
            guint64 o = htobe64(off);

            ok = send_chunk(c, r, flags, NBD_REPLY_TYPE_OFFSET_DATA,
                            &o, sizeof(o), buf + (off - r->offset),
                            e->length);
        }
        if (!ok)
            return FALSE;
        off += e->length;
    }
    return TRUE;
}

static int
finish_write(XmNbdConn *c, const Request *r, XmNbdWriteKind kind,
             const void *data)
{
    int err = 0;

    if (r->flags & NBD_CMD_FLAG_FUA)
        err = xm_nbd_image_flush(c->server);
    if (!err && !xm_nbd_server_run_hook(c->server, kind, r->offset,
                                        r->length, data))
        err = EIO;
    return err;
}

static gboolean
do_write(XmNbdConn *c, const Request *r)
{
    char *buf;
    int err;

    if (r->length > XM_NBD_MAX_PAYLOAD) {
        /* The payload cannot be skipped sensibly: answer and hang up. */
        g_debug("conn %" G_GUINT64_FORMAT ": write of %u bytes refused",
                c->id, r->length);
        send_error(c, r, EINVAL);
        return FALSE;
    }
    buf = conn_buffer(c, MAX(r->length, 1));
    if (!buf) {
        send_error(c, r, ENOMEM);
        return FALSE;
    }
    if (!xm_nbd_conn_read(c, buf, r->length))
        return FALSE;
    if (c->server->readonly)
        return send_error(c, r, EPERM);
    if (!in_bounds(c, r))
        return send_error(c, r, ENOSPC);
    if (r->length == 0)
        return send_ok(c, r);
    err = xm_nbd_image_pwrite(c->server, buf, r->length, r->offset);
    if (!err)
        err = finish_write(c, r, XM_NBD_WRITE, buf);
    return err ? send_error(c, r, err) : send_ok(c, r);
}

static gboolean
do_write_zeroes(XmNbdConn *c, const Request *r)
{
    int err;

    if (c->server->readonly)
        return send_error(c, r, EPERM);
    if (!in_bounds(c, r))
        return send_error(c, r, ENOSPC);
    if (r->length == 0)
        return send_ok(c, r);
    err = xm_nbd_image_zero(c->server, r->offset, r->length,
                            !(r->flags & NBD_CMD_FLAG_NO_HOLE),
                            !!(r->flags & NBD_CMD_FLAG_FAST_ZERO));
    if (!err)
        err = finish_write(c, r, XM_NBD_WRITE_ZEROES, NULL);
    return err ? send_error(c, r, err) : send_ok(c, r);
}

static gboolean
do_trim(XmNbdConn *c, const Request *r)
{
    gboolean changed = FALSE;
    int err;

    if (c->server->readonly)
        return send_error(c, r, EPERM);
    if (!in_bounds(c, r))
        return send_error(c, r, EINVAL);
    if (r->length == 0)
        return send_ok(c, r);
    err = xm_nbd_image_trim(c->server, r->offset, r->length, &changed);
    /* A trim the file system could not do changed nothing, so there is
     * nothing for the hook to track. */
    if (!err && changed)
        err = finish_write(c, r, XM_NBD_TRIM, NULL);
    else if (!err && (r->flags & NBD_CMD_FLAG_FUA))
        err = xm_nbd_image_flush(c->server);
    return err ? send_error(c, r, err) : send_ok(c, r);
}

static gboolean
do_block_status(XmNbdConn *c, const Request *r)
{
    g_autoptr(GArray) extents = g_array_new(FALSE, FALSE,
                                            sizeof(XmNbdExtent));
    g_autofree guint32 *desc = NULL;
    guint32 id = htobe32(XM_NBD_BASE_ALLOCATION_ID);
    guint max;

    if (!c->structured || !c->meta_base_alloc || r->length == 0 ||
        !in_bounds(c, r))
        return send_error(c, r, EINVAL);
    max = (r->flags & NBD_CMD_FLAG_REQ_ONE) ? 1 : MAX_EXTENTS;
    xm_nbd_image_extents(c->server, &c->data_cache, r->offset, r->length, max, extents);
    desc = g_new(guint32, 2 * extents->len);
    for (guint i = 0; i < extents->len; i++) {
        const XmNbdExtent *e = &g_array_index(extents, XmNbdExtent, i);

        desc[2 * i] = htobe32((guint32)e->length);
        desc[2 * i + 1] = htobe32(e->flags);
    }
    return send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
                      &id, sizeof(id), desc,
                      (gsize)extents->len * 2 * sizeof(guint32));
}

/* Flags each command may carry. */
static guint16
allowed_flags(guint16 type)
{
    switch (type) {
    case NBD_CMD_READ:
        return NBD_CMD_FLAG_DF | NBD_CMD_FLAG_FUA;   /* FUA: no-op */
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        return NBD_CMD_FLAG_FUA;
    case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE |
               NBD_CMD_FLAG_FAST_ZERO;
    case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_REQ_ONE;
    default:
        return 0;
    }
}

/* One request; FALSE ends the connection. */
static gboolean
handle_request(XmNbdConn *c, const Request *r)
{
    if (r->flags & ~allowed_flags(r->type)) {
        g_debug("conn %" G_GUINT64_FORMAT ": cmd %u with bad flags 0x%x",
                c->id, r->type, r->flags);
        /* A write's payload follows regardless: keep the stream in
         * step. */
        if (r->type == NBD_CMD_WRITE &&
            (r->length > XM_NBD_MAX_PAYLOAD ||
             !xm_nbd_conn_discard(c, r->length)))
            return FALSE;
        return send_error(c, r, EINVAL);
    }
    switch (r->type) {
    case NBD_CMD_READ:
        return do_read(c, r);
    case NBD_CMD_WRITE:
        return do_write(c, r);
    case NBD_CMD_DISC:
        g_debug("conn %" G_GUINT64_FORMAT ": client disconnects", c->id);
        return FALSE;
    case NBD_CMD_FLUSH: {
        int err = xm_nbd_image_flush(c->server);

        return err ? send_error(c, r, err) : send_ok(c, r);
    }
    case NBD_CMD_TRIM:
        return do_trim(c, r);
    case NBD_CMD_WRITE_ZEROES:
        return do_write_zeroes(c, r);
    case NBD_CMD_BLOCK_STATUS:
        return do_block_status(c, r);
    case NBD_CMD_CACHE:
        if (!in_bounds(c, r))
            return send_error(c, r, EINVAL);
        xm_nbd_image_prefetch(c->server, r->offset, r->length);
        return send_ok(c, r);
    default:
        g_debug("conn %" G_GUINT64_FORMAT ": unknown command %u", c->id,
                r->type);
        return send_error(c, r, EINVAL);
    }
}

void
xm_nbd_conn_transmit(XmNbdConn *c)
{
    for (;;) {
        struct nbd_request wire;
        Request r;

        if (!xm_nbd_conn_read(c, &wire, sizeof(wire)))
            return;
        if (be32toh(wire.magic) != NBD_REQUEST_MAGIC) {
            g_debug("conn %" G_GUINT64_FORMAT ": bad request magic", c->id);
            return;
        }
        r = (Request){
            .flags = be16toh(wire.flags),
            .type = be16toh(wire.type),
            .cookie = wire.cookie,
            .offset = be64toh(wire.offset),
            .length = be32toh(wire.length),
        };
        if (!handle_request(c, &r))
            return;
        /* do not sit on a huge buffer after an unusually big request */
        if (c->buf_size > KEEP_BUFFER) {
            g_clear_pointer(&c->buf, g_free);
            c->buf_size = 0;
        }
    }
}
