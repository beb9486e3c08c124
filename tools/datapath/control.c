/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control socket: each connection gets its own thread, so that a
 * COMPLETE that blocks until the final drain ends does not hold up PROGRESS
 * or CANCEL on another connection. A connection sends request lines and
 * reads one reply line per request.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "storage-mirror/datapath-client.h"
#include "util/util.h"
#include "datapath.h"

/* a request is short; anything longer is a confused or hostile peer */
#define MAX_REQUEST 8192
/* each connection is a thread; the migration job needs a handful */
#define MAX_CONNECTIONS 64

typedef struct {
    Datapath *dp;
    int fd;                   /* closed by whoever joins the thread */
    GThread *thread;
    gboolean finished;        /* under Datapath.lock */
} DpConn;

/* A socket left behind by a daemon that died may be replaced; one that a
 * live daemon listens on, or any other file, may not. */
static gboolean
clear_stale_socket(const struct sockaddr_un *sa, GError **error)
{
    struct stat st;
    int fd;

    if (lstat(sa->sun_path, &st) < 0)
        return TRUE;
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("%s exists and is not a socket"), sa->sun_path);
        return FALSE;
    }
    /* non-blocking: a stopped daemon with a full backlog must not hang us
     * (EAGAIN then also means someone owns it) */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0 ||
                    errno == EAGAIN)) {
        close(fd);
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("another process listens on %s"), sa->sun_path);
        return FALSE;
    }
    if (fd >= 0)
        close(fd);
    if (unlink(sa->sun_path) < 0 && errno != ENOENT)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot remove stale socket %s"), sa->sun_path);
    return TRUE;
}

gboolean
dp_control_listen(Datapath *dp, GError **error)
{
    struct sockaddr_un sa;
    int fd;

    if (!xm_datapath_sockaddr(dp->control_path, &sa, error) ||
        !clear_stale_socket(&sa, error))
        return FALSE;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "socket");
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        int errsv = errno;

        close(fd);
        return xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                                  _("cannot bind %s"), dp->control_path);
    }
    /* whoever can talk to it can mirror the disks anywhere */
    if (chmod(dp->control_path, 0600) < 0 || listen(fd, 16) < 0) {
        int errsv = errno;

        close(fd);
        unlink(dp->control_path);
        return xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                                  _("cannot listen on %s"), dp->control_path);
    }
    dp->listen_fd = fd;
    return TRUE;
}

/* A client gone away, even during a long COMPLETE, is no reason to die:
 * the write fails and the connection ends. */
static gboolean
send_reply(int fd, const char *reply)
{
    return xm_datapath_write_line(fd, reply) == 0;
}

/* Serves the requests of one connection until EOF, an error or QUIT. */
static gpointer
conn_thread(gpointer data)
{
    DpConn *c = data;
    g_autoptr(GString) buf = g_string_new(NULL);
    gboolean quit = FALSE;

    while (!quit) {
        char chunk[1024];
        char *nl;
        ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
        while (!quit && (nl = memchr(buf->str, '\n', buf->len))) {
            size_t len = nl - buf->str;
            g_autofree char *line = g_strndup(buf->str, len);
            g_autofree char *reply = NULL;

            g_string_erase(buf, 0, len + 1);
            if (strlen(line) != len)
                reply = g_strdup_printf("ERR %d %s", XM_ERR_INVALID_ARG,
                                        _("request contains a NUL byte"));
            else
                reply = dp_request(c->dp, g_strchomp(line), &quit);
            if (!send_reply(c->fd, reply))
                goto out;
        }
        if (buf->len > MAX_REQUEST) {
            g_autofree char *reply = g_strdup_printf("ERR %d %s", XM_ERR_INVALID_ARG,
                                                     _("request line too long"));
            send_reply(c->fd, reply);
            break;
        }
    }
    if (quit) {
        guint64 one = 1;

        if (write(c->dp->wake_fd, &one, sizeof(one)) < 0)
            g_warning("cannot wake the main loop: %s", g_strerror(errno));
    }
 out:
    /* the peer sees the end now; the fd itself is closed by whoever joins
     * this thread, which happens only when the main loop next wakes */
    shutdown(c->fd, SHUT_RDWR);
    g_mutex_lock(&c->dp->lock);
    c->finished = TRUE;
    g_mutex_unlock(&c->dp->lock);
    return NULL;
}

void
dp_control_accept(Datapath *dp)
{
    int fd = accept4(dp->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    DpConn *c;

    if (fd < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            g_warning("accept on %s: %s", dp->control_path, g_strerror(errno));
        return;
    }
    g_mutex_lock(&dp->lock);
    if (dp->conns->len >= MAX_CONNECTIONS) {
        g_autofree char *reply = g_strdup_printf("ERR %d %s", XM_ERR_RESOURCE_BUSY,
                                                 _("too many control connections"));

        g_mutex_unlock(&dp->lock);
        g_warning("refusing a control connection: %u are open", MAX_CONNECTIONS);
        send_reply(fd, reply);
        close(fd);
        return;
    }
    c = g_new0(DpConn, 1);
    c->dp = dp;
    c->fd = fd;
    g_ptr_array_add(dp->conns, c);
    c->thread = g_thread_new("dp-control", conn_thread, c);
    g_mutex_unlock(&dp->lock);
}

static void
conn_join(DpConn *c)
{
    g_thread_join(c->thread);
    close(c->fd);
    g_free(c);
}

void
dp_control_reap(Datapath *dp)
{
    g_autoptr(GPtrArray) done = g_ptr_array_new();

    g_mutex_lock(&dp->lock);
    for (guint i = 0; i < dp->conns->len;) {
        DpConn *c = dp->conns->pdata[i];

        if (c->finished) {
            g_ptr_array_add(done, c);
            g_ptr_array_remove_index_fast(dp->conns, i);
        } else {
            i++;
        }
    }
    g_mutex_unlock(&dp->lock);
    for (guint i = 0; i < done->len; i++)
        conn_join(done->pdata[i]);
}

void
dp_control_close_all(Datapath *dp)
{
    g_autoptr(GPtrArray) all = NULL;

    g_mutex_lock(&dp->lock);
    all = g_steal_pointer(&dp->conns);
    dp->conns = g_ptr_array_new();
    /* idle connections wake up with EOF; one running a request finishes
     * it (its job was cancelled) and then finds the socket shut */
    for (guint i = 0; i < all->len; i++)
        shutdown(((DpConn *) all->pdata[i])->fd, SHUT_RDWR);
    g_mutex_unlock(&dp->lock);
    for (guint i = 0; i < all->len; i++)
        conn_join(all->pdata[i]);
}
