/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fixture of the in-process migration tests (see sim-fixture.h).
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
#include <libnbd.h>

#include "sim-fixture.h"

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


void
make_image(const char *path, guint64 size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
}

void
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
        /* "direct": scan-mode copies; unset: the backend's default datapath */
        f->cfg[i].sim_disk_datapath = (char *) g_getenv("XENMIG_TEST_SIM_DATAPATH");
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

void
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

XmDomainDef *
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

XmDomainDef *
dest_def(const XmDomainDef *def, const char *path)
{
    XmDomainDef *d = xm_domain_def_copy(def);

    g_free(d->disks[0].source);
    d->disks[0].source = g_strdup(path);
    return d;
}

int
start_guest(Fixture *f, const XmDomainDef *def)
{
    g_autoptr(GError) err = NULL;
    int domid = f->ops[0]->create(f->b[0], def, FALSE, &err);

    g_assert_no_error(err);
    g_assert_cmpint(domid, >, 0);
    return domid;
}

guint
count_domains(Fixture *f, int host)
{
    g_autofree int *ids = NULL;
    size_t n = 0;

    g_assert_true(f->ops[host]->list(f->b[host], &ids, &n, NULL));
    return n;
}

guint64
hb_seq(Fixture *f, int host, int domid)
{
    g_autofree char *sock = g_strdup_printf("%s/sim/%d.sock", f->cfg[host].state_dir, domid);
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(xm_sim_ctl_call(sock, "info", -1, -1, 10000, &reply, &err));
    return xm_sim_reply_get_u64(reply, "hb_seq", 0);
}

char *
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

void
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

void
sim_fixture_install_abort_handler(void)
{
    signal(SIGABRT, on_abort);
}

void
sim_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    sim_fixture_install_abort_handler();
}

void
fill_image(const char *path, guint from_mib, guint to_mib, int byte)
{
    g_autofree char *buf = g_malloc(MiB);
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    memset(buf, byte, MiB);
    for (guint i = from_mib; i < to_mib; i++)
        g_assert_cmpint(pwrite(fd, buf, MiB, (off_t) i * MiB), ==, (ssize_t) MiB);
    close(fd);
}
void
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


gpointer
perform_thread(gpointer data)
{
    PerformJob *p = data;

    p->ok = xm_migration_perform(p->job, p->cookie, NULL, &p->err);
    return NULL;
}

void
mig_init(Fixture *f, Mig *m, const char *name, guint heartbeat_ms, guint64 write_mib_s)
{
    memset(m, 0, sizeof(*m));
    m->def = make_def(name, f->src_img, heartbeat_ms, write_mib_s);
    m->ddef = dest_def(m->def, f->dst_img);
    base_params(&m->ps, TRUE);
    base_params(&m->pd, FALSE);
}

void
mig_clear(Mig *m)
{
    g_free(m->c2);
    g_free(m->c1);
    g_clear_pointer(&m->dst, xm_migration_free);
    g_clear_pointer(&m->src, xm_migration_free);
    xm_domain_def_free(m->ddef);
    xm_domain_def_free(m->def);
    memset(m, 0, sizeof(*m));
}

void
mig_start_guest(Fixture *f, Mig *m)
{
    m->domid = start_guest(f, m->def);
}

void
mig_begin(Fixture *f, Mig *m)
{
    g_autoptr(GError) err = NULL;

    m->src = xm_migration_begin(f->b[0], m->domid, m->def, &m->ps, &m->c1, &err);
    g_assert_no_error(err);
    g_assert_nonnull(m->src);
}

void
mig_begin_prepare(Fixture *f, Mig *m)
{
    g_autoptr(GError) err = NULL;

    mig_begin(f, m);
    m->dst = xm_migration_prepare(f->b[1], m->ddef, m->c1, &m->pd, &m->c2, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(m->dst);
}

void
mig_prepare_refused(Fixture *f, Mig *m, const char *why)
{
    g_autoptr(GError) err = NULL;

    m->dst = xm_migration_prepare(f->b[1], m->ddef, m->c1, &m->pd, &m->c2, NULL, &err);
    g_assert_null(m->dst);
    g_assert_null(m->c2);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, why));
}

void
mig_end_failed(Fixture *f, Mig *m, gboolean tell_dest)
{
    g_autoptr(GError) err = NULL;

    if (m->dst) {
        g_assert_cmpint(xm_migration_finish(m->dst, NULL, tell_dest, NULL, &err), ==, -1);
        if (tell_dest)
            g_assert_no_error(err);
        else
            g_assert_nonnull(err);
        g_clear_error(&err);
    }
    g_assert_true(xm_migration_confirm(m->src, NULL, TRUE, &err));
    g_assert_no_error(err);
    assert_stayed_on_source(f, m->domid);
}

int
complete_migration(XmMigration *src, XmMigration *dst, const char *c2)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *c3 = NULL, *c4 = NULL;
    int ddomid;

    g_assert_true(xm_migration_perform(src, c2, &c3, &err));
    g_assert_no_error(err);
    ddomid = xm_migration_finish(dst, c3, FALSE, &c4, &err);
    g_assert_no_error(err);
    g_assert_cmpint(ddomid, >, 0);
    g_assert_true(xm_migration_confirm(src, c4, FALSE, &err));
    g_assert_no_error(err);
    return ddomid;
}

void
start_perform(PerformJob *pj, XmMigration *src, const char *c2)
{
    pj->job = src;
    pj->cookie = c2;
    pj->thread = g_thread_new("perform", perform_thread, pj);
}

void
join_failed_perform(PerformJob *pj)
{
    g_thread_join(pj->thread);
    pj->thread = NULL;
    g_assert_false(pj->ok);
    g_assert_nonnull(pj->err);
}

void
wait_for_memory(XmMigration *job, guint64 bytes)
{
    XmMigrationStats st;

    for (int i = 0; i < 600; i++) {
        xm_migration_get_stats(job, &st);
        if (st.state == XM_MIGRATION_STATE_PERFORMING_MEMORY && st.memory_processed > bytes)
            return;
        g_usleep(25000);
    }
    g_assert_not_reached();
}

void
assert_stayed_on_source(Fixture *f, int domid)
{
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;
    guint64 seq;

    g_assert_false(g_file_test(f->dst_img, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_domains(f, 1), ==, 0);
    g_assert_true(f->ops[0]->info(f->b[0], domid, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, 0, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, 0, domid), >, seq);
}

gboolean
sim_tracked(void)
{
    const char *mode = g_getenv("XENMIG_TEST_SIM_DATAPATH");

    return !mode || strcmp(mode, "direct") != 0;
}

void
nbd_write_to_dest(const char *c2, const char *target, const void *data, size_t len,
                  guint64 offset)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmCookie) ck = xm_cookie_parse(c2, strlen(c2), &err);
    const XmCookieDisk *cd;
    g_autofree char *uri = NULL;
    struct nbd_handle *nbd;

    g_assert_no_error(err);
    cd = xm_cookie_find_disk(ck, target);
    g_assert_nonnull(cd);
    uri = g_strdup_printf("nbd://%s:%u/%s", ck->nbd_host,
                          cd->nbd_port ? cd->nbd_port : ck->nbd_port, cd->export_name);
    nbd = nbd_create();
    g_assert_nonnull(nbd);
    if (nbd_connect_uri(nbd, uri) < 0 || nbd_pwrite(nbd, data, len, offset, 0) < 0 ||
        nbd_shutdown(nbd, 0) < 0)
        g_error("writing to %s: %s", uri, nbd_get_error());
    nbd_close(nbd);
}
