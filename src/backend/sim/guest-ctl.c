/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's control socket (protocol in backend/sim-proto.h). Each
 * connection gets its own thread so that a long save does not block info,
 * pause or save-cancel.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/sim/guest.h"
#include "util/util.h"

typedef struct {
    Guest *g;
    int sock;
} Conn;

int
guest_ctl_listen(Guest *g, GError **error)
{
    struct sockaddr_un sa;
    int fd, dirfd, errsv = 0;

    if (!xm_sim_sockaddr(g->socket_path, &sa, &dirfd, error))
        return -1;
    unlink(g->socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
        listen(fd, 16) < 0) {
        errsv = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (dirfd >= 0)
        close(dirfd);
    if (fd < 0)
        xm_set_error_errno(error, errsv, XM_ERR_SYSTEM_ERROR,
                           _("cannot listen on '%s'"), g->socket_path);
    return fd;
}

/* Reads one request line, collecting an fd passed with it. */
static char *
read_request(int sock, int *fd_out)
{
    g_autoptr(GString) line = g_string_new(NULL);

    *fd_out = -1;
    while (!strchr(line->str, '\n') && line->len < 1024) {
        char buf[256];
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = u.b, .msg_controllen = sizeof(u.b) };
        ssize_t r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len == CMSG_LEN(sizeof(int))) {
                if (*fd_out >= 0)
                    close(*fd_out);
                memcpy(fd_out, CMSG_DATA(c), sizeof(int));
            }
        }
        g_string_append_len(line, buf, r);
    }
    if (!strchr(line->str, '\n'))
        return NULL;
    *strchr(line->str, '\n') = '\0';
    return g_string_free(g_steal_pointer(&line), FALSE);
}

static const char *
state_name(GuestState s)
{
    switch (s) {
    case GUEST_RUNNING: return "running";
    case GUEST_PAUSED: return "paused";
    case GUEST_SUSPENDED: return "suspended";
    }
    return "unknown";
}

static char *
cmd_info(Guest *g)
{
    struct rusage ru;
    guint64 cpu_ns;

    getrusage(RUSAGE_SELF, &ru);
    cpu_ns = ((guint64) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
             ((guint64) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
    return g_strdup_printf("state=%s memory_kib=%" G_GUINT64_FORMAT
                           " max_memory_kib=%" G_GUINT64_FORMAT " vcpus=%u"
                           " cpu_time_ns=%" G_GUINT64_FORMAT
                           " hb_seq=%" G_GUINT64_FORMAT " ram_pages=%zu saving=%d pid=%d"
                           " uuid=%s name=%s",
                           state_name(g->state), g->memory_kib, g->max_memory_kib,
                           g->vcpus, cpu_ns, g->hb_seq, g->ram_pages, g->save_running, (int) getpid(),
                           g->uuid_str, g->name);
}

static gboolean
set_state(Guest *g, GuestState from, GuestState to, GError **error)
{
    if (g->state != from) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("domain is %s, not %s"), state_name(g->state), state_name(from));
        return FALSE;
    }
    g->state = to;
    g_cond_broadcast(&g->cond);
    return TRUE;
}

/* Runs one command; returns the reply's text after "ok", or NULL + error. */
static char *
dispatch(Guest *g, const char *line, int fd, const char **quit, GError **error)
{
    g_auto(GStrv) argv = g_strsplit(line, " ", 3);
    const char *cmd = argv[0] ? argv[0] : "";
    const char *arg = argv[0] && argv[1] ? argv[1] : NULL;
    char *reply = NULL;
    gboolean ok = TRUE;

    if (strcmp(cmd, "save") == 0) {
        if (fd < 0) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, _("save needs an fd"));
            return NULL;
        }
        if (!guest_save(g, fd, arg && strcmp(arg, "live") == 0, &reply, error))
            return NULL;
        return reply;
    }

    guest_lock(g);
    if (strcmp(cmd, "info") == 0) {
        reply = cmd_info(g);
    } else if (strcmp(cmd, "pause") == 0) {
        ok = set_state(g, GUEST_RUNNING, GUEST_PAUSED, error);
    } else if (strcmp(cmd, "unpause") == 0) {
        ok = set_state(g, GUEST_PAUSED, GUEST_RUNNING, error);
    } else if (strcmp(cmd, "resume") == 0) {
        ok = set_state(g, GUEST_SUSPENDED, GUEST_RUNNING, error);
    } else if (strcmp(cmd, "save-cancel") == 0) {
        g->save_cancel = TRUE;
    } else if (strcmp(cmd, "set-memory") == 0 && arg) {
        ok = guest_ram_set_memory(g, g_ascii_strtoull(arg, NULL, 10), error);
    } else if (strcmp(cmd, "ram-checksum") == 0) {
        reply = g_strdup_printf("checksum=%016" G_GINT64_MODIFIER "x pages=%zu",
                                guest_ram_checksum(g), g->ram_pages);
    } else if (strcmp(cmd, "shutdown") == 0 || strcmp(cmd, "poweroff") == 0) {
        *quit = "shutdown";
    } else if (strcmp(cmd, "reboot") == 0) {
        *quit = "reboot";
    } else if (strcmp(cmd, "crash") == 0) {
        *quit = "crashed";
    } else {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unknown command '%s'"), line);
        ok = FALSE;
    }
    guest_unlock(g);
    if (!ok)
        return NULL;
    return reply ? reply : g_strdup("");
}

static gpointer
conn_thread(gpointer data)
{
    Conn *c = data;
    Guest *g = c->g;
    int fd = -1;
    g_autofree char *line = read_request(c->sock, &fd);
    g_autofree char *reply = NULL;
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    const char *quit = NULL;

    if (line) {
        reply = dispatch(g, line, fd, &quit, &err);
        if (reply)
            msg = g_strdup_printf(*reply ? "ok %s\n" : "ok\n", reply);
        else
            msg = g_strdup_printf("error %d %s\n",
                                  err->domain == XM_ERROR ? err->code
                                                          : XM_ERR_OPERATION_FAILED,
                                  err->message);
        if (send(c->sock, msg, strlen(msg), MSG_NOSIGNAL) < 0)
            fprintf(stderr, "sim guest %s: cannot reply: %s\n", g->name,
                    g_strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    close(c->sock);
    g_free(c);

    /* the worker exits the process: ask only once the reply is out */
    if (quit)
        guest_request_quit(g, quit);
    return NULL;
}

void
guest_ctl_serve(Guest *g, int listen_fd)
{
    for (;;) {
        Conn *c;
        GThread *t;
        int sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (sock < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "sim guest %s: accept: %s\n", g->name, g_strerror(errno));
            g_usleep(100000);
            continue;
        }
        c = g_new0(Conn, 1);
        c->g = g;
        c->sock = sock;
        t = g_thread_new("ctl", conn_thread, c);
        g_thread_unref(t);
    }
}
