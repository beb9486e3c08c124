/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client side of the sim guest control protocol. */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/sim-proto.h"
#include "util/util.h"

gboolean
xm_sim_sockaddr(const char *path, struct sockaddr_un *sa, int *dirfd, GError **error)
{
    g_autofree char *dir = NULL, *base = NULL, *alias = NULL;
    int dfd;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    *dirfd = -1;
    if (strlen(path) < sizeof(sa->sun_path)) {
        strcpy(sa->sun_path, path);
        return TRUE;
    }
    /* deep state directories (test trees, lab hosts) exceed sun_path */
    dir = g_path_get_dirname(path);
    base = g_path_get_basename(path);
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot open '%s'"), dir);
    alias = g_strdup_printf("/proc/self/fd/%d/%s", dfd, base);
    if (strlen(alias) >= sizeof(sa->sun_path)) {
        close(dfd);
        g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("socket path '%s' is too long"), path);
        return FALSE;
    }
    strcpy(sa->sun_path, alias);
    *dirfd = dfd;
    return TRUE;
}

static int
connect_unix(const char *path, GError **error)
{
    struct sockaddr_un sa;
    int fd, dirfd, rc, errsv;

    if (!xm_sim_sockaddr(path, &sa, &dirfd, error))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, _("cannot create socket"));
        if (dirfd >= 0)
            close(dirfd);
        return -1;
    }
    rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    errsv = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (rc < 0) {
        xm_set_error_errno(error, errsv, XM_ERR_OPERATION_FAILED,
                           _("cannot reach sim guest at '%s'"), path);
        close(fd);
        return -1;
    }
    return fd;
}

static gboolean
send_line(int sock, const char *line, int fd, GError **error)
{
    g_autofree char *msg = g_strconcat(line, "\n", NULL);
    size_t len = strlen(msg), done = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;

    while (done < len) {
        struct iovec iov = { msg + done, len - done };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t r;

        if (fd >= 0 && done == 0) {
            struct cmsghdr *c;
            memset(&u, 0, sizeof(u));
            mh.msg_control = u.buf;
            mh.msg_controllen = sizeof(u.buf);
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        r = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                      _("cannot send to sim guest"));
        done += r;
    }
    return TRUE;
}

gboolean
xm_sim_ctl_call(const char *socket_path, const char *line, int fd,
                int cancel_fd, int timeout_ms, char **reply, GError **error)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = timeout_ms >= 0
        ? g_get_monotonic_time() + (gint64) timeout_ms * 1000 : -1;
    int sock;
    gboolean ok = FALSE;

    sock = connect_unix(socket_path, error);
    if (sock < 0)
        return FALSE;
    if (!send_line(sock, line, fd, error))
        goto out;

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = sock, .events = POLLIN },
            { .fd = cancel_fd, .events = POLLIN },
        };
        int wait_ms = -1, r;
        char chunk[512];
        ssize_t n;

        if (deadline >= 0) {
            gint64 left = deadline - g_get_monotonic_time();
            if (left <= 0) {
                g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                            _("sim guest did not answer '%s' in time"), line);
                goto out;
            }
            wait_ms = (int) ((left + 999) / 1000);
        }
        r = poll(pfd, cancel_fd >= 0 ? 2 : 1, wait_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "poll");
            goto out;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("operation '%s' was cancelled"), line);
            goto out;
        }
        if (!pfd[0].revents)
            continue;
        n = read(sock, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                               _("cannot read from sim guest"));
            goto out;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
        if (memchr(chunk, '\n', n))
            break;
    }

    if (!strchr(buf->str, '\n')) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("sim guest closed the connection during '%s'"), line);
        goto out;
    }
    *strchr(buf->str, '\n') = '\0';
    if (g_str_has_prefix(buf->str, "ok") &&
        (buf->str[2] == '\0' || buf->str[2] == ' ')) {
        *reply = g_strdup(buf->str[2] ? buf->str + 3 : "");
        ok = TRUE;
    } else if (g_str_has_prefix(buf->str, "error ")) {
        char *msg = buf->str + 6, *end = NULL;
        guint64 code = g_ascii_strtoull(msg, &end, 10);

        if (end != msg && *end == ' ' && code > 0 && code < 1000)
            msg = end + 1;
        else
            code = XM_ERR_OPERATION_FAILED;
        g_set_error(error, XM_ERROR, (int) code, "%s", msg);
    } else {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("unexpected reply from sim guest: '%s'"), buf->str);
    }
out:
    close(sock);
    return ok;
}

char *
xm_sim_reply_get(const char *reply, const char *key)
{
    g_auto(GStrv) words = g_strsplit(reply, " ", -1);
    size_t klen = strlen(key);

    for (size_t i = 0; words[i]; i++) {
        if (strncmp(words[i], key, klen) == 0 && words[i][klen] == '=')
            return g_strdup(words[i] + klen + 1);
    }
    return NULL;
}

guint64
xm_sim_reply_get_u64(const char *reply, const char *key, guint64 dflt)
{
    g_autofree char *v = xm_sim_reply_get(reply, key);

    return v ? g_ascii_strtoull(v, NULL, 10) : dflt;
}
