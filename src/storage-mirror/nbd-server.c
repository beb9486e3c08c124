/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NBD server life cycle: the image, listeners, the accept thread, one
 * thread per connection, and the write hook.
 */
#define G_LOG_DOMAIN "xenmig-nbd"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenmig/xenmig.h>
#include "util/util.h"
#include "storage-mirror/nbd-proto.h"
#include "storage-mirror/nbd-server-priv.h"

#define DEFAULT_MAX_CONNECTIONS 16

/* Set while a thread serves a connection (to catch a stop from a hook). */
static GPrivate serving_conn;

static gboolean
open_image(XmNbdServer *s, GError **error)
{
    int fd = xm_image_open(s->image_path, s->readonly ? O_RDONLY : O_RDWR,
                           &s->size, &s->is_blockdev, error);

    if (fd < 0)
        return FALSE;
    s->image_fd = fd;
    return TRUE;
}

XmNbdServer *
xm_nbd_server_new(const XmNbdServerConfig *config, GError **error)
{
    g_autoptr(XmNbdServer) s = NULL;

    xm_init();
    if (!config || !config->image_path) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("No image given to the NBD server"));
        return NULL;
    }
    if (config->export_name && strlen(config->export_name) >
                               XM_NBD_MAX_STRING) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("NBD export name is longer than %u bytes"),
                    XM_NBD_MAX_STRING);
        return NULL;
    }
    s = g_new0(XmNbdServer, 1);
    s->image_fd = -1;
    s->wake_fd = -1;
    g_mutex_init(&s->lock);
    g_cond_init(&s->stopped_cond);
    g_mutex_init(&s->hook_mutex);
    g_cond_init(&s->hook_cond);
    s->listen_fds = g_array_new(FALSE, FALSE, sizeof(int));
    s->image_path = g_strdup(config->image_path);
    s->export_name = g_strdup(config->export_name ? config->export_name : "");
    s->readonly = config->readonly;
    s->verify_peer = config->tls_verify_peer;
    s->max_connections = config->max_connections ? config->max_connections
                                                  : DEFAULT_MAX_CONNECTIONS;
    s->handshake_timeout_ms = config->handshake_timeout_ms
                              ? config->handshake_timeout_ms
                              : XM_NBD_HANDSHAKE_TIMEOUT_MS;
    if (!open_image(s, error))
        return NULL;
    if (config->tls_dir) {
        s->tls = xm_tls_load_server_creds(config->tls_dir,
                                          config->tls_verify_peer, error);
        if (!s->tls)
            return NULL;
    }
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("Cannot create eventfd"));
        return NULL;
    }
    g_debug("serving '%s' (%" G_GUINT64_FORMAT " bytes, %s%s) as '%s'",
            s->image_path, s->size, s->readonly ? "read-only" : "read-write",
            s->tls ? ", TLS" : "", s->export_name);
    return g_steal_pointer(&s);
}

static gboolean
check_not_started(XmNbdServer *s, GError **error)
{
    gboolean started;

    g_mutex_lock(&s->lock);
    started = s->started || s->stopping;
    g_mutex_unlock(&s->lock);
    if (started) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("The NBD server is already started"));
        return FALSE;
    }
    return TRUE;
}

static int
bind_one(const struct addrinfo *ai, guint16 port, GError **error)
{
    struct sockaddr_storage sa;
    int one = 1;
    int fd;

    memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
    if (sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&sa)->sin_port = htons(port);
    else if (sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("Cannot create socket"));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                           _("Cannot listen on port %u"), port);
        close(fd);
        return -1;
    }
    return fd;
}

static guint16
local_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);

    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 0;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return 0;
}

gboolean
xm_nbd_server_listen_tcp(XmNbdServer *s, const char *host, guint16 port,
                         guint16 *bound_port, GError **error)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_ADDRCONFIG,
    };
    struct addrinfo *res = NULL;
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) first_err = NULL;
    int rc;

    if (!check_not_started(s, error))
        return FALSE;
    rc = getaddrinfo(host, "0", &hints, &res);
    if (rc != 0) {
        g_set_error(error, XM_ERROR, XM_ERR_UNKNOWN_HOST,
                    _("Cannot resolve '%s': %s"), host ? host : "*",
                    gai_strerror(rc));
        return FALSE;
    }
    /* Every address gets the same port: the first bind picks it when the
     * caller asked for an ephemeral one. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        g_autoptr(GError) err = NULL;
        int fd = bind_one(ai, port, &err);

        if (fd < 0) {
            if (!first_err)
                first_err = g_steal_pointer(&err);
            continue;
        }
        if (port == 0)
            port = local_port(fd);
        g_array_append_val(fds, fd);
    }
    freeaddrinfo(res);
    if (fds->len == 0) {
        g_propagate_error(error, g_steal_pointer(&first_err));
        return FALSE;
    }
    g_array_append_vals(s->listen_fds, fds->data, fds->len);
    g_debug("listening on %s port %u (%u sockets)", host ? host : "*", port,
            fds->len);
    if (bound_port)
        *bound_port = port;
    return TRUE;
}

/* Whether a process still accepts connections on the unix socket @sa. */
static gboolean
socket_in_use(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean used;

    if (fd < 0)
        return FALSE;
    used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    close(fd);
    return used;
}

gboolean
xm_nbd_server_listen_unix(XmNbdServer *s, const char *path, GError **error)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (!check_not_started(s, error))
        return FALSE;
    if (s->unix_path) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("The NBD server already listens on a unix socket"));
        return FALSE;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("Unix socket path '%s' is too long"), path);
        return FALSE;
    }
    strcpy(sa.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                        _("'%s' exists and is not a socket"), path);
            return FALSE;
        }
        if (socket_in_use(&sa)) {
            g_set_error(error, XM_ERROR, XM_ERR_RESOURCE_BUSY,
                        _("Another server listens on '%s'"), path);
            return FALSE;
        }
        unlink(path);   /* a stale socket of an earlier run */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("Cannot create socket"));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        int errsv = errno;

        close(fd);
        return xm_set_error_errno(error, errsv, XM_ERR_SYSTEM_ERROR,
                                  _("Cannot listen on '%s'"), path);
    }
    g_array_append_val(s->listen_fds, fd);
    s->unix_path = g_strdup(path);
    g_debug("listening on %s", path);
    return TRUE;
}

static void
conn_run(XmNbdConn *c)
{
    c->deadline = g_get_monotonic_time() +
                  (gint64)c->server->handshake_timeout_ms * 1000;
    if (xm_nbd_conn_handshake(c)) {
        c->deadline = 0;
        g_debug("conn %" G_GUINT64_FORMAT ": transmission (structured %d, "
                "block status %d, tls %d)", c->id, c->structured,
                c->meta_base_alloc, c->tls != NULL);
        xm_nbd_conn_transmit(c);
    }
    g_clear_pointer(&c->tls, xm_tls_session_free);
}

void
xm_nbd_server_enter_conn(XmNbdConn *c)
{
    g_private_set(&serving_conn, c);
}

static gpointer
conn_thread(gpointer data)
{
    XmNbdConn *c = data;
    XmNbdServer *s = c->server;
    guint64 one = 1;

    g_private_set(&serving_conn, c);
    conn_run(c);
    g_private_set(&serving_conn, NULL);
    g_mutex_lock(&s->lock);
    close(c->fd);
    c->fd = -1;
    c->finished = TRUE;
    s->n_live--;
    g_mutex_unlock(&s->lock);
    g_debug("conn %" G_GUINT64_FORMAT ": closed", c->id);
    /* let the accept thread reap us */
    if (write(s->wake_fd, &one, sizeof(one)) < 0)
        g_debug("cannot wake the accept thread: %s", g_strerror(errno));
    return NULL;
}

void
xm_nbd_server_serve_fd(XmNbdServer *s, int fd)
{
    XmNbdConn c = { .server = s, .fd = fd, .id = 0 };

    g_private_set(&serving_conn, &c);
    conn_run(&c);
    g_private_set(&serving_conn, NULL);
    close(fd);
}

/* Joins the threads of finished connections. */
static void
reap(XmNbdServer *s)
{
    GList *done = NULL;

    g_mutex_lock(&s->lock);
    for (GList *l = s->conns; l;) {
        GList *next = l->next;
        XmNbdConn *c = l->data;

        if (c->finished) {
            s->conns = g_list_remove_link(s->conns, l);
            done = g_list_concat(l, done);
        }
        l = next;
    }
    g_mutex_unlock(&s->lock);
    for (GList *l = done; l; l = l->next) {
        XmNbdConn *c = l->data;

        g_thread_join(c->thread);
        g_free(c);
    }
    g_list_free(done);
}

static void
accept_one(XmNbdServer *s, int lfd)
{
    static guint64 next_id;
    g_autoptr(GError) err = NULL;
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    XmNbdConn *c;
    int one = 1;
    int fd;

    fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
    if (fd < 0) {
        g_debug("accept: %s", g_strerror(errno));
        if (errno == EMFILE || errno == ENFILE)
            g_usleep(100 * 1000);   /* do not spin while out of fds */
        return;
    }
    if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    g_mutex_lock(&s->lock);
    if (s->n_live >= s->max_connections) {
        g_mutex_unlock(&s->lock);
        g_debug("connection refused: %u clients already", s->max_connections);
        close(fd);
        return;
    }
    c = g_new0(XmNbdConn, 1);
    c->server = s;
    c->fd = fd;
    c->id = ++next_id;
    c->thread = g_thread_try_new("nbd-conn", conn_thread, c, &err);
    if (!c->thread) {
        g_mutex_unlock(&s->lock);
        g_debug("cannot start a connection thread: %s", err->message);
        close(fd);
        g_free(c);
        return;
    }
    s->conns = g_list_prepend(s->conns, c);
    s->n_live++;
    g_mutex_unlock(&s->lock);
    g_debug("conn %" G_GUINT64_FORMAT ": accepted", c->id);
}

static gpointer
accept_thread(gpointer data)
{
    XmNbdServer *s = data;
    guint n = s->listen_fds->len;
    g_autofree struct pollfd *pfds = g_new0(struct pollfd, n + 1);

    for (guint i = 0; i < n; i++)
        pfds[i] = (struct pollfd){ g_array_index(s->listen_fds, int, i),
                                   POLLIN, 0 };
    pfds[n] = (struct pollfd){ s->wake_fd, POLLIN, 0 };

    for (;;) {
        gboolean stopping;
        guint64 v;

        if (poll(pfds, n + 1, -1) < 0 && errno != EINTR) {
            g_debug("poll: %s", g_strerror(errno));
            g_usleep(100 * 1000);
            continue;
        }
        if (pfds[n].revents) {
            if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                g_debug("eventfd read: %s", g_strerror(errno));
            reap(s);
        }
        g_mutex_lock(&s->lock);
        stopping = s->stopping;
        g_mutex_unlock(&s->lock);
        if (stopping)
            return NULL;
        for (guint i = 0; i < n; i++)
            if (pfds[i].revents & POLLIN)
                accept_one(s, pfds[i].fd);
    }
}

gboolean
xm_nbd_server_start(XmNbdServer *s, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (!check_not_started(s, error))
        return FALSE;
    if (s->listen_fds->len == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("The NBD server has no listener"));
        return FALSE;
    }
    s->accept_thread = g_thread_try_new("nbd-accept", accept_thread, s, &err);
    if (!s->accept_thread) {
        g_set_error(error, XM_ERROR, XM_ERR_SYSTEM_ERROR,
                    _("Cannot start the NBD server thread: %s"),
                    err->message);
        return FALSE;
    }
    g_mutex_lock(&s->lock);
    s->started = TRUE;
    g_mutex_unlock(&s->lock);
    return TRUE;
}

void
xm_nbd_server_stop(XmNbdServer *s)
{
    XmNbdConn *self = g_private_get(&serving_conn);
    guint64 one = 1;

    if (self && self->server == s) {
        /* it would have to join its own thread */
        g_critical("xm_nbd_server_stop() called from a connection thread "
                   "(a write hook); ignored");
        return;
    }
    g_mutex_lock(&s->lock);
    if (s->stopping) {
        /* another thread is stopping it: return once that is done */
        while (!s->stopped)
            g_cond_wait(&s->stopped_cond, &s->lock);
        g_mutex_unlock(&s->lock);
        return;
    }
    s->stopping = TRUE;
    g_mutex_unlock(&s->lock);

    if (s->accept_thread) {
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            g_debug("cannot wake the accept thread: %s", g_strerror(errno));
        g_thread_join(s->accept_thread);
        s->accept_thread = NULL;
    }
    for (guint i = 0; i < s->listen_fds->len; i++)
        close(g_array_index(s->listen_fds, int, i));
    g_array_set_size(s->listen_fds, 0);
    if (s->unix_path)
        unlink(s->unix_path);

    /* Wake every connection thread out of its blocking read; the fd stays
     * open (and its number taken) until the thread itself closes it. */
    g_mutex_lock(&s->lock);
    for (GList *l = s->conns; l; l = l->next) {
        XmNbdConn *c = l->data;

        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    }
    g_mutex_unlock(&s->lock);
    for (GList *l = s->conns; l; l = l->next) {
        XmNbdConn *c = l->data;

        g_thread_join(c->thread);
        g_free(c);
    }
    g_list_free(s->conns);
    s->conns = NULL;
    g_mutex_lock(&s->lock);
    s->stopped = TRUE;
    g_cond_broadcast(&s->stopped_cond);
    g_mutex_unlock(&s->lock);
    g_debug("NBD server for '%s' stopped", s->image_path);
}

void
xm_nbd_server_free(XmNbdServer *s)
{
    if (!s)
        return;
    xm_nbd_server_stop(s);
    if (s->image_fd >= 0)
        close(s->image_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    g_clear_pointer(&s->tls, xm_tls_creds_unref);
    xm_nbd_chunk_hashes_free(s->chunk_hashes);
    g_array_unref(s->listen_fds);
    g_free(s->unix_path);
    g_free(s->image_path);
    g_free(s->export_name);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->stopped_cond);
    g_mutex_clear(&s->hook_mutex);
    g_cond_clear(&s->hook_cond);
    g_free(s);
}

guint64
xm_nbd_server_get_size(XmNbdServer *s)
{
    return s->size;
}

guint
xm_nbd_server_get_connection_count(XmNbdServer *s)
{
    guint n;

    g_mutex_lock(&s->lock);
    n = s->n_live;
    g_mutex_unlock(&s->lock);
    return n;
}

void
xm_nbd_server_set_write_hook(XmNbdServer *s, XmNbdWriteHook hook,
                             gpointer user_data)
{
    /* Hook calls run without the lock held (they may block for long);
     * a pending switch holds new calls back and waits for the running
     * ones, so a busy server cannot starve the switch. */
    g_mutex_lock(&s->hook_mutex);
    while (s->hook_switching)
        g_cond_wait(&s->hook_cond, &s->hook_mutex);
    s->hook_switching = TRUE;
    while (s->hook_active > 0)
        g_cond_wait(&s->hook_cond, &s->hook_mutex);
    s->hook = hook;
    s->hook_data = user_data;
    s->hook_switching = FALSE;
    g_cond_broadcast(&s->hook_cond);
    g_mutex_unlock(&s->hook_mutex);
}

gboolean
xm_nbd_server_run_hook(XmNbdServer *s, XmNbdWriteKind kind, guint64 offset,
                       guint64 length, const void *data)
{
    g_autoptr(GError) err = NULL;
    XmNbdWriteHook hook;
    gpointer hook_data;
    gboolean ok;

    g_mutex_lock(&s->hook_mutex);
    while (s->hook_switching)
        g_cond_wait(&s->hook_cond, &s->hook_mutex);
    hook = s->hook;
    hook_data = s->hook_data;
    if (hook)
        s->hook_active++;
    g_mutex_unlock(&s->hook_mutex);
    if (!hook)
        return TRUE;

    ok = hook(hook_data, kind, offset, length, data, &err);
    if (!ok)
        g_debug("write hook failed at %" G_GUINT64_FORMAT "+%"
                G_GUINT64_FORMAT ": %s", offset, length,
                err ? err->message : "no reason given");

    g_mutex_lock(&s->hook_mutex);
    if (--s->hook_active == 0)
        g_cond_broadcast(&s->hook_cond);
    g_mutex_unlock(&s->hook_mutex);
    return ok;
}
