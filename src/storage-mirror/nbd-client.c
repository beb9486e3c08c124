/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-nbd-client"

#include <errno.h>
#include <string.h>

#include "storage-mirror/nbd-client.h"
#include "util/util.h"

struct _XmNbdConn {
    struct nbd_handle *h;
    char *uri;
    char *name;           /* the URI as messages show it */
    char *export_name;    /* scrubbed from libnbd's messages */
    guint timeout_ms;
    const gint *cancel;
    guint64 size;
    gboolean can_zero;
    gboolean can_flush;
    gboolean can_multi_conn;
    gboolean can_status;  /* base:allocation was negotiated */
    /* Only the driving thread changes these (libnbd runs callbacks in the
     * thread that polls), except when closing. */
    guint inflight;
    guint64 inflight_bytes;
    gint64 last_activity;
    GError *error;        /* first failed request */
};

typedef struct {
    XmNbdConn *c;
    guint64 len;
    guint64 offset;
    const char *what;
    XmNbdDoneFunc done;
    gpointer data;
    int err;
    gboolean completed;
} Req;

/* An all-zero buffer for servers without WRITE_ZEROES. */
#define ZERO_BUF_SIZE (4u << 20)
static const guint8 *
zero_buf(void)
{
    static gsize once;
    static guint8 *buf;

    if (g_once_init_enter(&once)) {
        buf = g_malloc0(ZERO_BUF_SIZE);
        g_once_init_leave(&once, 1);
    }
    return buf;
}

gboolean
xm_nbd_uri_check(const char *uri, gboolean *tls, GError **error)
{
    g_autoptr(GUri) u = NULL;
    g_autoptr(GError) err = NULL;
    const char *scheme;
    gboolean is_unix, is_tls;

    u = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS, &err);
    if (!u) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("invalid destination URI '%s': %s"), uri, err->message);
        return FALSE;
    }
    scheme = g_uri_get_scheme(u);
    if (g_str_equal(scheme, "nbd")) {
        is_unix = FALSE; is_tls = FALSE;
    } else if (g_str_equal(scheme, "nbds")) {
        is_unix = FALSE; is_tls = TRUE;
    } else if (g_str_equal(scheme, "nbd+unix")) {
        is_unix = TRUE; is_tls = FALSE;
    } else if (g_str_equal(scheme, "nbds+unix")) {
        is_unix = TRUE; is_tls = TRUE;
    } else {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unsupported destination URI '%s': the scheme must be "
                      "nbd, nbds, nbd+unix or nbds+unix"), uri);
        return FALSE;
    }
    if (is_unix) {
        const char *q = g_uri_get_query(u);
        g_autoptr(GHashTable) params = NULL;

        if (q)
            params = g_uri_parse_params(q, -1, "&", G_URI_PARAMS_NONE, NULL);
        if (!params || !g_hash_table_lookup(params, "socket") ||
            !*(const char *)g_hash_table_lookup(params, "socket")) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("invalid destination URI '%s': a unix URI needs "
                          "?socket=PATH"), uri);
            return FALSE;
        }
    } else {
        const char *host = g_uri_get_host(u);

        if (!host || !*host) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("invalid destination URI '%s': no host"), uri);
            return FALSE;
        }
    }
    if (tls)
        *tls = is_tls;
    return TRUE;
}

char *
xm_nbd_uri_describe(const char *uri)
{
    g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS,
                                    NULL);
    const char *query, *host;

    if (!u)
        return g_strdup(_("(unparsable URI)"));
    query = g_uri_get_query(u);
    host = g_uri_get_host(u);
    if (host && *host && g_uri_get_port(u) > 0)
        return g_strdup_printf("%s://%s:%d", g_uri_get_scheme(u), host, g_uri_get_port(u));
    if (host && *host)
        return g_strdup_printf("%s://%s", g_uri_get_scheme(u), host);
    if (query && strstr(query, "socket="))
        return g_strdup_printf("%s socket %s", g_uri_get_scheme(u),
                               strstr(query, "socket=") + 7);
    return g_strdup(g_uri_get_scheme(u));
}

/* The export name of @uri (unescaped, without the leading slash). */
static char *
uri_export_name(const char *uri)
{
    g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS,
                                    NULL);
    const char *path = u ? g_uri_get_path(u) : NULL;

    if (!path || !*path || g_str_equal(path, "/"))
        return NULL;
    return g_uri_unescape_string(path[0] == '/' ? path + 1 : path, NULL);
}

static gboolean
set_nbd_error(GError **error, XmErrorCode code, const char *secret, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* libnbd's message may quote the export name: @secret is cut out of it. */
static gboolean
set_nbd_error(GError **error, XmErrorCode code, const char *secret, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *nerr = g_strdup(nbd_get_error());
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (nerr && secret && *secret && strstr(nerr, secret)) {
        g_auto(GStrv) parts = g_strsplit(nerr, secret, -1);

        g_free(nerr);
        nerr = g_strjoinv("…", parts);
    }
    g_set_error(error, XM_ERROR, code, "%s: %s", msg,
                nerr ? nerr : g_strerror(nbd_get_errno() ? nbd_get_errno() : EIO));
    return FALSE;
}

static gboolean
check_cancel(XmNbdConn *c, GError **error)
{
    if (c->cancel && g_atomic_int_get(c->cancel)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                            _("cancelled"));
        return FALSE;
    }
    return TRUE;
}

XmNbdConn *
xm_nbd_conn_open(const char *uri, const char *tls_dir, guint timeout_ms,
                 const gint *cancel, GError **error)
{
    g_autoptr(XmNbdConn) c = g_new0(XmNbdConn, 1);
    gint64 deadline;
    int64_t size;

    if (!xm_nbd_uri_check(uri, NULL, error))
        return NULL;
    c->uri = g_strdup(uri);
    c->name = xm_nbd_uri_describe(uri);
    c->export_name = uri_export_name(uri);
    c->timeout_ms = timeout_ms ? timeout_ms : 30000;
    c->cancel = cancel;
    c->h = nbd_create();
    if (!c->h) {
        set_nbd_error(error, XM_ERR_INTERNAL_ERROR, NULL, _("cannot create an NBD handle"));
        return NULL;
    }
    nbd_set_uri_allow_local_file(c->h, false);
    if (tls_dir && nbd_set_tls_certificates(c->h, tls_dir) == -1) {
        set_nbd_error(error, XM_ERR_INVALID_ARG, c->export_name,
                      _("cannot use the certificates in '%s'"), tls_dir);
        return NULL;
    }
    /* lets a re-sync skip reading what the destination reports as zeros;
     * a server without it just does not negotiate the context */
    if (nbd_add_meta_context(c->h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1) {
        set_nbd_error(error, XM_ERR_INTERNAL_ERROR, NULL, _("cannot create an NBD handle"));
        return NULL;
    }
    if (nbd_aio_connect_uri(c->h, uri) == -1) {
        set_nbd_error(error, XM_ERR_NO_CONNECT, c->export_name, _("cannot connect to %s"),
                          c->name);
        return NULL;
    }
    deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;
    while (nbd_aio_is_connecting(c->h)) {
        if (!check_cancel(c, error))
            return NULL;
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                        _("cannot connect to %s: no answer for %u s"), c->name,
                        c->timeout_ms / 1000);
            return NULL;
        }
        if (nbd_poll(c->h, 100) == -1) {
            set_nbd_error(error, XM_ERR_NO_CONNECT, c->export_name, _("cannot connect to %s"),
                          c->name);
            return NULL;
        }
    }
    if (!nbd_aio_is_ready(c->h)) {
        set_nbd_error(error, XM_ERR_NO_CONNECT, c->export_name, _("cannot connect to %s"),
                          c->name);
        return NULL;
    }
    size = nbd_get_size(c->h);
    if (size < 0) {
        set_nbd_error(error, XM_ERR_RPC, c->export_name, _("cannot get the size of %s"),
                      c->name);
        return NULL;
    }
    if (nbd_is_read_only(c->h) == 1) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_DENIED,
                    _("destination %s is read-only"), c->name);
        return NULL;
    }
    c->size = (guint64)size;
    c->can_zero = nbd_can_zero(c->h) == 1;
    c->can_flush = nbd_can_flush(c->h) == 1;
    c->can_multi_conn = nbd_can_multi_conn(c->h) == 1;
    c->can_status = nbd_can_meta_context(c->h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
    c->last_activity = g_get_monotonic_time();
    g_debug("connected to %s: size %" G_GUINT64_FORMAT " zero %d flush %d multi-conn %d",
            uri, c->size, c->can_zero, c->can_flush, c->can_multi_conn);
    return g_steal_pointer(&c);
}

void
xm_nbd_conn_close(XmNbdConn *c)
{
    if (!c)
        return;
    /* closing retires every request still in flight (done gets ECANCELED) */
    if (c->h)
        nbd_close(c->h);
    g_clear_error(&c->error);
    g_free(c->uri);
    g_free(c->name);
    g_free(c->export_name);
    g_free(c);
}

guint64
xm_nbd_conn_get_size(XmNbdConn *c)
{
    return c->size;
}

gboolean
xm_nbd_conn_can_multi_conn(XmNbdConn *c)
{
    return c->can_multi_conn;
}

gboolean
xm_nbd_conn_can_zero_status(XmNbdConn *c)
{
    return c->can_status;
}

guint
xm_nbd_conn_in_flight(XmNbdConn *c)
{
    return c->inflight;
}

static int
req_complete(void *user_data, int *error)
{
    Req *r = user_data;
    XmNbdConn *c = r->c;

    r->completed = TRUE;
    r->err = *error;
    c->inflight--;
    c->inflight_bytes -= r->len;
    c->last_activity = g_get_monotonic_time();
    if (r->err && !c->error)
        g_set_error(&c->error, XM_ERROR,
                    r->err == ENOTCONN || r->err == ECONNRESET || r->err == EPIPE ?
                    XM_ERR_RPC : XM_ERR_WRITE_FAILED,
                    _("%s of %" G_GUINT64_FORMAT " bytes at offset %"
                      G_GUINT64_FORMAT " on %s failed: %s"),
                    r->what, r->len, r->offset, c->name, g_strerror(r->err));
    return 1;
}

static void
req_free(void *user_data)
{
    Req *r = user_data;

    if (!r->completed) {
        r->c->inflight--;
        r->c->inflight_bytes -= r->len;
    }
    if (r->done)
        r->done(r->data, r->completed ? r->err : ECANCELED);
    g_free(r);
}

static Req *
req_new(XmNbdConn *c, guint64 len, guint64 offset, const char *what,
        XmNbdDoneFunc done, gpointer data)
{
    Req *r = g_new0(Req, 1);

    r->c = c;
    r->len = len;
    r->offset = offset;
    r->what = what;
    r->done = done;
    r->data = data;
    if (c->inflight == 0)
        c->last_activity = g_get_monotonic_time();
    c->inflight++;
    c->inflight_bytes += len;
    return r;
}

static gboolean
submitted(XmNbdConn *c, int64_t cookie, Req *r, GError **error)
{
    if (cookie == -1) {
        /* libnbd already called the free callback: r is gone */
        return set_nbd_error(error, XM_ERR_RPC, c->export_name, _("request to %s failed"),
                             c->name);
    }
    /* Push the request onto the socket now: libnbd only sends what does
     * not fit the socket buffer when polled, and the caller is about to
     * spend time reading the source, which would leave the peer idle. */
    while (nbd_aio_get_direction(c->h) & LIBNBD_AIO_DIRECTION_WRITE) {
        if (!xm_nbd_conn_poll(c, 100, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_submit_write(XmNbdConn *c, const void *buf, guint64 len,
                         guint64 offset, XmNbdDoneFunc done, gpointer data,
                         GError **error)
{
    Req *r = req_new(c, len, offset, "write", done, data);
    nbd_completion_callback cb = { .callback = req_complete, .user_data = r,
                                   .free = req_free };

    return submitted(c, nbd_aio_pwrite(c->h, buf, len, offset, cb, 0), r, error);
}

static void
zero_chain_done(gpointer data, int err)
{
    /* nothing: the last piece carries the caller's callback */
}

gboolean
xm_nbd_conn_submit_zero(XmNbdConn *c, guint64 len, guint64 offset,
                        XmNbdDoneFunc done, gpointer data, GError **error)
{
    Req *r;

    if (c->can_zero) {
        nbd_completion_callback cb;

        r = req_new(c, len, offset, "write zeroes", done, data);
        cb = (nbd_completion_callback){ .callback = req_complete,
                                        .user_data = r, .free = req_free };
        /* no NBD_CMD_FLAG_NO_HOLE: the server may punch a hole, which keeps
         * the destination as sparse as the source */
        return submitted(c, nbd_aio_zero(c->h, len, offset, cb, 0), r, error);
    }
    while (len > 0) {
        guint64 n = MIN(len, ZERO_BUF_SIZE);
        gboolean last = n == len;

        if (!xm_nbd_conn_submit_write(c, zero_buf(), n, offset,
                                      last ? done : zero_chain_done,
                                      last ? data : NULL, error)) {
            /* the caller's callback runs exactly once, also on failure */
            if (!last && done)
                done(data, EIO);
            return FALSE;
        }
        len -= n;
        offset += n;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_submit_read(XmNbdConn *c, void *buf, guint64 len, guint64 offset,
                        XmNbdDoneFunc done, gpointer data, GError **error)
{
    Req *r = req_new(c, len, offset, "read", done, data);
    nbd_completion_callback cb = { .callback = req_complete, .user_data = r,
                                   .free = req_free };

    return submitted(c, nbd_aio_pread(c->h, buf, len, offset, cb, 0), r, error);
}

typedef struct {
    XmNbdZeroFunc fn;
    gpointer data;
} ExtentCb;

static int
extent_cb(void *user_data, const char *metacontext, uint64_t offset,
          uint32_t *entries, size_t nr_entries, int *error)
{
    ExtentCb *e = user_data;

    if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
        return 0;
    for (size_t i = 0; i + 1 < nr_entries; i += 2) {
        if (entries[i + 1] & LIBNBD_STATE_ZERO)
            e->fn(e->data, offset, entries[i]);
        offset += entries[i];
    }
    return 0;
}

gboolean
xm_nbd_conn_submit_zero_status(XmNbdConn *c, guint64 len, guint64 offset,
                               XmNbdZeroFunc zero, XmNbdDoneFunc done,
                               gpointer data, GError **error)
{
    Req *r = req_new(c, 0, offset, "block status", done, data);
    ExtentCb *e = g_new0(ExtentCb, 1);
    nbd_completion_callback cb = { .callback = req_complete, .user_data = r,
                                   .free = req_free };
    nbd_extent_callback ecb = { .callback = extent_cb, .user_data = e,
                                .free = g_free };

    e->fn = zero;
    e->data = data;
    return submitted(c, nbd_aio_block_status(c->h, len, offset, ecb, cb, 0), r, error);
}

gboolean
xm_nbd_conn_poll(XmNbdConn *c, int timeout_ms, GError **error)
{
    if (c->error) {
        g_propagate_error(error, g_error_copy(c->error));
        return FALSE;
    }
    if (!check_cancel(c, error))
        return FALSE;
    if (nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h)) {
        g_set_error(error, XM_ERROR, XM_ERR_RPC,
                    _("the connection to %s is gone"), c->name);
        return FALSE;
    }
    if (nbd_poll(c->h, timeout_ms) == -1)
        return set_nbd_error(error, XM_ERR_RPC, c->export_name, _("connection to %s failed"),
                             c->name);
    if (c->error) {
        g_propagate_error(error, g_error_copy(c->error));
        return FALSE;
    }
    if (c->inflight > 0 &&
        g_get_monotonic_time() - c->last_activity > (gint64)c->timeout_ms * 1000) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    _("%s did not answer for %u s"), c->name, c->timeout_ms / 1000);
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_wait(XmNbdConn *c, guint max_reqs, guint64 max_bytes,
                 GError **error)
{
    if (c->error) {
        g_propagate_error(error, g_error_copy(c->error));
        return FALSE;
    }
    while (c->inflight > max_reqs || c->inflight_bytes > max_bytes) {
        if (!xm_nbd_conn_poll(c, 100, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_wait_flag(XmNbdConn *c, const gboolean *flag, GError **error)
{
    while (!*flag) {
        if (!xm_nbd_conn_poll(c, 100, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_pwrite(XmNbdConn *c, const void *buf, guint64 len, guint64 offset,
                   GError **error)
{
    if (!xm_nbd_conn_submit_write(c, buf, len, offset, NULL, NULL, error))
        return FALSE;
    return xm_nbd_conn_wait(c, 0, 0, error);
}

gboolean
xm_nbd_conn_zero(XmNbdConn *c, guint64 len, guint64 offset, GError **error)
{
    if (!xm_nbd_conn_submit_zero(c, len, offset, NULL, NULL, error))
        return FALSE;
    return xm_nbd_conn_wait(c, 0, 0, error);
}

gboolean
xm_nbd_conn_flush(XmNbdConn *c, GError **error)
{
    Req *r;
    nbd_completion_callback cb;

    if (!c->can_flush)
        return xm_nbd_conn_wait(c, 0, 0, error);
    r = req_new(c, 0, 0, "flush", NULL, NULL);
    cb = (nbd_completion_callback){ .callback = req_complete, .user_data = r,
                                    .free = req_free };
    if (!submitted(c, nbd_aio_flush(c->h, cb, 0), r, error))
        return FALSE;
    return xm_nbd_conn_wait(c, 0, 0, error);
}
