/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migrations that must not happen, end to end in one process without
 * libvirt: cancel during the copy and during memory, a destination that
 * fails its own verification, times out or goes away, a destination short
 * of space or memory, bad params and disk choices. Each case checks the
 * invariant: the guest runs on exactly one host (the source), the
 * destination keeps no domain and only the images it did not create.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xenmig/backend.h>
#include <xenmig/error.h>
#include <xenmig/migration.h>
#include "backend/sim-heartbeat.h"
#include "backend/sim-proto.h"
#include "migration/migration-private.h"
#include "sim-fixture.h"

/* Cancel while the disks copy: the guest keeps running on host-a, host-b
 * has no domain and the image it created is gone. */
static void
test_cancel_copy(Fixture *f, gconstpointer data)
{
    g_auto(Mig) m;

    mig_init(f, &m, "stayer", 20, 1);
    make_image(f->src_img, 48 * MiB);
    /* data to copy: the bulk pass over holes would be instant */
    fill_image(f->src_img, 4, 48, 0x5a);
    mig_start_guest(f, &m);
    m.ps.bandwidth_mib = 4;    /* ~10 s of copying: plenty of time to cancel */
    mig_begin_prepare(f, &m);
    g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    start_perform(&m.pj, m.src, m.c2);
    wait_for_copy(m.src, 2 * MiB);
    xm_migration_cancel(m.src);
    xm_migration_cancel(m.src);        /* idempotent */
    join_failed_perform(&m.pj);
    g_assert_error(m.pj.err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&m.pj.err);
    g_assert_cmpint(xm_migration_get_state(m.src), ==, XM_MIGRATION_STATE_CANCELLED);
    mig_end_failed(f, &m, TRUE);
}

/* copy-storage-inc onto a pre-created image (as nova does), with the NBD
 * endpoint named by disks_uri: a cancelled attempt leaves the image that
 * the migration did not create, and a second attempt completes. */
static void
test_inc_retry(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    make_image(f->src_img, 48 * MiB);
    fill_image(f->src_img, 4, 48, 0xa5);
    make_image(f->dst_img, 48 * MiB);
    {
        g_auto(Mig) m;

        mig_init(f, &m, "inc", 20, 1);
        mig_start_guest(f, &m);
        m.ps.non_shared_disk = m.pd.non_shared_disk = FALSE;
        m.ps.non_shared_inc = m.pd.non_shared_inc = TRUE;
        m.pd.disks_uri = "tcp://127.0.0.1";
        m.ps.bandwidth_mib = 4;
        mig_begin_prepare(f, &m);
        start_perform(&m.pj, m.src, m.c2);
        wait_for_copy(m.src, 2 * MiB);
        xm_migration_cancel(m.src);
        join_failed_perform(&m.pj);
        g_clear_error(&m.pj.err);
        g_assert_cmpint(xm_migration_finish(m.dst, NULL, TRUE, NULL, &err), ==, -1);
        g_assert_no_error(err);
        g_assert_true(xm_migration_confirm(m.src, NULL, TRUE, &err));
        g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

        /* the second attempt, of the same guest onto the same image */
        g_clear_pointer(&m.src, xm_migration_free);
        g_clear_pointer(&m.dst, xm_migration_free);
        g_clear_pointer(&m.c1, g_free);
        g_clear_pointer(&m.c2, g_free);
        m.ps.bandwidth_mib = 0;
        m.pd.paused = TRUE;
        mig_begin_prepare(f, &m);
        complete_migration(m.src, m.dst, m.c2);
    }
    {
        g_autofree char *a = file_checksum(f->src_img);
        g_autofree char *b = file_checksum(f->dst_img);

        g_assert_cmpstr(a, ==, b);
        g_assert_cmpuint(count_domains(f, 0), ==, 0);
        g_assert_cmpuint(count_domains(f, 1), ==, 1);
    }
}

/* Not enough space for the image: prepare fails before creating or
 * copying anything. */
static void
test_no_space(Fixture *f, gconstpointer data)
{
    g_autofree char *dstdir = g_path_get_dirname(f->dst_img);
    struct statvfs vfs;
    g_auto(Mig) m;
    guint64 size;

    g_assert_cmpint(statvfs(dstdir, &vfs), ==, 0);
    size = ((guint64) vfs.f_bavail * vfs.f_frsize + 1024 * MiB) & ~(MiB - 1);
    make_image(f->src_img, size);     /* sparse: takes no space here */
    mig_init(f, &m, "big", 0, 0);
    mig_start_guest(f, &m);
    mig_begin(f, &m);
    mig_prepare_refused(f, &m, "not enough space");
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_true(xm_migration_confirm(m.src, NULL, TRUE, NULL));
    g_assert_cmpuint(count_domains(f, 0), ==, 1);
}

/* Not enough free memory on the destination. */
static void
test_no_memory(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_auto(Mig) m;

    xm_backend_free(f->b[1]);
    f->cfg[1].sim_host_memory_mib = 16;
    f->b[1] = xm_backend_new(&f->cfg[1], NULL, NULL, &err);
    g_assert_no_error(err);
    f->ops[1] = xm_backend_ops(f->b[1]);

    mig_init(f, &m, "fat", 0, 0);
    mig_start_guest(f, &m);
    mig_begin(f, &m);
    mig_prepare_refused(f, &m, "not enough free memory");
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
}

/* copy-storage-inc needs the image to exist with the source's size. */
static void
test_inc_missing_image(Fixture *f, gconstpointer data)
{
    g_auto(Mig) m;

    mig_init(f, &m, "inc", 0, 0);
    mig_start_guest(f, &m);
    m.ps.non_shared_disk = m.pd.non_shared_disk = FALSE;
    m.ps.non_shared_inc = m.pd.non_shared_inc = TRUE;
    mig_begin(f, &m);
    mig_prepare_refused(f, &m, "must exist");

    make_image(f->dst_img, 8 * MiB);   /* wrong size */
    mig_prepare_refused(f, &m, "exists with");
    g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
}

static void
test_bad_params(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("p", f->src_img, 0, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL;
    XmMigrationParams p;
    const char *disks[] = { "xvdz", NULL };
    int domid = start_guest(f, def);

    base_params(&p, TRUE);
    p.offline = TRUE;
    g_assert_null(xm_migration_begin(f->b[0], domid, def, &p, &c1, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    base_params(&p, TRUE);
    p.tls = TRUE;
    g_assert_null(xm_migration_begin(f->b[0], domid, def, &p, &c1, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    base_params(&p, TRUE);
    p.migrate_disks = disks;
    g_assert_null(xm_migration_begin(f->b[0], domid, def, &p, &c1, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "xvdz"));
    g_clear_error(&err);

    base_params(&p, TRUE);
    p.uri = "rdma://dst";
    g_assert_null(xm_migration_begin(f->b[0], domid, def, &p, &c1, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_assert_null(c1);
}

/* Which disks begin picks: writable, unshared, local ones by default;
 * migrate_disks names them, and naming one that cannot be copied fails. */
static void
test_disk_choice(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("many", f->src_img, 0, 0);
    g_autoptr(XmDomainDef) multi = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *second = g_build_filename(f->dir, "second.img", NULL);
    XmMigrationParams p;
    const char *just_b[] = { "xvdb", NULL };
    const char *ro[] = { "xvdc", NULL };
    const char *twice[] = { "xvda", "xvda", NULL };
    int domid = start_guest(f, def);

    make_image(second, 4 * MiB);
    multi = xm_domain_def_copy(def);
    multi->ndisks = 6;
    multi->disks = g_renew(XmDiskDef, multi->disks, 6);
    memset(&multi->disks[1], 0, 5 * sizeof(XmDiskDef));
    multi->disks[1].source = g_strdup(second);
    multi->disks[1].target = g_strdup("xvdb");
    multi->disks[2].source = g_strdup(second);
    multi->disks[2].target = g_strdup("xvdc");
    multi->disks[2].readonly = true;
    multi->disks[3].source = g_strdup(second);
    multi->disks[3].target = g_strdup("xvdd");
    multi->disks[3].shareable = true;
    multi->disks[4].source = g_strdup(second);
    multi->disks[4].target = g_strdup("hdc");
    multi->disks[4].device = XM_DISK_DEVICE_CDROM;
    multi->disks[5].source = g_strdup("nbd://storage/export");
    multi->disks[5].target = g_strdup("xvde");

    {
        g_autoptr(XmMigration) job = NULL;
        g_autofree char *c1 = NULL;
        base_params(&p, TRUE);
        job = xm_migration_begin(f->b[0], domid, multi, &p, &c1, &err);
        g_assert_no_error(err);
        g_assert_nonnull(strstr(c1, "target='xvda' capacity='16777216'"));
        g_assert_nonnull(strstr(c1, "target='xvdb' capacity='4194304'"));
        g_assert_null(strstr(c1, "xvdc"));
        g_assert_null(strstr(c1, "xvdd"));
        g_assert_null(strstr(c1, "hdc"));
        g_assert_null(strstr(c1, "xvde"));
    }
    {
        g_autoptr(XmMigration) job = NULL;
        g_autofree char *c1 = NULL;
        base_params(&p, TRUE);
        p.migrate_disks = just_b;
        job = xm_migration_begin(f->b[0], domid, multi, &p, &c1, &err);
        g_assert_no_error(err);
        g_assert_null(strstr(c1, "xvda"));
        g_assert_nonnull(strstr(c1, "target='xvdb'"));
    }
    {
        g_autoptr(XmMigration) job = NULL;
        g_autofree char *c1 = NULL;
        base_params(&p, TRUE);
        p.non_shared_disk = FALSE;      /* shared storage: memory only */
        job = xm_migration_begin(f->b[0], domid, multi, &p, &c1, &err);
        g_assert_no_error(err);
        g_assert_null(strstr(c1, "<disks>"));
    }
    base_params(&p, TRUE);
    p.migrate_disks = ro;
    g_assert_null(xm_migration_begin(f->b[0], domid, multi, &p, &(char *){ NULL }, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "read-only"));
    g_clear_error(&err);
    p.migrate_disks = twice;
    g_assert_null(xm_migration_begin(f->b[0], domid, multi, &p, &(char *){ NULL }, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
}

/* Where prepare listens: the port of the URI, disks_port for NBD, the
 * host name when no address is given (never every address), and a
 * configured range. Cancelled right after prepare: nothing is left. */
static void
test_prepare_endpoints(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("ports", f->src_img, 0, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(GError) err = NULL;
    XmMigrationParams ps, pd;
    guint port = 0, dport = 0;
    int domid = start_guest(f, def), fd;
    g_autofree char *c1 = NULL;

    base_params(&ps, TRUE);
    {
        g_autoptr(XmMigration) src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
        g_assert_no_error(err);
    }
    /* two free ports of our own choosing */
    fd = xm_migration_listen_in_range("127.0.0.1", 50100, 50999, &port, &err);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    fd = xm_migration_listen_in_range("127.0.0.1", port + 1, 50999, &dport, &err);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    {
        g_autoptr(XmMigration) dst = NULL;
        g_autofree char *c2 = NULL, *uri = NULL, *uri_in = NULL, *want = NULL;

        base_params(&pd, FALSE);
        uri_in = g_strdup_printf("tcp://127.0.0.1:%u", port);
        pd.uri = uri_in;
        pd.disks_port = dport;
        dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, &uri, &err);
        g_assert_no_error(err);
        g_assert_cmpstr(uri, ==, uri_in);
        want = g_strdup_printf("<memory-channel host='127.0.0.1' port='%u'/>", port);
        g_assert_nonnull(strstr(c2, want));
        g_free(want);
        want = g_strdup_printf("<nbd host='127.0.0.1' port='%u' tls='no'/>", dport);
        g_assert_nonnull(strstr(c2, want));
        g_assert_cmpint(xm_migration_finish(dst, NULL, TRUE, NULL, &err), ==, -1);
        g_assert_no_error(err);
        g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
        /* the ports are free again */
        fd = xm_migration_listen_in_range("127.0.0.1", port, port, &port, &err);
        g_assert_no_error(err);
        close(fd);
    }
    {
        g_autoptr(XmMigration) dst = NULL;
        g_autofree char *c2 = NULL, *uri = NULL;

        base_params(&pd, FALSE);
        pd.uri = NULL;
        pd.host_name = "localhost";
        pd.port_min = 50300;
        pd.port_max = 50399;
        dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, &uri, &err);
        g_assert_no_error(err);
        g_assert_true(g_str_has_prefix(uri, "tcp://localhost:503"));
        g_assert_nonnull(strstr(c2, "<memory-channel host='localhost' port='503"));
        g_assert_nonnull(strstr(c2, "<nbd host='localhost' port='503"));
    }
}

/* The destination's own check fails after the completion record (another
 * client of its NBD server changed the image after the source's
 * verification read it): it destroys its half, and the source guest,
 * still suspended and intact, is resumed by the cancelled confirm. */
static void
test_dest_verify_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c3 = NULL;
    g_auto(Mig) m;

    mig_init(f, &m, "checked", 20, 1);
    mig_start_guest(f, &m);
    g_usleep(200000);
    mig_begin_prepare(f, &m);
    g_assert_true(xm_migration_perform(m.src, m.c2, &c3, &err));
    g_assert_no_error(err);

    nbd_write_to_dest(m.c2, "xvda", "corrupt", 7, 9 * MiB + 3);

    g_assert_cmpint(xm_migration_finish(m.dst, c3, FALSE, NULL, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "differs"));
    g_clear_error(&err);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    /* Finish has had its say: only the source's cancelled Confirm is left */
    g_clear_pointer(&m.dst, xm_migration_free);
    mig_end_failed(f, &m, TRUE);
}

/* Cancel while memory flows (slowed by the bandwidth limit): the guest
 * runs on at the source, the destination's half is gone. */
static void
test_cancel_memory(Fixture *f, gconstpointer data)
{
    XmMigrationStats st;
    g_auto(Mig) m;

    mig_init(f, &m, "stayer", 20, 1);
    mig_start_guest(f, &m);
    m.ps.bandwidth_mib = 8;    /* memory gets half: 32 MiB take ~8 s */
    mig_begin_prepare(f, &m);
    start_perform(&m.pj, m.src, m.c2);
    wait_for_memory(m.src, 2 * MiB);
    xm_migration_get_stats(m.src, &st);
    g_assert_cmpuint(st.memory_remaining, >, 0);
    xm_migration_cancel(m.src);
    join_failed_perform(&m.pj);
    g_assert_error(m.pj.err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&m.pj.err);
    /* the destination learns it from its finish */
    mig_end_failed(f, &m, FALSE);
}

/* The destination goes away while memory flows (its job is cancelled and
 * freed, as when its libvirtd dies): the source's perform fails and the
 * guest runs on at the source. */
static void
test_dest_dies_memory(Fixture *f, gconstpointer data)
{
    g_auto(Mig) m;

    mig_init(f, &m, "survivor", 20, 1);
    mig_start_guest(f, &m);
    m.ps.bandwidth_mib = 8;
    mig_begin_prepare(f, &m);
    start_perform(&m.pj, m.src, m.c2);
    wait_for_memory(m.dst, 2 * MiB);
    g_clear_pointer(&m.dst, xm_migration_free);
    join_failed_perform(&m.pj);
    g_test_message("source saw: %s", m.pj.err->message);
    g_clear_error(&m.pj.err);
    mig_end_failed(f, &m, TRUE);
}

/* Nobody comes: the destination gives up after its timeout, closes its
 * endpoints and deletes what it created. */
static void
test_dest_timeout(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c3 = NULL;
    g_auto(Mig) m;

    mig_init(f, &m, "lonely", 0, 0);
    mig_start_guest(f, &m);
    m.pd.connect_timeout_s = 1;
    m.ps.connect_timeout_s = 2;
    mig_begin_prepare(f, &m);
    g_assert_cmpint(xm_migration_finish(m.dst, NULL, FALSE, NULL, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT);
    g_clear_error(&err);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    /* a source arriving late finds the door shut and keeps its guest */
    g_assert_false(xm_migration_perform(m.src, m.c2, &c3, &err));
    g_assert_nonnull(err);
    g_assert_true(xm_migration_confirm(m.src, NULL, TRUE, NULL));
    g_assert_cmpuint(count_domains(f, 0), ==, 1);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
}

/* Polls the job's state for up to @timeout_s; returns the last one seen. */
static XmMigrationState
wait_state(XmMigration *job, XmMigrationState want, guint timeout_s)
{
    gint64 deadline = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;
    XmMigrationState st;

    while ((st = xm_migration_get_state(job)) != want &&
           g_get_monotonic_time() < deadline)
        g_usleep(50000);
    return st;
}

typedef enum {
    PEER_NONE,       /* nobody connects */
    PEER_SILENT,     /* connects, then says nothing (a cut link) */
    PEER_CLOSE,      /* connects, then closes (the source is gone) */
    PEER_ABORT,      /* connects and sends an ABORT record */
} PeerKind;

/*
 * The destination's receive fails on its own and no Finish comes (the
 * link is cut, the source daemon is gone): the job's state alone must say
 * so, because it is all a caller that got no Finish can watch. The images
 * it created stay until the caller frees the job, which removes them.
 */
static void
test_dest_fails_alone(Fixture *f, gconstpointer data)
{
    PeerKind kind = GPOINTER_TO_INT(data);
    g_autoptr(XmCookie) cookie = NULL;
    g_autoptr(XmChannel) ch = NULL;
    g_autoptr(GError) err = NULL;
    guint8 secret[XM_COOKIE_SECRET_BYTES];
    XmMigrationState want = kind == PEER_ABORT ? XM_MIGRATION_STATE_CANCELLED
                                               : XM_MIGRATION_STATE_FAILED;
    g_auto(Mig) m;

    mig_init(f, &m, "abandoned", 0, 0);
    make_image(f->src_img, 8 * MiB);
    mig_start_guest(f, &m);
    m.pd.connect_timeout_s = 1;     /* idle timeout: the 3 s minimum */
    mig_begin_prepare(f, &m);
    g_assert_cmpint(xm_migration_get_state(m.dst), ==, XM_MIGRATION_STATE_PREPARED);
    g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    if (kind != PEER_NONE) {
        cookie = xm_cookie_parse(m.c2, strlen(m.c2), &err);
        g_assert_no_error(err);
        g_assert_true(xm_channel_secret_from_hex(cookie->secret, secret));
        ch = xm_channel_connect(cookie->mem_host, cookie->mem_port, secret, NULL,
                                5000, NULL, &err);
        g_assert_no_error(err);
        g_assert_true(xm_channel_send(ch, XM_CHANNEL_PING, NULL, 0, &err));
        g_assert_no_error(err);
        if (kind == PEER_ABORT) {
            g_assert_true(xm_channel_send(ch, XM_CHANNEL_ABORT, "test gives up", 13, &err));
            g_assert_no_error(err);
        } else if (kind == PEER_CLOSE) {
            g_clear_pointer(&ch, xm_channel_free);
        }
        /* PEER_SILENT keeps the connection open and quiet */
    }
    /* not before the failure: one second is a third of the idle timeout */
    if (kind == PEER_SILENT) {
        g_usleep(G_USEC_PER_SEC);
        g_assert_cmpint(xm_migration_get_state(m.dst), ==, XM_MIGRATION_STATE_PREPARED);
    }
    g_assert_cmpint(wait_state(m.dst, want, 15), ==, want);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);

    /* what the driver's reaper does: freeing the job removes its images */
    g_clear_pointer(&m.dst, xm_migration_free);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(f->src_img, G_FILE_TEST_EXISTS));
    g_assert_true(xm_migration_confirm(m.src, NULL, TRUE, NULL));
    g_assert_cmpuint(count_domains(f, 0), ==, 1);
}

int
main(int argc, char **argv)
{
    sim_test_init(&argc, &argv);
#define ADD SIM_TEST_ADD
    ADD("/migration/sim/destination-verify-fails", NULL, test_dest_verify_fails);
    ADD("/migration/sim/cancel-during-copy", NULL, test_cancel_copy);
    ADD("/migration/sim/cancel-during-memory", NULL, test_cancel_memory);
    ADD("/migration/sim/destination-timeout", NULL, test_dest_timeout);
    ADD("/migration/sim/destination-dies-during-memory", NULL, test_dest_dies_memory);
    ADD("/migration/sim/destination-fails-alone/nobody", GINT_TO_POINTER(PEER_NONE),
        test_dest_fails_alone);
    ADD("/migration/sim/destination-fails-alone/silent", GINT_TO_POINTER(PEER_SILENT),
        test_dest_fails_alone);
    ADD("/migration/sim/destination-fails-alone/closed", GINT_TO_POINTER(PEER_CLOSE),
        test_dest_fails_alone);
    ADD("/migration/sim/destination-fails-alone/abort", GINT_TO_POINTER(PEER_ABORT),
        test_dest_fails_alone);
    ADD("/migration/sim/inc-cancel-then-retry", NULL, test_inc_retry);
    ADD("/migration/sim/no-space", NULL, test_no_space);
    ADD("/migration/sim/no-memory", NULL, test_no_memory);
    ADD("/migration/sim/inc-needs-image", NULL, test_inc_missing_image);
    ADD("/migration/sim/bad-params", NULL, test_bad_params);
    ADD("/migration/sim/disk-choice", NULL, test_disk_choice);
    ADD("/migration/sim/prepare-endpoints", NULL, test_prepare_endpoints);
    return g_test_run();
}
