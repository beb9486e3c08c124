/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Audit of the mirror engine's promises that the other tests leave open
 * (helper audit2):
 *  - the dirty bitmap's granularity is configurable: a 512-byte guest write
 *    through the tracked server costs exactly one granule on the wire;
 *  - cancel works at any point: before start, in synchronous mode while a
 *    guest writes, during the final drain and during the verification.
 * Peers: nbdkit (destination), our XmNbdServer (source datapath), libnbd as
 * the guest.
 */
#include "config.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <libnbd.h>
#include <string.h>
#include <unistd.h>

#include <xenmig/mirror.h>
#include <xenmig/nbd-server.h>
#include "util/util.h"

#define MiB (1024u * 1024)
#define IMAGE (16 * MiB)

typedef struct {
    char *dir, *src, *dst, *dsock, *ssock, *duri, *suri;
    GSubprocess *peer;
    XmNbdServer *server;
} Fixture;

/* random data everywhere, so no zero detection changes what is sent */
static void
write_random(const char *path, guint32 seed)
{
    g_autofree guint32 *buf = g_malloc(MiB);
    GRand *r = g_rand_new_with_seed(seed);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    for (guint64 off = 0; off < IMAGE; off += MiB) {
        for (guint i = 0; i < MiB / 4; i++)
            buf[i] = g_rand_int(r);
        g_assert_cmpint(pwrite(fd, buf, MiB, (off_t)off), ==, MiB);
    }
    g_rand_free(r);
    close(fd);
}

static void
start_nbdkit(Fixture *f, const char *const *extra)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    g_assert_true(g_file_set_contents(f->dst, "", 0, NULL));
    g_assert_cmpint(truncate(f->dst, IMAGE), ==, 0);
    g_ptr_array_add(argv, (gpointer)"nbdkit");
    g_ptr_array_add(argv, (gpointer)"-f");
    g_ptr_array_add(argv, (gpointer)"--exit-with-parent");
    g_ptr_array_add(argv, (gpointer)"-U");
    g_ptr_array_add(argv, f->dsock);
    /* options before the plugin, key=value parameters after it */
    for (const char *const *a = extra; a && *a; a++)
        if (**a == '-')
            g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, (gpointer)"file");
    g_ptr_array_add(argv, f->dst);
    for (const char *const *a = extra; a && *a; a++)
        if (**a != '-')
            g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, NULL);
    f->peer = g_subprocess_newv((const char *const *)argv->pdata,
                                G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err);
    g_assert_no_error(err);
    for (int i = 0; i < 400; i++) {
        struct nbd_handle *h = nbd_create();
        int rc = g_file_test(f->dsock, G_FILE_TEST_EXISTS)
                 ? nbd_connect_uri(h, f->duri) : -1;

        nbd_close(h);
        if (rc == 0)
            return;
        g_usleep(25 * 1000);
    }
    g_error("nbdkit did not come up on %s", f->dsock);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("xm-audit-mirror-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->src = g_build_filename(f->dir, "src.img", NULL);
    f->dst = g_build_filename(f->dir, "dst.img", NULL);
    f->dsock = g_build_filename(f->dir, "dst.sock", NULL);
    f->ssock = g_build_filename(f->dir, "src.sock", NULL);
    f->duri = g_strdup_printf("nbd+unix:///?socket=%s", f->dsock);
    f->suri = g_strdup_printf("nbd+unix:///?socket=%s", f->ssock);
    write_random(f->src, 1);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

    if (f->server) {
        xm_nbd_server_stop(f->server);
        xm_nbd_server_free(f->server);
    }
    if (f->peer) {
        g_subprocess_force_exit(f->peer);
        g_subprocess_wait(f->peer, NULL, NULL);
        g_object_unref(f->peer);
    }
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->dir); g_free(f->src); g_free(f->dst); g_free(f->dsock);
    g_free(f->ssock); g_free(f->duri); g_free(f->suri);
}

/* a tracked job through our server on f->ssock, started */
static XmMirrorJob *
start_tracked(Fixture *f, const XmMirrorOptions *o)
{
    g_autoptr(GError) err = NULL;
    XmNbdServerConfig cfg = { .image_path = f->src };
    XmMirrorJob *job;

    f->server = xm_nbd_server_new(&cfg, &err);
    g_assert_no_error(err);
    job = xm_mirror_job_new(f->src, f->duri, o, &err);
    g_assert_no_error(err);
    g_assert_true(xm_mirror_job_attach_server(job, f->server, &err));
    g_assert_true(xm_mirror_job_start(job, &err));
    g_assert_no_error(err);
    g_assert_true(xm_nbd_server_listen_unix(f->server, f->ssock, &err));
    g_assert_true(xm_nbd_server_start(f->server, &err));
    return job;
}

static void
wait_bulk_done(XmMirrorJob *job, XmMirrorProgress *p)
{
    for (int i = 0; i < 1500; i++) {
        xm_mirror_job_get_progress(job, p);
        g_assert_cmpint(p->phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p->done == p->total && p->phase != XM_MIRROR_PHASE_BULK)
            return;
        g_usleep(10 * 1000);
    }
    g_error("the bulk copy did not finish in 15 s");
}

static gboolean
files_equal(const char *a, const char *b)
{
    g_autofree char *da = NULL, *db = NULL;
    gsize la, lb;

    g_assert_true(g_file_get_contents(a, &da, &la, NULL));
    g_assert_true(g_file_get_contents(b, &db, &lb, NULL));
    return la == lb && memcmp(da, db, la) == 0;
}

/* @data: the granularity (0: the default, 64 KiB) */
static void
test_granularity(Fixture *f, gconstpointer data)
{
    guint64 gran = GPOINTER_TO_SIZE(data);
    guint64 expect = gran ? gran : 64 * 1024;
    XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED, .granularity = gran,
                          .verify = TRUE };
    g_autoptr(XmMirrorJob) job = NULL;
    g_autoptr(GError) err = NULL;
    XmMirrorResult res = { 0 };
    XmMirrorProgress before, after;
    struct nbd_handle *h;
    char buf[512];

    start_nbdkit(f, NULL);
    job = start_tracked(f, &o);
    wait_bulk_done(job, &before);
    g_assert_cmpuint(before.sent, ==, IMAGE);

    /* 512 bytes, unaligned, inside the granule that starts at 3 MiB */
    memset(buf, 0x5a, sizeof(buf));
    h = nbd_create();
    g_assert_cmpint(nbd_connect_uri(h, f->suri), ==, 0);
    g_assert_cmpint(nbd_pwrite(h, buf, sizeof(buf), 3 * MiB + 1000, 0), ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);

    for (int i = 0; i < 1000; i++) {
        xm_mirror_job_get_progress(job, &after);
        if (after.sent > before.sent)
            break;
        g_usleep(10 * 1000);
    }
    xm_nbd_server_stop(f->server);
    g_assert_true(xm_mirror_job_complete(job, &res, &err));
    g_assert_no_error(err);
    g_assert_true(res.verified);
    xm_mirror_job_get_progress(job, &after);
    g_test_message("granularity %" G_GUINT64_FORMAT ": the write cost %"
                   G_GUINT64_FORMAT " bytes", expect, after.sent - before.sent);
    g_assert_cmpuint(after.sent - before.sent, ==, expect);
    g_assert_true(files_equal(f->src, f->dst));
}

static void
test_cancel_before_start(Fixture *f, gconstpointer data)
{
    XmMirrorOptions o = { .mode = XM_MIRROR_SCAN };
    g_autoptr(XmMirrorJob) job = NULL;
    g_autoptr(GError) err = NULL;
    XmMirrorProgress p;

    start_nbdkit(f, NULL);
    job = xm_mirror_job_new(f->src, f->duri, &o, &err);
    g_assert_no_error(err);
    xm_mirror_job_cancel(job);
    if (xm_mirror_job_start(job, &err)) {
        g_assert_false(xm_mirror_job_complete(job, NULL, &err));
    }
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    xm_mirror_job_get_progress(job, &p);
    g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_DONE);
    g_assert_cmpuint(p.sent, <, IMAGE);
}

typedef struct {
    char *uri;
    gint stop;
    guint64 writes;
    char *error;
} Guest;

static gpointer
guest_main(gpointer data)
{
    Guest *g = data;
    struct nbd_handle *h = nbd_create();
    char buf[4096];
    guint64 off = 0;

    memset(buf, 0x3c, sizeof(buf));
    if (nbd_connect_uri(h, g->uri) == -1) {
        g->error = g_strdup(nbd_get_error());
        goto out;
    }
    while (!g_atomic_int_get(&g->stop)) {
        if (nbd_pwrite(h, buf, sizeof(buf), off, 0) == -1) {
            g->error = g_strdup(nbd_get_error());
            break;
        }
        g->writes++;
        off = (off + 7 * 65536) % IMAGE;
        g_usleep(1000);
    }
    nbd_shutdown(h, 0);
 out:
    nbd_close(h);
    return NULL;
}

/* cancel in synchronous mode while the guest writes: the job ends aborted
 * within 5 s and the guest's writes keep succeeding (their data is on the
 * source; the hook never fails them) */
static void
test_cancel_in_sync(Fixture *f, gconstpointer data)
{
    XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED, .bandwidth_mib = 4 };
    g_autoptr(XmMirrorJob) job = NULL;
    g_autoptr(GError) err = NULL;
    XmMirrorProgress p;
    Guest g = { 0 };
    GThread *t;
    guint64 writes_at_cancel;
    gint64 t0;

    start_nbdkit(f, NULL);
    job = start_tracked(f, &o);
    xm_mirror_job_request_sync(job);
    g.uri = f->suri;
    t = g_thread_new("guest", guest_main, &g);
    for (int i = 0; i < 3000; i++) {
        xm_mirror_job_get_progress(job, &p);
        g_assert_cmpint(p.phase, !=, XM_MIRROR_PHASE_FAILED);
        if (p.phase == XM_MIRROR_PHASE_SYNC)
            break;
        g_usleep(10 * 1000);
    }
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_SYNC);
    g_usleep(300 * 1000);
    writes_at_cancel = g.writes;
    g_assert_cmpuint(writes_at_cancel, >, 0);

    t0 = g_get_monotonic_time();
    xm_mirror_job_cancel(job);
    g_assert_false(xm_mirror_job_complete(job, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    xm_mirror_job_get_progress(job, &p);
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_CANCELLED);

    /* the guest goes on writing to the source after the cancel */
    g_usleep(300 * 1000);
    g_atomic_int_set(&g.stop, 1);
    g_thread_join(t);
    g_assert_null(g.error);
    g_assert_cmpuint(g.writes, >, writes_at_cancel);
}

typedef struct {
    XmMirrorJob *job;
    XmMirrorResult res;
    GError *error;
    gboolean ok;
} Completer;

static gpointer
complete_main(gpointer data)
{
    Completer *c = data;

    c->ok = xm_mirror_job_complete(c->job, &c->res, &c->error);
    return NULL;
}

/* cancel while complete() verifies: complete() reports the cancel, never a
 * verified destination, and returns within 5 s */
static void
test_cancel_in_verify(Fixture *f, gconstpointer data)
{
    /* slow destination reads make the verification take seconds */
    const char *extra[] = { "--filter=delay", "delay-read=300ms", NULL };
    XmMirrorOptions o = { .mode = XM_MIRROR_SCAN, .verify = TRUE };
    g_autoptr(XmMirrorJob) job = NULL;
    g_autoptr(GError) err = NULL;
    Completer c = { 0 };
    XmMirrorProgress p;
    GThread *t;
    gint64 t0;

    start_nbdkit(f, extra);
    job = xm_mirror_job_new(f->src, f->duri, &o, &err);
    g_assert_no_error(err);
    g_assert_true(xm_mirror_job_start(job, &err));
    c.job = job;
    t = g_thread_new("complete", complete_main, &c);
    for (int i = 0; i < 15000; i++) {
        xm_mirror_job_get_progress(job, &p);
        if (p.phase == XM_MIRROR_PHASE_VERIFY || p.phase >= XM_MIRROR_PHASE_DONE)
            break;
        g_usleep(1000);
    }
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_VERIFY);
    t0 = g_get_monotonic_time();
    xm_mirror_job_cancel(job);
    g_thread_join(t);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_assert_false(c.ok);
    g_assert_false(c.res.verified);
    g_assert_error(c.error, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&c.error);
    xm_mirror_job_get_progress(job, &p);
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_CANCELLED);
}

/* cancel while complete() drains what guest writes left dirty (bandwidth
 * lowered so the drain takes seconds): complete() reports the cancel
 * within 5 s, not a finished copy */
static void
test_cancel_in_drain(Fixture *f, gconstpointer data)
{
    XmMirrorOptions o = { .mode = XM_MIRROR_TRACKED, .verify = TRUE };
    g_autoptr(XmMirrorJob) job = NULL;
    g_autofree char *buf = g_malloc(4096);
    Completer c = { 0 };
    XmMirrorProgress p;
    struct nbd_handle *h;
    GThread *t;
    gint64 t0;

    start_nbdkit(f, NULL);
    job = start_tracked(f, &o);
    wait_bulk_done(job, &p);
    /* 8 MiB dirty: one 4 KiB write in each 64 KiB granule of the first half */
    xm_mirror_job_set_bandwidth(job, 0.5);
    memset(buf, 0x77, 4096);
    h = nbd_create();
    g_assert_cmpint(nbd_connect_uri(h, f->suri), ==, 0);
    for (guint64 off = 0; off < IMAGE / 2; off += 65536)
        g_assert_cmpint(nbd_pwrite(h, buf, 4096, off, 0), ==, 0);
    nbd_shutdown(h, 0);
    nbd_close(h);
    xm_nbd_server_stop(f->server);

    c.job = job;
    t = g_thread_new("complete", complete_main, &c);
    for (int i = 0; i < 3000; i++) {
        xm_mirror_job_get_progress(job, &p);
        if (p.phase == XM_MIRROR_PHASE_DRAIN || p.phase >= XM_MIRROR_PHASE_VERIFY)
            break;
        g_usleep(1000);
    }
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_DRAIN);
    g_usleep(200 * 1000);
    t0 = g_get_monotonic_time();
    xm_mirror_job_cancel(job);
    g_thread_join(t);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_assert_false(c.ok);
    g_assert_error(c.error, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&c.error);
    xm_mirror_job_get_progress(job, &p);
    g_assert_cmpint(p.phase, ==, XM_MIRROR_PHASE_CANCELLED);
}

int
main(int argc, char **argv)
{
    g_autofree char *nbdkit = g_find_program_in_path("nbdkit");

    g_test_init(&argc, &argv, NULL);
    if (!nbdkit) {
        g_test_skip("nbdkit is not installed");
        return 77;
    }
#define ADD(name, fn, data) \
    g_test_add("/audit-mirror/" name, Fixture, data, fixture_setup, fn, \
               fixture_teardown)
    ADD("granularity/4k", test_granularity, GSIZE_TO_POINTER(4096));
    ADD("granularity/1m", test_granularity, GSIZE_TO_POINTER(MiB));
    ADD("granularity/default", test_granularity, GSIZE_TO_POINTER(0));
    ADD("cancel/before-start", test_cancel_before_start, NULL);
    ADD("cancel/in-sync", test_cancel_in_sync, NULL);
    ADD("cancel/in-verify", test_cancel_in_verify, NULL);
    ADD("cancel/in-drain", test_cancel_in_drain, NULL);
    return g_test_run();
}
