/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Blocking I/O on one NBD connection, plaintext or TLS. During the
 * handshake every wait is bounded by the connection's deadline so a client
 * that stalls cannot hold a connection slot forever.
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "util/util.h"
#include "storage-mirror/nbd-server-priv.h"

/* Waits until @c's socket is readable, or the handshake deadline passes. */
static gboolean
wait_readable(XmNbdConn *c)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int timeout = -1;
    int rc;

    if (c->deadline == 0)
        return TRUE;   /* no bound while transmitting: clients may idle */
    if (c->tls && xm_tls_session_pending(c->tls) > 0)
        return TRUE;
    for (;;) {
        gint64 left = c->deadline - g_get_monotonic_time();

        if (left <= 0) {
            g_debug("conn %" G_GUINT64_FORMAT ": handshake timed out",
                    c->id);
            return FALSE;
        }
        timeout = (int)MIN(left / 1000 + 1, G_MAXINT);
        rc = poll(&pfd, 1, timeout);
        if (rc > 0)
            return TRUE;
        if (rc < 0 && errno != EINTR)
            return FALSE;
    }
}

gboolean
xm_nbd_conn_read(XmNbdConn *c, void *buf, gsize len)
{
    char *p = buf;

    while (len > 0) {
        gssize n;

        if (!wait_readable(c))
            return FALSE;
        if (c->tls) {
            g_autoptr(GError) err = NULL;

            n = xm_tls_session_read(c->tls, p, len, &err);
            if (n < 0) {
                g_debug("conn %" G_GUINT64_FORMAT ": %s", c->id,
                        err->message);
                return FALSE;
            }
        } else {
            n = recv(c->fd, p, len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                g_debug("conn %" G_GUINT64_FORMAT ": recv: %s", c->id,
                        g_strerror(errno));
                return FALSE;
            }
        }
        if (n == 0) {
            g_debug("conn %" G_GUINT64_FORMAT ": end of stream", c->id);
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_discard(XmNbdConn *c, guint64 len)
{
    char buf[16384];

    while (len > 0) {
        gsize n = MIN(len, sizeof(buf));

        if (!xm_nbd_conn_read(c, buf, n))
            return FALSE;
        len -= n;
    }
    return TRUE;
}

static gboolean
plain_writev(XmNbdConn *c, const struct iovec *iov_in, int n)
{
    struct iovec iov[8];
    struct msghdr msg = { 0 };
    int first = 0;

    g_return_val_if_fail(n <= (int)G_N_ELEMENTS(iov), FALSE);
    memcpy(iov, iov_in, n * sizeof(*iov));
    while (first < n) {
        ssize_t w;

        msg.msg_iov = iov + first;
        msg.msg_iovlen = n - first;
        w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            g_debug("conn %" G_GUINT64_FORMAT ": send: %s", c->id,
                    g_strerror(errno));
            return FALSE;
        }
        while (first < n && (size_t)w >= iov[first].iov_len) {
            w -= iov[first].iov_len;
            first++;
        }
        if (first < n) {
            iov[first].iov_base = (char *)iov[first].iov_base + w;
            iov[first].iov_len -= w;
        }
    }
    return TRUE;
}

gboolean
xm_nbd_conn_writev(XmNbdConn *c, const struct iovec *iov, int n)
{
    g_autoptr(GError) err = NULL;
    gsize total = 0;
    gboolean cork;

    if (!c->tls)
        return plain_writev(c, iov, n);

    /* Corking copies everything into GnuTLS' buffer: worth it to merge a
     * header with a small payload into one record, not for big reads. */
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    cork = total <= 65536;
    if (cork)
        xm_tls_session_cork(c->tls);
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len &&
            !xm_tls_session_write_full(c->tls, iov[i].iov_base,
                                       iov[i].iov_len, &err))
            break;
    }
    if (cork && !err)
        xm_tls_session_uncork(c->tls, &err);
    if (err) {
        g_debug("conn %" G_GUINT64_FORMAT ": %s", c->id, err->message);
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_nbd_conn_write(XmNbdConn *c, const void *buf, gsize len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    return xm_nbd_conn_writev(c, &iov, 1);
}
