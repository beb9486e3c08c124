/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim backend's datapath (sim_disk_datapath): real guests whose disks
 * are served by a real xenmig-datapath daemon per domain. The daemon lives
 * exactly as long as its guest, is found again after a backend restart,
 * and its death takes the guest down; "direct" starts none.
 *
 * Every process of a test case (guests and daemons) is killed at its end,
 * and by a SIGABRT handler when an assertion fails: the handler kills every
 * process whose command line names the test's directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenmig/backend.h>
#include <xenmig/error.h>
#include "backend/sim-proto.h"
#include "backend-test.h"
#include "event-log.h"
#include "util/util.h"
#include "storage-mirror/datapath-client.h"

typedef struct {
    char *dir;
    char *disk[2];
    XmBackendConfig cfg;
    XmBackend *b;
    const XmBackendOps *ops;
    EventLog events;
} Fixture;

static void
open_backend(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    f->b = xm_backend_new(&f->cfg, event_log_record, &f->events, &err);
    g_assert_no_error(err);
    f->ops = xm_backend_ops(f->b);
}

static void
setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("xm-simdp-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    bt_watch_dir(f->dir);
    f->disk[0] = bt_make_disk(f->dir, "disk0.img", 16 * 1024 * 1024);
    f->disk[1] = bt_make_disk(f->dir, "disk1.img", 8 * 1024 * 1024);
    bt_sim_config(&f->cfg, f->dir);
    f->cfg.sim_disk_datapath = (char *) data;     /* NULL: the default */
    event_log_init(&f->events);
    open_backend(f);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree int *ids = NULL;
    g_autofree char *cmd = NULL;
    size_t n = 0;

    if (f->b && f->ops->list(f->b, &ids, &n, NULL)) {
        for (size_t i = 0; i < n; i++)
            f->ops->destroy(f->b, ids[i], NULL);
    }
    g_clear_pointer(&f->b, xm_backend_free);
    bt_kill_test_processes();
    bt_watch_dir(NULL);
    cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->disk[0]);
    g_free(f->disk[1]);
    g_free(f->cfg.state_dir);
    g_free(f->dir);
    event_log_clear(&f->events);
}

static XmDomainDef *
make_def(Fixture *f, const char *name, guint heartbeat_ms, guint64 write_mib_s)
{
    XmDomainDef *def = g_new0(XmDomainDef, 1);

    def->name = g_strdup(name);
    xm_uuid_generate(def->uuid);
    def->max_memory_kib = def->current_memory_kib = 16 * 1024;
    def->vcpus = def->max_vcpus = 1;
    def->os_type = XM_OS_PVH;
    def->ndisks = 2;
    def->disks = g_new0(XmDiskDef, 2);
    def->disks[0].source = g_strdup(f->disk[0]);
    def->disks[0].target = g_strdup("xvda");
    def->disks[1].source = g_strdup(f->disk[1]);
    def->disks[1].target = g_strdup("xvdb");
    def->sim.present = true;
    def->sim.heartbeat_ms = heartbeat_ms;
    def->sim.disk_write_mib_s = write_mib_s;
    return def;
}

static char *
state_file(Fixture *f, int domid, const char *suffix)
{
    return g_strdup_printf("%s/sim/%d.%s", f->cfg.state_dir, domid, suffix);
}

static pid_t
read_pid(Fixture *f, int domid, const char *suffix)
{
    g_autofree char *path = state_file(f, domid, suffix);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return atoi(text);
}

/* Waits up to 5 s for @pid to go away. */
static gboolean
wait_gone(pid_t pid)
{
    for (int i = 0; i < 250 && bt_process_alive(pid); i++)
        g_usleep(20000);
    return !bt_process_alive(pid);
}

/* Nothing of @domid is left in the state directory but its logs. */
static void
assert_no_leftovers(Fixture *f, int domid)
{
    g_autofree char *dir = g_build_filename(f->cfg.state_dir, "sim", NULL);
    g_autofree char *prefix = g_strdup_printf("%d.", domid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GString) s = g_string_new(NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        if (g_str_has_prefix(e, prefix) && !g_str_has_suffix(e, ".log"))
            g_string_append_printf(s, "%s ", e);
    }
    g_assert_cmpstr(s->str, ==, "");
}

static guint64
hb_seq(Fixture *f, int domid)
{
    g_autofree char *sock = state_file(f, domid, "sock");
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(xm_sim_ctl_call(sock, "info", -1, -1, 10000, &reply, &err));
    return xm_sim_reply_get_u64(reply, "hb_seq", 0);
}

static char *
file_checksum(const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) data, len);
}

/* @domid's datapath: its control socket answers PING and it is the daemon
 * of the pid file. Returns the daemon's pid. */
static pid_t
assert_datapath(Fixture *f, int domid)
{
    g_autofree char *want = state_file(f, domid, "dp.ctl");
    g_autoptr(GError) err = NULL;
    g_autofree char *ctl = f->ops->disk_datapath(f->b, domid, &err);
    pid_t pid = read_pid(f, domid, "dp.pid");

    g_assert_no_error(err);
    g_assert_cmpstr(ctl, ==, want);
    g_assert_true(xm_datapath_ping(ctl, &err));
    g_assert_no_error(err);
    g_assert_true(bt_process_alive(pid));
    return pid;
}

/* Two disks written through the daemon while the guest runs; destroy takes
 * the daemon and every file with it. */
static void
test_two_disks(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-two", 20, 4);
    g_autoptr(GError) err = NULL;
    g_autofree char *sum0 = file_checksum(f->disk[0]);
    g_autofree char *sum1 = file_checksum(f->disk[1]);
    g_autofree char *conf = NULL, *line = NULL;
    g_autofree char *s0 = NULL, *s1 = NULL;
    int domid = bt_create(f->b, def, FALSE), status;
    pid_t dp = assert_datapath(f, domid), guest = read_pid(f, domid, "pid");

    /* the guest opens the daemon's sockets, not the images */
    {
        g_autofree char *path = state_file(f, domid, "conf");
        g_assert_true(g_file_get_contents(path, &conf, NULL, NULL));
        g_assert_nonnull(strstr(conf, "nbd+unix:///?socket="));
        g_assert_null(strstr(conf, "disk0.img"));
        g_assert_null(strstr(conf, "disk1.img"));
    }
    g_usleep(1000000);
    g_assert_true(bt_process_alive(dp));
    /* a read of the image file by another process sees the writes */
    s0 = file_checksum(f->disk[0]);
    s1 = file_checksum(f->disk[1]);
    g_assert_cmpstr(s0, !=, sum0);
    g_assert_cmpstr(s1, !=, sum1);
    line = bt_heartbeat_check(f->disk[0], &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "records"), >=, 20);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);

    g_assert_true(f->ops->destroy(f->b, domid, &err));
    g_assert_no_error(err);
    g_assert_false(bt_process_alive(guest));
    g_assert_true(wait_gone(dp));
    assert_no_leftovers(f, domid);
    {
        g_autofree char *log = state_file(f, domid, "dp.log");
        g_assert_false(g_file_test(log, G_FILE_TEST_EXISTS));
    }
}

static void
test_direct(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-direct", 20, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *ctl = NULL, *dp_pid = NULL, *line = NULL;
    int domid = bt_create(f->b, def, FALSE), status;
    pid_t procs[8];

    ctl = f->ops->disk_datapath(f->b, domid, &err);
    g_assert_no_error(err);
    g_assert_null(ctl);
    dp_pid = state_file(f, domid, "dp.pid");
    g_assert_false(g_file_test(dp_pid, G_FILE_TEST_EXISTS));
    /* the guest is the only process of this test */
    g_assert_cmpint(bt_procs_with(f->dir, procs, 8), ==, 1);
    g_assert_cmpint(procs[0], ==, read_pid(f, domid, "pid"));
    g_usleep(300000);
    line = bt_heartbeat_check(f->disk[0], &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(f->ops->destroy(f->b, domid, &err));
}

static void
test_unknown_domain(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(f->ops->disk_datapath(f->b, 4242, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_DOMAIN);
}

/* A libvirtd restart: the guest and its daemon keep running, the new
 * backend finds both and the guest never notices. */
static void
test_reconnect(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-survivor", 20, 1);
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    g_autofree char *line = NULL;
    size_t n = 0;
    int domid = bt_create(f->b, def, FALSE), status;
    pid_t dp = assert_datapath(f, domid), dp_again;
    guint64 seq;

    g_usleep(200000);
    g_clear_pointer(&f->b, xm_backend_free);
    g_usleep(300000);
    g_assert_true(bt_process_alive(dp));
    open_backend(f);
    g_assert_true(f->ops->reconnect(f->b, &ids, &n, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ids[0], ==, domid);
    dp_again = assert_datapath(f, domid);
    g_assert_cmpint(dp_again, ==, dp);

    seq = hb_seq(f, domid);
    g_usleep(300000);
    g_assert_cmpuint(hb_seq(f, domid), >, seq);
    g_assert_true(f->ops->pause(f->b, domid, &err));
    line = bt_heartbeat_check(f->disk[0], &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "last"), ==, hb_seq(f, domid));

    /* the reconnected daemon still goes with its guest */
    g_assert_true(f->ops->destroy(f->b, domid, &err));
    g_assert_true(wait_gone(dp));
}

/* The daemon dies under a running guest: the guest has lost its disks, so
 * the backend takes it down and reports a crash. */
static void
test_datapath_killed(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-victim", 20, 0);
    g_autofree int *ids = NULL;
    size_t n = 0;
    int domid = bt_create(f->b, def, FALSE);
    pid_t dp = assert_datapath(f, domid), guest = read_pid(f, domid, "pid");

    g_assert_cmpint(kill(dp, SIGKILL), ==, 0);
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_CRASHED);
    g_assert_true(wait_gone(guest));
    g_assert_true(f->ops->list(f->b, &ids, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
    assert_no_leftovers(f, domid);
}

/* A daemon that hangs (stopped) does not hang destroy: it is killed once
 * QUIT is not answered in time. */
static void
test_datapath_hung(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-hung", 20, 0);
    g_autoptr(GError) err = NULL;
    int domid = bt_create(f->b, def, FALSE);
    pid_t dp = assert_datapath(f, domid);
    gint64 t0;

    g_assert_cmpint(kill(dp, SIGSTOP), ==, 0);
    t0 = g_get_monotonic_time();
    g_assert_true(f->ops->destroy(f->b, domid, &err));
    g_assert_no_error(err);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
    g_assert_true(wait_gone(dp));
    assert_no_leftovers(f, domid);
}

/* Same while paused: a guest that does not write notices nothing, the
 * backend does. */
static void
test_datapath_killed_paused(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-sleeper", 20, 0);
    int domid = bt_create(f->b, def, TRUE);
    pid_t dp = assert_datapath(f, domid), guest = read_pid(f, domid, "pid");

    g_assert_cmpint(kill(dp, SIGKILL), ==, 0);
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_CRASHED);
    g_assert_true(wait_gone(guest));
    assert_no_leftovers(f, domid);
}

/* A domain started with its daemon, then the backend gone as in a
 * libvirtd restart, and meanwhile its guest (@kill_guest) or its daemon
 * killed. Returns the domid; the process left alive in *@other. */
static int
start_then_kill_unwatched(Fixture *f, const char *name, gboolean paused,
                          gboolean kill_guest, pid_t *other)
{
    g_autoptr(XmDomainDef) def = make_def(f, name, 20, 0);
    int domid = bt_create(f->b, def, paused);
    pid_t dp = assert_datapath(f, domid), guest = read_pid(f, domid, "pid");
    pid_t victim = kill_guest ? guest : dp;

    g_clear_pointer(&f->b, xm_backend_free);
    kill(victim, SIGKILL);
    g_assert_true(wait_gone(victim));
    *other = kill_guest ? dp : guest;
    return domid;
}

/* A new backend's reconnect adopts no domain, @gone goes away and nothing
 * of @domid is left. */
static void
assert_reconnect_clears(Fixture *f, int domid, pid_t gone)
{
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    size_t n = 0;

    open_backend(f);
    g_assert_true(f->ops->reconnect(f->b, &ids, &n, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 0);
    g_assert_true(wait_gone(gone));
    assert_no_leftovers(f, domid);
}

/* A daemon that died while no backend watched: reconnect does not adopt a
 * guest without disks; it stops it and forgets it. */
static void
test_reconnect_datapath_dead(Fixture *f, gconstpointer data)
{
    pid_t guest;
    int domid = start_then_kill_unwatched(f, "dp-orphan", TRUE, FALSE, &guest);

    assert_reconnect_clears(f, domid, guest);
}

/* A guest that died while no backend watched: reconnect forgets it and
 * stops its daemon. */
static void
test_reconnect_guest_dead(Fixture *f, gconstpointer data)
{
    pid_t dp;
    int domid = start_then_kill_unwatched(f, "dp-ghost", FALSE, TRUE, &dp);

    g_assert_true(bt_process_alive(dp));
    assert_reconnect_clears(f, domid, dp);
}

/* A start cut short between the daemon and the guest (libvirtd killed):
 * a daemon without a guest is stopped by the next reconnect. */
static void
test_reconnect_datapath_alone(Fixture *f, gconstpointer data)
{
    g_autofree char *pidf = NULL, *conf = NULL;
    pid_t dp;
    int domid = start_then_kill_unwatched(f, "dp-alone", TRUE, TRUE, &dp);

    /* as if the guest had never been started */
    pidf = state_file(f, domid, "pid");
    conf = state_file(f, domid, "conf");
    g_assert_cmpint(unlink(pidf), ==, 0);
    g_assert_cmpint(unlink(conf), ==, 0);
    assert_reconnect_clears(f, domid, dp);
}

static void
test_bad_mode(Fixture *f, gconstpointer data)
{
    XmBackendConfig cfg = f->cfg;
    g_autoptr(GError) err = NULL;

    cfg.sim_disk_datapath = (char *) "nbd-please";
    g_assert_null(xm_backend_new(&cfg, NULL, NULL, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "nbd-please"));
}

static void
test_shutdown_and_reboot(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) a = make_def(f, "dp-poweroff", 0, 0);
    g_autoptr(XmDomainDef) b = make_def(f, "dp-rebooter", 0, 0);
    g_autoptr(GError) err = NULL;
    int da = bt_create(f->b, a, FALSE), db;
    pid_t dpa = assert_datapath(f, da), dpb;

    g_assert_true(f->ops->shutdown(f->b, da, &err));
    g_assert_cmpint(event_log_wait(&f->events, da, 5000), ==, XM_DOMAIN_EVENT_SHUTDOWN);
    g_assert_true(wait_gone(dpa));
    assert_no_leftovers(f, da);

    /* a reboot ends the process: the daemon goes with it, the restart
     * (the driver's create) brings a new one */
    db = bt_create(f->b, b, FALSE);
    dpb = assert_datapath(f, db);
    g_assert_true(f->ops->reboot(f->b, db, &err));
    g_assert_cmpint(event_log_wait(&f->events, db, 5000), ==, XM_DOMAIN_EVENT_REBOOT);
    g_assert_true(wait_gone(dpb));
    assert_no_leftovers(f, db);
    db = bt_create(f->b, b, FALSE);
    g_assert_cmpint(assert_datapath(f, db), !=, dpb);
}

/* A guest restored from a save image gets its own daemon. */
static void
test_restore(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-saved", 20, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autofree char *line = NULL;
    int domid = bt_create(f->b, def, FALSE), fd, restored, status;
    pid_t dp = assert_datapath(f, domid), dp2;
    guint64 seq;

    g_usleep(300000);
    fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_true(f->ops->suspend_to_fd(f->b, domid, fd, XM_SUSPEND_LIVE, NULL, &err));
    g_assert_no_error(err);
    close(fd);
    seq = hb_seq(f, domid);
    g_assert_true(f->ops->destroy(f->b, domid, &err));
    g_assert_true(wait_gone(dp));

    fd = open(img, O_RDONLY | O_CLOEXEC);
    restored = f->ops->restore_from_fd(f->b, def, fd, TRUE, NULL, &err);
    close(fd);
    g_assert_no_error(err);
    g_assert_cmpint(restored, >, domid);
    dp2 = assert_datapath(f, restored);
    g_assert_cmpint(dp2, !=, dp);
    g_assert_cmpuint(hb_seq(f, restored), ==, seq);
    g_assert_true(f->ops->unpause(f->b, restored, &err));
    g_usleep(300000);
    g_assert_true(f->ops->pause(f->b, restored, &err));
    line = bt_heartbeat_check(f->disk[0], &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "last"), >, seq + 5);
}

/* The guest fails after its daemon started (a bad save image): the daemon
 * is stopped and nothing but the logs is left. */
static void
test_restore_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-garbage", 20, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *img = g_build_filename(f->dir, "garbage.img", NULL);
    pid_t procs[8];
    int fd;

    g_assert_true(g_file_set_contents(img, "not a memory stream", -1, NULL));
    fd = open(img, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(f->ops->restore_from_fd(f->b, def, fd, FALSE, NULL, &err), ==, -1);
    close(fd);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_test_message("refused: %s", err->message);
    g_assert_cmpint(bt_procs_with(f->dir, procs, 8), ==, 0);
    assert_no_leftovers(f, 1);
}

/* The daemon refuses a disk (a FIFO is no image): the start fails with the
 * daemon's message and no guest is started. */
static void
test_datapath_start_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "dp-fifo", 20, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *fifo = g_build_filename(f->dir, "fifo.img", NULL);
    g_autofree int *ids = NULL;
    size_t n = 0;
    pid_t procs[8];

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_free(def->disks[1].source);
    def->disks[1].source = g_strdup(fifo);
    g_assert_cmpint(f->ops->create(f->b, def, FALSE, &err), ==, -1);
    g_assert_nonnull(err);
    g_test_message("refused: %s", err->message);
    g_assert_nonnull(strstr(err->message, "fifo.img"));
    g_assert_cmpint(bt_procs_with(f->dir, procs, 8), ==, 0);
    g_assert_true(f->ops->list(f->b, &ids, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
    assert_no_leftovers(f, 1);
}

int
main(int argc, char **argv)
{
    g_autofree char *dp = g_build_filename(BUILDDIR, "tools", "datapath",
                                           "xenmig-datapath", NULL);

    g_test_init(&argc, &argv, NULL);
    bt_kill_on_abort();
    /* this build tree's programs, whatever the environment */
    g_setenv("XENMIG_SIM_GUEST", BUILDDIR "/src/backend/xenmig-sim-guest", TRUE);
    g_setenv("XENMIG_DATAPATH", dp, TRUE);

#define ADD(path, mode, fn) g_test_add(path, Fixture, mode, setup, fn, teardown)
    ADD("/sim-datapath/two-disks", NULL, test_two_disks);
    ADD("/sim-datapath/direct", "direct", test_direct);
    ADD("/sim-datapath/unknown-domain", NULL, test_unknown_domain);
    ADD("/sim-datapath/reconnect", "nbd", test_reconnect);
    ADD("/sim-datapath/killed", NULL, test_datapath_killed);
    ADD("/sim-datapath/killed-paused", NULL, test_datapath_killed_paused);
    ADD("/sim-datapath/hung", NULL, test_datapath_hung);
    ADD("/sim-datapath/reconnect-datapath-dead", NULL, test_reconnect_datapath_dead);
    ADD("/sim-datapath/reconnect-guest-dead", NULL, test_reconnect_guest_dead);
    ADD("/sim-datapath/reconnect-datapath-alone", NULL, test_reconnect_datapath_alone);
    ADD("/sim-datapath/bad-mode", "nbd", test_bad_mode);
    ADD("/sim-datapath/shutdown-and-reboot", NULL, test_shutdown_and_reboot);
    ADD("/sim-datapath/restore", NULL, test_restore);
    ADD("/sim-datapath/restore-fails", NULL, test_restore_fails);
    ADD("/sim-datapath/start-fails", NULL, test_datapath_start_fails);
    return g_test_run();
}
