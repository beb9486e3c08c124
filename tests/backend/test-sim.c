/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim backend with real guest processes: lifecycle, events, heartbeats,
 * save/restore (plain and live), bad streams, reconnect after the backend
 * went away, and deaths from outside.
 *
 * Every guest this test starts is killed at the end of its test case, and
 * by a SIGABRT handler when an assertion fails, so no process outlives it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenmig/backend.h>
#include <xenmig/error.h>
#include "backend/sim-proto.h"
#include "backend-test.h"
#include "event-log.h"

#define MAX_PIDS 256
static volatile pid_t tracked[MAX_PIDS];
static volatile int ntracked;

static void
kill_tracked(void)
{
    for (int i = 0; i < ntracked; i++) {
        if (tracked[i] > 0)
            kill(tracked[i], SIGKILL);
    }
}

static void
on_abort(int sig)
{
    kill_tracked();
    signal(sig, SIG_DFL);
    raise(sig);
}

typedef struct {
    char *dir;
    char *disk;
    XmBackendConfig cfg;
    XmBackend *b;
    const XmBackendOps *ops;
    XmBackendConfig cfg2;        /* a second "host", for migration tests */
    XmBackend *b2;
    GPid nbdkit;
    EventLog events;
} Fixture;

static XmBackend *
open_backend(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    XmBackend *b = xm_backend_new(&f->cfg, event_log_record, &f->events, &err);

    g_assert_no_error(err);
    return b;
}

static void
setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("xm-sim-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->disk = bt_make_disk(f->dir, "disk0.img", 16 * 1024 * 1024);
    bt_sim_config(&f->cfg, f->dir);
    event_log_init(&f->events);
    f->b = open_backend(f);
    f->ops = xm_backend_ops(f->b);
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
    g_autofree char *cmd = NULL;

    destroy_all(f->b);
    destroy_all(f->b2);
    g_clear_pointer(&f->b, xm_backend_free);
    g_clear_pointer(&f->b2, xm_backend_free);
    g_free(f->cfg2.state_dir);
    kill_tracked();
    if (f->nbdkit > 0) {
        kill(f->nbdkit, SIGKILL);
        waitpid(f->nbdkit, NULL, 0);
    }
    ntracked = 0;
    cmd = g_strdup_printf("rm -rf '%s'", f->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->disk);
    g_free(f->cfg.state_dir);
    g_free(f->dir);
    event_log_clear(&f->events);
}

static XmDomainDef *
make_def(Fixture *f, const char *name, guint heartbeat_ms, guint64 dirty_mib_s,
         guint64 write_mib_s)
{
    XmDomainDef *def = g_new0(XmDomainDef, 1);

    def->name = g_strdup(name);
    xm_uuid_generate(def->uuid);
    def->max_memory_kib = 32 * 1024;
    def->current_memory_kib = 32 * 1024;
    def->vcpus = def->max_vcpus = 2;
    def->os_type = XM_OS_PVH;
    def->ndisks = 1;
    def->disks = g_new0(XmDiskDef, 1);
    def->disks[0].source = g_strdup(f->disk);
    def->disks[0].target = g_strdup("xvda");
    def->sim.present = true;
    def->sim.heartbeat_ms = heartbeat_ms;
    def->sim.ram_dirty_mib_s = dirty_mib_s;
    def->sim.disk_write_mib_s = write_mib_s;
    return def;
}

static pid_t
pid_in(const char *state_dir, int domid)
{
    g_autofree char *path = g_strdup_printf("%s/sim/%d.pid", state_dir, domid);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return atoi(text);
}

static pid_t
pid_of(Fixture *f, int domid)
{
    return pid_in(f->cfg.state_dir, domid);
}

static void
track_pid(pid_t pid)
{
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(ntracked, <, MAX_PIDS);
    tracked[ntracked++] = pid;
}

/* The guest and, with the default sim_disk_datapath, its datapath daemon. */
static void
track(Fixture *f, int domid)
{
    g_autofree char *dp_path = g_strdup_printf("%s/sim/%d.dp.pid", f->cfg.state_dir,
                                               domid);
    g_autofree char *dp_text = NULL;
    pid_t pid = pid_of(f, domid);

    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(ntracked, <, MAX_PIDS);
    tracked[ntracked++] = pid;
    if (g_file_get_contents(dp_path, &dp_text, NULL, NULL) && atoi(dp_text) > 0 &&
        ntracked < MAX_PIDS)
        tracked[ntracked++] = atoi(dp_text);
}

static int
create(Fixture *f, const XmDomainDef *def, gboolean paused)
{
    int domid = bt_create(f->b, def, paused);

    track(f, domid);
    return domid;
}

static char *
ctl_in(const char *state_dir, int domid, const char *line)
{
    g_autofree char *sock = g_strdup_printf("%s/sim/%d.sock", state_dir, domid);
    g_autoptr(GError) err = NULL;
    char *reply = NULL;

    g_assert_true(xm_sim_ctl_call(sock, line, -1, -1, 10000, &reply, &err));
    g_assert_no_error(err);
    return reply;
}

static char *
ctl(Fixture *f, int domid, const char *line)
{
    return ctl_in(f->cfg.state_dir, domid, line);
}

static guint64
hb_seq(Fixture *f, int domid)
{
    g_autofree char *reply = ctl(f, domid, "info");

    return xm_sim_reply_get_u64(reply, "hb_seq", 0);
}

static char *
ram_checksum(Fixture *f, int domid)
{
    g_autofree char *reply = ctl(f, domid, "ram-checksum");

    return xm_sim_reply_get(reply, "checksum");
}

static guint
count_pid_files(Fixture *f)
{
    g_autofree char *dir = g_build_filename(f->cfg.state_dir, "sim", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    guint n = 0;

    /* guests' <domid>.pid only, not their datapaths' <domid>.dp.pid */
    while (d && (e = g_dir_read_name(d)))
        n += g_str_has_suffix(e, ".pid") && !g_str_has_suffix(e, ".dp.pid");
    return n;
}

static void
test_lifecycle(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "life", 20, 4, 1);
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    XmDomainInfo info;
    size_t n = 0;
    guint64 seq, free_before = 0, free_after = 0;
    int domid;

    g_assert_true(f->ops->free_memory(f->b, &free_before, &err));
    domid = create(f, def, FALSE);
    g_assert_true(f->ops->list(f->b, &ids, &n, &err));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ids[0], ==, domid);
    g_assert_true(f->ops->free_memory(f->b, &free_after, &err));
    g_assert_cmpuint(free_before - free_after, ==, 32 * 1024);

    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    g_assert_cmpuint(info.memory_kib, ==, 32 * 1024);
    g_assert_cmpuint(info.vcpus, ==, 2);
    g_assert_cmpmem(info.uuid, 16, def->uuid, 16);

    /* paused: no heartbeat */
    g_usleep(100000);
    g_assert_true(f->ops->pause(f->b, domid, &err));
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    seq = hb_seq(f, domid);
    g_assert_cmpuint(seq, >, 0);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, domid), ==, seq);
    g_assert_false(f->ops->pause(f->b, domid, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);
    g_clear_error(&err);

    /* unpaused: it beats again */
    g_assert_true(f->ops->unpause(f->b, domid, &err));
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, domid), >, seq);

    g_assert_true(f->ops->set_memory(f->b, domid, 16 * 1024, &err));
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpuint(info.memory_kib, ==, 16 * 1024);
    g_assert_false(f->ops->set_memory(f->b, domid, 64 * 1024, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_INVALID_ARG);
    g_clear_error(&err);

    g_assert_true(f->ops->shutdown(f->b, domid, &err));
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_SHUTDOWN);
    g_clear_pointer(&ids, g_free);
    g_assert_true(f->ops->list(f->b, &ids, &n, &err));
    g_assert_cmpuint(n, ==, 0);
    g_assert_false(f->ops->info(f->b, domid, &info, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_DOMAIN);
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_destroy(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "doomed", 20, 0, 0);
    g_autoptr(GError) err = NULL;
    int domid = create(f, def, TRUE);
    pid_t pid = pid_of(f, domid);
    XmDomainInfo info;

    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    g_assert_true(f->ops->destroy(f->b, domid, &err));
    g_assert_false(bt_process_alive(pid));
    /* a destroy is no news: no event */
    g_assert_cmpint(event_log_wait(&f->events, domid, 700), ==, -1);
    g_assert_false(f->ops->destroy(f->b, domid, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_NO_DOMAIN);
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_duplicate(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "twin", 0, 0, 0);
    g_autoptr(GError) err = NULL;

    create(f, def, TRUE);
    g_assert_cmpint(f->ops->create(f->b, def, TRUE, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_DOM_EXIST);
    g_assert_cmpuint(count_pid_files(f), ==, 1);
}

static void
test_missing_disk(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "nodisk", 20, 0, 0);
    g_autoptr(GError) err = NULL;

    g_free(def->disks[0].source);
    def->disks[0].source = g_build_filename(f->dir, "missing.img", NULL);
    g_assert_cmpint(f->ops->create(f->b, def, FALSE, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "missing.img"));
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

/* Control sockets deeper than sun_path's 108 bytes still work. */
static void
test_long_state_dir(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "deep", 20, 0, 0);
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;
    int domid;

    xm_backend_free(f->b);
    g_free(f->cfg.state_dir);
    f->cfg.state_dir = g_build_filename(f->dir,
        "a-rather-long-directory-name-0123456789", "another-long-directory-name-0123456789",
        "and-one-more-long-directory-name-0123456789", NULL);
    f->b = open_backend(f);
    domid = create(f, def, FALSE);
    g_assert_cmpuint(strlen(f->cfg.state_dir), >, 108);
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    g_assert_true(f->ops->shutdown(f->b, domid, &err));
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_SHUTDOWN);
}

static void
test_qcow2_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "qcow", 20, 0, 0);
    g_autoptr(GError) err = NULL;

    def->disks[0].format = XM_DISK_FORMAT_QCOW2;
    g_assert_cmpint(f->ops->create(f->b, def, FALSE, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_CONFIG_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "xvda"));
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_heartbeat(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "beat", 20, 8, 2);
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;
    int domid = create(f, def, FALSE), status;

    g_usleep(1000000);
    g_assert_true(f->ops->pause(f->b, domid, &err));
    line = bt_heartbeat_check(f->disk, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "records"), >=, 30);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "first"), ==, 1);
    g_assert_cmpuint(bt_field(line, "last"), ==, hb_seq(f, domid));
    g_assert_cmpuint(bt_field(line, "max_gap_ms"), <, 500);
    g_assert_nonnull(strstr(line, " hosts=host-a"));
}

/* Saves the guest to a file, restores it, compares RAM and heartbeats. */
static void
save_restore(Fixture *f, guint flags)
{
    g_autoptr(XmDomainDef) def = make_def(f, "saved", 20, 16, 2);
    g_autoptr(GError) err = NULL;
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autofree char *sum_saved = NULL, *sum_restored = NULL, *line = NULL;
    XmDomainInfo info;
    guint64 seq;
    int domid = create(f, def, FALSE), fd, restored, status;

    g_usleep(300000);
    fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(f->ops->suspend_to_fd(f->b, domid, fd, flags, NULL, &err));
    g_assert_no_error(err);
    close(fd);
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    sum_saved = ram_checksum(f, domid);
    seq = hb_seq(f, domid);
    g_assert_cmpuint(seq, >, 5);
    g_usleep(100000);
    g_assert_cmpuint(hb_seq(f, domid), ==, seq);   /* suspended: no heartbeat */
    g_assert_true(f->ops->destroy(f->b, domid, &err));

    /* the same host writes it: the image shows one continuous sequence */
    fd = open(img, O_RDONLY | O_CLOEXEC);
    restored = f->ops->restore_from_fd(f->b, def, fd, TRUE, NULL, &err);
    close(fd);
    g_assert_no_error(err);
    g_assert_cmpint(restored, >, domid);
    track(f, restored);
    g_assert_true(f->ops->info(f->b, restored, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_PAUSED);
    sum_restored = ram_checksum(f, restored);
    g_assert_cmpstr(sum_restored, ==, sum_saved);
    g_assert_cmpuint(hb_seq(f, restored), ==, seq);

    g_assert_true(f->ops->unpause(f->b, restored, &err));
    g_usleep(300000);
    g_assert_true(f->ops->pause(f->b, restored, &err));
    line = bt_heartbeat_check(f->disk, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "first"), ==, 1);
    g_assert_cmpuint(bt_field(line, "last"), >, seq + 5);
}

static void
test_save_restore(Fixture *f, gconstpointer data)
{
    save_restore(f, 0);
}

static void
test_save_restore_live(Fixture *f, gconstpointer data)
{
    save_restore(f, XM_SUSPEND_LIVE);
}

static void
test_save_resume(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "resumed", 20, 4, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    XmDomainInfo info;
    guint64 seq;
    int domid = create(f, def, FALSE), fd;

    fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_true(f->ops->suspend_to_fd(f->b, domid, fd, XM_SUSPEND_LIVE, NULL, &err));
    close(fd);
    seq = hb_seq(f, domid);
    g_assert_false(f->ops->unpause(f->b, domid, &err));   /* suspended, not paused */
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    g_assert_true(f->ops->resume(f->b, domid, &err));
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, domid), >, seq);
}

static gboolean
cancel_later(gpointer data)
{
    g_cancellable_cancel(data);
    return G_SOURCE_REMOVE;
}

static gpointer
cancel_thread(gpointer data)
{
    g_usleep(300000);
    cancel_later(data);
    return NULL;
}

static void
test_save_cancel(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "cancelled", 20, 4, 0);
    g_autoptr(GCancellable) c = g_cancellable_new();
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;
    GThread *t;
    guint64 seq;
    int domid = create(f, def, FALSE), p[2];

    /* nobody reads the pipe: the save blocks until it is cancelled */
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    t = g_thread_new("cancel", cancel_thread, c);
    g_assert_false(f->ops->suspend_to_fd(f->b, domid, p[1], XM_SUSPEND_LIVE, c, &err));
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_thread_join(t);
    close(p[0]);
    close(p[1]);
    g_assert_true(f->ops->info(f->b, domid, &info, NULL));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    seq = hb_seq(f, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, domid), >, seq);
}

/* Writes a save stream of a fresh guest to @img and destroys the guest. */
static XmDomainDef *
saved_image(Fixture *f, const char *img)
{
    XmDomainDef *def = make_def(f, "bad", 20, 4, 0);
    g_autoptr(GError) err = NULL;
    int domid = create(f, def, FALSE);
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_usleep(100000);
    g_assert_true(f->ops->suspend_to_fd(f->b, domid, fd, 0, NULL, &err));
    close(fd);
    g_assert_true(f->ops->destroy(f->b, domid, &err));
    return def;
}

static void
restore_fails(Fixture *f, const XmDomainDef *def, const char *img, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    size_t n = 0;
    int fd = open(img, O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(f->ops->restore_from_fd(f->b, def, fd, FALSE, NULL, &err), ==, -1);
    close(fd);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_FAILED);
    g_test_message("refused: %s", err->message);
    g_assert_nonnull(strstr(err->message, msg));
    g_assert_true(f->ops->list(f->b, &ids, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_restore_corrupt(Fixture *f, gconstpointer data)
{
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autoptr(XmDomainDef) def = saved_image(f, img);
    struct stat st;
    uint8_t byte;
    int fd = open(img, O_RDWR);

    g_assert_cmpint(fstat(fd, &st), ==, 0);
    g_assert_cmpint(pread(fd, &byte, 1, st.st_size / 2), ==, 1);
    byte ^= 0x40;
    g_assert_cmpint(pwrite(fd, &byte, 1, st.st_size / 2), ==, 1);
    close(fd);
    restore_fails(f, def, img, "corrupt");
}

static void
test_restore_truncated(Fixture *f, gconstpointer data)
{
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autoptr(XmDomainDef) def = saved_image(f, img);
    struct stat st;

    g_assert_cmpint(stat(img, &st), ==, 0);
    g_assert_cmpint(truncate(img, st.st_size - 1000), ==, 0);
    restore_fails(f, def, img, "truncated");
}

static void
test_restore_garbage(Fixture *f, gconstpointer data)
{
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autoptr(XmDomainDef) def = make_def(f, "garbage", 20, 0, 0);

    g_assert_true(g_file_set_contents(img, "this is not a memory stream at all", -1, NULL));
    restore_fails(f, def, img, "bad magic");
}

static void
test_restore_cancel(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "waiting", 20, 0, 0);
    g_autoptr(GCancellable) c = g_cancellable_new();
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    size_t n = 0;
    GThread *t;
    int p[2];

    /* a stream that never comes: only the cancellable ends the wait */
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    t = g_thread_new("cancel", cancel_thread, c);
    g_assert_cmpint(f->ops->restore_from_fd(f->b, def, p[0], FALSE, c, &err), ==, -1);
    g_assert_error(err, XM_ERROR, XM_ERR_OPERATION_ABORTED);
    g_thread_join(t);
    close(p[0]);
    close(p[1]);
    g_assert_true(f->ops->list(f->b, &ids, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_reconnect(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "survivor", 20, 4, 1);
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    g_autofree char *line = NULL;
    XmDomainInfo info;
    size_t n = 0;
    guint64 seq;
    int domid = create(f, def, FALSE), status, next;
    pid_t pid = pid_of(f, domid);

    g_usleep(200000);
    xm_backend_free(f->b);         /* like a libvirtd stop: guests keep running */
    f->b = NULL;
    g_usleep(300000);
    g_assert_true(bt_process_alive(pid));

    f->b = open_backend(f);
    g_assert_true(f->ops->list(f->b, &ids, &n, &err));
    g_assert_cmpuint(n, ==, 0);    /* nothing known before reconnect() */
    g_clear_pointer(&ids, g_free);
    g_assert_true(f->ops->reconnect(f->b, &ids, &n, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpint(ids[0], ==, domid);
    g_assert_true(f->ops->info(f->b, domid, &info, &err));
    g_assert_cmpint(info.state, ==, XM_DOMSTATE_RUNNING);
    g_assert_cmpmem(info.uuid, 16, def->uuid, 16);

    seq = hb_seq(f, domid);
    g_usleep(200000);
    g_assert_cmpuint(hb_seq(f, domid), >, seq);
    g_assert_true(f->ops->pause(f->b, domid, &err));
    line = bt_heartbeat_check(f->disk, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "max_gap_ms"), <, 1000);

    /* domids keep growing across backends */
    g_autoptr(XmDomainDef) other = make_def(f, "newcomer", 0, 0, 0);
    next = create(f, other, TRUE);
    g_assert_cmpint(next, >, domid);

    /* a reconnected guest's death is still noticed */
    kill(pid, SIGKILL);
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_DIED);
}

static void
test_reconnect_forgets_dead(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "ghost", 20, 0, 0);
    g_autoptr(GError) err = NULL;
    g_autofree int *ids = NULL;
    size_t n = 0;
    int domid = create(f, def, FALSE);
    pid_t pid = pid_of(f, domid);

    xm_backend_free(f->b);
    f->b = NULL;
    kill(pid, SIGKILL);
    for (int i = 0; i < 100 && bt_process_alive(pid); i++)
        g_usleep(20000);
    f->b = open_backend(f);
    g_assert_true(f->ops->reconnect(f->b, &ids, &n, &err));
    g_assert_cmpuint(n, ==, 0);
    g_assert_cmpuint(count_pid_files(f), ==, 0);
}

static void
test_killed_from_outside(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "victim", 20, 0, 0);
    g_autofree int *ids = NULL;
    size_t n = 0;
    int domid = create(f, def, FALSE);

    kill(pid_of(f, domid), SIGKILL);
    g_assert_cmpint(event_log_wait(&f->events, domid, 5000), ==, XM_DOMAIN_EVENT_DIED);
    g_assert_true(f->ops->list(f->b, &ids, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
}

static void
test_guest_initiated(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) a = make_def(f, "poweroff", 20, 0, 0);
    g_autoptr(XmDomainDef) b = make_def(f, "crasher", 0, 0, 0);
    g_autoptr(XmDomainDef) c = make_def(f, "rebooter", 0, 0, 0);
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = NULL;
    int da = create(f, a, FALSE), db = create(f, b, FALSE), dc = create(f, c, FALSE);

    /* SIGTERM is the guest powering itself off */
    kill(pid_of(f, da), SIGTERM);
    g_assert_cmpint(event_log_wait(&f->events, da, 5000), ==, XM_DOMAIN_EVENT_SHUTDOWN);
    reply = ctl(f, db, "crash");
    g_assert_cmpint(event_log_wait(&f->events, db, 5000), ==, XM_DOMAIN_EVENT_CRASHED);
    g_assert_true(f->ops->reboot(f->b, dc, &err));
    g_assert_cmpint(event_log_wait(&f->events, dc, 5000), ==, XM_DOMAIN_EVENT_REBOOT);
}

static void
test_live_save_iterates(Fixture *f, gconstpointer data)
{
    /* 64 MiB/s of dirtying on 32 MiB: pre-copy must resend pages */
    g_autoptr(XmDomainDef) def = make_def(f, "busy", 20, 64, 0);
    g_autofree char *img = g_build_filename(f->dir, "save.img", NULL);
    g_autofree char *sock = NULL, *reply = NULL;
    g_autoptr(GError) err = NULL;
    int domid = create(f, def, FALSE);
    int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    sock = g_strdup_printf("%s/sim/%d.sock", f->cfg.state_dir, domid);
    g_usleep(200000);
    g_assert_true(xm_sim_ctl_call(sock, "save live", fd, -1, 30000, &reply, &err));
    g_assert_no_error(err);
    close(fd);
    g_test_message("live save: %s", reply);
    g_assert_cmpuint(bt_field(reply, "passes"), >=, 2);
    g_assert_cmpuint(bt_field(reply, "pages"), >, 32 * 1024 / 4);
}

typedef struct {
    Fixture *f;
    int domid;
    int fd;
    gboolean ok;
    GError *err;
} SaveJob;

static gpointer
save_thread(gpointer data)
{
    SaveJob *j = data;

    j->ok = j->f->ops->suspend_to_fd(j->f->b, j->domid, j->fd, XM_SUSPEND_LIVE,
                                     NULL, &j->err);
    close(j->fd);
    return NULL;
}

/* What a migration does with the memory stream: a live save on host A
 * streamed through a socket into a restore on host B. */
static void
test_migrate_over_socket(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "traveller", 20, 16, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *sum_src = NULL, *sum_dst = NULL, *line = NULL;
    SaveJob job = { .f = f };
    const XmBackendOps *ops2;
    GThread *t;
    int sv[2], dst, status;
    guint64 seq;

    f->cfg2 = f->cfg;
    f->cfg2.state_dir = g_build_filename(f->dir, "state-b", NULL);
    f->cfg2.sim_host_name = (char *) "host-b";
    f->b2 = xm_backend_new(&f->cfg2, event_log_record, &f->events, &err);
    g_assert_no_error(err);
    ops2 = xm_backend_ops(f->b2);

    job.domid = create(f, def, FALSE);
    g_usleep(300000);
    /* non-blocking, as a migration's sockets may be */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                               sv), ==, 0);
    job.fd = sv[0];
    t = g_thread_new("save", save_thread, &job);
    dst = ops2->restore_from_fd(f->b2, def, sv[1], TRUE, NULL, &err);
    close(sv[1]);
    g_thread_join(t);
    g_assert_no_error(job.err);
    g_assert_true(job.ok);
    g_assert_no_error(err);
    g_assert_cmpint(dst, >, 0);
    track_pid(pid_in(f->cfg2.state_dir, dst));
    {
        g_autofree char *dp = g_strdup_printf("%s/sim/%d.dp.pid", f->cfg2.state_dir, dst);
        g_autofree char *text = NULL;
        if (g_file_get_contents(dp, &text, NULL, NULL))
            track_pid(atoi(text));
    }

    sum_src = ram_checksum(f, job.domid);
    {
        g_autofree char *r = ctl_in(f->cfg2.state_dir, dst, "ram-checksum");
        sum_dst = xm_sim_reply_get(r, "checksum");
    }
    g_assert_cmpstr(sum_dst, ==, sum_src);
    seq = hb_seq(f, job.domid);
    g_assert_true(f->ops->destroy(f->b, job.domid, &err));
    g_assert_true(ops2->unpause(f->b2, dst, &err));
    g_usleep(300000);
    g_assert_true(ops2->pause(f->b2, dst, &err));

    line = bt_heartbeat_check(f->disk, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "missing"), ==, 0);
    g_assert_cmpuint(bt_field(line, "last"), >, seq + 5);
    g_assert_nonnull(strstr(line, " hosts=host-a,host-b"));
}

/* The disk reached through NBD (the tracked datapath's shape). */
static void
test_nbd_disk(Fixture *f, gconstpointer data)
{
    g_autoptr(XmDomainDef) def = make_def(f, "nbd", 20, 0, 2);
    g_autofree char *sock = g_build_filename(f->dir, "nbd.sock", NULL);
    g_autofree char *file_arg = g_strconcat("file=", f->disk, NULL);
    const char *argv[] = { "nbdkit", "-f", "-U", sock, "file", file_arg, NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;
    g_autofree char *nbdkit = g_find_program_in_path("nbdkit");
    int domid, status;

    if (!nbdkit) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g_assert_true(g_spawn_async(NULL, (char **) argv, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &f->nbdkit, &err));
    for (int i = 0; i < 200 && !g_file_test(sock, G_FILE_TEST_EXISTS); i++)
        g_usleep(20000);
    g_free(def->disks[0].source);
    def->disks[0].source = g_strdup_printf("nbd+unix:///?socket=%s", sock);

    domid = create(f, def, FALSE);
    g_usleep(500000);
    g_assert_true(f->ops->pause(f->b, domid, &err));
    line = bt_heartbeat_check(f->disk, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpuint(bt_field(line, "records"), >=, 10);
    g_assert_cmpuint(bt_field(line, "last"), ==, hb_seq(f, domid));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGABRT, on_abort);
    signal(SIGTERM, on_abort);
    /* find the programs of this build tree, whatever the environment */
    g_setenv("XENMIG_SIM_GUEST", BUILDDIR "/src/backend/xenmig-sim-guest", TRUE);
    g_setenv("XENMIG_DATAPATH", BUILDDIR "/tools/datapath/xenmig-datapath", TRUE);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/sim/lifecycle", test_lifecycle);
    ADD("/sim/destroy", test_destroy);
    ADD("/sim/duplicate", test_duplicate);
    ADD("/sim/missing-disk", test_missing_disk);
    ADD("/sim/qcow2-refused", test_qcow2_refused);
    ADD("/sim/long-state-dir", test_long_state_dir);
    ADD("/sim/heartbeat", test_heartbeat);
    ADD("/sim/save-restore", test_save_restore);
    ADD("/sim/save-restore-live", test_save_restore_live);
    ADD("/sim/save-resume", test_save_resume);
    ADD("/sim/save-cancel", test_save_cancel);
    ADD("/sim/restore-corrupt", test_restore_corrupt);
    ADD("/sim/restore-truncated", test_restore_truncated);
    ADD("/sim/restore-garbage", test_restore_garbage);
    ADD("/sim/restore-cancel", test_restore_cancel);
    ADD("/sim/reconnect", test_reconnect);
    ADD("/sim/reconnect-forgets-dead", test_reconnect_forgets_dead);
    ADD("/sim/killed-from-outside", test_killed_from_outside);
    ADD("/sim/guest-initiated", test_guest_initiated);
    ADD("/sim/live-save-iterates", test_live_save_iterates);
    ADD("/sim/migrate-over-socket", test_migrate_over_socket);
    ADD("/sim/nbd-disk", test_nbd_disk);
    return g_test_run();
}
