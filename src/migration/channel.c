/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The memory channel.
 *
 * Why one framed connection rather than a raw stream plus a control
 * connection: the backend owns the memory stream and only sees a file
 * descriptor, yet the destination must learn, on the same ordered path,
 * where the stream ends and whether the disks were drained and verified
 * (or the source gave up). So the backend reads and writes one end of a
 * socketpair, and a pump (job-perform.c, job-prepare.c) moves the bytes
 * between the socketpair and this connection as records. One connection
 * means one authentication, one TLS session and one bandwidth limiter.
 *
 * Wire format (all integers big-endian):
 *   client → server  "XMMIGMEM" | u32 version (1) | 32-byte secret
 *   server → client  "XMOK" when accepted; refused peers are closed on
 *   then client → server records: u32 type | u32 length | payload
 *   (length ≤ XM_CHANNEL_MAX_PAYLOAD).
 *
 * Without TLS the secret is the whole proof (it travelled in the cookies,
 * over the libvirt connections); with TLS the peer must also present a
 * client certificate signed by the CA, and the secret ties the connection
 * to this migration. A listener accepts exactly one authenticated peer.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "migration/channel.h"
#include "storage-mirror/tls.h"
#include "util/util.h"

#define HELLO_MAGIC "XMMIGMEM"
#define HELLO_LEN (8 + 4 + XM_COOKIE_SECRET_BYTES)
#define REPLY_MAGIC "XMOK"
#define AUTH_TIMEOUT_MS 10000
/* Bounds a peer that stalls in the middle of a record. */
#define STALL_TIMEOUT_S 60
/* A record not fully sent after this long means the peer stopped reading
 * (the same bound as the disk copy's): SO_SNDTIMEO alone does not do it,
 * because GnuTLS retries a timed-out send forever. */
#define SEND_STALL_TIMEOUT_MS 30000

struct _XmChannelListener {
    int fd;
    guint8 secret[XM_COOKIE_SECRET_BYTES];
    XmTlsCreds *creds;
    guint refused;
};

struct _XmChannel {
    int fd;
    XmTlsSession *tls;
    GMutex send_lock;
    gint shut;

    /* send watchdog, started by the first send */
    GMutex wd_lock;
    GCond wd_cond;
    GThread *watchdog;
    gint64 send_since_us;        /* 0: no send in progress */
    guint send_timeout_ms;
    gboolean wd_stop;
    gint stalled;                /* the watchdog cut the channel */
};

void
xm_channel_secret_generate(guint8 secret[XM_COOKIE_SECRET_BYTES])
{
    if (gnutls_rnd(GNUTLS_RND_KEY, secret, XM_COOKIE_SECRET_BYTES) != 0) {
        /* gnutls_rnd fails only when the system RNG is broken */
        for (guint i = 0; i < XM_COOKIE_SECRET_BYTES; i++)
            secret[i] = (guint8) g_random_int();
    }
}

char *
xm_channel_secret_to_hex(const guint8 secret[XM_COOKIE_SECRET_BYTES])
{
    char *hex = g_malloc(XM_COOKIE_SECRET_HEX + 1);

    for (guint i = 0; i < XM_COOKIE_SECRET_BYTES; i++)
        g_snprintf(hex + 2 * i, 3, "%02x", secret[i]);
    return hex;
}

gboolean
xm_channel_secret_from_hex(const char *hex, guint8 secret[XM_COOKIE_SECRET_BYTES])
{
    if (!hex || strlen(hex) != XM_COOKIE_SECRET_HEX)
        return FALSE;
    for (guint i = 0; i < XM_COOKIE_SECRET_BYTES; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return FALSE;
        secret[i] = (guint8) (hi << 4 | lo);
    }
    return TRUE;
}

/* Compares without an early exit so the time taken says nothing about
 * where a guess went wrong. */
static gboolean
secret_equal(const guint8 *a, const guint8 *b)
{
    guint8 diff = 0;

    for (guint i = 0; i < XM_COOKIE_SECRET_BYTES; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

static gboolean
wait_fd(int fd, short events, int timeout_ms, GCancellable *cancellable,
        GError **error)
{
    struct pollfd p[2] = { { .fd = fd, .events = events } };
    int cfd = cancellable ? g_cancellable_get_fd(cancellable) : -1;
    int n = 1, rc;

    if (cfd >= 0) {
        p[1].fd = cfd;
        p[1].events = POLLIN;
        n = 2;
    }
    do {
        rc = poll(p, n, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (cfd >= 0)
        g_cancellable_release_fd(cancellable);
    if (rc < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, _("poll failed"));
    if (n == 2 && p[1].revents) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                    _("migration cancelled"));
        return FALSE;
    }
    if (rc == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    _("timed out after %d ms on the migration channel"), timeout_ms);
        return FALSE;
    }
    return TRUE;
}

static gboolean
raw_write(XmChannel *ch, const void *buf, gsize len, GError **error)
{
    const guint8 *p = buf;

    if (ch->tls)
        return xm_tls_session_write_full(ch->tls, buf, len, error);
    while (len > 0) {
        ssize_t n = send(ch->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return xm_set_error_errno(error, n < 0 ? errno : EPIPE, XM_ERR_WRITE_FAILED,
                                      _("cannot send on the migration channel"));
        p += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
raw_read(XmChannel *ch, void *buf, gsize len, GError **error)
{
    guint8 *p = buf;

    if (ch->tls)
        return xm_tls_session_read_full(ch->tls, buf, len, error);
    while (len > 0) {
        ssize_t n = recv(ch->fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("the migration peer closed the channel"));
            return FALSE;
        }
        if (n < 0)
            return xm_set_error_errno(error, errno, XM_ERR_READ_FAILED,
                                      _("cannot receive on the migration channel"));
        p += n;
        len -= n;
    }
    return TRUE;
}

static void
set_socket_options(int fd)
{
    int one = 1;
    struct timeval tv = { .tv_sec = STALL_TIMEOUT_S };

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static XmChannel *
channel_new(int fd)
{
    XmChannel *ch = g_new0(XmChannel, 1);

    ch->fd = fd;
    g_mutex_init(&ch->send_lock);
    g_mutex_init(&ch->wd_lock);
    g_cond_init(&ch->wd_cond);
    ch->send_timeout_ms = SEND_STALL_TIMEOUT_MS;
    return ch;
}

/* Shuts the socket down under a send that made no end for the timeout:
 * the blocked send() then fails, with or without TLS. */
static gpointer
watchdog_thread(gpointer data)
{
    XmChannel *ch = data;

    g_mutex_lock(&ch->wd_lock);
    while (!ch->wd_stop) {
        gint64 deadline;

        if (!ch->send_since_us) {
            g_cond_wait(&ch->wd_cond, &ch->wd_lock);
            continue;
        }
        deadline = ch->send_since_us + (gint64) ch->send_timeout_ms * 1000;
        if (g_get_monotonic_time() >= deadline) {
            g_debug("memory channel: a send made no end for %u ms; cutting the channel",
                    ch->send_timeout_ms);
            g_atomic_int_set(&ch->stalled, 1);
            xm_channel_shutdown(ch);
            ch->send_since_us = 0;
            continue;
        }
        g_cond_wait_until(&ch->wd_cond, &ch->wd_lock, deadline);
    }
    g_mutex_unlock(&ch->wd_lock);
    return NULL;
}

static void
watch_send(XmChannel *ch, gboolean start)
{
    g_mutex_lock(&ch->wd_lock);
    if (start) {
        if (!ch->watchdog)
            ch->watchdog = g_thread_new("xm-mig-chan-wd", watchdog_thread, ch);
        ch->send_since_us = g_get_monotonic_time();
        g_cond_signal(&ch->wd_cond);
    } else {
        ch->send_since_us = 0;
    }
    g_mutex_unlock(&ch->wd_lock);
}

void
xm_channel_set_send_timeout(XmChannel *ch, guint timeout_ms)
{
    g_mutex_lock(&ch->wd_lock);
    ch->send_timeout_ms = timeout_ms ? timeout_ms : SEND_STALL_TIMEOUT_MS;
    g_cond_signal(&ch->wd_cond);
    g_mutex_unlock(&ch->wd_lock);
}

void
xm_channel_free(XmChannel *ch)
{
    if (!ch)
        return;
    /* first: it may shut the fd down, which must not be reused yet */
    g_mutex_lock(&ch->wd_lock);
    ch->wd_stop = TRUE;
    g_cond_signal(&ch->wd_cond);
    g_mutex_unlock(&ch->wd_lock);
    if (ch->watchdog)
        g_thread_join(ch->watchdog);
    /* a peer that stopped reading would hold the TLS close_notify (and
     * us) for the whole send timeout */
    if (ch->tls && !xm_channel_writable(ch, 0))
        xm_channel_shutdown(ch);
    if (ch->tls)
        xm_tls_session_free(ch->tls);
    if (ch->fd >= 0)
        close(ch->fd);
    g_mutex_clear(&ch->wd_lock);
    g_cond_clear(&ch->wd_cond);
    g_mutex_clear(&ch->send_lock);
    g_free(ch);
}

void
xm_channel_shutdown(XmChannel *ch)
{
    if (ch && g_atomic_int_compare_and_exchange(&ch->shut, 0, 1))
        shutdown(ch->fd, SHUT_RDWR);
}

gboolean
xm_channel_writable(XmChannel *ch, guint timeout_ms)
{
    struct pollfd p = { .fd = ch->fd, .events = POLLOUT };
    int rc;

    if (g_atomic_int_get(&ch->shut))
        return FALSE;
    do {
        rc = poll(&p, 1, (int) timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc == 1 && (p.revents & (POLLERR | POLLHUP)) == 0;
}

gboolean
xm_channel_is_tls(XmChannel *ch)
{
    return ch->tls != NULL;
}

XmChannelListener *
xm_channel_listener_new(int listen_fd, const guint8 secret[XM_COOKIE_SECRET_BYTES],
                        const char *tls_dir, GError **error)
{
    XmChannelListener *l;
    XmTlsCreds *creds = NULL;

    if (tls_dir) {
        creds = xm_tls_load_server_creds(tls_dir, TRUE, error);
        if (!creds) {
            close(listen_fd);
            return NULL;
        }
    }
    l = g_new0(XmChannelListener, 1);
    l->fd = listen_fd;
    l->creds = creds;
    memcpy(l->secret, secret, XM_COOKIE_SECRET_BYTES);
    return l;
}

void
xm_channel_listener_free(XmChannelListener *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->creds)
        xm_tls_creds_unref(l->creds);
    memset(l->secret, 0, sizeof(l->secret));
    g_free(l);
}

guint
xm_channel_listener_get_refused(XmChannelListener *l)
{
    return g_atomic_int_get(&l->refused);
}

static void
describe_peer(int fd, char *out, gsize size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getpeername(fd, (struct sockaddr *) &ss, &len) == 0 &&
        getnameinfo((struct sockaddr *) &ss, len, host, sizeof(host), serv,
                    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        g_snprintf(out, size, "%s port %s", host, serv);
    else
        g_snprintf(out, size, "an unknown peer");
}

/* Authenticates a freshly accepted connection; takes @fd. */
static XmChannel *
authenticate(XmChannelListener *l, int fd, guint timeout_ms, GError **error)
{
    g_autoptr(XmChannel) ch = channel_new(fd);
    guint8 hello[HELLO_LEN];

    set_socket_options(fd);
    if (l->creds) {
        ch->tls = xm_tls_session_new(l->creds, fd, NULL, timeout_ms, error);
        if (!ch->tls)
            return NULL;
    }
    if ((!ch->tls || xm_tls_session_pending(ch->tls) == 0) &&
        !wait_fd(fd, POLLIN, timeout_ms, NULL, error))
        return NULL;
    if (!raw_read(ch, hello, sizeof(hello), error))
        return NULL;
    if (memcmp(hello, HELLO_MAGIC, 8) != 0 ||
        hello[8] != 0 || hello[9] != 0 || hello[10] != 0 || hello[11] != 1) {
        g_set_error(error, XM_ERROR, XM_ERR_AUTH_FAILED,
                    _("not a xenmig memory channel client"));
        return NULL;
    }
    if (!secret_equal(hello + 12, l->secret)) {
        g_set_error(error, XM_ERROR, XM_ERR_AUTH_FAILED,
                    _("wrong migration secret"));
        return NULL;
    }
    if (!raw_write(ch, REPLY_MAGIC, 4, error))
        return NULL;
    return g_steal_pointer(&ch);
}

XmChannel *
xm_channel_accept(XmChannelListener *l, guint timeout_ms,
                  GCancellable *cancellable, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

    for (;;) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        g_autoptr(GError) err = NULL;
        char peer[NI_MAXHOST + 32];
        XmChannel *ch;
        int fd;

        if (left_ms <= 0) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                        _("the migration source did not connect to the memory channel within %u s"),
                        timeout_ms / 1000);
            return NULL;
        }
        if (!wait_fd(l->fd, POLLIN, (int) left_ms, cancellable, &err)) {
            if (g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT))
                continue;
            g_propagate_error(error, g_steal_pointer(&err));
            return NULL;
        }
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                      _("cannot accept on the memory channel")),
                   NULL;
        }
        describe_peer(fd, peer, sizeof(peer));
        ch = authenticate(l, fd, (guint) MIN(left_ms, AUTH_TIMEOUT_MS), &err);
        if (ch) {
            g_debug("memory channel: accepted %s%s", peer,
                    ch->tls ? " (TLS, certificate verified)" : " (no TLS)");
            return ch;
        }
        g_atomic_int_inc(&l->refused);
        g_debug("memory channel: refused %s: %s", peer, err->message);
    }
}

static int
connect_with_timeout(const char *host, guint port, guint timeout_ms,
                     GCancellable *cancellable, GError **error)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    char serv[16];
    int rc, last_errno = ECONNREFUSED;

    g_snprintf(serv, sizeof(serv), "%u", port);
    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_UNKNOWN_HOST,
                    _("cannot resolve '%s': %s"), host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        g_autoptr(GError) err = NULL;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last_errno = errno;
            close(fd);
            continue;
        }
        if (!wait_fd(fd, POLLOUT, (int) timeout_ms, cancellable, &err)) {
            close(fd);
            if (g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_ABORTED)) {
                freeaddrinfo(res);
                g_propagate_error(error, g_steal_pointer(&err));
                return -1;
            }
            last_errno = ETIMEDOUT;
            continue;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) {
            last_errno = soerr;
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    xm_set_error_errno(error, last_errno, XM_ERR_NO_CONNECT,
                       _("cannot connect to the migration memory channel at %s port %u"),
                       host, port);
    return -1;
}

XmChannel *
xm_channel_connect(const char *host, guint port,
                   const guint8 secret[XM_COOKIE_SECRET_BYTES],
                   const char *tls_dir, guint timeout_ms,
                   GCancellable *cancellable, GError **error)
{
    g_autoptr(XmChannel) ch = NULL;
    g_autoptr(XmTlsCreds) creds = NULL;
    guint8 hello[HELLO_LEN] = HELLO_MAGIC;
    char reply[4];
    int fd;

    if (timeout_ms == 0)
        timeout_ms = 30000;
    if (tls_dir) {
        creds = xm_tls_load_client_creds(tls_dir, error);
        if (!creds)
            return NULL;
    }
    fd = connect_with_timeout(host, port, timeout_ms, cancellable, error);
    if (fd < 0)
        return NULL;
    ch = channel_new(fd);
    set_socket_options(fd);
    if (creds) {
        ch->tls = xm_tls_session_new(creds, fd, host, timeout_ms, error);
        if (!ch->tls)
            return NULL;
    }
    hello[11] = 1;
    memcpy(hello + 12, secret, XM_COOKIE_SECRET_BYTES);
    if (!raw_write(ch, hello, sizeof(hello), error))
        return NULL;
    if ((!ch->tls || xm_tls_session_pending(ch->tls) == 0) &&
        !wait_fd(fd, POLLIN, (int) timeout_ms, cancellable, error))
        return NULL;
    if (!raw_read(ch, reply, 4, NULL) || memcmp(reply, REPLY_MAGIC, 4) != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_AUTH_FAILED,
                    _("the migration destination at %s port %u refused the memory channel"),
                    host, port);
        return NULL;
    }
    g_debug("memory channel: connected to %s port %u%s", host, port,
            ch->tls ? " with TLS" : " without TLS");
    return g_steal_pointer(&ch);
}

gboolean
xm_channel_send(XmChannel *ch, XmChannelRecord type, const void *buf,
                guint32 len, GError **error)
{
    g_autoptr(GError) err = NULL;
    guint8 hdr[8];
    gboolean ok;

    g_return_val_if_fail(len <= XM_CHANNEL_MAX_PAYLOAD, FALSE);
    hdr[0] = 0; hdr[1] = 0; hdr[2] = 0; hdr[3] = (guint8) type;
    hdr[4] = len >> 24; hdr[5] = len >> 16; hdr[6] = len >> 8; hdr[7] = len;
    g_mutex_lock(&ch->send_lock);
    watch_send(ch, TRUE);
    if (ch->tls)
        xm_tls_session_cork(ch->tls);
    ok = raw_write(ch, hdr, sizeof(hdr), &err) &&
         (len == 0 || raw_write(ch, buf, len, &err));
    if (ch->tls)
        ok = xm_tls_session_uncork(ch->tls, ok ? &err : NULL) && ok;
    watch_send(ch, FALSE);
    g_mutex_unlock(&ch->send_lock);
    if (!ok && g_atomic_int_get(&ch->stalled)) {
        /* the broken pipe is our doing: say why */
        g_clear_error(&err);
        g_set_error(&err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    _("the migration peer stopped reading: a record was not "
                      "sent within %u s"), (ch->send_timeout_ms + 999) / 1000);
    }
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&err));
    return ok;
}

gboolean
xm_channel_recv(XmChannel *ch, XmChannelRecord *type, guint8 *buf,
                guint32 *len, guint idle_ms, GError **error)
{
    guint8 hdr[8];
    guint32 t, n;

    if (idle_ms && (!ch->tls || xm_tls_session_pending(ch->tls) == 0) &&
        !wait_fd(ch->fd, POLLIN, (int) idle_ms, NULL, error))
        return FALSE;
    if (!raw_read(ch, hdr, sizeof(hdr), error))
        return FALSE;
    t = (guint32) hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    n = (guint32) hdr[4] << 24 | hdr[5] << 16 | hdr[6] << 8 | hdr[7];
    if (t < XM_CHANNEL_DATA || t > XM_CHANNEL_ABORT || n > XM_CHANNEL_MAX_PAYLOAD) {
        g_set_error(error, XM_ERROR, XM_ERR_RPC,
                    _("malformed record on the migration channel (type %u, length %u)"),
                    t, n);
        return FALSE;
    }
    if (n && !raw_read(ch, buf, n, error))
        return FALSE;
    *type = (XmChannelRecord) t;
    *len = n;
    return TRUE;
}
