/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD server's chunk hashes and image digest, in process, driven by
 * libnbd over a unix socket. The expected digest is computed here from
 * the image file with libxxhash, in the format of the migration's image
 * checksum (xxh3-128 over the canonical xxh3-128 of each chunk; chunks
 * of 256 KiB on images of this size, see test_chunk_size).
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <libnbd.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <xenmig/nbd-server.h>
#include <xenmig/error.h>

#define MiB (1024u * 1024)
#define CHUNK (256u * 1024)

typedef struct {
    char *dir;
    char *image;
    char *sock;
    guint64 size;
    XmNbdServer *server;
    struct nbd_handle *nbd;
} Fixture;

/* Random data, a hole and allocated zeros, so reads of every kind of
 * extent are hashed. */
static void
make_image(const char *path, guint64 size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_autofree guint8 *buf = g_malloc(MiB);
    GRand *r = g_rand_new_with_seed(42);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    for (guint64 off = 0; off < size; off += MiB) {
        guint64 len = MIN(MiB, size - off);
        guint kind = (guint)(off / MiB) % 4;

        if (kind == 3)
            continue;                 /* hole */
        for (guint i = 0; i < MiB / 4; i++)
            ((guint32 *)buf)[i] = kind == 2 ? 0 : g_rand_int(r);
        g_assert_cmpint(pwrite(fd, buf, len, (off_t)off), ==, (gssize)len);
    }
    g_rand_free(r);
    close(fd);
}

/* The digest of @path computed independently of the library. */
static void
file_digest(const char *path, char out[33])
{
    g_autofree guint8 *buf = g_malloc(CHUNK);
    XXH3_state_t *st = XXH3_createState();
    XXH128_canonical_t canon;
    int fd = open(path, O_RDONLY);
    ssize_t n;
    off_t off = 0;

    g_assert_cmpint(fd, >=, 0);
    XXH3_128bits_reset(st);
    while ((n = pread(fd, buf, CHUNK, off)) > 0) {
        XXH128_canonicalFromHash(&canon, XXH3_128bits(buf, (size_t)n));
        XXH3_128bits_update(st, &canon, sizeof(canon));
        off += n;
    }
    g_assert_cmpint(n, ==, 0);
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    for (guint i = 0; i < 16; i++)
        g_snprintf(out + 2 * i, 3, "%02x", canon.digest[i]);
    XXH3_freeState(st);
    close(fd);
}

static void
setup(Fixture *f, gconstpointer data)
{
    XmNbdServerConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *uri = NULL;

    f->size = GPOINTER_TO_SIZE(data);
    f->dir = g_dir_make_tmp("xm-digest-XXXXXX", &err);
    g_assert_no_error(err);
    f->image = g_build_filename(f->dir, "img", NULL);
    f->sock = g_build_filename(f->dir, "sock", NULL);
    make_image(f->image, f->size);
    cfg.image_path = f->image;
    f->server = xm_nbd_server_new(&cfg, &err);
    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_listen_unix(f->server, f->sock, &err));
    g_assert_true(xm_nbd_server_start(f->server, &err));
    f->nbd = nbd_create();
    g_assert_nonnull(f->nbd);
    uri = g_strdup_printf("nbd+unix:///?socket=%s", f->sock);
    g_assert_cmpint(nbd_connect_uri(f->nbd, uri), ==, 0);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    nbd_shutdown(f->nbd, 0);
    nbd_close(f->nbd);
    xm_nbd_server_free(f->server);
    unlink(f->image);
    unlink(f->sock);
    g_rmdir(f->dir);
    g_free(f->image);
    g_free(f->sock);
    g_free(f->dir);
}

static guint64
nchunks(Fixture *f)
{
    return (f->size + CHUNK - 1) / CHUNK;
}

/* What verification does: one READ per whole chunk. */
static void
read_all_chunks(Fixture *f)
{
    g_autofree guint8 *buf = g_malloc(CHUNK);

    for (guint64 off = 0; off < f->size; off += CHUNK)
        g_assert_cmpint(nbd_pread(f->nbd, buf, MIN(CHUNK, f->size - off), off, 0),
                        ==, 0);
}

static guint64
digest_reads(Fixture *f)
{
    guint64 n;

    xm_nbd_server_get_chunk_hash_stats(f->server, NULL, &n);
    return n;
}

static guint64
valid_chunks(Fixture *f)
{
    guint64 n;

    xm_nbd_server_get_chunk_hash_stats(f->server, &n, NULL);
    return n;
}

/* Checks the server's digest against the file's and returns how many
 * bytes the server read for it. */
static guint64
check_digest(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    char want[33], got[33];
    guint64 before = digest_reads(f);

    file_digest(f->image, want);
    g_assert_true(xm_nbd_server_image_digest(f->server, NULL, got, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(strlen(got), ==, 32);
    g_assert_cmpstr(got, ==, want);
    return digest_reads(f) - before;
}

static void
test_no_hashes(Fixture *f, gconstpointer data)
{
    read_all_chunks(f);
    g_assert_cmpuint(valid_chunks(f), ==, 0);
    g_assert_cmpuint(check_digest(f), ==, f->size);
}

static void
test_reads_recorded(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    read_all_chunks(f);
    g_assert_cmpuint(valid_chunks(f), ==, nchunks(f));
    /* every chunk was hashed by the reads: nothing is read again */
    g_assert_cmpuint(check_digest(f), ==, 0);
    /* and a second digest does not read either */
    g_assert_cmpuint(check_digest(f), ==, 0);
}

static void
test_unaligned_not_recorded(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc(2 * CHUNK);

    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    /* shifted, partial and double chunks are not what verification reads */
    g_assert_cmpint(nbd_pread(f->nbd, buf, CHUNK, 4096, 0), ==, 0);
    g_assert_cmpint(nbd_pread(f->nbd, buf, CHUNK / 2, 0, 0), ==, 0);
    g_assert_cmpint(nbd_pread(f->nbd, buf, 2 * CHUNK, 0, 0), ==, 0);
    g_assert_cmpuint(valid_chunks(f), ==, 0);
    g_assert_cmpuint(check_digest(f), ==, f->size);
    /* the digest's own reads are recorded too */
    g_assert_cmpuint(valid_chunks(f), ==, nchunks(f));
    g_assert_cmpuint(check_digest(f), ==, 0);
}

/* A write, a zero and a trim through the server after the chunks were
 * hashed: each touched chunk (and only those) is read again, and the
 * digest is that of the changed image. */
static void
test_writes_invalidate(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    guint8 junk[512];
    guint64 last = (nchunks(f) - 1) * CHUNK;
    guint64 expect;

    memset(junk, 0xa5, sizeof(junk));
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    read_all_chunks(f);
    g_assert_cmpuint(valid_chunks(f), ==, nchunks(f));
    /* chunk 0; a range straddling chunks 1 and 2; the tail chunk */
    g_assert_cmpint(nbd_pwrite(f->nbd, junk, sizeof(junk), 100 * 512, 0), ==, 0);
    g_assert_cmpint(nbd_zero(f->nbd, CHUNK + CHUNK / 2, CHUNK, 0), ==, 0);
    g_assert_cmpint(nbd_trim(f->nbd, 4096, f->size - 4096, 0), ==, 0);
    g_assert_cmpuint(valid_chunks(f), ==, nchunks(f) - 4);
    expect = 3 * CHUNK + (f->size - last);
    g_assert_cmpuint(check_digest(f), ==, expect);
    g_assert_cmpuint(check_digest(f), ==, 0);
}

/* The case the generations guard: a chunk hashed, then overwritten
 * through the server with different data; the digest must change. */
static void
test_corruption_caught(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    char before[33], after[33];
    guint8 junk[4096];

    memset(junk, 0x5a, sizeof(junk));
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    read_all_chunks(f);
    g_assert_true(xm_nbd_server_image_digest(f->server, NULL, before, &err));
    g_assert_cmpint(nbd_pwrite(f->nbd, junk, sizeof(junk), CHUNK + 8192, 0), ==, 0);
    g_assert_true(xm_nbd_server_image_digest(f->server, NULL, after, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(before, !=, after);
    g_assert_cmpuint(check_digest(f), ==, 0);
}

static void
wait_cmd(struct nbd_handle *h, int64_t cookie)
{
    int rc;

    g_assert_cmpint(cookie, >, 0);
    while ((rc = nbd_aio_command_completed(h, cookie)) == 0)
        g_assert_cmpint(nbd_poll(h, -1), >=, 0);
    g_assert_cmpint(rc, ==, 1);
}

/* A whole-chunk read and a write into the same chunk in flight together,
 * over and over: whichever lands first, the digest afterwards must be the
 * image's. A hash of bytes the write changed while they were read (or
 * kept although the write came after) would make it differ. */
static void
test_read_write_race(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *rbuf = g_malloc(CHUNK);
    g_autofree guint8 *wbuf = g_malloc(CHUNK);
    g_autofree char *uri = g_strdup_printf("nbd+unix:///?socket=%s", f->sock);
    struct nbd_handle *w = nbd_create();

    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    g_assert_cmpint(nbd_connect_uri(w, uri), ==, 0);
    for (int i = 0; i < 160; i++) {
        /* sizes and order vary where the write lands in the read */
        gsize wlen = (gsize)(i % 8 + 1) * CHUNK / 16;
        int64_t rc, wc;

        memset(wbuf, i + 1, wlen);
        if (i % 2) {
            rc = nbd_aio_pread(f->nbd, rbuf, CHUNK, CHUNK, NBD_NULL_COMPLETION, 0);
            wc = nbd_aio_pwrite(w, wbuf, wlen, CHUNK + (i % 4) * CHUNK / 8,
                                NBD_NULL_COMPLETION, 0);
        } else {
            wc = nbd_aio_pwrite(w, wbuf, wlen, CHUNK + (i % 4) * CHUNK / 8,
                                NBD_NULL_COMPLETION, 0);
            rc = nbd_aio_pread(f->nbd, rbuf, CHUNK, CHUNK, NBD_NULL_COMPLETION, 0);
        }
        wait_cmd(f->nbd, rc);
        wait_cmd(w, wc);
        check_digest(f);
    }
    nbd_shutdown(w, 0);
    nbd_close(w);
}

typedef struct {
    gint calls;
    XmNbdWriteKind kind;
    guint64 offset;
    guint64 length;
} HookSeen;

static gboolean
seen_hook(gpointer data, XmNbdWriteKind kind, guint64 offset, guint64 length,
          const void *buf, GError **error)
{
    HookSeen *h = data;

    h->kind = kind;
    h->offset = offset;
    h->length = length;
    g_atomic_int_inc(&h->calls);
    return TRUE;
}

/* A write the image refuses (beyond RLIMIT_FSIZE: EFBIG) may have changed
 * part of its range: its chunk hash is dropped and the hook hears of it as
 * a trim, so a mirror re-reads the range instead of trusting old hashes. */
static void
test_failed_write(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    guint8 junk[8192];
    HookSeen seen = { 0 };
    struct rlimit old, lim;

    memset(junk, 0x77, sizeof(junk));
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    read_all_chunks(f);
    xm_nbd_server_set_write_hook(f->server, seen_hook, &seen);
    g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &old), ==, 0);
    lim = old;
    lim.rlim_cur = 2 * CHUNK;
    signal(SIGXFSZ, SIG_IGN);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);
    g_assert_cmpint(nbd_pwrite(f->nbd, junk, sizeof(junk), 3 * CHUNK, 0), ==, -1);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old), ==, 0);
    xm_nbd_server_set_write_hook(f->server, NULL, NULL);
    g_assert_cmpint(g_atomic_int_get(&seen.calls), ==, 1);
    g_assert_cmpint(seen.kind, ==, XM_NBD_TRIM);
    g_assert_cmpuint(seen.offset, ==, 3 * CHUNK);
    g_assert_cmpuint(seen.length, ==, sizeof(junk));
    g_assert_cmpuint(valid_chunks(f), ==, nchunks(f) - 1);
    g_assert_cmpuint(check_digest(f), ==, CHUNK);
}

/* The digest's chunk depends on the image size alone: 256 KiB up to
 * 2^20 chunks, then doubled. */
static void
test_chunk_size(void)
{
    const guint64 GiB = 1024 * (guint64)MiB;

    g_assert_cmpuint(xm_digest_chunk_size(0), ==, 256 * 1024);
    g_assert_cmpuint(xm_digest_chunk_size(21 * MiB + 12345), ==, CHUNK);
    g_assert_cmpuint(xm_digest_chunk_size(256 * GiB), ==, 256 * 1024);
    g_assert_cmpuint(xm_digest_chunk_size(256 * GiB + 1), ==, 512 * 1024);
    g_assert_cmpuint(xm_digest_chunk_size(1024 * GiB), ==, MiB);
    g_assert_cmpuint(xm_digest_chunk_size(G_GUINT64_CONSTANT(1) << 50), ==,
                     G_GUINT64_CONSTANT(1) << 30);
}

/* Hashes recorded for chunks of another size are not the digest's: it
 * reads the whole image, and is still right. */
static void
test_other_chunk_size(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc(MiB);

    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, MiB, &err));
    g_assert_no_error(err);
    for (guint64 off = 0; off < f->size; off += MiB)
        g_assert_cmpint(nbd_pread(f->nbd, buf, MIN(MiB, f->size - off), off, 0), ==, 0);
    g_assert_cmpuint(check_digest(f), ==, f->size);
}

static void
test_bad_args(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GCancellable) c = g_cancellable_new();
    char out[33] = "unchanged";

    g_assert_false(xm_nbd_server_enable_chunk_hashes(f->server, 3 * MiB, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->server, CHUNK, &err));
    g_assert_false(xm_nbd_server_enable_chunk_hashes(f->server, MiB, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);
    g_cancellable_cancel(c);
    g_assert_false(xm_nbd_server_image_digest(f->server, c, out, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_assert_cmpstr(out, ==, "unchanged");
}

int
main(int argc, char **argv)
{
    /* six whole chunks; and an odd size whose last chunk is partial */
    gpointer even = GSIZE_TO_POINTER((gsize)24 * MiB);
    gpointer odd = GSIZE_TO_POINTER((gsize)21 * MiB + 12345);

    g_test_init(&argc, &argv, NULL);
    g_test_add("/nbd-server/digest/no-hashes", Fixture, even, setup,
               test_no_hashes, teardown);
    g_test_add("/nbd-server/digest/reads-recorded", Fixture, even, setup,
               test_reads_recorded, teardown);
    g_test_add("/nbd-server/digest/reads-recorded-odd", Fixture, odd, setup,
               test_reads_recorded, teardown);
    g_test_add("/nbd-server/digest/unaligned-not-recorded", Fixture, odd, setup,
               test_unaligned_not_recorded, teardown);
    g_test_add("/nbd-server/digest/writes-invalidate", Fixture, even, setup,
               test_writes_invalidate, teardown);
    g_test_add("/nbd-server/digest/writes-invalidate-odd", Fixture, odd, setup,
               test_writes_invalidate, teardown);
    g_test_add("/nbd-server/digest/corruption-caught", Fixture, even, setup,
               test_corruption_caught, teardown);
    g_test_add("/nbd-server/digest/read-write-race", Fixture, even, setup,
               test_read_write_race, teardown);
    g_test_add("/nbd-server/digest/failed-write", Fixture, even, setup,
               test_failed_write, teardown);
    g_test_add_func("/nbd-server/digest/chunk-size", test_chunk_size);
    g_test_add("/nbd-server/digest/other-chunk-size", Fixture, odd, setup,
               test_other_chunk_size, teardown);
    g_test_add("/nbd-server/digest/bad-args", Fixture, even, setup,
               test_bad_args, teardown);
    return g_test_run();
}
