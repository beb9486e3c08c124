/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD server's library API and write hook, in process, driven by
 * libnbd over a unix socket.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <xenmig/nbd-server.h>
#include <xenmig/error.h>

#define IMAGE_SIZE (4 * 1024 * 1024)

typedef struct {
    XmNbdWriteKind kind;
    guint64 offset;
    guint64 length;
    guint8 first_byte;
} Seen;

typedef struct {
    char *dir;
    char *image;
    char *sock;
    XmNbdServer *server;

    GMutex lock;
    GArray *seen;          /* Seen */
    gboolean fail;
    /* for the blocking test */
    gboolean block;
    gboolean in_hook;
    GCond cond;
} Fixture;

static gboolean
record_hook(gpointer data, XmNbdWriteKind kind, guint64 offset,
            guint64 length, const void *buf, GError **error)
{
    Fixture *f = data;
    Seen s = { kind, offset, length, buf ? *(const guint8 *)buf : 0 };

    g_assert_true((kind == XM_NBD_WRITE) == (buf != NULL));
    g_mutex_lock(&f->lock);
    g_array_append_val(f->seen, s);
    f->in_hook = TRUE;
    g_cond_broadcast(&f->cond);
    while (f->block)
        g_cond_wait(&f->cond, &f->lock);
    f->in_hook = FALSE;
    g_mutex_unlock(&f->lock);
    if (f->fail) {
        g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED, "refused by test");
        return FALSE;
    }
    return TRUE;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    XmNbdServerConfig config = { 0 };
    g_autoptr(GError) err = NULL;
    int fd;

    f->dir = g_dir_make_tmp("xenmig-hook-XXXXXX", &err);
    g_assert_no_error(err);
    f->image = g_build_filename(f->dir, "disk.img", NULL);
    f->sock = g_build_filename(f->dir, "nbd.sock", NULL);
    fd = open(f->image, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, IMAGE_SIZE), ==, 0);
    close(fd);

    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->seen = g_array_new(FALSE, FALSE, sizeof(Seen));

    config.image_path = f->image;
    config.readonly = data != NULL;
    config.handshake_timeout_ms = 500;
    f->server = xm_nbd_server_new(&config, &err);
    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_listen_unix(f->server, f->sock, &err));
    g_assert_true(xm_nbd_server_start(f->server, &err));
    g_assert_no_error(err);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    xm_nbd_server_free(f->server);
    g_assert_false(g_file_test(f->sock, G_FILE_TEST_EXISTS));
    unlink(f->image);
    rmdir(f->dir);
    g_array_unref(f->seen);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
    g_free(f->image);
    g_free(f->sock);
    g_free(f->dir);
}

static struct nbd_handle *
client(Fixture *f)
{
    struct nbd_handle *h = nbd_create();

    g_assert_nonnull(h);
    if (nbd_connect_unix(h, f->sock) < 0)
        g_error("connect: %s", nbd_get_error());
    return h;
}

static void
assert_seen(Fixture *f, guint i, XmNbdWriteKind kind, guint64 offset,
            guint64 length)
{
    Seen *s;

    g_assert_cmpuint(i, <, f->seen->len);
    s = &g_array_index(f->seen, Seen, i);
    g_assert_cmpint(s->kind, ==, kind);
    g_assert_cmpuint(s->offset, ==, offset);
    g_assert_cmpuint(s->length, ==, length);
}

static void
test_hook_kinds(Fixture *f, gconstpointer data)
{
    struct nbd_handle *h = client(f);
    g_autofree char *buf = g_malloc(8192);

    memset(buf, 0xa5, 8192);
    xm_nbd_server_set_write_hook(f->server, record_hook, f);
    g_assert_cmpint(nbd_pwrite(h, buf, 8192, 4096, 0), ==, 0);
    g_assert_cmpint(nbd_pwrite(h, buf, 512, 65536, LIBNBD_CMD_FLAG_FUA),
                    ==, 0);
    g_assert_cmpint(nbd_zero(h, 65536, 1048576, 0), ==, 0);
    g_assert_cmpint(nbd_zero(h, 4096, 2097152, LIBNBD_CMD_FLAG_NO_HOLE),
                    ==, 0);
    g_assert_cmpint(nbd_trim(h, 1048576, 3145728, 0), ==, 0);
    /* reads and flushes are not modifications */
    g_assert_cmpint(nbd_pread(h, buf, 4096, 0, 0), ==, 0);
    g_assert_cmpint(nbd_flush(h, 0), ==, 0);

    g_assert_cmpuint(f->seen->len, ==, 5);
    assert_seen(f, 0, XM_NBD_WRITE, 4096, 8192);
    g_assert_cmpuint(g_array_index(f->seen, Seen, 0).first_byte, ==, 0xa5);
    assert_seen(f, 1, XM_NBD_WRITE, 65536, 512);
    assert_seen(f, 2, XM_NBD_WRITE_ZEROES, 1048576, 65536);
    assert_seen(f, 3, XM_NBD_WRITE_ZEROES, 2097152, 4096);
    assert_seen(f, 4, XM_NBD_TRIM, 3145728, 1048576);

    /* removing the hook stops the calls */
    xm_nbd_server_set_write_hook(f->server, NULL, NULL);
    g_assert_cmpint(nbd_pwrite(h, buf, 512, 0, 0), ==, 0);
    g_assert_cmpuint(f->seen->len, ==, 5);
    nbd_shutdown(h, 0);
    nbd_close(h);
}

static void
test_hook_failure(Fixture *f, gconstpointer data)
{
    struct nbd_handle *h = client(f);
    char buf[4096];
    char check[4096];
    int fd;

    memset(buf, 0x3c, sizeof(buf));
    f->fail = TRUE;
    xm_nbd_server_set_write_hook(f->server, record_hook, f);
    g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf), 8192, 0), ==, -1);
    g_assert_cmpint(nbd_get_errno(), ==, EIO);
    g_assert_cmpint(nbd_zero(h, 4096, 0, 0), ==, -1);
    g_assert_cmpint(nbd_get_errno(), ==, EIO);
    g_assert_cmpuint(f->seen->len, ==, 2);

    /* the connection survives a failed hook */
    f->fail = FALSE;
    g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf), 12288, 0), ==, 0);
    g_assert_cmpuint(f->seen->len, ==, 3);
    nbd_shutdown(h, 0);
    nbd_close(h);

    /* the hook runs after the local write: the data is in the image */
    fd = open(f->image, O_RDONLY);
    g_assert_cmpint(pread(fd, check, sizeof(check), 8192), ==, sizeof(check));
    close(fd);
    g_assert_cmpmem(buf, sizeof(buf), check, sizeof(check));
}

typedef struct {
    Fixture *f;
    int index;
} Writer;

static gpointer
writer_thread(gpointer data)
{
    Writer *w = data;
    struct nbd_handle *h = client(w->f);
    char buf[4096];

    memset(buf, w->index, sizeof(buf));
    for (int i = 0; i < 64; i++)
        g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf),
                                   (guint64)(w->index * 64 + i) * 4096, 0),
                        ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
    return NULL;
}

static void
test_hook_concurrent(Fixture *f, gconstpointer data)
{
    GThread *threads[4];
    Writer w[4];
    guint8 hits[4 * 64] = { 0 };

    xm_nbd_server_set_write_hook(f->server, record_hook, f);
    for (int i = 0; i < 4; i++) {
        w[i] = (Writer){ f, i };
        threads[i] = g_thread_new("writer", writer_thread, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        g_thread_join(threads[i]);
    g_assert_cmpuint(f->seen->len, ==, 4 * 64);
    for (guint i = 0; i < f->seen->len; i++) {
        Seen *s = &g_array_index(f->seen, Seen, i);
        guint block = s->offset / 4096;

        g_assert_cmpuint(s->length, ==, 4096);
        g_assert_cmpuint(block, <, G_N_ELEMENTS(hits));
        g_assert_cmpuint(s->first_byte, ==, block / 64);
        hits[block]++;
    }
    for (guint i = 0; i < G_N_ELEMENTS(hits); i++)
        g_assert_cmpuint(hits[i], ==, 1);
}

/* Blocks the write at offset 0 until the write at 4096 has been seen:
 * only a server serving one connection's requests concurrently gets
 * both done. */
static gboolean
ordering_hook(gpointer data, XmNbdWriteKind kind, guint64 offset,
              guint64 length, const void *buf, GError **error)
{
    Fixture *f = data;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    gboolean ok = TRUE;

    g_mutex_lock(&f->lock);
    if (offset == 4096) {
        f->in_hook = TRUE;
        g_cond_broadcast(&f->cond);
    } else {
        while (!f->in_hook && ok)
            ok = g_cond_wait_until(&f->cond, &f->lock, deadline);
    }
    g_mutex_unlock(&f->lock);
    if (!ok)
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    "second request never ran");
    return ok;
}

static void
test_concurrent_requests(Fixture *f, gconstpointer data)
{
    struct nbd_handle *h = client(f);
    char buf[512] = { 7 };
    int64_t c1, c2;

    xm_nbd_server_set_write_hook(f->server, ordering_hook, f);
    c1 = nbd_aio_pwrite(h, buf, sizeof(buf), 0, NBD_NULL_COMPLETION, 0);
    c2 = nbd_aio_pwrite(h, buf, sizeof(buf), 4096, NBD_NULL_COMPLETION, 0);
    g_assert_cmpint(c1, >, 0);
    g_assert_cmpint(c2, >, 0);
    while (nbd_aio_in_flight(h) > 0)
        g_assert_cmpint(nbd_poll(h, -1), >=, 0);
    g_assert_cmpint(nbd_aio_command_completed(h, c1), ==, 1);
    g_assert_cmpint(nbd_aio_command_completed(h, c2), ==, 1);
    nbd_shutdown(h, 0);
    nbd_close(h);
}

static gpointer
write_one(gpointer data)
{
    Fixture *f = data;
    struct nbd_handle *h = client(f);
    char buf[512] = { 1 };

    g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf), 0, 0), ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
    return NULL;
}

static gpointer
unset_hook(gpointer data)
{
    Fixture *f = data;

    xm_nbd_server_set_write_hook(f->server, NULL, NULL);
    return GINT_TO_POINTER(1);
}

/* A hook switch waits for running hook calls to return. */
static void
test_hook_switch_waits(Fixture *f, gconstpointer data)
{
    GThread *writer, *switcher;
    volatile gboolean switched;

    f->block = TRUE;
    xm_nbd_server_set_write_hook(f->server, record_hook, f);
    writer = g_thread_new("writer", write_one, f);
    g_mutex_lock(&f->lock);
    while (!f->in_hook)
        g_cond_wait(&f->cond, &f->lock);
    g_mutex_unlock(&f->lock);

    switcher = g_thread_new("switcher", unset_hook, f);
    g_usleep(200 * 1000);
    /* still blocked in the hook, so the switch cannot have finished */
    g_mutex_lock(&f->lock);
    g_assert_true(f->in_hook);
    f->block = FALSE;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
    switched = GPOINTER_TO_INT(g_thread_join(switcher));
    g_assert_true(switched);
    g_thread_join(writer);
    g_assert_cmpuint(f->seen->len, ==, 1);
}

static int
collect_extents(void *user_data, const char *metacontext, uint64_t offset,
                uint32_t *entries, size_t nr_entries, int *error)
{
    GArray *out = user_data;

    g_assert_cmpstr(metacontext, ==, LIBNBD_CONTEXT_BASE_ALLOCATION);
    g_array_append_vals(out, entries, nr_entries);
    return 0;
}

/* (length, flags) pairs of base:allocation over [offset, offset+length) */
static GArray *
block_status(struct nbd_handle *h, guint64 offset, guint64 length)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(guint32));

    if (nbd_block_status(h, length, offset,
                         (nbd_extent_callback){ .callback = collect_extents,
                                                .user_data = out },
                         0) < 0)
        g_error("block status: %s", nbd_get_error());
    return out;
}

/* Within one connection, a trim or zero must show as a hole in the
 * next block status although the connection saw data there before. */
static void
test_block_status_after_trim(Fixture *f, gconstpointer data)
{
    struct nbd_handle *h = nbd_create();
    g_autofree char *buf = g_malloc(1048576);
    g_autoptr(GArray) before = NULL;
    g_autoptr(GArray) after = NULL;
    g_autoptr(GArray) zeroed = NULL;

    nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
    g_assert_cmpint(nbd_connect_unix(h, f->sock), ==, 0);
    memset(buf, 0x99, 1048576);
    g_assert_cmpint(nbd_pwrite(h, buf, 1048576, 0, 0), ==, 0);

    before = block_status(h, 0, 1048576);
    g_assert_cmpuint(before->len, ==, 2);
    g_assert_cmpuint(g_array_index(before, guint32, 0), ==, 1048576);
    g_assert_cmpuint(g_array_index(before, guint32, 1), ==, 0);

    g_assert_cmpint(nbd_trim(h, 262144, 262144, 0), ==, 0);
    after = block_status(h, 0, 1048576);
    g_assert_cmpuint(after->len, ==, 6);
    g_assert_cmpuint(g_array_index(after, guint32, 0), ==, 262144);
    g_assert_cmpuint(g_array_index(after, guint32, 1), ==, 0);
    g_assert_cmpuint(g_array_index(after, guint32, 2), ==, 262144);
    g_assert_cmpuint(g_array_index(after, guint32, 3), ==,
                     LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);
    g_assert_cmpuint(g_array_index(after, guint32, 5), ==, 0);

    g_assert_cmpint(nbd_zero(h, 262144, 786432, 0), ==, 0);
    zeroed = block_status(h, 524288, 524288);
    g_assert_cmpuint(zeroed->len, ==, 4);
    g_assert_cmpuint(g_array_index(zeroed, guint32, 0), ==, 262144);
    g_assert_cmpuint(g_array_index(zeroed, guint32, 1), ==, 0);
    g_assert_cmpuint(g_array_index(zeroed, guint32, 3), ==,
                     LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);

    /* and reads of the hole return zeroes */
    g_assert_cmpint(nbd_pread(h, buf, 262144, 262144, 0), ==, 0);
    for (gsize i = 0; i < 262144; i++)
        g_assert_cmpint(buf[i], ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
}

static void
test_readonly(Fixture *f, gconstpointer data)
{
    struct nbd_handle *h = client(f);
    char buf[512] = { 0 };

    g_assert_cmpint(nbd_is_read_only(h), ==, 1);
    xm_nbd_server_set_write_hook(f->server, record_hook, f);
    g_assert_cmpint(nbd_pread(h, buf, sizeof(buf), 0, 0), ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
    g_assert_cmpuint(f->seen->len, ==, 0);
}

static void
test_api(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    struct nbd_handle *h;
    guint16 port = 0;

    g_assert_cmpuint(xm_nbd_server_get_size(f->server), ==, IMAGE_SIZE);
    /* listeners can only be added before start */
    g_assert_false(xm_nbd_server_listen_tcp(f->server, "127.0.0.1", 0,
                                            &port, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);
    g_assert_cmpuint(port, ==, 0);
    g_clear_error(&err);
    g_assert_false(xm_nbd_server_start(f->server, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);

    h = client(f);
    g_assert_cmpint(nbd_get_size(h), ==, IMAGE_SIZE);
    g_assert_cmpint(nbd_can_multi_conn(h), ==, 1);
    g_assert_cmpint(nbd_can_cache(h), ==, 1);
    g_assert_cmpint(nbd_cache(h, 65536, 0, 0), ==, 0);
    g_assert_cmpint(nbd_can_fast_zero(h), ==, 1);
    g_assert_cmpint(nbd_can_df(h), ==, 1);
    g_assert_cmpuint(xm_nbd_server_get_connection_count(f->server), ==, 1);
    /* stop with a client attached, twice */
    xm_nbd_server_stop(f->server);
    xm_nbd_server_stop(f->server);
    g_assert_cmpuint(xm_nbd_server_get_connection_count(f->server), ==, 0);
    g_assert_cmpint(nbd_flush(h, 0), ==, -1);
    nbd_close(h);
}

/* A client that connects and then stalls is dropped after the handshake
 * timeout; one that finished its handshake may idle forever. */
static void
test_handshake_timeout(Fixture *f, gconstpointer data)
{
    g_autoptr(GSocketClient) sc = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(f->sock);
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GError) err = NULL;
    struct nbd_handle *h;
    GInputStream *in;
    char buf[64];
    gssize n, total = 0;
    gint64 start = g_get_monotonic_time();

    conn = g_socket_client_connect(sc, G_SOCKET_CONNECTABLE(addr), NULL,
                                   &err);
    g_assert_no_error(err);
    h = client(f);   /* a proper client, idle past the timeout */
    in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    /* the greeting, then EOF once the server gives up on us */
    while ((n = g_input_stream_read(in, buf, sizeof(buf), NULL, &err)) > 0)
        total += n;
    g_assert_no_error(err);
    g_assert_cmpint(total, ==, 18);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 400 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
    g_usleep(200 * 1000);
    g_assert_cmpint(nbd_flush(h, 0), ==, 0);
    g_assert_cmpuint(xm_nbd_server_get_connection_count(f->server), ==, 1);
    nbd_shutdown(h, 0);
    nbd_close(h);
}

static void
test_new_errors(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("xenmig-new-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "s", NULL);
    XmNbdServerConfig config = { .image_path = "/nonexistent/disk.img" };
    XmNbdServer *s;
    guint16 port = 0;

    s = xm_nbd_server_new(&config, &err);
    g_assert_null(s);
    g_assert_error(err, XM_ERROR, XM_ERR_OPEN_FAILED);
    g_clear_error(&err);

    config.image_path = dir;   /* a directory */
    config.readonly = TRUE;
    g_assert_null(xm_nbd_server_new(&config, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    config.image_path = "/dev/null";   /* a character device */
    g_assert_null(xm_nbd_server_new(&config, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    config.image_path = "/proc/self/exe";
    config.readonly = TRUE;
    config.tls_dir = dir;      /* holds no certificates */
    g_assert_null(xm_nbd_server_new(&config, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPEN_FAILED);
    g_assert_nonnull(strstr(err->message, "ca-cert.pem"));
    g_clear_error(&err);

    config.tls_dir = NULL;
    s = xm_nbd_server_new(&config, &err);
    g_assert_no_error(err);
    g_assert_false(xm_nbd_server_start(s, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    g_assert_true(xm_nbd_server_listen_tcp(s, "127.0.0.1", 0, &port, &err));
    g_assert_cmpuint(port, >, 0);
    g_assert_true(xm_nbd_server_listen_unix(s, sock, &err));
    g_assert_false(xm_nbd_server_listen_unix(s, sock, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);
    /* freed without ever starting */
    xm_nbd_server_free(s);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/nbd-server/hook/kinds", Fixture, NULL, fixture_setup,
               test_hook_kinds, fixture_teardown);
    g_test_add("/nbd-server/hook/failure", Fixture, NULL, fixture_setup,
               test_hook_failure, fixture_teardown);
    g_test_add("/nbd-server/hook/concurrent", Fixture, NULL, fixture_setup,
               test_hook_concurrent, fixture_teardown);
    g_test_add("/nbd-server/concurrent-requests", Fixture, NULL,
               fixture_setup, test_concurrent_requests, fixture_teardown);
    g_test_add("/nbd-server/hook/switch-waits", Fixture, NULL, fixture_setup,
               test_hook_switch_waits, fixture_teardown);
    g_test_add("/nbd-server/block-status/after-trim", Fixture, NULL,
               fixture_setup, test_block_status_after_trim,
               fixture_teardown);
    g_test_add("/nbd-server/readonly", Fixture, GINT_TO_POINTER(1),
               fixture_setup, test_readonly, fixture_teardown);
    g_test_add("/nbd-server/api", Fixture, NULL, fixture_setup, test_api,
               fixture_teardown);
    g_test_add("/nbd-server/handshake-timeout", Fixture, NULL, fixture_setup,
               test_handshake_timeout, fixture_teardown);
    g_test_add_func("/nbd-server/new-errors", test_new_errors);
    return g_test_run();
}
