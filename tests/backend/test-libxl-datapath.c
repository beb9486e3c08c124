/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libxl backend's disk datapath (xen_disk_datapath = "nbd") without
 * Xen: device choice over a fake /sys/block, the state file, the
 * nbd-client command lines, the errors for a missing nbd-client or nbd
 * module, and whole start/bind/restart/release cycles with a real
 * xenmig-datapath daemon and a fake nbd-client that checks with nbdinfo
 * that the daemon really serves the socket, then marks the fake device
 * connected the way the kernel does (/sys/block/nbdN/pid).
 *
 * Every daemon of a test case is killed at its end, and by a SIGABRT
 * handler when an assertion fails (by its command line naming the test's
 * directory).
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenmig/error.h>
#include "backend/libxl-private.h"
#include "backend-test.h"
#include "storage-mirror/datapath-client.h"
#include "util/util.h"

typedef struct {
    char *dir;
    char *sys;          /* fake /sys/block */
    char *bin;          /* fake tools */
    char *image[2];
    XmLxDpHost *host;
} Fixture;

static void
write_file(const char *path, const char *text, int mode)
{
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    g_assert_cmpint(chmod(path, mode), ==, 0);
}

static char *
sys_path(Fixture *f, const char *dev, const char *file)
{
    return g_strdup_printf("%s/%s%s%s", f->sys, dev, file ? "/" : "", file ? file : "");
}

/* A fake /sys/block/nbdN; @pid > 0: connected by process @pid. */
static void
make_nbd(Fixture *f, const char *dev, int pid)
{
    g_autofree char *d = sys_path(f, dev, NULL);
    g_autofree char *p = sys_path(f, dev, "pid");

    g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
    if (pid > 0) {
        g_autofree char *text = g_strdup_printf("%d\n", pid);
        write_file(p, text, 0644);
    }
}

static int
nbd_pid(Fixture *f, const char *dev)
{
    g_autofree char *dp = g_strdup_printf("/dev/%s", dev);
    return xm_lxdp_nbd_pid(f->sys, dp);
}

/*
 * The fake nbd-client. Connect: refuses devices marked "refuse", checks
 * the command line and that nbdinfo reads the export on the socket, then
 * writes its pid where the kernel would. Disconnect: removes it.
 */
static void
install_fake_nbd_client(Fixture *f)
{
    g_autofree char *path = g_build_filename(f->bin, "nbd-client", NULL);
    g_autofree char *script = g_strdup_printf(
        "#!/bin/bash\n"
        "SYS='%s'\n"
        "echo \"$*\" >> \"$SYS/../calls\"\n"
        "if [ \"$1\" = -d ]; then rm -f \"$SYS/${2##*/}/pid\"; exit 0; fi\n"
        "[ \"$1\" = -unix ] && [ \"$4 $5 $6 $7\" = '-b 4096 -t 60' ] || { echo bad args >&2; exit 2; }\n"
        "n=${3##*/}\n"
        "[ -d \"$SYS/$n\" ] || { echo \"no $n\" >&2; exit 1; }\n"
        "[ ! -e \"$SYS/$n/refuse\" ] || { echo \"Error: $n refused\" >&2; exit 1; }\n"
        "[ ! -e \"$SYS/$n/pid\" ] || { echo \"$n busy\" >&2; exit 1; }\n"
        "nbdinfo --size \"nbd+unix:///?socket=$2\" > \"$SYS/$n/size\" || exit 1\n"
        "echo $$ > \"$SYS/$n/pid\"\n",
        f->sys);

    write_file(path, script, 0755);
}

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *state = NULL;

    f->dir = g_dir_make_tmp("xm-lxdp-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    bt_watch_dir(f->dir);
    f->sys = g_build_filename(f->dir, "sys", NULL);
    f->bin = g_build_filename(f->dir, "bin", NULL);
    g_assert_cmpint(g_mkdir_with_parents(f->sys, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(f->bin, 0755), ==, 0);
    f->image[0] = bt_make_disk(f->dir, "disk0.img", 4 * 1024 * 1024);
    f->image[1] = bt_make_disk(f->dir, "disk1.img", 8 * 1024 * 1024);
    state = g_build_filename(f->dir, "state", NULL);
    f->host = xm_lxdp_host_new(state, &err);
    g_assert_no_error(err);
}

/* Points @host at the fixture's fakes. */
static void
use_fakes(Fixture *f, XmLxDpHost *host)
{
    g_free(host->sys_block);
    host->sys_block = g_strdup(f->sys);
    g_free(host->path);
    host->path = g_strdup(f->bin);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

    g_clear_pointer(&f->host, xm_lxdp_host_free);
    bt_kill_test_processes();
    bt_watch_dir(NULL);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->image[0]);
    g_free(f->image[1]);
    g_free(f->sys);
    g_free(f->bin);
    g_free(f->dir);
}

static guint
count_files(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (d && g_dir_read_name(d))
        n++;
    return n;
}

/* ---- pure parts ------------------------------------------------------- */

static void
test_free_nbd(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(xm_lxdp_free_nbd(f->sys, 0, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_DEVICE_MISSING);
    g_clear_error(&err);

    make_nbd(f, "loop0", 0);
    make_nbd(f, "nbd0", 4242);
    make_nbd(f, "nbd1", 0);
    make_nbd(f, "nbd2", 0);
    make_nbd(f, "nbd10", 0);
    make_nbd(f, "nbdx", 0);
    g_assert_cmpint(xm_lxdp_free_nbd(f->sys, 0, &err), ==, 1);
    g_assert_cmpint(xm_lxdp_free_nbd(f->sys, 2, &err), ==, 2);
    g_assert_cmpint(xm_lxdp_free_nbd(f->sys, 3, &err), ==, 10);   /* numeric, not by name */
    g_assert_no_error(err);
    g_assert_cmpint(xm_lxdp_free_nbd(f->sys, 11, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_RESOURCE_BUSY);

    g_assert_cmpint(nbd_pid(f, "nbd0"), ==, 4242);
    g_assert_cmpint(nbd_pid(f, "nbd1"), ==, 0);
    g_assert_cmpint(nbd_pid(f, "loop0"), ==, 0);
}

static void
test_argv(Fixture *f, gconstpointer data)
{
    g_auto(GStrv) c = xm_lxdp_connect_argv("/usr/sbin/nbd-client", "/run/x/u-0.sock",
                                           "/dev/nbd3");
    g_auto(GStrv) d = xm_lxdp_disconnect_argv("/usr/sbin/nbd-client", "/dev/nbd3");
    g_autofree char *cs = g_strjoinv(" ", c);
    g_autofree char *ds = g_strjoinv(" ", d);

    g_assert_cmpstr(cs, ==, "/usr/sbin/nbd-client -unix /run/x/u-0.sock /dev/nbd3 -b 4096 -t 60");
    g_assert_cmpstr(ds, ==, "/usr/sbin/nbd-client -d /dev/nbd3");
}

static void
test_state_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = xm_lxdp_new(f->host, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    g_autoptr(XmLxDatapath) back = NULL;
    XmLxDpDisk *d0, *d1;

    g_assert_cmpint(g_mkdir_with_parents(f->host->dir, 0700), ==, 0);
    d0 = xm_lxdp_add_disk(dp, "xvda", "/var/lib/xen/images/a b=c.img");
    d1 = xm_lxdp_add_disk(dp, "xvdb", "/dev/vg/lv");
    d0->device = g_strdup("/dev/nbd4");
    d0->client_pid = 321;
    dp->domid = 17;
    dp->pid = 9876;
    g_assert_true(g_str_has_prefix(dp->state_file, f->host->dir));
    g_assert_true(g_str_has_suffix(d1->socket, "-1.sock"));
    g_assert_true(xm_lxdp_state_save(dp, &err));
    g_assert_no_error(err);

    back = xm_lxdp_state_load(dp->state_file, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(back->uuid, ==, dp->uuid);
    g_assert_cmpint(back->domid, ==, 17);
    g_assert_cmpint(back->pid, ==, 9876);
    g_assert_cmpstr(back->control, ==, dp->control);
    g_assert_cmpstr(back->pid_file, ==, dp->pid_file);
    g_assert_cmpstr(back->log_file, ==, dp->log_file);
    g_assert_cmpuint(back->disks->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        XmLxDpDisk *a = dp->disks->pdata[i], *b = back->disks->pdata[i];
        g_assert_cmpstr(b->target, ==, a->target);
        g_assert_cmpstr(b->image, ==, a->image);
        g_assert_cmpstr(b->socket, ==, a->socket);
        g_assert_cmpstr(b->device, ==, a->device);
        g_assert_cmpint(b->client_pid, ==, a->client_pid);
    }

    write_file(dp->state_file, "[datapath]\nuuid=x\n", 0600);
    g_assert_null(xm_lxdp_state_load(dp->state_file, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_READ_FAILED);
}

static void
test_long_state_dir(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *deep = g_strdup_printf("%s/%0100d/state", f->dir, 0);
    XmLxDpHost *host = xm_lxdp_host_new(deep, &err);
    g_autoptr(XmLxDatapath) dp = NULL;
    XmLxDpDisk *disk;

    g_assert_no_error(err);
    g_assert_cmpstr(host->sock_dir, !=, host->dir);
    dp = xm_lxdp_new(host, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    disk = xm_lxdp_add_disk(dp, "xvda", "/img");
    for (int i = 0; i < 99; i++)
        disk = xm_lxdp_add_disk(dp, "xvdb", "/img");
    g_assert_cmpuint(strlen(dp->control), <, 108);
    g_assert_cmpuint(strlen(disk->socket), <, 108);
    g_assert_true(g_str_has_prefix(dp->state_file, deep));
    xm_lxdp_host_free(host);

    host = xm_lxdp_host_new("relative/dir", &err);
    g_assert_null(host);
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
}

static void
test_find_program(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_strdup_printf("/nonexistent:%s", f->bin);
    g_autofree char *found = NULL;
    g_autofree char *fake = g_build_filename(f->bin, "nbd-client", NULL);

    g_assert_null(xm_lxdp_find_program("nbd-client", "nbd-client", path, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_SUPPORT);
    g_assert_nonnull(strstr(err->message, "'nbd-client'"));
    g_assert_nonnull(strstr(err->message, f->bin));
    g_clear_error(&err);

    write_file(fake, "#!/bin/sh\n", 0644);      /* not executable */
    g_assert_null(xm_lxdp_find_program("nbd-client", "nbd-client", path, &err));
    g_clear_error(&err);
    g_assert_cmpint(chmod(fake, 0755), ==, 0);
    found = xm_lxdp_find_program("nbd-client", "nbd-client", path, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(found, ==, fake);
}

/* ---- start/stop cycles with a real daemon ----------------------------- */

static XmLxDatapath *
new_dp(Fixture *f, XmLxDpHost *host, int ndisks)
{
    XmLxDatapath *dp = xm_lxdp_new(host, "6a1c9e2f-0d3b-4c5e-8f7a-1b2c3d4e5f60");

    xm_lxdp_add_disk(dp, "xvda", f->image[0]);
    if (ndisks > 1)
        xm_lxdp_add_disk(dp, "xvdb", f->image[1]);
    return dp;
}

static void
test_missing_nbd_client(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = new_dp(f, f->host, 1);

    use_fakes(f, f->host);
    make_nbd(f, "nbd0", 0);
    g_assert_false(xm_lxdp_start(f->host, dp, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_SUPPORT);
    g_assert_nonnull(strstr(err->message, "nbd-client"));
    /* nothing started, nothing left */
    g_assert_cmpint(dp->pid, ==, 0);
    g_assert_cmpuint(count_files(f->host->dir), ==, 0);
}

static void
test_missing_module(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = new_dp(f, f->host, 1);
    g_autofree char *modprobe = g_build_filename(f->bin, "modprobe", NULL);
    g_autofree char *marker = g_build_filename(f->dir, "modprobed", NULL);
    g_autofree char *script = g_strdup_printf("#!/bin/sh\n[ \"$1\" = nbd ] && echo x >> '%s'\n"
                                              "echo 'modprobe: FATAL: Module nbd not found' >&2\n"
                                              "exit 1\n", marker);
    g_autofree char *text = NULL;

    use_fakes(f, f->host);
    install_fake_nbd_client(f);
    write_file(modprobe, script, 0755);
    g_assert_false(xm_lxdp_start(f->host, dp, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_SUPPORT);
    g_assert_nonnull(strstr(err->message, "nbd kernel module"));
    g_assert_cmpuint(count_files(f->host->dir), ==, 0);
    g_assert_false(xm_datapath_pid_serves(dp->pid, dp->control));
    g_clear_error(&err);
    /* tried once per backend, not at every start */
    g_assert_false(xm_lxdp_start(f->host, dp, &err));
    g_assert_true(g_file_get_contents(marker, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "x\n");
}

static void
test_modprobe_loads(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = new_dp(f, f->host, 1);
    g_autofree char *modprobe = g_build_filename(f->bin, "modprobe", NULL);
    g_autofree char *script = g_strdup_printf("#!/bin/sh\n[ \"$1\" = nbd ] && mkdir '%s/nbd0' '%s/nbd1'\n",
                                              f->sys, f->sys);
    XmLxDpDisk *disk = dp->disks->pdata[0];

    use_fakes(f, f->host);
    install_fake_nbd_client(f);
    write_file(modprobe, script, 0755);
    g_assert_true(xm_lxdp_start(f->host, dp, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(disk->device, ==, "/dev/nbd0");
    xm_lxdp_stop(f->host, g_steal_pointer(&dp));
    g_assert_cmpint(nbd_pid(f, "nbd0"), ==, 0);
}

/* Two disks; nbd0 taken by somebody else, nbd1 refuses: nbd2 and nbd3. */
static XmLxDatapath *
start_two(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    XmLxDatapath *dp = new_dp(f, f->host, 2);
    XmLxDpDisk *d0 = dp->disks->pdata[0], *d1 = dp->disks->pdata[1];
    g_autofree char *refuse = sys_path(f, "nbd1", "refuse");
    g_autofree char *size = NULL, *size_file = sys_path(f, "nbd3", "size");

    use_fakes(f, f->host);
    install_fake_nbd_client(f);
    make_nbd(f, "nbd0", 1);
    make_nbd(f, "nbd1", 0);
    make_nbd(f, "nbd2", 0);
    make_nbd(f, "nbd3", 0);
    make_nbd(f, "nbd4", 0);
    write_file(refuse, "", 0644);
    g_assert_true(xm_lxdp_start(f->host, dp, &err));
    g_assert_no_error(err);
    g_assert_cmpint(dp->pid, >, 0);
    g_assert_true(xm_datapath_pid_serves(dp->pid, dp->control));
    g_assert_cmpstr(d0->device, ==, "/dev/nbd2");
    g_assert_cmpstr(d1->device, ==, "/dev/nbd3");
    g_assert_cmpint(d0->client_pid, ==, nbd_pid(f, "nbd2"));
    g_assert_cmpint(d1->client_pid, ==, nbd_pid(f, "nbd3"));
    /* the device of disk 1 reaches disk 1's image */
    g_assert_true(g_file_get_contents(size_file, &size, NULL, NULL));
    g_assert_cmpstr(size, ==, "8388608\n");
    g_assert_true(g_file_test(dp->state_file, G_FILE_TEST_EXISTS));
    return dp;
}

static void
assert_undone(Fixture *f, XmLxDpHost *host, pid_t pid, const char *control)
{
    g_assert_false(xm_datapath_pid_serves(pid, control));
    g_assert_cmpint(nbd_pid(f, "nbd2"), ==, 0);
    g_assert_cmpint(nbd_pid(f, "nbd3"), ==, 0);
    g_assert_cmpint(nbd_pid(f, "nbd0"), ==, 1);       /* not ours: untouched */
    g_assert_cmpuint(count_files(host->dir), ==, 0);
    g_assert_cmpuint(count_files(host->sock_dir), ==, 0);
}

static void
test_cycle(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    XmLxDatapath *dp = start_two(f);
    g_autofree char *control = g_strdup(dp->control);
    g_autofree char *ctl = NULL;
    pid_t pid = dp->pid;
    gboolean bound = TRUE;

    g_assert_null(xm_lxdp_control(f->host, 7, &bound));
    g_assert_false(bound);
    xm_lxdp_bind(f->host, dp, 7);
    ctl = xm_lxdp_control(f->host, 7, &bound);
    g_assert_true(bound);
    g_assert_cmpstr(ctl, ==, control);
    g_assert_true(xm_datapath_ping(ctl, &err));
    g_assert_no_error(err);
    /* a second start of the same domain is refused while it runs */
    {
        g_autoptr(XmLxDatapath) again = new_dp(f, f->host, 1);
        g_assert_false(xm_lxdp_start(f->host, again, &err));
        g_assert_error(err, XM_ERROR, XM_ERR_DOM_EXIST);
        g_clear_error(&err);
    }
    xm_lxdp_release(f->host, 7, FALSE);
    assert_undone(f, f->host, pid, control);
    g_assert_null(xm_lxdp_control(f->host, 7, &bound));
    g_assert_false(bound);
}

static void
test_release_later(Fixture *f, gconstpointer data)
{
    XmLxDatapath *dp = start_two(f);
    g_autofree char *control = g_strdup(dp->control);
    pid_t pid = dp->pid;

    xm_lxdp_bind(f->host, dp, 9);
    xm_lxdp_release(f->host, 9, TRUE);
    g_assert_null(xm_lxdp_control(f->host, 9, NULL));
    /* closing the host waits for the reaper */
    g_clear_pointer(&f->host, xm_lxdp_host_free);
    {
        g_autoptr(GError) err = NULL;
        g_autofree char *state = g_build_filename(f->dir, "state", NULL);
        f->host = xm_lxdp_host_new(state, &err);
        use_fakes(f, f->host);
    }
    assert_undone(f, f->host, pid, control);
}

static gboolean
check_running(gpointer data, int domid, const char *uuid)
{
    return domid == GPOINTER_TO_INT(data) &&
           g_str_equal(uuid, "6a1c9e2f-0d3b-4c5e-8f7a-1b2c3d4e5f60");
}

/* A new host (libvirtd restart) on the same state directory. */
static void
restart(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *state = g_build_filename(f->dir, "state", NULL);

    xm_lxdp_host_free(f->host);
    f->host = xm_lxdp_host_new(state, &err);
    g_assert_no_error(err);
    use_fakes(f, f->host);
}

static void
test_reconnect_running(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    XmLxDatapath *dp = start_two(f);
    g_autofree char *control = g_strdup(dp->control);
    g_autofree char *ctl = NULL;
    pid_t pid = dp->pid;

    xm_lxdp_bind(f->host, dp, 12);
    restart(f);
    /* the daemon and the devices outlive the backend */
    g_assert_true(xm_datapath_pid_serves(pid, control));
    g_assert_cmpint(nbd_pid(f, "nbd2"), >, 0);
    g_assert_null(xm_lxdp_control(f->host, 12, NULL));
    xm_lxdp_reconnect(f->host, check_running, GINT_TO_POINTER(12));
    ctl = xm_lxdp_control(f->host, 12, NULL);
    g_assert_cmpstr(ctl, ==, control);
    g_assert_true(xm_datapath_ping(ctl, &err));
    g_assert_no_error(err);
    xm_lxdp_release(f->host, 12, FALSE);
    assert_undone(f, f->host, pid, control);
}

static void
test_reconnect_gone(Fixture *f, gconstpointer data)
{
    XmLxDatapath *dp = start_two(f);
    g_autofree char *control = g_strdup(dp->control);
    g_autofree char *pid2 = sys_path(f, "nbd2", "pid");
    pid_t pid = dp->pid;

    xm_lxdp_bind(f->host, dp, 13);
    restart(f);
    /* meanwhile nbd2 was disconnected and taken by somebody else */
    write_file(pid2, "1\n", 0644);
    xm_lxdp_reconnect(f->host, check_running, GINT_TO_POINTER(14));
    g_assert_null(xm_lxdp_control(f->host, 13, NULL));
    g_assert_false(xm_datapath_pid_serves(pid, control));
    g_assert_cmpint(nbd_pid(f, "nbd2"), ==, 1);
    g_assert_cmpint(nbd_pid(f, "nbd3"), ==, 0);
    g_assert_cmpuint(count_files(f->host->dir), ==, 0);
}

/* A start cut short (libvirtd killed before the domain existed). */
static void
test_reconnect_unbound(Fixture *f, gconstpointer data)
{
    XmLxDatapath *dp = start_two(f);
    g_autofree char *control = g_strdup(dp->control);
    pid_t pid = dp->pid;

    xm_lxdp_free(dp);           /* forgotten, as by a crash */
    restart(f);
    xm_lxdp_reconnect(f->host, check_running, GINT_TO_POINTER(-1));
    assert_undone(f, f->host, pid, control);
}

static void
test_all_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = new_dp(f, f->host, 2);
    g_autofree char *r0 = sys_path(f, "nbd1", "refuse");

    use_fakes(f, f->host);
    install_fake_nbd_client(f);
    make_nbd(f, "nbd0", 0);
    make_nbd(f, "nbd1", 0);
    write_file(r0, "", 0644);
    /* the first disk gets nbd0, the second finds none that works */
    g_assert_false(xm_lxdp_start(f->host, dp, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "nbd1 refused"));
    g_assert_cmpint(nbd_pid(f, "nbd0"), ==, 0);
    g_assert_false(xm_datapath_pid_serves(dp->pid, dp->control));
    g_assert_cmpuint(count_files(f->host->dir), ==, 0);
}

/* The libxl configuration gets the devices; read-only disks stay. */
static void
test_prepare(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    XmLibxlBackend lb = { .dp = f->host };
    XmDiskDef disks[3] = {
        { .type = XM_DISK_FILE, .format = XM_DISK_FORMAT_RAW, .source = f->image[0],
          .target = (char *) "xvda" },
        { .type = XM_DISK_FILE, .format = XM_DISK_FORMAT_RAW, .source = f->image[1],
          .target = (char *) "xvdb", .readonly = true },
        { .type = XM_DISK_FILE, .format = XM_DISK_FORMAT_QCOW2,
          .source = (char *) "/x.qcow2", .target = (char *) "xvdc" },
    };
    XmDomainDef def = { .name = (char *) "g", .disks = disks, .ndisks = 3,
                        .uuid = { 0x6a, 0x1c, 0x9e, 0x2f, 0x0d, 0x3b, 0x4c, 0x5e,
                                  0x8f, 0x7a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60 } };
    libxl_domain_config cfg;
    XmLxDatapath *dp = NULL;

    use_fakes(f, f->host);
    install_fake_nbd_client(f);
    make_nbd(f, "nbd0", 0);
    libxl_domain_config_init(&cfg);
    cfg.num_disks = 3;
    cfg.disks = calloc(3, sizeof(libxl_device_disk));
    for (int i = 0; i < 3; i++) {
        libxl_device_disk_init(&cfg.disks[i]);
        cfg.disks[i].pdev_path = strdup(disks[i].source);
        cfg.disks[i].vdev = strdup(disks[i].target);
        cfg.disks[i].backend = LIBXL_DISK_BACKEND_QDISK;
        cfg.disks[i].format = i == 2 ? LIBXL_DISK_FORMAT_QCOW2 : LIBXL_DISK_FORMAT_RAW;
    }
    g_assert_true(xm_libxl_datapath_prepare(&lb, &def, &cfg, &dp, &err));
    g_assert_no_error(err);
    g_assert_nonnull(dp);
    g_assert_cmpstr(dp->uuid, ==, "6a1c9e2f-0d3b-4c5e-8f7a-1b2c3d4e5f60");
    g_assert_cmpuint(dp->disks->len, ==, 1);
    g_assert_cmpstr(cfg.disks[0].pdev_path, ==, "/dev/nbd0");
    g_assert_cmpint(cfg.disks[0].backend, ==, LIBXL_DISK_BACKEND_PHY);
    g_assert_cmpint(cfg.disks[0].format, ==, LIBXL_DISK_FORMAT_RAW);
    g_assert_cmpstr(cfg.disks[1].pdev_path, ==, f->image[1]);
    g_assert_cmpint(cfg.disks[1].backend, ==, LIBXL_DISK_BACKEND_QDISK);
    g_assert_cmpstr(cfg.disks[2].pdev_path, ==, "/x.qcow2");
    xm_lxdp_stop(f->host, dp);
    g_assert_cmpint(nbd_pid(f, "nbd0"), ==, 0);

    /* "direct": nothing happens */
    lb.dp = NULL;
    dp = (XmLxDatapath *) &lb;
    g_assert_true(xm_libxl_datapath_prepare(&lb, &def, &cfg, &dp, &err));
    g_assert_null(dp);
    libxl_domain_config_dispose(&cfg);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    bt_kill_on_abort();
#define ADD(name, fn) g_test_add("/libxl-datapath/" name, Fixture, NULL, setup, fn, teardown)
    ADD("free-nbd", test_free_nbd);
    ADD("argv", test_argv);
    ADD("state-round-trip", test_state_round_trip);
    ADD("long-state-dir", test_long_state_dir);
    ADD("find-program", test_find_program);
    ADD("missing-nbd-client", test_missing_nbd_client);
    ADD("missing-module", test_missing_module);
    ADD("modprobe-loads", test_modprobe_loads);
    ADD("cycle", test_cycle);
    ADD("release-later", test_release_later);
    ADD("reconnect-running", test_reconnect_running);
    ADD("reconnect-gone", test_reconnect_gone);
    ADD("reconnect-unbound", test_reconnect_unbound);
    ADD("all-refused", test_all_refused);
    ADD("prepare", test_prepare);
    return g_test_run();
}
