/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fixed newstyle handshake: greeting, option haggling (export name,
 * info/go, list, STARTTLS, structured replies, metadata contexts). Every
 * option's payload is read in full (bounded) before it is parsed, so the
 * parsers work on a buffer and can never read past what the client sent.
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <endian.h>
#include <string.h>

#include "util/util.h"
#include "storage-mirror/nbd-proto.h"
#include "storage-mirror/nbd-server-priv.h"

/* A bounds-checked cursor over an option's payload. */
typedef struct {
    const guint8 *p;
    gsize left;
} Cursor;

static gboolean
get_u16(Cursor *cur, guint16 *v)
{
    if (cur->left < 2)
        return FALSE;
    memcpy(v, cur->p, 2);
    *v = be16toh(*v);
    cur->p += 2;
    cur->left -= 2;
    return TRUE;
}

static gboolean
get_u32(Cursor *cur, guint32 *v)
{
    if (cur->left < 4)
        return FALSE;
    memcpy(v, cur->p, 4);
    *v = be32toh(*v);
    cur->p += 4;
    cur->left -= 4;
    return TRUE;
}

/* A length-prefixed string; not NUL-terminated in *s. */
static gboolean
get_string(Cursor *cur, const char **s, guint32 *len)
{
    if (!get_u32(cur, len) || *len > XM_NBD_MAX_STRING || *len > cur->left)
        return FALSE;
    *s = (const char *)cur->p;
    cur->p += *len;
    cur->left -= *len;
    return TRUE;
}

static gboolean
send_reply(XmNbdConn *c, guint32 option, guint32 reply, const void *data,
           guint32 len)
{
    struct nbd_option_reply hdr = {
        .magic = htobe64(NBD_REP_MAGIC),
        .option = htobe32(option),
        .reply = htobe32(reply),
        .length = htobe32(len),
    };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    return xm_nbd_conn_writev(c, iov, len ? 2 : 1);
}

static gboolean
send_ack(XmNbdConn *c, guint32 option)
{
    return send_reply(c, option, NBD_REP_ACK, NULL, 0);
}

guint16
xm_nbd_conn_transmission_flags(XmNbdConn *c)
{
    XmNbdServer *s = c->server;
    guint16 flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                    NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE;

    /* "don't fragment" only means something with structured replies */
    if (c->structured)
        flags |= NBD_FLAG_SEND_DF;

    if (s->readonly)
        flags |= NBD_FLAG_READ_ONLY;
    else
        flags |= NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                 NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
    return flags;
}

static gboolean
name_matches(XmNbdServer *s, const char *name, guint32 len)
{
    return strlen(s->export_name) == len &&
           memcmp(s->export_name, name, len) == 0;
}

static gboolean
send_info_export(XmNbdConn *c, guint32 option)
{
    struct {
        guint16 type;
        guint64 size;
        guint16 flags;
    } __attribute__((packed)) info = {
        .type = htobe16(NBD_INFO_EXPORT),
        .size = htobe64(c->server->size),
        .flags = htobe16(xm_nbd_conn_transmission_flags(c)),
    };

    return send_reply(c, option, NBD_REP_INFO, &info, sizeof(info));
}

static gboolean
send_info_block_size(XmNbdConn *c, guint32 option)
{
    struct {
        guint16 type;
        guint32 min, preferred, max;
    } __attribute__((packed)) info = {
        .type = htobe16(NBD_INFO_BLOCK_SIZE),
        .min = htobe32(1),
        .preferred = htobe32(XM_NBD_PREFERRED_BLOCK),
        .max = htobe32(XM_NBD_MAX_PAYLOAD),
    };

    return send_reply(c, option, NBD_REP_INFO, &info, sizeof(info));
}

static gboolean
send_info_name(XmNbdConn *c, guint32 option)
{
    gsize n = strlen(c->server->export_name);
    g_autofree guint8 *buf = g_malloc(2 + n);
    guint16 type = htobe16(NBD_INFO_NAME);

    memcpy(buf, &type, 2);
    memcpy(buf + 2, c->server->export_name, n);
    return send_reply(c, option, NBD_REP_INFO, buf, 2 + n);
}

/* NBD_OPT_INFO and NBD_OPT_GO. *go is set when transmission starts. */
static gboolean
opt_info(XmNbdConn *c, guint32 option, Cursor *cur, gboolean *go)
{
    const char *name;
    guint32 name_len;
    guint16 n_req;
    gboolean want_name = FALSE;

    if (!get_string(cur, &name, &name_len) || !get_u16(cur, &n_req) ||
        cur->left != (gsize)n_req * 2)
        return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
    for (guint i = 0; i < n_req; i++) {
        guint16 req = 0;

        get_u16(cur, &req);
        if (req == NBD_INFO_NAME)
            want_name = TRUE;
        /* block size is always sent; other requests are optional */
    }
    if (!name_matches(c->server, name, name_len)) {
        g_debug("conn %" G_GUINT64_FORMAT ": unknown export '%.*s'",
                c->id, (int)name_len, name);
        return send_reply(c, option, NBD_REP_ERR_UNKNOWN, NULL, 0);
    }
    if (!send_info_export(c, option) ||
        !send_info_block_size(c, option) ||
        (want_name && !send_info_name(c, option)) ||
        !send_ack(c, option))
        return FALSE;
    if (option == NBD_OPT_GO)
        *go = TRUE;
    return TRUE;
}

/* NBD_OPT_EXPORT_NAME: no error reply exists, a bad name closes. */
static gboolean
opt_export_name(XmNbdConn *c, Cursor *cur)
{
    struct {
        guint64 size;
        guint16 flags;
        guint8 zeroes[124];
    } __attribute__((packed)) reply = {
        .size = htobe64(c->server->size),
        .flags = htobe16(xm_nbd_conn_transmission_flags(c)),
    };

    if (cur->left > XM_NBD_MAX_STRING ||
        !name_matches(c->server, (const char *)cur->p, cur->left)) {
        g_debug("conn %" G_GUINT64_FORMAT ": unknown export (by name)",
                c->id);
        return FALSE;
    }
    return xm_nbd_conn_write(c, &reply,
                             c->no_zeroes ? 10 : sizeof(reply));
}

static gboolean
opt_list(XmNbdConn *c, Cursor *cur)
{
    gsize n = strlen(c->server->export_name);
    g_autofree guint8 *buf = g_malloc(4 + n);
    guint32 len = htobe32(n);

    if (cur->left != 0)
        return send_reply(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL, 0);
    memcpy(buf, &len, 4);
    memcpy(buf + 4, c->server->export_name, n);
    return send_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf, 4 + n) &&
           send_ack(c, NBD_OPT_LIST);
}

static gboolean
send_meta_context(XmNbdConn *c, guint32 option)
{
    guint8 buf[4 + sizeof(XM_NBD_BASE_ALLOCATION) - 1];
    guint32 id = htobe32(XM_NBD_BASE_ALLOCATION_ID);

    memcpy(buf, &id, 4);
    memcpy(buf + 4, XM_NBD_BASE_ALLOCATION, sizeof(buf) - 4);
    return send_reply(c, option, NBD_REP_META_CONTEXT, buf, sizeof(buf));
}

static gboolean
query_matches(gboolean list, const char *q, guint32 len)
{
    static const char full[] = XM_NBD_BASE_ALLOCATION;

    if (len == sizeof(full) - 1 && memcmp(q, full, len) == 0)
        return TRUE;
    /* LIST accepts the bare namespace as "every context in it" */
    return list && len == 5 && memcmp(q, "base:", 5) == 0;
}

static gboolean
opt_meta_context(XmNbdConn *c, guint32 option, Cursor *cur)
{
    gboolean list = option == NBD_OPT_LIST_META_CONTEXT;
    const char *name;
    guint32 name_len, n_queries;
    gboolean found = FALSE;
    Cursor queries;

    if (!list) {
        c->meta_base_alloc = FALSE;
        if (!c->structured)
            return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
    }
    if (!get_string(cur, &name, &name_len) || !get_u32(cur, &n_queries))
        return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
    /* validate the whole query list before acting on any of it */
    queries = *cur;
    for (guint32 i = 0; i < n_queries; i++) {
        const char *q;
        guint32 q_len;

        if (!get_string(cur, &q, &q_len))
            return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
    }
    if (cur->left != 0)
        return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
    if (!name_matches(c->server, name, name_len))
        return send_reply(c, option, NBD_REP_ERR_UNKNOWN, NULL, 0);

    if (list && n_queries == 0)
        found = TRUE;
    for (guint32 i = 0; i < n_queries; i++) {
        const char *q;
        guint32 q_len;

        get_string(&queries, &q, &q_len);
        if (query_matches(list, q, q_len))
            found = TRUE;
    }
    if (found) {
        if (!send_meta_context(c, option))
            return FALSE;
        if (!list)
            c->meta_base_alloc = TRUE;
    }
    return send_ack(c, option);
}

static gboolean
opt_starttls(XmNbdConn *c, Cursor *cur)
{
    g_autoptr(GError) err = NULL;

    if (cur->left != 0)
        return send_reply(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, NULL, 0);
    if (!c->server->tls)
        return send_reply(c, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY, NULL, 0);
    if (c->tls)
        return send_reply(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, NULL, 0);
    if (!send_ack(c, NBD_OPT_STARTTLS))
        return FALSE;
    c->tls = xm_tls_session_new(c->server->tls, c->fd, NULL,
                                MAX((c->deadline - g_get_monotonic_time())
                                    / 1000, 1), &err);
    if (!c->tls) {
        g_debug("conn %" G_GUINT64_FORMAT ": %s", c->id, err->message);
        return FALSE;
    }
    if (g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN) ==
        FALSE) {
        g_autofree char *dn = xm_tls_session_get_peer_dn(c->tls);

        g_debug("conn %" G_GUINT64_FORMAT ": TLS up, peer '%s'", c->id,
                dn ? dn : "(no certificate)");
    }
    /* nothing negotiated in plaintext survives the upgrade */
    c->structured = FALSE;
    c->meta_base_alloc = FALSE;
    return TRUE;
}

/* One option; FALSE closes the connection. */
static gboolean
handle_option(XmNbdConn *c, guint32 option, Cursor *cur, gboolean *go)
{
    XmNbdServer *s = c->server;

    if (s->tls && !c->tls) {
        switch (option) {
        case NBD_OPT_STARTTLS:
        case NBD_OPT_ABORT:
            break;
        case NBD_OPT_EXPORT_NAME:
            g_debug("conn %" G_GUINT64_FORMAT ": export name before TLS",
                    c->id);
            return FALSE;
        default:
            return send_reply(c, option, NBD_REP_ERR_TLS_REQD, NULL, 0);
        }
    }

    switch (option) {
    case NBD_OPT_EXPORT_NAME:
        if (!opt_export_name(c, cur))
            return FALSE;
        *go = TRUE;
        return TRUE;
    case NBD_OPT_ABORT:
        /* the client may already be gone: the reply is best effort */
        send_ack(c, option);
        return FALSE;
    case NBD_OPT_LIST:
        return opt_list(c, cur);
    case NBD_OPT_STARTTLS:
        return opt_starttls(c, cur);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        return opt_info(c, option, cur, go);
    case NBD_OPT_STRUCTURED_REPLY:
        if (cur->left != 0)
            return send_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0);
        c->structured = TRUE;
        return send_ack(c, option);
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return opt_meta_context(c, option, cur);
    default:
        return send_reply(c, option, NBD_REP_ERR_UNSUP, NULL, 0);
    }
}

gboolean
xm_nbd_conn_handshake(XmNbdConn *c)
{
    struct {
        guint64 magic;
        guint64 opt_magic;
        guint16 flags;
    } __attribute__((packed)) greeting = {
        .magic = htobe64(NBD_MAGIC),
        .opt_magic = htobe64(NBD_IHAVEOPT),
        .flags = htobe16(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
    };
    g_autofree guint8 *payload = g_malloc(XM_NBD_MAX_OPTION_LENGTH);
    guint32 client_flags;

    if (!xm_nbd_conn_write(c, &greeting, sizeof(greeting)) ||
        !xm_nbd_conn_read(c, &client_flags, 4))
        return FALSE;
    client_flags = be32toh(client_flags);
    if (client_flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
        g_debug("conn %" G_GUINT64_FORMAT ": unknown client flags 0x%x",
                c->id, client_flags);
        return FALSE;
    }
    c->no_zeroes = !!(client_flags & NBD_FLAG_C_NO_ZEROES);

    for (guint n = 0; n < XM_NBD_MAX_OPTIONS; n++) {
        struct nbd_option_header hdr;
        gboolean go = FALSE;
        Cursor cur;
        guint32 option, len;

        if (!xm_nbd_conn_read(c, &hdr, sizeof(hdr)))
            return FALSE;
        if (be64toh(hdr.magic) != NBD_IHAVEOPT) {
            g_debug("conn %" G_GUINT64_FORMAT ": bad option magic", c->id);
            return FALSE;
        }
        option = be32toh(hdr.option);
        len = be32toh(hdr.length);
        if (len > XM_NBD_MAX_OPTION_LENGTH) {
            /* Skipping gigabytes is no service to anyone: refuse and
             * close. */
            g_debug("conn %" G_GUINT64_FORMAT ": option %u too long (%u)",
                    c->id, option, len);
            send_reply(c, option, NBD_REP_ERR_TOO_BIG, NULL, 0);
            return FALSE;
        }
        if (!xm_nbd_conn_read(c, payload, len))
            return FALSE;
        cur = (Cursor){ payload, len };
        g_debug("conn %" G_GUINT64_FORMAT ": option %u, %u bytes", c->id,
                option, len);
        if (!handle_option(c, option, &cur, &go))
            return FALSE;
        if (go)
            return TRUE;
    }
    g_debug("conn %" G_GUINT64_FORMAT ": too many options", c->id);
    return FALSE;
}
