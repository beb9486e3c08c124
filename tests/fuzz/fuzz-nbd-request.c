/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the NBD server's option haggling and request
 * parsing. The input is the byte stream a client sends: the first byte
 * picks the server (bit 0: read-only export; bit 1: a write hook that
 * fails), the rest goes down a socketpair into the real connection code,
 * whose replies are drained and dropped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenmig/error.h>
#include "storage-mirror/nbd-server-priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE_SIZE (1024 * 1024)

static XmNbdServer *servers[2];

static gboolean
failing_hook(gpointer user_data, XmNbdWriteKind kind, guint64 offset,
             guint64 length, const void *buf, GError **error)
{
    g_set_error_literal(error, XM_ERROR, XM_ERR_WRITE_FAILED, "fuzz");
    return FALSE;
}

static XmNbdServer *
make_server(gboolean readonly)
{
    const char *base = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)
                       ? "/dev/shm" : g_get_tmp_dir();
    g_autofree char *path = g_build_filename(base, "xenmig-fuzz-XXXXXX",
                                             NULL);
    XmNbdServerConfig config = { .image_path = path, .readonly = readonly };
    g_autoptr(GError) err = NULL;
    XmNbdServer *s;
    int fd = g_mkstemp(path);

    if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
        g_error("cannot create the fuzz image: %s", g_strerror(errno));
    /* some data so that reads and block status see data and holes */
    if (pwrite(fd, "xenmig", 6, 65536) != 6)
        g_error("cannot write the fuzz image");
    close(fd);
    s = xm_nbd_server_new(&config, &err);
    if (!s)
        g_error("%s", err->message);
    /* the server keeps its descriptor; the name is not needed */
    unlink(path);
    return s;
}

typedef struct {
    int fd;
    const uint8_t *data;
    size_t size;
} Peer;

/* Plays the client: sends the input, then reads until the server closes.
 * Writing and reading interleave so neither side can block the other. */
static gpointer
peer_thread(gpointer arg)
{
    Peer *p = arg;
    size_t sent = 0;
    char sink[65536];

    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
    if (p->size == 0)
        shutdown(p->fd, SHUT_WR);
    for (;;) {
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        ssize_t n;

        if (sent < p->size)
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd.revents & POLLOUT) {
            n = send(p->fd, p->data + sent, p->size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += n;
                if (sent == p->size)
                    shutdown(p->fd, SHUT_WR);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                sent = p->size;   /* the server hung up */
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(p->fd, sink, sizeof(sink), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    XmNbdServer *s;
    GThread *peer;
    Peer p;
    int sv[2];
    uint8_t mode;

    if (size < 1)
        return 0;
    mode = data[0];
    if (!servers[0]) {
        servers[0] = make_server(FALSE);
        servers[1] = make_server(TRUE);
    }
    s = servers[mode & 1];
    xm_nbd_server_set_write_hook(s, (mode & 2) ? failing_hook : NULL, NULL);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    p = (Peer){ sv[1], data + 1, size - 1 };
    peer = g_thread_new("fuzz-peer", peer_thread, &p);
    xm_nbd_server_serve_fd(s, sv[0]);   /* closes sv[0] */
    g_thread_join(peer);
    close(sv[1]);
    return 0;
}
