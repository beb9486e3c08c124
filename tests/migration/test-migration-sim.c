/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration job end to end in one process, without libvirt: two sim
 * backends ("host-a" and "host-b", separate state directories) on
 * loopback, a sim guest writing heartbeats and random data to its disk.
 *
 * Every guest is killed at the end of its test case, and by a SIGABRT
 * handler (from the pid files) when an assertion fails.
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

#define MiB (1024ull * 1024)

static char *state_dirs[2];

static void
kill_guests(void)
{
    for (int i = 0; i < 2; i++) {
        g_autofree char *dir = state_dirs[i] ? g_build_filename(state_dirs[i], "sim", NULL) : NULL;
        GDir *d = dir ? g_dir_open(dir, 0, NULL) : NULL;
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *path = NULL, *text = NULL;
            if (!g_str_has_suffix(name, ".pid"))
                continue;
            path = g_build_filename(dir, name, NULL);
            if (g_file_get_contents(path, &text, NULL, NULL) && atoi(text) > 0)
                kill(atoi(text), SIGKILL);
        }
        if (d)
            g_dir_close(d);
    }
}

static void
on_abort(int sig)
{
    kill_guests();
    signal(sig, SIG_DFL);
    raise(sig);
}

typedef struct {
    char *dir;
    char *src_img;
    char *dst_img;
    char *pki;
    XmBackendConfig cfg[2];
    XmBackend *b[2];
    const XmBackendOps *ops[2];
} Fixture;

static void
make_image(const char *path, guint64 size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
}

static void
setup(Fixture *f, gconstpointer data)
{
    g_autofree char *dstdir = NULL;
    const char *names[2] = { "host-a", "host-b" };

    f->dir = g_dir_make_tmp("xm-mig-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    dstdir = g_build_filename(f->dir, "dst", NULL);
    g_assert_cmpint(mkdir(dstdir, 0700), ==, 0);
    f->src_img = g_build_filename(f->dir, "src.img", NULL);
    f->dst_img = g_build_filename(dstdir, "moved.img", NULL);
    make_image(f->src_img, 16 * MiB);
    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;
        f->cfg[i].backend = (char *) "sim";
        f->cfg[i].state_dir = g_build_filename(f->dir, i ? "state-b" : "state-a", NULL);
        f->cfg[i].sim_host_name = (char *) names[i];
        f->cfg[i].sim_host_memory_mib = 1024;
        f->cfg[i].sim_host_cpus = 2;
        state_dirs[i] = f->cfg[i].state_dir;
        f->b[i] = xm_backend_new(&f->cfg[i], NULL, NULL, &err);
        g_assert_no_error(err);
        f->ops[i] = xm_backend_ops(f->b[i]);
    }
}

static void
destroy_all(XmBackend *b)
{
    g_autofree int *ids = NULL;
    size_t n = 0;

    if (b && xm_backend_ops(b)->list(b, &ids, &n, NULL)) {
        for (size_t i = 0; i < n; i++)
            xm_backend_ops(b)->destroy(b, ids[i], NULL);
    }
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

    for (int i = 0; i < 2; i++) {
        destroy_all(f->b[i]);
        g_clear_pointer(&f->b[i], xm_backend_free);
    }
    kill_guests();
    for (int i = 0; i < 2; i++) {
        state_dirs[i] = NULL;
        g_free(f->cfg[i].state_dir);
    }
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->src_img);
    g_free(f->dst_img);
    g_free(f->pki);
    g_free(f->dir);
}

static XmDomainDef *
make_def(const char *name, const char *disk, guint heartbeat_ms, guint64 write_mib_s)
{
    XmDomainDef *def = g_new0(XmDomainDef, 1);

    def->name = g_strdup(name);
    xm_uuid_generate(def->uuid);
    def->max_memory_kib = 32 * 1024;
    def->current_memory_kib = 32 * 1024;
    def->vcpus = def->max_vcpus = 1;
    def->os_type = XM_OS_PVH;
    def->ndisks = 1;
    def->disks = g_new0(XmDiskDef, 1);
    def->disks[0].source = g_strdup(disk);
    def->disks[0].target = g_strdup("xvda");
    def->sim.present = true;
    def->sim.heartbeat_ms = heartbeat_ms;
    def->sim.ram_dirty_mib_s = 2;
    def->sim.disk_write_mib_s = write_mib_s;
    return def;
}

static XmDomainDef *
dest_def(const XmDomainDef *def, const char *path)
{
    XmDomainDef *d = xm_domain_def_copy(def);

    g_free(d->disks[0].source);
    d->disks[0].source = g_strdup(path);
    return d;
}

static int
start_guest(Fixture *f, const XmDomainDef *def)
{
    g_autoptr(GError) err = NULL;
    int domid = f->ops[0]->create(f->b[0], def, FALSE, &err);

    g_assert_no_error(err);
    g_assert_cmpint(domid, >, 0);
    return domid;
}

static guint
count_domains(Fixture *f, int host)
{
    g_autofree int *ids = NULL;
    size_t n = 0;

    g_assert_true(f->ops[host]->list(f->b[host], &ids, &n, NULL));
    return n;
}

static guint64
hb_seq(Fixture *f, int host, int domid)
{
    g_autofree char *sock = g_strdup_printf("%s/sim/%d.sock", f->cfg[host].state_dir, domid);
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(xm_sim_ctl_call(sock, "info", -1, -1, 10000, &reply, &err));
    return xm_sim_reply_get_u64(reply, "hb_seq", 0);
}

static char *
file_checksum(const char *path)
{
    g_autoptr(GError) err = NULL;
    char sum[33];
    guint64 size;

    g_assert_true(xm_migration_image_size(path, &size, NULL, &err));
    g_assert_true(xm_migration_image_checksum(path, size, NULL, sum, &err));
    g_assert_no_error(err);
    return g_strdup(sum);
}

static void
base_params(XmMigrationParams *p, gboolean source)
{
    memset(p, 0, sizeof(*p));
    p->live = TRUE;
    p->non_shared_disk = TRUE;
    p->host_name = source ? "host-a" : "host-b";
    /* CloudStack's form, and what keeps the endpoints on loopback */
    p->uri = "tcp:127.0.0.1";
    p->connect_timeout_s = 20;
}

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
    g_assert_cmpuint(st.passes, >=, 2);
    g_assert_cmpuint(st.downtime_ms, >, 0);
    g_assert_cmpuint(st.downtime_ms, <=, st.elapsed_ms);
    g_assert_cmpuint(st.setup_time_ms, <=, st.elapsed_ms);
    if (lc->max_passes && !lc->stall)
        g_assert_cmpuint(st.passes, ==, lc->max_passes);
    if (lc->stall) {
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

static void
wait_for_copy(XmMigration *job, guint64 bytes)
{
    XmMigrationStats st;

    for (int i = 0; i < 400; i++) {
        xm_migration_get_stats(job, &st);
        if (st.state == XM_MIGRATION_STATE_PERFORMING_DISKS && st.disk_sent >= bytes)
            return;
        g_usleep(25000);
    }
    g_assert_not_reached();
}

typedef struct {
    XmMigration *job;
    const char *cookie;
    gboolean ok;
    GError *err;
} PerformJob;

static gpointer
perform_thread(gpointer data)
{
    PerformJob *p = data;

    p->ok = xm_migration_perform(p->job, p->cookie, NULL, &p->err);
    return NULL;
}

/* Cancel while the disks copy: the guest keeps running on host-a, host-b
 * has no domain and the image it created is gone. */
static void
test_cancel_copy(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("stayer", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    PerformJob pj = { 0 };
    XmDomainInfo info;
    guint64 seq;
    GThread *t;
    int domid;

    make_image(f->src_img, 48 * MiB);
    {
        /* data to copy: the bulk pass over holes would be instant */
        g_autofree char *buf = g_malloc(MiB);
        int fd = open(f->src_img, O_WRONLY);
        memset(buf, 0x5a, MiB);
        for (int i = 4; i < 48; i++)
            g_assert_cmpint(pwrite(fd, buf, MiB, i * MiB), ==, (ssize_t) MiB);
        close(fd);
    }
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 4;      /* ~10 s of copying: plenty of time to cancel */

    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    pj.job = src;
    pj.cookie = c2;
    t = g_thread_new("perform", perform_thread, &pj);
    wait_for_copy(src, 2 * MiB);
    xm_migration_cancel(src);
    xm_migration_cancel(src);          /* idempotent */
    g_thread_join(t);
    g_assert_false(pj.ok);
    g_assert_error(pj.err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&pj.err);
    g_assert_cmpint(xm_migration_get_state(src), ==, XM_MIGRATION_STATE_CANCELLED);

    g_assert_cmpint(xm_migration_finish(dst, NULL, TRUE, NULL, &err), ==, -1);
    g_assert_true(xm_migration_confirm(src, NULL, TRUE, &err));
    g_assert_no_error(err);

    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_true(f->ops[0]->info(f->b[0], domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, 0, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, 0, domid), >, seq);
}

/* copy-storage-inc onto a pre-created image (as nova does), with the NBD
 * endpoint named by disks_uri: a cancelled attempt leaves the image that
 * the migration did not create, and a second attempt completes. */
static void
test_inc_retry(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("inc", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(GError) err = NULL;
    XmMigrationParams ps, pd;
    PerformJob pj = { 0 };
    GThread *t;
    int domid, ddomid;

    make_image(f->src_img, 48 * MiB);
    {
        g_autofree char *buf = g_malloc(MiB);
        int fd = open(f->src_img, O_WRONLY);
        memset(buf, 0xa5, MiB);
        for (int i = 4; i < 48; i++)
            g_assert_cmpint(pwrite(fd, buf, MiB, i * MiB), ==, (ssize_t) MiB);
        close(fd);
    }
    make_image(f->dst_img, 48 * MiB);
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.non_shared_disk = pd.non_shared_disk = FALSE;
    ps.non_shared_inc = pd.non_shared_inc = TRUE;
    pd.disks_uri = "tcp://127.0.0.1";

    {
        g_autoptr(XmMigration) src = NULL, dst = NULL;
        g_autofree char *c1 = NULL, *c2 = NULL;

        ps.bandwidth_mib = 4;
        src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
        g_assert_no_error(err);
        dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
        g_assert_no_error(err);
        pj.job = src;
        pj.cookie = c2;
        t = g_thread_new("perform", perform_thread, &pj);
        wait_for_copy(src, 2 * MiB);
        xm_migration_cancel(src);
        g_thread_join(t);
        g_assert_false(pj.ok);
        g_clear_error(&pj.err);
        g_assert_cmpint(xm_migration_finish(dst, NULL, TRUE, NULL, &err), ==, -1);
        g_assert_no_error(err);
        g_assert_true(xm_migration_confirm(src, NULL, TRUE, &err));
        g_assert_true(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    }
    {
        g_autoptr(XmMigration) src = NULL, dst = NULL;
        g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
        g_autofree char *a = NULL, *b = NULL;

        ps.bandwidth_mib = 0;
        pd.paused = TRUE;
        src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
        g_assert_no_error(err);
        dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
        g_assert_no_error(err);
        g_assert_true(xm_migration_perform(src, c2, &c3, &err));
        g_assert_no_error(err);
        ddomid = xm_migration_finish(dst, c3, FALSE, &c4, &err);
        g_assert_no_error(err);
        g_assert_cmpint(ddomid, >, 0);
        g_assert_true(xm_migration_confirm(src, c4, FALSE, &err));
        g_assert_no_error(err);
        a = file_checksum(f->src_img);
        b = file_checksum(f->dst_img);
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
    g_autoptr(XmDomainDef) def = NULL, ddef = NULL;
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *dstdir = g_path_get_dirname(f->dst_img);
    XmMigrationParams ps, pd;
    struct statvfs vfs;
    guint64 size;
    int domid;

    g_assert_cmpint(statvfs(dstdir, &vfs), ==, 0);
    size = ((guint64) vfs.f_bavail * vfs.f_frsize + 1024 * MiB) & ~(MiB - 1);
    make_image(f->src_img, size);     /* sparse: takes no space here */
    def = make_def("big", f->src_img, 0, 0);
    ddef = dest_def(def, f->dst_img);
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_null(dst);
    g_assert_null(c2);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "not enough space"));
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_true(xm_migration_confirm(src, NULL, TRUE, NULL));
    g_assert_cmpuint(count_domains(f, 0), ==, 1);
}

/* Not enough free memory on the destination. */
static void
test_no_memory(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("fat", f->src_img, 0, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    int domid;

    xm_backend_free(f->b[1]);
    f->cfg[1].sim_host_memory_mib = 16;
    f->b[1] = xm_backend_new(&f->cfg[1], NULL, NULL, &err);
    g_assert_no_error(err);
    f->ops[1] = xm_backend_ops(f->b[1]);

    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_null(dst);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "not enough free memory"));
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
}

/* copy-storage-inc needs the image to exist with the source's size. */
static void
test_inc_missing_image(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("inc", f->src_img, 0, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    int domid = start_guest(f, def);

    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.non_shared_disk = pd.non_shared_disk = FALSE;
    ps.non_shared_inc = pd.non_shared_inc = TRUE;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_null(dst);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_clear_error(&err);

    make_image(f->dst_img, 8 * MiB);   /* wrong size */
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_null(dst);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "exists with"));
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

/* Shared storage (no disk copy): only memory moves; the guest carries on
 * writing the same image from host-b. */
static void
test_shared_storage(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("shared", f->src_img, 20, 1);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    XmSimHeartbeatScan scan = { 0 };
    int domid, ddomid;

    domid = start_guest(f, def);
    g_usleep(200000);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.non_shared_disk = pd.non_shared_disk = FALSE;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], def, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_null(strstr(c2, "<nbd"));
    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);
    ddomid = xm_migration_finish(dst, c3, FALSE, &c4, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(src, c4, FALSE, &err));
    xm_migration_get_stats(src, &st);
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

/* The destination's own check fails after the completion record (its
 * image was altered): it destroys its half, and the source guest, still
 * suspended and intact, is resumed by the cancelled confirm. */
static void
test_dest_verify_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("checked", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    XmMigrationParams ps, pd;
    XmDomainInfo info;
    guint64 seq;
    int domid, fd;

    domid = start_guest(f, def);
    g_usleep(200000);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);

    fd = open(f->dst_img, O_WRONLY);
    g_assert_cmpint(pwrite(fd, "corrupt", 7, 9 * MiB + 3), ==, 7);
    close(fd);

    g_assert_cmpint(xm_migration_finish(dst, c3, FALSE, NULL, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "differs"));
    g_clear_error(&err);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    g_assert_true(xm_migration_confirm(src, NULL, TRUE, &err));
    g_assert_no_error(err);
    g_assert_true(f->ops[0]->info(f->b[0], domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, 0, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, 0, domid), >, seq);
}

/* Cancel while memory flows (slowed by the bandwidth limit): the guest
 * runs on at the source, the destination's half is gone. */
static void
test_cancel_memory(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("stayer", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    PerformJob pj = { 0 };
    XmDomainInfo info;
    guint64 seq;
    GThread *t;
    int domid, i;

    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 8;      /* memory gets half: 32 MiB take ~8 s */
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    pj.job = src;
    pj.cookie = c2;
    t = g_thread_new("perform", perform_thread, &pj);
    for (i = 0; i < 600; i++) {
        xm_migration_get_stats(src, &st);
        if (st.state == XM_MIGRATION_STATE_PERFORMING_MEMORY && st.memory_processed > 2 * MiB)
            break;
        g_usleep(25000);
    }
    g_assert_cmpint(i, <, 600);
    g_assert_cmpuint(st.memory_remaining, >, 0);
    xm_migration_cancel(src);
    g_thread_join(t);
    g_assert_false(pj.ok);
    g_assert_error(pj.err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_clear_error(&pj.err);

    /* the destination learns it from its finish */
    g_assert_cmpint(xm_migration_finish(dst, NULL, FALSE, NULL, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_true(xm_migration_confirm(src, NULL, TRUE, &err));
    g_assert_no_error(err);

    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_true(f->ops[0]->info(f->b[0], domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, 0, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, 0, domid), >, seq);
}

/* The destination goes away while memory flows (its job is cancelled and
 * freed, as when its libvirtd dies): the source's perform fails and the
 * guest runs on at the source. */
static void
test_dest_dies_memory(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("survivor", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL;
    XmMigration *dst;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    PerformJob pj = { 0 };
    XmDomainInfo info;
    guint64 seq;
    GThread *t;
    int domid, i;

    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 8;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    pj.job = src;
    pj.cookie = c2;
    t = g_thread_new("perform", perform_thread, &pj);
    for (i = 0; i < 600; i++) {
        xm_migration_get_stats(dst, &st);
        if (st.state == XM_MIGRATION_STATE_PERFORMING_MEMORY && st.memory_processed > 2 * MiB)
            break;
        g_usleep(25000);
    }
    g_assert_cmpint(i, <, 600);
    xm_migration_free(dst);
    g_thread_join(t);
    g_assert_false(pj.ok);
    g_assert_nonnull(pj.err);
    g_test_message("source saw: %s", pj.err->message);
    g_clear_error(&pj.err);
    g_assert_true(xm_migration_confirm(src, NULL, TRUE, &err));
    g_assert_no_error(err);

    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_true(f->ops[0]->info(f->b[0], domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, 0, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, 0, domid), >, seq);
}

/* migrate-setspeed while the disks copy: lifting a 2 MiB/s limit lets a
 * 44 MiB copy that would take over 20 s finish in a few. */
static void
test_set_speed(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("hurry", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    PerformJob pj = { 0 };
    gint64 t0;
    GThread *t;
    int domid;

    make_image(f->src_img, 48 * MiB);
    {
        g_autofree char *buf = g_malloc(MiB);
        int fd = open(f->src_img, O_WRONLY);
        memset(buf, 0x3c, MiB);
        for (int i = 4; i < 48; i++)
            g_assert_cmpint(pwrite(fd, buf, MiB, i * MiB), ==, (ssize_t) MiB);
        close(fd);
    }
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 2;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(xm_migration_get_bandwidth(src), ==, 2);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    t0 = g_get_monotonic_time();
    pj.job = src;
    pj.cookie = c2;
    t = g_thread_new("perform", perform_thread, &pj);
    wait_for_copy(src, 1 * MiB);
    xm_migration_get_stats(src, &st);
    g_assert_cmpuint(st.bandwidth_mib, ==, 2);
    g_assert_cmpuint(st.disk_sent, <, 8 * MiB);
    xm_migration_set_bandwidth(src, 0);
    xm_migration_set_max_downtime(src, 500);
    g_assert_cmpuint(xm_migration_get_bandwidth(src), ==, 0);
    xm_migration_get_stats(src, &st);
    g_assert_cmpuint(st.max_downtime_ms, ==, 500);
    g_thread_join(t);
    g_assert_no_error(pj.err);
    g_assert_true(pj.ok);
    g_assert_cmpint((g_get_monotonic_time() - t0) / G_USEC_PER_SEC, <, 15);
    g_assert_cmpint(xm_migration_finish(dst, NULL, FALSE, NULL, &err), >, 0);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(src, NULL, FALSE, &err));
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
}

/* A copy that takes longer than the destination's idle timeout: the
 * source's keepalives tell the destination it is alive. */
static void
test_slow_copy_keepalive(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("slow", f->src_img, 20, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    int domid;

    {
        g_autofree char *buf = g_malloc(MiB);
        int fd = open(f->src_img, O_WRONLY);
        memset(buf, 0x77, MiB);
        for (int i = 4; i < 16; i++)
            g_assert_cmpint(pwrite(fd, buf, MiB, i * MiB), ==, (ssize_t) MiB);
        close(fd);
    }
    def->sim.ram_dirty_mib_s = 0;
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 3;          /* 12 MiB of data: ~4 s of disk copy */
    pd.connect_timeout_s = 1;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);
    xm_migration_get_stats(src, &st);
    g_assert_cmpuint(st.elapsed_ms, >, 3500);    /* longer than the 3 s idle floor */
    g_assert_cmpint(xm_migration_finish(dst, c3, FALSE, NULL, &err), >, 0);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(src, NULL, FALSE, &err));
    g_assert_cmpuint(count_domains(f, 1), ==, 1);
}

/* The bandwidth limit holds for disk and memory together. */
static void
test_bandwidth_shared(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("metered", f->src_img, 20, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    XmMigrationParams ps, pd;
    XmMigrationStats st;
    double mib_s;
    int domid;

    {
        g_autofree char *buf = g_malloc(MiB);
        int fd = open(f->src_img, O_WRONLY);
        memset(buf, 0x11, MiB);
        for (int i = 4; i < 16; i++)
            g_assert_cmpint(pwrite(fd, buf, MiB, i * MiB), ==, (ssize_t) MiB);
        close(fd);
    }
    def->sim.ram_dirty_mib_s = 0;
    domid = start_guest(f, def);
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    ps.bandwidth_mib = 16;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);
    xm_migration_get_stats(src, &st);
    mib_s = (double) (st.memory_processed + st.disk_sent) / MiB / (st.elapsed_ms / 1000.0);
    g_test_message("%.1f MiB/s over %" G_GUINT64_FORMAT " ms (memory %" G_GUINT64_FORMAT
                   ", disk %" G_GUINT64_FORMAT ")", mib_s, st.elapsed_ms,
                   st.memory_processed, st.disk_sent);
    /* 44 MiB at 16 MiB/s: the limiters may start with a small burst */
    g_assert_cmpfloat(mib_s, <=, 16 * 1.2);
    g_assert_cmpfloat(mib_s, >=, 16 * 0.5);
    g_assert_cmpint(xm_migration_finish(dst, c3, FALSE, NULL, &err), >, 0);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(src, NULL, FALSE, &err));
}

/* A guest its user paused arrives paused. */
static void
test_paused_guest(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("sleeper", f->src_img, 20, 1);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
    XmMigrationParams ps, pd;
    XmDomainInfo info;
    int domid, ddomid;

    domid = start_guest(f, def);
    g_usleep(100000);
    g_assert_true(f->ops[0]->pause(f->b[0], domid, &err));
    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    g_assert_nonnull(strstr(c1, "guest-paused"));
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);
    ddomid = xm_migration_finish(dst, c3, FALSE, &c4, &err);
    g_assert_no_error(err);
    g_assert_true(xm_migration_confirm(src, c4, FALSE, &err));
    g_assert_true(f->ops[1]->info(f->b[1], ddomid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    g_assert_cmpuint(count_domains(f, 0), ==, 0);
}

/* Nobody comes: the destination gives up after its timeout, closes its
 * endpoints and deletes what it created. */
static void
test_dest_timeout(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def("lonely", f->src_img, 0, 0);
    g_autoptr(XmDomainDef) ddef = dest_def(def, f->dst_img);
    g_autoptr(XmMigration) src = NULL, dst = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    XmMigrationParams ps, pd;
    int domid = start_guest(f, def);

    base_params(&ps, TRUE);
    base_params(&pd, FALSE);
    pd.connect_timeout_s = 1;
    ps.connect_timeout_s = 2;
    src = xm_migration_begin(f->b[0], domid, def, &ps, &c1, &err);
    g_assert_no_error(err);
    dst = xm_migration_prepare(f->b[1], ddef, c1, &pd, &c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(xm_migration_finish(dst, NULL, FALSE, NULL, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_TIMEOUT);
    g_clear_error(&err);
    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));

    /* a source arriving late finds the door shut and keeps its guest */
    g_assert_false(xm_migration_perform(src, c2, &c3, &err));
    g_assert_nonnull(err);
    g_assert_true(xm_migration_confirm(src, NULL, TRUE, NULL));
    g_assert_cmpuint(count_domains(f, 0), ==, 1);
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGABRT, on_abort);
#define ADD(path, data, fn) \
    g_test_add(path, Fixture, data, setup, fn, teardown)
    ADD("/migration/sim/live", &live_plain, test_live);
    ADD("/migration/sim/live-source-untouched", &live_quiet, test_live);
    ADD("/migration/sim/live-tls", &live_tls, test_live);
    ADD("/migration/sim/not-live", &not_live, test_live);
    ADD("/migration/sim/ipv6", &over_ipv6, test_live);
    ADD("/migration/sim/pass-limit", &outrun, test_live);
    ADD("/migration/sim/passes-stop-shrinking", &outrun_stall, test_live);
    ADD("/migration/sim/destination-verify-fails", NULL, test_dest_verify_fails);
    ADD("/migration/sim/intruder-refused", &intruder, test_live);
    ADD("/migration/sim/intruder-refused-tls", &intruder_tls, test_live);
    ADD("/migration/sim/cancel-during-copy", NULL, test_cancel_copy);
    ADD("/migration/sim/cancel-during-memory", NULL, test_cancel_memory);
    ADD("/migration/sim/destination-timeout", NULL, test_dest_timeout);
    ADD("/migration/sim/paused-guest-stays-paused", NULL, test_paused_guest);
    ADD("/migration/sim/set-speed-live", NULL, test_set_speed);
    ADD("/migration/sim/bandwidth-shared", NULL, test_bandwidth_shared);
    ADD("/migration/sim/slow-copy-keepalive", NULL, test_slow_copy_keepalive);
    ADD("/migration/sim/destination-dies-during-memory", NULL, test_dest_dies_memory);
    ADD("/migration/sim/inc-cancel-then-retry", NULL, test_inc_retry);
    ADD("/migration/sim/no-space", NULL, test_no_space);
    ADD("/migration/sim/no-memory", NULL, test_no_memory);
    ADD("/migration/sim/inc-needs-image", NULL, test_inc_missing_image);
    ADD("/migration/sim/bad-params", NULL, test_bad_params);
    ADD("/migration/sim/disk-choice", NULL, test_disk_choice);
    ADD("/migration/sim/prepare-endpoints", NULL, test_prepare_endpoints);
    ADD("/migration/sim/shared-storage", NULL, test_shared_storage);
    return g_test_run();
}
