/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Migrations that succeed, end to end in one process without libvirt:
 * live (plain, TLS, IPv6, with an intruder knocking), non-live, a guest
 * that outruns the copy, shared storage, a paused guest, live bandwidth
 * and downtime settings. The guest must end up running on host-b only,
 * with every heartbeat, on a copy equal to the source at switchover.
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
#include "migration/channel.h"
#include "sim-fixture.h"

typedef struct {
    gboolean tls;
    guint heartbeat_ms;
    guint64 write_mib_s;
    gboolean not_live;
    gboolean intruder;      /* someone with a wrong secret knocks first */
    guint64 bandwidth_mib;
    guint max_passes;       /* expected to be reached (the guest outruns) */
    gboolean stall;         /* ...unless passes stop shrinking before */
    gboolean ipv6;          /* over [::1] */
} LiveCase;

static gboolean
have_ipv6_loopback(void)
{
    g_autoptr(GError) err = NULL;
    guint port;
    int fd = xm_migration_listen_in_range("::1", 0, 0, &port, &err);

    if (fd < 0)
        return FALSE;
    close(fd);
    return TRUE;
}

/* Connects to the memory endpoint named in @cookie with a wrong secret. */
static void
knock(const char *cookie, const char *tls_dir)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmCookie) c = xm_cookie_parse(cookie, strlen(cookie), &err);
    guint8 guess[XM_COOKIE_SECRET_BYTES];
    XmChannel *ch;

    g_assert_no_error(err);
    xm_channel_secret_generate(guess);
    ch = xm_channel_connect(c->mem_host, c->mem_port, guess, tls_dir, 5000, NULL, &err);
    g_assert_null(ch);
    g_assert_error(err, XM_ERROR, XM_ERR_AUTH_FAILED);
}

/* Polls a job's statistics as virsh --verbose and nova do, checking that
 * they stay sane and that the processed figures only grow. */
typedef struct {
    XmMigration *job;
    gint stop;
    guint samples;
    guint64 max_processed;
    char *problem;
} Poller;

static gpointer
poll_thread(gpointer data)
{
    Poller *p = data;
    guint64 last = 0, last_disk = 0, last_mem = 0;

    while (!g_atomic_int_get(&p->stop)) {
        XmMigrationStats st;

        xm_migration_get_stats(p->job, &st);
        p->samples++;
        if (!p->problem &&
            (st.data_processed < last || st.disk_processed < last_disk ||
             st.memory_processed < last_mem))
            p->problem = g_strdup_printf("processed went back: data %" G_GUINT64_FORMAT
                                         " -> %" G_GUINT64_FORMAT ", disk %" G_GUINT64_FORMAT
                                         " -> %" G_GUINT64_FORMAT, last, st.data_processed,
                                         last_disk, st.disk_processed);
        if (!p->problem &&
            (st.data_processed > st.data_total || st.disk_processed > st.disk_total ||
             st.data_remaining != st.data_total - st.data_processed))
            p->problem = g_strdup_printf("inconsistent: total %" G_GUINT64_FORMAT
                                         " processed %" G_GUINT64_FORMAT " remaining %"
                                         G_GUINT64_FORMAT, st.data_total, st.data_processed,
                                         st.data_remaining);
        last = st.data_processed;
        last_disk = st.disk_processed;
        last_mem = st.memory_processed;
        p->max_processed = last;
        g_usleep(5000);
    }
    return NULL;
}

/* begin → prepare → perform → finish → confirm, then the guest must run
 * on host-b only, with every heartbeat, on a copy equal to the source. */
static void
test_live(Fixture *f, gconstpointer data)
{
    const LiveCase *lc = data;
    g_autoptr(XmDomainDef) def = make_def("traveller", f->src_img, lc->heartbeat_ms,
                                          lc->write_mib_s);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL, *uri = NULL;
    g_autofree char *sum_before = NULL, *sum_src = NULL, *sum_dst = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    XmDomainInfo info;
    XmSimHeartbeatScan scan = { 0 };
    guint64 seq_at_switch;
    int domid, ddomid;

    if (lc->tls) {
        const char *srcdir = g_getenv("XENMIG_SRCDIR");
        g_autofree char *certtool = g_find_program_in_path("certtool");
        g_autofree char *cmd = NULL;
        if (!srcdir || !certtool) {
            g_test_skip("needs certtool");
            return;
        }
        f->pki = g_build_filename(f->dir, "pki", NULL);
        cmd = g_strdup_printf("'%s/tests/storage-mirror/make-certs.sh' '%s'", srcdir, f->pki);
        g_assert_cmpint(system(cmd), ==, 0);
    }
    if (!lc->heartbeat_ms && !lc->write_mib_s) {
        /* a quiet guest: any change to the source image would be ours */
        g_autoptr(GError) e = NULL;
        int fd = open(f->src_img, O_WRONLY);
        g_assert_cmpint(pwrite(fd, "pattern", 7, 5 * MiB), ==, 7);
        close(fd);
    }
    if (lc->max_passes)
        def->sim.ram_dirty_mib_s = 0;   /* this case is about the disks */
    domid = start_guest(f, def);
    g_usleep(300000);
    sum_before = file_checksum(f->src_img);

    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    pd.paused = TRUE;         /* compare the images before the guest runs on */
    ps.tls = pd.tls = lc->tls;
    ps.tls_dir = pd.tls_dir = f->pki;
    if (lc->not_live)
        ps.live = pd.live = FALSE;
    if (lc->ipv6) {
        if (!have_ipv6_loopback()) {
            g_test_skip("no IPv6 loopback");
            return;
        }
        ps.uri = pd.uri = "tcp://[::1]";
    }
    if (lc->max_passes) {
        ps.bandwidth_mib = lc->bandwidth_mib;
        ps.max_passes = lc->max_passes;
        ps.max_downtime_ms = 1;
    }

    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    g_assert_cmpint(xm_migration_get_state(src), ==, XM_MIGRATION_STATE_BEGIN);
    g_assert_nonnull(strstr(c1, "<hostname>host-a</hostname>"));
    g_assert_nonnull(strstr(c1, "target='xvda' capacity='16777216'"));

    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, &uri, &err);
    g_assert_no_error(err);
    g_assert_true(g_str_has_prefix(uri, lc->ipv6 ? "tcp://[::1]:" : "tcp://127.0.0.1:"));
    g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_IS_REGULAR));
    g_assert_nonnull(strstr(c2, f->dst_img));
    if (lc->tls)
        g_assert_nonnull(strstr(c2, "tls='yes'"));
    if (lc->intruder)
        knock(c2, f->pki);

    {
        Poller poller = { .job = src };
        GThread *t = g_thread_new("poll", poll_thread, &poller);
        gboolean ok = xm_migration_perform(src, c2, &c3, &err);

        g_atomic_int_set(&poller.stop, 1);
        g_thread_join(t);
        g_assert_no_error(err);
        g_assert_true(ok);
        g_test_message("stats polled %u times", poller.samples);
        g_assert_null(poller.problem);
        g_assert_cmpuint(poller.samples, >, 5);
    }
    g_assert_cmpint(xm_migration_get_state(src), ==, XM_MIGRATION_STATE_FINISHED);
    ddomid = xm_migration_finish(dst, c3, FALSE, &c4, &err);
    g_assert_no_error(err);
    g_assert_cmpint(ddomid, >, 0);
    g_assert_true(xm_migration_confirm(src, c4, FALSE, &err));
    g_assert_no_error(err);
    g_assert_cmpint(xm_migration_get_state(src), ==, XM_MIGRATION_STATE_CONFIRMED);

    /* exactly one copy, on host-b, paused as asked */
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
    g_assert_true(f->ops[1]->info(f->b[1], ddomid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);

    /* the source image is frozen (its guest is gone), the destination's
     * guest is paused: the copy equals the source as at switchover */
    sum_src = file_checksum(f->src_img);
    sum_dst = file_checksum(f->dst_img);
    g_assert_cmpstr(sum_dst, ==, sum_src);
    if (!lc->heartbeat_ms && !lc->write_mib_s)
        g_assert_cmpstr(sum_src, ==, sum_before);

    xm_migration_get_stats(src, &st);
    g_test_message("source stats: elapsed %" G_GUINT64_FORMAT " ms, downtime %"
                   G_GUINT64_FORMAT " ms, passes %u, memory %" G_GUINT64_FORMAT
                   ", disk sent %" G_GUINT64_FORMAT, st.elapsed_ms, st.downtime_ms,
                   st.passes, st.memory_processed, st.disk_sent);
    g_assert_cmpuint(st.disk_total, ==, 16 * MiB);
    g_assert_cmpuint(st.disk_processed, ==, st.disk_total);
    g_assert_cmpuint(st.memory_processed, >=, 32 * MiB);
    g_assert_cmpuint(st.memory_remaining, ==, 0);
    g_assert_cmpuint(st.data_remaining, ==, 0);
    g_assert_cmpuint(st.data_processed, ==, st.data_total);
    if (sim_tracked()) {
        /* the datapath's tracked mirror may have nothing dirty after
         * its bulk copy */
        g_assert_cmpuint(st.passes, >=, 1);
        g_assert_cmpuint(st.disks_tracked, ==, 1);
    } else {
        g_assert_cmpuint(st.passes, >=, 2);
        g_assert_cmpuint(st.disks_tracked, ==, 0);
        g_assert_cmpuint(st.disks_synchronous, ==, 0);
    }
    g_assert_cmpuint(st.disk_drain_ms, <=, st.downtime_ms);
    g_assert_cmpuint(st.downtime_ms, >, 0);
    g_assert_cmpuint(st.downtime_ms, <=, st.elapsed_ms);
    g_assert_cmpuint(st.setup_time_ms, <=, st.elapsed_ms);
    if (lc->max_passes && sim_tracked()) {
        /* the writer outruns the bandwidth: only synchronous mirroring,
         * which the job turns on by itself, converges */
        g_assert_cmpuint(st.disks_synchronous, ==, 1);
    } else if (lc->max_passes && !lc->stall) {
        g_assert_cmpuint(st.passes, ==, lc->max_passes);
    } else if (lc->stall) {
        /* bulk + three passes that do not shrink, and not many more */
        g_assert_cmpuint(st.passes, >=, 5);
        g_assert_cmpuint(st.passes, <, lc->max_passes);
    }
    xm_migration_get_stats(dst, &st);
    g_assert_cmpuint(st.refused_connections, ==, lc->intruder ? 1 : 0);
    g_assert_cmpuint(st.memory_processed, >=, 32 * MiB);

    if (lc->heartbeat_ms) {
        seq_at_switch = hb_seq(f, 1, ddomid);
        g_assert_true(f->ops[1]->unpause(f->b[1], ddomid, &err));
        g_usleep(400000);
        g_assert_true(f->ops[1]->pause(f->b[1], ddomid, &err));
        g_assert_true(xm_sim_hb_scan_file(f->dst_img, &scan, &err));
        g_assert_no_error(err);
        {
            g_autofree char *line = xm_sim_hb_scan_format(&scan);
            g_test_message("heartbeats on the destination: %s", line);
        }
        g_assert_cmpuint(scan.missing, ==, 0);
        g_assert_cmpuint(scan.n, >, 5);
        g_assert_cmpuint(scan.records[scan.n - 1].seq, >, seq_at_switch);
        g_assert_nonnull(scan.hosts);
        g_assert_cmpstr(scan.hosts[0], ==, "host-a");
        g_assert_cmpstr(scan.hosts[1], ==, "host-b");
        xm_sim_hb_scan_clear(&scan);
    }
}

static const LiveCase live_plain = { FALSE, 20, 1, FALSE, FALSE, 0, 0 };
static const LiveCase live_quiet = { FALSE, 0, 0, FALSE, FALSE, 0, 0 };
static const LiveCase live_tls = { TRUE, 20, 1, FALSE, FALSE, 0, 0 };
static const LiveCase not_live = { FALSE, 20, 1, TRUE, FALSE, 0, 0 };
static const LiveCase intruder = { FALSE, 20, 1, FALSE, TRUE, 0, 0 };
static const LiveCase intruder_tls = { TRUE, 20, 1, FALSE, TRUE, 0, 0 };
/* writes faster than the limit: the pass limit forces the switchover */
static const LiveCase outrun = { FALSE, 20, 24, FALSE, FALSE, 16, 3, FALSE };
static const LiveCase outrun_stall = { FALSE, 20, 24, FALSE, FALSE, 16, 30, TRUE };
static const LiveCase over_ipv6 = { FALSE, 20, 1, FALSE, FALSE, 0, 0, FALSE, TRUE };

/* Shared storage (no disk copy): only memory moves; the guest carries on
 * writing the same image from host-b. */
static void
test_shared_storage(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    XmMigrationStats st;
    XmSimHeartbeatScan scan = { 0 };
    g_auto(Mig) m;
    int ddomid;

    mig_init(f, &m, "shared", 20, 1);
    xm_domain_def_free(m.ddef);
    m.ddef = xm_domain_def_copy(m.def);     /* the same image on both hosts */
    mig_start_guest(f, &m);
    g_usleep(200000);
    m.ps.non_shared_disk = m.pd.non_shared_disk = FALSE;
    mig_begin_prepare(f, &m);
    g_assert_null(strstr(m.c2, "<nbd"));
    ddomid = complete_migration(m.src, m.dst, m.c2);
    xm_migration_get_stats(m.src, &st);
    g_assert_cmpuint(st.disk_total, ==, 0);
    g_assert_cmpuint(st.data_total, ==, st.memory_total);
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
    g_usleep(300000);
    g_assert_true(f->ops[1]->pause(f->b[1], ddomid, &err));
    g_assert_true(xm_sim_hb_scan_file(f->src_img, &scan, &err));
    g_assert_cmpuint(scan.missing, ==, 0);
    g_assert_cmpstr(scan.hosts[0], ==, "host-a");
    g_assert_cmpstr(scan.hosts[1], ==, "host-b");
    xm_sim_hb_scan_clear(&scan);
}

/* migrate-setspeed while the disks copy: lifting a 2 MiB/s limit lets a
 * 44 MiB copy that would take over 20 s finish in a few. */
static void
test_set_speed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    XmMigrationStats st;
    g_auto(Mig) m;
    gint64 t0;

    mig_init(f, &m, "hurry", 20, 1);
    make_image(f->src_img, 48 * MiB);
    fill_image(f->src_img, 4, 48, 0x3c);
    mig_start_guest(f, &m);
    m.ps.bandwidth_mib = 2;
    mig_begin_prepare(f, &m);
    g_assert_cmpuint(xm_migration_get_bandwidth(m.src), ==, 2);
    t0 = g_get_monotonic_time();
    start_perform(&m.pj, m.src, m.c2);
    wait_for_copy(m.src, 1 * MiB);
    xm_migration_get_stats(m.src, &st);
    g_assert_cmpuint(st.bandwidth_mib, ==, 2);
    g_assert_cmpuint(st.disk_sent, <, 8 * MiB);
    xm_migration_set_bandwidth(m.src, 0);
    xm_migration_set_max_downtime(m.src, 500);
    g_assert_cmpuint(xm_migration_get_bandwidth(m.src), ==, 0);
    xm_migration_get_stats(m.src, &st);
    g_assert_cmpuint(st.max_downtime_ms, ==, 500);
    g_thread_join(m.pj.thread);
    g_assert_no_error(m.pj.err);
    g_assert_true(m.pj.ok);
    g_assert_cmpint((g_get_monotonic_time() - t0) / G_USEC_PER_SEC, <, 15);
    g_assert_cmpint(xm_migration_finish(m.dst, NULL, FALSE, NULL, &err), >, 0);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(m.src, NULL, FALSE, &err));
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
}

/* Migrates a guest that dirties no memory and has 12 MiB of data on its
 * 16 MiB disk, with the params of @m; @st gets the source's statistics
 * taken right after Perform. */
static void
migrate_12_mib(Fixture *f, Mig *m, XmMigrationStats *st)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c3 = NULL;

    fill_image(f->src_img, 4, 16, 0x77);
    m->def->sim.ram_dirty_mib_s = 0;
    mig_start_guest(f, m);
    mig_begin_prepare(f, m);
    g_assert_true(xm_migration_perform(m->src, m->c2, &c3, &err));
    g_assert_no_error(err);
    xm_migration_get_stats(m->src, st);
    g_assert_cmpint(xm_migration_finish(m->dst, c3, FALSE, NULL, &err), >, 0);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(m->src, NULL, FALSE, &err));
    g_assert_no_error(err);
}

/* A copy that takes longer than the destination's idle timeout: the
 * source's keepalives tell the destination it is alive. */
static void
test_slow_copy_keepalive(Fixture *f, gconstpointer data)
{
    XmMigrationStats st;
    g_auto(Mig) m;

    mig_init(f, &m, "slow", 20, 0);
    m.ps.bandwidth_mib = 3;        /* 12 MiB of data: ~4 s of disk copy */
    m.pd.connect_timeout_s = 1;
    migrate_12_mib(f, &m, &st);
    g_assert_cmpuint(st.elapsed_ms, >, 3500);    /* longer than the 3 s idle floor */
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
}

/* The bandwidth limit holds for disk and memory together. */
static void
test_bandwidth_shared(Fixture *f, gconstpointer data)
{
    XmMigrationStats st;
    g_auto(Mig) m;
    double mib_s;

    mig_init(f, &m, "metered", 20, 0);
    m.ps.bandwidth_mib = 16;
    migrate_12_mib(f, &m, &st);
    mib_s = (double) (st.memory_processed + st.disk_sent) / MiB / (st.elapsed_ms / 1000.0);
    g_test_message("%.1f MiB/s over %" G_GUINT64_FORMAT " ms (memory %" G_GUINT64_FORMAT
                   ", disk %" G_GUINT64_FORMAT ")", mib_s, st.elapsed_ms,
                   st.memory_processed, st.disk_sent);
    /* 44 MiB at 16 MiB/s: the limiters may start with a small burst */
    g_assert_cmpfloat(mib_s, <=, 16 * 1.2);
    g_assert_cmpfloat(mib_s, >=, 16 * 0.5);
}

/* A guest its user paused arrives paused. */
static void
test_paused_guest(Fixture *f, gconstpointer data)
{
    g_auto(Mig) m;
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;
    int ddomid;

    mig_init(f, &m, "sleeper", 20, 1);
    mig_start_guest(f, &m);
    g_usleep(100000);
    g_assert_true(f->ops[0]->pause(f->b[0], m.domid, &err));
    mig_begin_prepare(f, &m);
    g_assert_nonnull(strstr(m.c1, "guest-paused"));
    ddomid = complete_migration(m.src, m.dst, m.c2);
    g_assert_true(f->ops[1]->info(f->b[1], ddomid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
}

int
main(int argc, char **argv)
{
    sim_test_init(&argc, &argv);
#define ADD SIM_TEST_ADD
    ADD("/migration/sim/live", &live_plain, test_live);
    ADD("/migration/sim/live-source-untouched", &live_quiet, test_live);
    ADD("/migration/sim/live-tls", &live_tls, test_live);
    ADD("/migration/sim/not-live", &not_live, test_live);
    ADD("/migration/sim/ipv6", &over_ipv6, test_live);
    ADD("/migration/sim/pass-limit", &outrun, test_live);
    ADD("/migration/sim/passes-stop-shrinking", &outrun_stall, test_live);
    ADD("/migration/sim/intruder-refused", &intruder, test_live);
    ADD("/migration/sim/intruder-refused-tls", &intruder_tls, test_live);
    ADD("/migration/sim/paused-guest-stays-paused", NULL, test_paused_guest);
    ADD("/migration/sim/set-speed-live", NULL, test_set_speed);
    ADD("/migration/sim/bandwidth-shared", NULL, test_bandwidth_shared);
    ADD("/migration/sim/slow-copy-keepalive", NULL, test_slow_copy_keepalive);
    ADD("/migration/sim/shared-storage", NULL, test_shared_storage);
    return g_test_run();
}
