/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verification ahead of time (xm_mirror_job_preverify()) and its limits:
 * what the final verification reads while the source is stopped, counted
 * by the job's progress, and the destination's own digest from our NBD
 * server's chunk hashes. Source and destination are our XmNbdServer in
 * this process; the "guest" is a libnbd client writing through the
 * source server. XM_PREVERIFY_MIB overrides the image size (to measure).
 */
#include "config.h"

#include <fcntl.h>
#include <libnbd.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include <gio/gio.h>
#include <xenmig/error.h>
#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>

#define MiB (1024u * 1024)
/* the digest's chunk on images of this size (xm_digest_chunk_size()):
 * what the verification compares and re-reads on both sides */
#define CHUNK (256u * 1024)
/* the unit of the places the tests write into */
#define AREA (4 * MiB)
/* the guest's writes go to the first two areas */
#define HOT (2 * AREA)

typedef struct {
    char *dir;
    char *src;
    char *dst;
    char *src_sock;
    char *dst_sock;
    char *dst_uri;
    guint64 size;
    XmNbdServer *src_server;
    XmNbdServer *dst_server;
} Fixture;

typedef struct {
    char *uri;
    guint64 hot;
    gint stop;
    guint64 written;
    GError *error;
} Writer;

static void
write_pattern(const char *path, guint64 size, guint32 seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_autofree guint8 *buf = g_malloc(MiB);
    GRand *r = g_rand_new_with_seed(seed);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    for (guint64 off = 0; off < size; off += MiB) {
        guint64 len = MIN(MiB, size - off);

        if (g_rand_int_range(r, 0, 4) == 0)
            continue;           /* a hole */
        for (guint i = 0; i < MiB / 4; i++)
            ((guint32 *)buf)[i] = g_rand_int(r);
        g_assert_cmpint(pwrite(fd, buf, len, (off_t)off), ==, (gssize)len);
    }
    g_rand_free(r);
    close(fd);
}

/* The digest of a file, computed here: xxh3-128 over the canonical
 * xxh3-128 of each chunk. */
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
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    for (guint i = 0; i < 16; i++)
        g_snprintf(out + 2 * i, 3, "%02x", canon.digest[i]);
    XXH3_freeState(st);
    close(fd);
}

static void
poke_file(const char *path, guint64 off, guint8 byte, gsize len)
{
    g_autofree guint8 *buf = g_malloc(len);
    int fd = open(path, O_WRONLY);

    memset(buf, byte, len);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, buf, len, (off_t)off), ==, (gssize)len);
    close(fd);
}

static XmNbdServer *
serve(const char *image, const char *sock)
{
    XmNbdServerConfig cfg = { .image_path = image };
    g_autoptr(GError) err = NULL;
    XmNbdServer *s = xm_nbd_server_new(&cfg, &err);

    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_listen_unix(s, sock, &err));
    g_assert_true(xm_nbd_server_start(s, &err));
    return s;
}

static void
setup(Fixture *f, gconstpointer data)
{
    const char *mib = g_getenv("XM_PREVERIFY_MIB");
    g_autoptr(GError) err = NULL;

    f->size = (mib ? g_ascii_strtoull(mib, NULL, 10) : 40) * MiB;
    f->dir = g_dir_make_tmp("xm-preverify-XXXXXX", &err);
    g_assert_no_error(err);
    f->src = g_build_filename(f->dir, "src.img", NULL);
    f->dst = g_build_filename(f->dir, "dst.img", NULL);
    f->src_sock = g_build_filename(f->dir, "src.sock", NULL);
    f->dst_sock = g_build_filename(f->dir, "dst.sock", NULL);
    f->dst_uri = g_strdup_printf("nbd+unix:///?socket=%s", f->dst_sock);
    write_pattern(f->src, f->size, 7);
    g_assert_true(g_file_set_contents(f->dst, "", 0, NULL));
    g_assert_cmpint(truncate(f->dst, (off_t)f->size), ==, 0);
    /* the destination of a migration: our server with chunk hashes */
    f->dst_server = serve(f->dst, f->dst_sock);
    g_assert_true(xm_nbd_server_enable_chunk_hashes(f->dst_server,
                                                    xm_digest_chunk_size(f->size), &err));
    g_assert_no_error(err);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

    xm_nbd_server_free(f->src_server);
    xm_nbd_server_free(f->dst_server);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir);
    g_free(f->src);
    g_free(f->dst);
    g_free(f->src_sock);
    g_free(f->dst_sock);
    g_free(f->dst_uri);
}

static gpointer
writer_main(gpointer data)
{
    Writer *w = data;
    struct nbd_handle *h = nbd_create();
    GRand *r = g_rand_new_with_seed(3);
    guint8 buf[64 * 1024];

    if (nbd_connect_uri(h, w->uri) == -1) {
        g_set_error(&w->error, XM_ERROR, XM_ERR_NO_CONNECT, "%s", nbd_get_error());
        goto out;
    }
    while (!g_atomic_int_get(&w->stop)) {
        guint64 len = (guint64)g_rand_int_range(r, 1, 16) * 4096;
        guint64 off = (guint64)g_rand_int_range(r, 0, (gint32)((w->hot - len) / 4096)) * 4096;
        int rc;

        for (guint i = 0; i < len / 4; i++)
            ((guint32 *)buf)[i] = g_rand_int(r);
        rc = g_rand_int_range(r, 0, 8) ? nbd_pwrite(h, buf, len, off, 0)
                                       : nbd_zero(h, len, off, 0);
        if (rc == -1) {
            g_set_error(&w->error, XM_ERROR, XM_ERR_WRITE_FAILED, "%s", nbd_get_error());
            goto out;
        }
        w->written += len;
        g_usleep(2000);
    }
    nbd_shutdown(h, 0);
 out:
    nbd_close(h);
    g_rand_free(r);
    return NULL;
}

/* Waits until at least @bytes of the image are verified ahead of time. */
static void
wait_verified(XmMirrorJob *job, guint64 bytes)
{
    XmMirrorProgress p;

    for (int i = 0; i < 400; i++) {
        xm_mirror_job_get_progress(job, &p);
        g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p.verified >= bytes)
            return;
        g_usleep(50 * 1000);
    }
    g_error("only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes verified ahead",
            p.verified, bytes);
}

static void
wait_dest_hashed(XmMirrorJob *job, guint64 bytes)
{
    XmMirrorProgress p;

    for (int i = 0; i < 400; i++) {
        xm_mirror_job_get_progress(job, &p);
        g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p.verify_read_dest >= bytes)
            return;
        g_usleep(50 * 1000);
    }
    g_error("only %" G_GUINT64_FORMAT " bytes of the destination hashed ahead",
            p.verify_read_dest);
}

static XmMirrorJob *
tracked_job(Fixture *f, gboolean sync)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *src_uri = NULL;
    XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED, .verify = TRUE,
                          .bandwidth_mib = 200 };
    XmMirrorJob *job;

    f->src_server = xm_nbd_server_new(&(XmNbdServerConfig){ .image_path = f->src },
                                      &err);
    g_assert_no_error(err);
    job = xm_mirror_job_new(f->src, f->dst_uri, &o, &err);
    g_assert_no_error(err);
    g_assert_true(xm_mirror_job_attach_server(job, f->src_server, &err));
    g_assert_true(xm_mirror_job_start(job, &err));
    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_listen_unix(f->src_server, f->src_sock, &err));
    g_assert_true(xm_nbd_server_start(f->src_server, &err));
    if (sync)
        xm_mirror_job_request_sync(job);
    return job;
}

/* The source, the destination image and our destination server's digest
 * all agree with the job's result. */
static void
check_result(Fixture *f, const XmMirrorResult *res)
{
    g_autoptr(GError) err = NULL;
    char want[33], got[33];

    g_assert_true(res->verified);
    file_digest(f->src, want);
    g_assert_cmpstr(res->source_checksum, ==, want);
    g_assert_cmpstr(res->dest_checksum, ==, want);
    file_digest(f->dst, got);
    g_assert_cmpstr(got, ==, want);
    g_assert_true(xm_nbd_server_image_digest(f->dst_server, NULL, got, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(got, ==, want);
}

/* A guest writes through the tracked server the whole time; the final
 * verification reads only the chunks it kept changing. */
static void
test_tracked_writer(Fixture *f, gconstpointer data)
{
    gboolean sync = GPOINTER_TO_INT(data);
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    Writer w = { .hot = HOT };
    guint64 dst_read0, dst_read;
    GThread *t;
    gint64 t0;

    job = tracked_job(f, sync);
    xm_mirror_job_preverify(job);
    w.uri = g_strdup_printf("nbd+unix:///?socket=%s", f->src_sock);
    t = g_thread_new("writer", writer_main, &w);
    /* everything but the hot chunks gets verified while the guest writes */
    wait_verified(job, f->size - HOT);
    g_usleep(300 * 1000);
    g_atomic_int_set(&w.stop, 1);
    g_thread_join(t);
    g_assert_no_error(w.error);
    g_assert_cmpuint(w.written, >, 0);

    /* the guest is paused */
    xm_nbd_server_stop(f->src_server);
    xm_nbd_server_get_chunk_hash_stats(f->dst_server, NULL, &dst_read0);
    xm_mirror_job_get_progress(job, &before);
    t0 = g_get_monotonic_time();
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    t0 = g_get_monotonic_time() - t0;
    xm_mirror_job_get_progress(job, &after);
    check_result(f, &res);
    g_test_message("image %" G_GUINT64_FORMAT " MiB; complete() took %" G_GINT64_FORMAT
                   " ms and read source %" G_GUINT64_FORMAT " KiB, destination %"
                   G_GUINT64_FORMAT " KiB", f->size / MiB, t0 / 1000,
                   (after.verify_read_source - before.verify_read_source) / 1024,
                   (after.verify_read_dest - before.verify_read_dest) / 1024);
    /* at most the hot chunks (and one a last write straddled) */
    g_assert_cmpuint(after.verify_read_source - before.verify_read_source, <=, HOT + CHUNK);
    g_assert_cmpuint(after.verify_read_dest - before.verify_read_dest, <=, HOT + CHUNK);
    g_assert_cmpuint(after.verified, ==, f->size);
    /* the destination's digest re-read only what the job wrote since its
     * chunks were read (in the final verification at most the hot ones) */
    xm_nbd_server_get_chunk_hash_stats(f->dst_server, NULL, &dst_read);
    g_test_message("the destination's digest read %" G_GUINT64_FORMAT " KiB",
                   (dst_read - dst_read0) / 1024);
    g_assert_cmpuint(dst_read - dst_read0, <=, HOT + CHUNK);
    g_free(w.uri);
}

/* Windows of the image a sparse guest writes into: one in the middle of
 * a chunk, one across a chunk boundary, one near a chunk's end. */
static const struct {
    guint64 off;
    guint64 len;
} windows[] = {
    { 1 * AREA + 100 * 1024, 32 * 1024 },
    { 4 * AREA + CHUNK - 8 * 1024, 16 * 1024 },
    { 8 * AREA + CHUNK - 64 * 1024, 64 * 1024 },
};

/* The guest writes a few KiB here and there for a second while the job
 * keeps its hashes current; once it is paused, the final verification
 * reads on both sides only the chunks it wrote since. */
static void
test_sparse_writer(Fixture *f, gconstpointer data)
{
    gboolean sync = GPOINTER_TO_INT(data);
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    g_autofree char *uri = g_strdup_printf("nbd+unix:///?socket=%s", f->src_sock);
    g_autofree gboolean *chunk_hit = g_new0(gboolean, f->size / CHUNK);
    struct nbd_handle *h = nbd_create();
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    GRand *r = g_rand_new_with_seed(11);
    guint8 buf[4096];
    guint64 chunks = 0, rs, rd;
    gint64 t0, end;

    g_assert_cmpuint(f->size, >=, 9 * AREA);
    job = tracked_job(f, sync);
    xm_mirror_job_preverify(job);
    wait_verified(job, f->size);
    g_assert_cmpint(nbd_connect_uri(h, uri), ==, 0);
    end = g_get_monotonic_time() + G_USEC_PER_SEC;
    /* the last round comes right before the pause: the paused
     * verification has something to read again */
    for (gboolean last = FALSE; !last;) {
        last = g_get_monotonic_time() >= end;
        for (guint i = 0; i < G_N_ELEMENTS(windows); i++) {
            guint64 off = windows[i].off +
                          (guint64)g_rand_int_range(r, 0, (gint32)(windows[i].len / 4096)) * 4096;

            for (guint j = 0; j < sizeof(buf) / 4; j++)
                ((guint32 *)buf)[j] = g_rand_int(r);
            g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf), off, 0), ==, 0);
            if (!chunk_hit[off / CHUNK]++)
                chunks++;
        }
        g_usleep(5000);
    }
    nbd_shutdown(h, 0);
    nbd_close(h);
    g_rand_free(r);

    /* the guest is paused */
    xm_nbd_server_stop(f->src_server);
    xm_mirror_job_get_progress(job, &before);
    t0 = g_get_monotonic_time();
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    t0 = g_get_monotonic_time() - t0;
    xm_mirror_job_get_progress(job, &after);
    check_result(f, &res);
    rs = after.verify_read_source - before.verify_read_source;
    rd = after.verify_read_dest - before.verify_read_dest;
    g_test_message("image %" G_GUINT64_FORMAT " MiB, %" G_GUINT64_FORMAT
                   " chunks written; complete() took %" G_GINT64_FORMAT
                   " ms and read source %" G_GUINT64_FORMAT " KiB, destination %"
                   G_GUINT64_FORMAT " KiB", f->size / MiB, chunks, t0 / 1000,
                   rs / 1024, rd / 1024);
    g_assert_cmpuint(chunks, ==, 4);
    /* a sweep may have a chunk in flight on each of the job's 4
     * connections when "before" is taken; those reads end inside
     * complete() (seen under ASan: 8 chunks of the destination). Either
     * way far less than the whole image (160 chunks by default) is read
     * again. */
    g_assert_cmpuint(rd, <=, (chunks + 4) * CHUNK);
    g_assert_cmpuint(rs, <=, (chunks + 4) * CHUNK);
    g_assert_cmpuint(after.verified, ==, f->size);
}

/* The final verification names the first chunk that differs, and
 * the destination digest it reports is the destination's own. */
static void
test_mismatch(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    g_autofree char *where = g_strdup_printf("offset %u ", 2 * AREA + 2 * CHUNK);
    XmMirrorProgress p;
    char dst[33];

    job = tracked_job(f, FALSE);
    for (int i = 0;; i++) {
        xm_mirror_job_get_progress(job, &p);
        g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p.phase != XM_MIRROR_PHASE_BULK && p.remaining == 0)
            break;
        g_assert_cmpint(i, <, 400);
        g_usleep(50 * 1000);
    }
    /* behind the destination server's back, after the copy */
    poke_file(f->dst, 2 * AREA + 2 * CHUNK + 1000, 0x5a, 100);
    xm_nbd_server_stop(f->src_server);
    g_assert_false(xm_mirror_job_complete(job, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "verification failed"));
    g_assert_nonnull(strstr(err->message, "in 1 chunk(s)"));
    g_assert_nonnull(strstr(err->message, where));
    file_digest(f->dst, dst);
    g_assert_nonnull(strstr(err->message, dst));
}

/* Without preverify the final verification reads both images whole. */
static void
test_tracked_no_preverify(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    gint64 t0;

    job = tracked_job(f, FALSE);
    g_usleep(500 * 1000);
    xm_nbd_server_stop(f->src_server);
    xm_mirror_job_get_progress(job, &before);
    g_assert_cmpuint(before.verified, ==, 0);
    t0 = g_get_monotonic_time();
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    t0 = g_get_monotonic_time() - t0;
    xm_mirror_job_get_progress(job, &after);
    check_result(f, &res);
    g_test_message("image %" G_GUINT64_FORMAT " MiB; complete() took %" G_GINT64_FORMAT
                   " ms and read source %" G_GUINT64_FORMAT " KiB, destination %"
                   G_GUINT64_FORMAT " KiB", f->size / MiB, t0 / 1000,
                   (after.verify_read_source - before.verify_read_source) / 1024,
                   (after.verify_read_dest - before.verify_read_dest) / 1024);
    g_assert_cmpuint(after.verify_read_source - before.verify_read_source, ==, f->size);
    g_assert_cmpuint(after.verify_read_dest - before.verify_read_dest, ==, f->size);
}

/* A client of the destination server overwrites a chunk the job already
 * hashed: the job cannot see it, the destination's digest does. */
static void
test_dest_write_caught(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorResult res = { 0 };
    struct nbd_handle *h = nbd_create();
    guint8 junk[4096];
    char digest[33], file[33];

    job = tracked_job(f, FALSE);
    xm_mirror_job_preverify(job);
    wait_verified(job, f->size);
    memset(junk, 0xee, sizeof(junk));
    g_assert_cmpint(nbd_connect_uri(h, f->dst_uri), ==, 0);
    g_assert_cmpint(nbd_pwrite(h, junk, sizeof(junk), 3 * AREA + 4096, 0), ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
    xm_nbd_server_stop(f->src_server);
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    /* the source side compared its early hash of that chunk ... */
    g_assert_true(res.verified);
    /* ... but the destination's own digest does not match the source's */
    g_assert_true(xm_nbd_server_image_digest(f->dst_server, NULL, digest, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(digest, !=, res.source_checksum);
    file_digest(f->dst, file);
    g_assert_cmpstr(digest, ==, file);
}

/* A chunk of the destination image changed behind its server's back after
 * it was hashed: neither the job nor the server's hashes can see that (no
 * generation moved); only reading the image again does. This documents
 * the limit of the scheme. */
static void
test_dest_behind_back(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorResult res = { 0 };
    char cached[33], full[33];

    job = tracked_job(f, FALSE);
    xm_mirror_job_preverify(job);
    wait_verified(job, f->size);
    poke_file(f->dst, 2 * AREA + 512, 0x11, 512);
    xm_nbd_server_stop(f->src_server);
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_image_digest(f->dst_server, NULL, cached, &err));
    g_assert_cmpstr(cached, ==, res.source_checksum);
    file_digest(f->dst, full);
    g_assert_cmpstr(full, !=, res.source_checksum);
}

/* Scan mode: the destination is hashed between passes; complete() runs
 * the final pass, which hashes the source as it reads it, and re-reads
 * only the destination chunks that pass wrote. */
static void
test_scan(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorOptions o = { .mode = XM_MIRROR_SCAN, .verify = TRUE };
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    gint64 t0;

    job = xm_mirror_job_new(f->src, f->dst_uri, &o, &err);
    g_assert_no_error(err);
    xm_mirror_job_preverify(job);
    g_assert_true(xm_mirror_job_start(job, &err));
    g_assert_no_error(err);
    wait_dest_hashed(job, f->size);
    /* the guest writes into two chunks, then is paused */
    poke_file(f->src, AREA + 8192, 0x42, 4096);
    poke_file(f->src, f->size - 4096, 0x43, 4096);
    xm_mirror_job_get_progress(job, &before);
    t0 = g_get_monotonic_time();
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    t0 = g_get_monotonic_time() - t0;
    xm_mirror_job_get_progress(job, &after);
    check_result(f, &res);
    g_test_message("image %" G_GUINT64_FORMAT " MiB; complete() took %" G_GINT64_FORMAT
                   " ms; passes read %" G_GUINT64_FORMAT " KiB of the source, "
                   "verification %" G_GUINT64_FORMAT " KiB of the source and %"
                   G_GUINT64_FORMAT " KiB of the destination", f->size / MiB, t0 / 1000,
                   (after.scanned - before.scanned) / 1024,
                   (after.verify_read_source - before.verify_read_source) / 1024,
                   (after.verify_read_dest - before.verify_read_dest) / 1024);
    /* the source was read once, by the final pass */
    g_assert_cmpuint(after.scanned - before.scanned, ==, f->size);
    g_assert_cmpuint(after.verify_read_source - before.verify_read_source, ==, 0);
    /* the destination: the two chunks that pass wrote */
    g_assert_cmpuint(after.verify_read_dest - before.verify_read_dest, ==, 2 * CHUNK);
}

/* Without preverify a scan job completes as before: the requested pass,
 * then a verification reading both images whole. */
static void
test_scan_no_preverify_unchanged(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorOptions o = { .mode = XM_MIRROR_SCAN, .verify = TRUE };
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    gint64 t0;

    job = xm_mirror_job_new(f->src, f->dst_uri, &o, &err);
    g_assert_no_error(err);
    g_assert_true(xm_mirror_job_start(job, &err));
    g_assert_no_error(err);
    g_usleep(300 * 1000);
    poke_file(f->src, AREA + 8192, 0x42, 4096);
    xm_mirror_job_request_pass(job);
    xm_mirror_job_get_progress(job, &before);
    t0 = g_get_monotonic_time();
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    t0 = g_get_monotonic_time() - t0;
    xm_mirror_job_get_progress(job, &after);
    check_result(f, &res);
    g_test_message("image %" G_GUINT64_FORMAT " MiB; complete() took %" G_GINT64_FORMAT
                   " ms; passes read %" G_GUINT64_FORMAT " KiB of the source, "
                   "verification %" G_GUINT64_FORMAT " KiB of the source and %"
                   G_GUINT64_FORMAT " KiB of the destination", f->size / MiB, t0 / 1000,
                   (after.scanned - before.scanned) / 1024,
                   (after.verify_read_source - before.verify_read_source) / 1024,
                   (after.verify_read_dest - before.verify_read_dest) / 1024);
    /* without preverify: the requested pass, then both images whole */
    g_assert_cmpuint(after.verify_read_source - before.verify_read_source, ==, f->size);
    g_assert_cmpuint(after.verify_read_dest - before.verify_read_dest, ==, f->size);
}

/* Reading the destination ahead of time shares the job's bandwidth
 * limit with the copy. */
static void
test_bandwidth(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmMirrorJob) job = NULL;
    XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED, .verify = TRUE,
                          .bandwidth_mib = 32 };
    XmMirrorResult res = { 0 };
    XmMirrorProgress p;
    double rate = 32.0 * MiB, elapsed;
    gint64 t0 = g_get_monotonic_time();

    f->src_server = xm_nbd_server_new(&(XmNbdServerConfig){ .image_path = f->src },
                                      &err);
    g_assert_no_error(err);
    job = xm_mirror_job_new(f->src, f->dst_uri, &o, &err);
    g_assert_no_error(err);
    g_assert_true(xm_mirror_job_attach_server(job, f->src_server, &err));
    xm_mirror_job_preverify(job);
    g_assert_true(xm_mirror_job_start(job, &err));
    g_assert_no_error(err);
    for (;;) {
        xm_mirror_job_get_progress(job, &p);
        g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p.verified == f->size)
            break;
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
        g_usleep(20 * 1000);
    }
    elapsed = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    g_test_message("sent %" G_GUINT64_FORMAT " KiB and read %" G_GUINT64_FORMAT
                   " KiB of the destination in %.2f s", p.sent / 1024,
                   p.verify_read_dest / 1024, elapsed);
    g_assert_cmpuint(p.verify_read_dest, ==, f->size);
    /* the limiter's burst is a tenth of a second */
    g_assert_cmpfloat((double)(p.sent + p.verify_read_dest), <=, rate * (elapsed + 0.1) + MiB);
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    check_result(f, &res);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/mirror-preverify/tracked-writer", Fixture, GINT_TO_POINTER(FALSE),
               setup, test_tracked_writer, teardown);
    g_test_add("/mirror-preverify/tracked-writer-sync", Fixture, GINT_TO_POINTER(TRUE),
               setup, test_tracked_writer, teardown);
    g_test_add("/mirror-preverify/sparse-writer", Fixture, GINT_TO_POINTER(FALSE),
               setup, test_sparse_writer, teardown);
    g_test_add("/mirror-preverify/sparse-writer-sync", Fixture, GINT_TO_POINTER(TRUE),
               setup, test_sparse_writer, teardown);
    g_test_add("/mirror-preverify/mismatch", Fixture, NULL,
               setup, test_mismatch, teardown);
    g_test_add("/mirror-preverify/tracked-no-preverify", Fixture, NULL,
               setup, test_tracked_no_preverify, teardown);
    g_test_add("/mirror-preverify/dest-write-caught", Fixture, NULL,
               setup, test_dest_write_caught, teardown);
    g_test_add("/mirror-preverify/dest-behind-back", Fixture, NULL,
               setup, test_dest_behind_back, teardown);
    g_test_add("/mirror-preverify/scan", Fixture, NULL,
               setup, test_scan, teardown);
    g_test_add("/mirror-preverify/scan-no-preverify", Fixture, NULL,
               setup, test_scan_no_preverify_unchanged, teardown);
    g_test_add("/mirror-preverify/bandwidth", Fixture, NULL,
               setup, test_bandwidth, teardown);
    return g_test_run();
}
