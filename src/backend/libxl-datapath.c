/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libxl backend's disk datapath (xen_disk_datapath = "nbd"). Each
 * writable raw disk of a Xen domain is served by a per-domain
 * xenmig-datapath daemon on a unix socket, the socket is connected to a
 * free kernel NBD device with nbd-client, and libxl gets /dev/nbdN
 * (blkback, "phy") instead of the image: every guest write then passes
 * through the daemon, where a migration tracks it. The domain definition
 * keeps the image paths; only the libxl configuration changes.
 *
 * The datapath is started before libxl creates the domain, so its files
 * are named after the domain's UUID (the domid is not known yet):
 * <state_dir>/datapath/<uuid>.state (a key file recording the daemon and
 * the devices), .pid, .log, and the sockets <uuid>.ctl and <uuid>-<N>.sock
 * (in a short directory when the state directory is too deep for a unix
 * socket). The state file lets a backend opened after a libvirtd restart
 * find a running domain's datapath again, or undo one whose domain is gone.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-libxl"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/libxl-datapath.h"
#include "backend/libxl-private.h"
#include "storage-mirror/datapath-client.h"
#include "util/util.h"

extern char **environ;

#define QUIT_WAIT_MS 3000
#define TOOL_TIMEOUT_S 60
#define DEVICE_WAIT_MS 5000
/* the longest socket name in sock_dir: "/<uuid>-<N>.sock" */
#define SOCK_NAME_MAX (1 + 36 + 1 + 10 + 5)
#define STATE_GROUP "datapath"

/* ---- one domain's datapath -------------------------------------------- */

XmLxDatapath *
xm_lxdp_new(XmLxDpHost *host, const char *uuid)
{
    XmLxDatapath *dp = g_new0(XmLxDatapath, 1);
    g_autofree char *base = g_build_filename(host->dir, uuid, NULL);

    dp->uuid = g_strdup(uuid);
    dp->domid = -1;
    dp->state_file = g_strconcat(base, ".state", NULL);
    dp->pid_file = g_strconcat(base, ".pid", NULL);
    dp->log_file = g_strconcat(base, ".log", NULL);
    dp->control = g_strdup_printf("%s/%s.ctl", host->sock_dir, uuid);
    dp->disks = g_ptr_array_new();
    return dp;
}

static void
disk_free(XmLxDpDisk *disk)
{
    g_free(disk->target);
    g_free(disk->image);
    g_free(disk->socket);
    g_free(disk->device);
    g_free(disk);
}

static XmLxDpDisk *
add_disk(XmLxDatapath *dp, const char *target, const char *image,
         const char *socket)
{
    XmLxDpDisk *disk = g_new0(XmLxDpDisk, 1);

    disk->target = g_strdup(target);
    disk->image = g_strdup(image);
    disk->socket = g_strdup(socket);
    g_ptr_array_add(dp->disks, disk);
    return disk;
}

XmLxDpDisk *
xm_lxdp_add_disk(XmLxDatapath *dp, const char *target, const char *image)
{
    g_autofree char *dir = g_path_get_dirname(dp->control);
    g_autofree char *socket = g_strdup_printf("%s/%s-%u.sock", dir, dp->uuid,
                                              dp->disks->len);

    return add_disk(dp, target, image, socket);
}

void
xm_lxdp_free(XmLxDatapath *dp)
{
    if (!dp)
        return;
    for (guint i = 0; i < dp->disks->len; i++)
        disk_free(dp->disks->pdata[i]);
    g_ptr_array_free(dp->disks, TRUE);
    g_free(dp->uuid);
    g_free(dp->state_file);
    g_free(dp->control);
    g_free(dp->pid_file);
    g_free(dp->log_file);
    g_free(dp);
}

/* ---- the state file --------------------------------------------------- */

gboolean
xm_lxdp_state_save(const XmLxDatapath *dp, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;

    g_key_file_set_string(kf, STATE_GROUP, "uuid", dp->uuid);
    g_key_file_set_integer(kf, STATE_GROUP, "domid", dp->domid);
    g_key_file_set_integer(kf, STATE_GROUP, "pid", (int) dp->pid);
    g_key_file_set_string(kf, STATE_GROUP, "control", dp->control);
    g_key_file_set_string(kf, STATE_GROUP, "pid_file", dp->pid_file);
    g_key_file_set_string(kf, STATE_GROUP, "log_file", dp->log_file);
    g_key_file_set_integer(kf, STATE_GROUP, "disks", (int) dp->disks->len);
    for (guint i = 0; i < dp->disks->len; i++) {
        const XmLxDpDisk *disk = dp->disks->pdata[i];
        g_autofree char *group = g_strdup_printf("disk %u", i);

        g_key_file_set_string(kf, group, "target", disk->target);
        g_key_file_set_string(kf, group, "image", disk->image);
        g_key_file_set_string(kf, group, "socket", disk->socket);
        if (disk->device) {
            g_key_file_set_string(kf, group, "device", disk->device);
            g_key_file_set_integer(kf, group, "client_pid", disk->client_pid);
        }
    }
    /* atomically: a restart must never find half a file */
    if (!g_key_file_save_to_file(kf, dp->state_file, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_WRITE_FAILED,
                    _("cannot write the datapath state '%s': %s"),
                    dp->state_file, err->message);
        return FALSE;
    }
    return TRUE;
}

XmLxDatapath *
xm_lxdp_state_load(const char *file, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(XmLxDatapath) dp = g_new0(XmLxDatapath, 1);
    int ndisks;

    dp->disks = g_ptr_array_new();
    dp->state_file = g_strdup(file);
    if (!g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, &err))
        goto fail;
    dp->uuid = g_key_file_get_string(kf, STATE_GROUP, "uuid", &err);
    if (!dp->uuid)
        goto fail;
    dp->domid = g_key_file_get_integer(kf, STATE_GROUP, "domid", &err);
    if (err)
        goto fail;
    dp->pid = g_key_file_get_integer(kf, STATE_GROUP, "pid", &err);
    if (err)
        goto fail;
    if (!(dp->control = g_key_file_get_string(kf, STATE_GROUP, "control", &err)) ||
        !(dp->pid_file = g_key_file_get_string(kf, STATE_GROUP, "pid_file", &err)) ||
        !(dp->log_file = g_key_file_get_string(kf, STATE_GROUP, "log_file", &err)))
        goto fail;
    ndisks = g_key_file_get_integer(kf, STATE_GROUP, "disks", &err);
    if (err)
        goto fail;
    for (int i = 0; i < ndisks; i++) {
        g_autofree char *group = g_strdup_printf("disk %d", i);
        g_autofree char *target = g_key_file_get_string(kf, group, "target", &err);
        g_autofree char *image = target ? g_key_file_get_string(kf, group, "image", &err) : NULL;
        g_autofree char *socket = image ? g_key_file_get_string(kf, group, "socket", &err) : NULL;
        XmLxDpDisk *disk;

        if (!socket)
            goto fail;
        disk = add_disk(dp, target, image, socket);
        disk->device = g_key_file_get_string(kf, group, "device", NULL);
        if (disk->device)
            disk->client_pid = g_key_file_get_integer(kf, group, "client_pid", NULL);
    }
    return g_steal_pointer(&dp);

fail:
    g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                _("cannot read the datapath state '%s': %s"), file,
                err ? err->message : _("invalid content"));
    return NULL;
}

/* ---- NBD devices and tools -------------------------------------------- */

/* N of a name "nbdN", or -1. */
static int
nbd_index(const char *name)
{
    char *end;
    long n;

    if (!g_str_has_prefix(name, "nbd") || !g_ascii_isdigit(name[3]))
        return -1;
    n = strtol(name + 3, &end, 10);
    return *end || n > G_MAXINT ? -1 : (int) n;
}

int
xm_lxdp_free_nbd(const char *sys_block, int from, GError **error)
{
    g_autoptr(GDir) dir = g_dir_open(sys_block, 0, NULL);
    const char *name;
    int best = -1;
    gboolean any = FALSE;

    while (dir && (name = g_dir_read_name(dir))) {
        int n = nbd_index(name);
        g_autofree char *pid = NULL;

        if (n < 0)
            continue;
        any = TRUE;
        if (n < from || (best >= 0 && n >= best))
            continue;
        pid = g_strdup_printf("%s/%s/pid", sys_block, name);
        if (access(pid, F_OK) != 0)
            best = n;
    }
    if (best >= 0)
        return best;
    if (!any)
        g_set_error(error, XM_ERROR, XM_ERR_DEVICE_MISSING,
                    _("no NBD device in %s (the nbd kernel module is not loaded)"),
                    sys_block);
    else
        g_set_error(error, XM_ERROR, XM_ERR_RESOURCE_BUSY,
                    _("no free NBD device in %s from nbd%d on (all are connected)"),
                    sys_block, from);
    return -1;
}

int
xm_lxdp_nbd_pid(const char *sys_block, const char *device)
{
    g_autofree char *base = g_path_get_basename(device);
    g_autofree char *file = g_strdup_printf("%s/%s/pid", sys_block, base);
    g_autofree char *text = NULL;

    if (nbd_index(base) < 0 || !g_file_get_contents(file, &text, NULL, NULL))
        return 0;
    return MAX(atoi(text), 0);
}

char *
xm_lxdp_find_program(const char *name, const char *package, const char *path,
                     GError **error)
{
    g_auto(GStrv) dirs = g_strsplit(path ? path : "", ":", -1);

    for (size_t i = 0; dirs[i]; i++) {
        g_autofree char *file = NULL;

        if (!*dirs[i])
            continue;
        file = g_build_filename(dirs[i], name, NULL);
        if (g_file_test(file, G_FILE_TEST_IS_REGULAR) && access(file, X_OK) == 0)
            return g_steal_pointer(&file);
    }
    g_set_error(error, XM_ERROR, XM_ERR_NO_SUPPORT,
                _("xen_disk_datapath = \"nbd\" needs '%s' (Debian package %s), "
                  "which is not installed (looked in %s)"),
                name, package, path ? path : "");
    return NULL;
}

char **
xm_lxdp_connect_argv(const char *nbd_client, const char *socket,
                     const char *device)
{
    /* 4 KiB blocks as blkback's guests expect; -t: a daemon that stops
     * answering fails the guest's I/O after a minute instead of never */
    const char *argv[] = { nbd_client, "-unix", socket, device, "-b", "4096",
                           "-t", "60", NULL };

    return g_strdupv((char **) argv);
}

char **
xm_lxdp_disconnect_argv(const char *nbd_client, const char *device)
{
    const char *argv[] = { nbd_client, "-d", device, NULL };

    return g_strdupv((char **) argv);
}

/* The last non-empty line of @text, or "". */
static char *
last_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);

    for (int i = (int) g_strv_length(lines) - 1; i >= 0; i--) {
        g_strstrip(lines[i]);
        if (*lines[i])
            return g_strdup(lines[i]);
    }
    return g_strdup("");
}

/*
 * Runs @argv with its output appended to @log and waits up to
 * TOOL_TIMEOUT_S for it. Output goes to a file, not a pipe: nbd-client may
 * leave a child behind that keeps its descriptors.
 */
static gboolean
run_tool(char **argv, const char *log, GError **error)
{
    g_autofree char *tmp = NULL, *out = NULL, *msg = NULL;
    g_autoptr(GError) err = NULL;
    posix_spawn_file_actions_t fa;
    gint64 end = g_get_monotonic_time() + TOOL_TIMEOUT_S * G_USEC_PER_SEC;
    int fd, rc, status = 0;
    pid_t pid, w;

    fd = g_file_open_tmp("xenmig-tool-XXXXXX", &tmp, &err);
    if (fd < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot run %s: %s"), argv[0], err->message);
        return FALSE;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    if (rc != 0) {
        unlink(tmp);
        return xm_set_error_errno(error, rc, XM_ERR_OPERATION_FAILED,
                                  _("cannot run %s"), argv[0]);
    }
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
           g_get_monotonic_time() < end)
        g_usleep(20000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    g_file_get_contents(tmp, &out, NULL, NULL);
    unlink(tmp);
    if (log && out && *out) {
        FILE *f = fopen(log, "ae");
        if (f) {
            fputs(out, f);
            fclose(f);
        }
    }
    if (w == 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_TIMEOUT,
                    _("%s did not finish within %d s"), argv[0], TOOL_TIMEOUT_S);
        return FALSE;
    }
    if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        msg = last_line(out);
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("'%s %s' failed (%s %d)%s%s"), argv[0], argv[1],
                    w > 0 && WIFSIGNALED(status) ? "signal" : "exit status",
                    w > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                    *msg ? ": " : "", msg);
        return FALSE;
    }
    return TRUE;
}

/* Loads the nbd module when no NBD device exists yet; tried once. */
static void
load_nbd_module(XmLxDpHost *host, const char *log)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *modprobe = NULL;
    g_auto(GStrv) argv = NULL;

    if (host->modprobe_tried)
        return;
    host->modprobe_tried = TRUE;
    modprobe = xm_lxdp_find_program("modprobe", "kmod", host->path, &err);
    if (modprobe) {
        const char *args[] = { modprobe, "nbd", NULL };
        argv = g_strdupv((char **) args);
        run_tool(argv, log, &err);
    }
    g_debug("modprobe nbd: %s", err ? err->message : "done");
}

/* Connects @disk's socket to a free NBD device; called with nbd_lock. */
static gboolean
attach_locked(XmLxDpHost *host, XmLxDatapath *dp, XmLxDpDisk *disk,
              const char *nbd_client, GError **error)
{
    g_autoptr(GError) last = NULL;
    int from = 0;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autofree char *device = NULL;
        g_auto(GStrv) argv = NULL;
        gint64 end;
        int n = xm_lxdp_free_nbd(host->sys_block, from, &err);

        if (n < 0 && g_error_matches(err, XM_ERROR, XM_ERR_DEVICE_MISSING) &&
            !host->modprobe_tried) {
            load_nbd_module(host, dp->log_file);
            continue;
        }
        if (n < 0) {
            if (g_error_matches(err, XM_ERROR, XM_ERR_DEVICE_MISSING))
                g_set_error(error, XM_ERROR, XM_ERR_NO_SUPPORT,
                            _("xen_disk_datapath = \"nbd\" needs the nbd kernel "
                              "module: %s, and 'modprobe nbd' did not load it"),
                            err->message);
            else if (last)
                g_propagate_error(error, g_steal_pointer(&last));
            else
                g_propagate_error(error, g_steal_pointer(&err));
            return FALSE;
        }
        device = g_strdup_printf("%s/nbd%d", host->dev_dir, n);
        argv = xm_lxdp_connect_argv(nbd_client, disk->socket, device);
        if (!run_tool(argv, dp->log_file, &err)) {
            /* somebody else may have taken it meanwhile: try the next one */
            g_debug("%s for %s: %s", device, disk->target, err->message);
            g_clear_error(&last);
            last = g_steal_pointer(&err);
            from = n + 1;
            continue;
        }
        /* the kernel publishes the pid once the connection is up */
        end = g_get_monotonic_time() + DEVICE_WAIT_MS * 1000LL;
        while ((disk->client_pid = xm_lxdp_nbd_pid(host->sys_block, device)) == 0 &&
               g_get_monotonic_time() < end)
            g_usleep(20000);
        if (disk->client_pid == 0) {
            g_auto(GStrv) dargv = xm_lxdp_disconnect_argv(nbd_client, device);
            run_tool(dargv, dp->log_file, NULL);
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("nbd-client connected %s but the kernel does not show "
                          "it connected"), device);
            return FALSE;
        }
        disk->device = g_steal_pointer(&device);
        g_debug("domain %s: disk %s on %s (nbd-client pid %d)", dp->uuid,
                disk->target, disk->device, disk->client_pid);
        return TRUE;
    }
}

static void
detach(XmLxDpHost *host, XmLxDatapath *dp, XmLxDpDisk *disk)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *nbd_client = NULL;
    g_auto(GStrv) argv = NULL;
    gint64 end;
    int pid;

    if (!disk->device)
        return;
    pid = xm_lxdp_nbd_pid(host->sys_block, disk->device);
    /* after a restart the device may serve somebody else by now */
    if (pid == 0 || pid != disk->client_pid) {
        g_debug("domain %s: %s is no longer our connection (pid %d, ours %d)",
                dp->uuid, disk->device, pid, disk->client_pid);
        g_clear_pointer(&disk->device, g_free);
        return;
    }
    nbd_client = xm_lxdp_find_program("nbd-client", "nbd-client", host->path, &err);
    argv = nbd_client ? xm_lxdp_disconnect_argv(nbd_client, disk->device) : NULL;
    if (argv && run_tool(argv, dp->log_file, &err)) {
        end = g_get_monotonic_time() + DEVICE_WAIT_MS * 1000LL;
        while (xm_lxdp_nbd_pid(host->sys_block, disk->device) == pid &&
               g_get_monotonic_time() < end)
            g_usleep(20000);
    }
    g_debug("domain %s: %s disconnected%s%s", dp->uuid, disk->device,
            err ? ": " : "", err ? err->message : "");
    g_clear_pointer(&disk->device, g_free);
}

/* ---- the daemon ------------------------------------------------------- */

static void
stop_daemon(XmLxDatapath *dp)
{
    xm_datapath_stop(dp->control, dp->pid, -1, QUIT_WAIT_MS);
}

/* Undoes everything @dp started, in the reverse order, and removes its
 * files; @dp itself stays. */
static void
undo(XmLxDpHost *host, XmLxDatapath *dp)
{
    g_mutex_lock(&host->nbd_lock);
    for (guint i = 0; i < dp->disks->len; i++)
        detach(host, dp, dp->disks->pdata[i]);
    g_mutex_unlock(&host->nbd_lock);
    stop_daemon(dp);
    for (guint i = 0; i < dp->disks->len; i++)
        unlink(((XmLxDpDisk *) dp->disks->pdata[i])->socket);
    unlink(dp->control);
    unlink(dp->pid_file);
    unlink(dp->log_file);
    unlink(dp->state_file);
    g_debug("domain %s (id %d): datapath stopped", dp->uuid, dp->domid);
}

void
xm_lxdp_stop(XmLxDpHost *host, XmLxDatapath *dp)
{
    if (!dp)
        return;
    undo(host, dp);
    xm_lxdp_free(dp);
}

static gboolean
is_bound(XmLxDpHost *host, const char *uuid)
{
    GHashTableIter it;
    gpointer value;
    gboolean found = FALSE;

    g_mutex_lock(&host->lock);
    g_hash_table_iter_init(&it, host->domains);
    while (!found && g_hash_table_iter_next(&it, NULL, &value))
        found = g_str_equal(((XmLxDatapath *) value)->uuid, uuid);
    g_mutex_unlock(&host->lock);
    return found;
}

gboolean
xm_lxdp_start(XmLxDpHost *host, XmLxDatapath *dp, GError **error)
{
    g_autofree XmDatapathDisk *served = g_new0(XmDatapathDisk, dp->disks->len + 1);
    g_autofree char *nbd_client = NULL;
    pid_t pid;

    if (is_bound(host, dp->uuid)) {
        g_set_error(error, XM_ERROR, XM_ERR_DOM_EXIST,
                    _("a running domain with UUID %s already has a disk datapath"),
                    dp->uuid);
        return FALSE;
    }
    nbd_client = xm_lxdp_find_program("nbd-client", "nbd-client", host->path, error);
    if (!nbd_client || !xm_datapath_make_private_dir(host->dir, error) ||
        !xm_datapath_make_private_dir(host->sock_dir, error))
        return FALSE;
    /* leftovers of an earlier start of this domain that nobody undid */
    if (g_file_test(dp->state_file, G_FILE_TEST_EXISTS)) {
        g_autoptr(GError) err = NULL;
        XmLxDatapath *old = xm_lxdp_state_load(dp->state_file, &err);

        g_debug("domain %s: undoing a datapath left behind%s%s", dp->uuid,
                err ? ": " : "", err ? err->message : "");
        if (old)
            xm_lxdp_stop(host, old);
    }
    /* recorded before anything starts: a start cut short is undone later */
    if (!xm_lxdp_state_save(dp, error))
        return FALSE;

    for (guint i = 0; i < dp->disks->len; i++) {
        XmLxDpDisk *disk = dp->disks->pdata[i];
        served[i].target = disk->target;
        served[i].image = disk->image;
        served[i].socket = disk->socket;
    }
    pid = xm_datapath_spawn(dp->control, dp->pid_file, dp->log_file, served,
                            dp->disks->len, error);
    if (pid < 0)
        goto fail;
    dp->pid = pid;
    if (!xm_lxdp_state_save(dp, error))
        goto fail;

    g_mutex_lock(&host->nbd_lock);
    for (guint i = 0; i < dp->disks->len; i++) {
        if (!attach_locked(host, dp, dp->disks->pdata[i], nbd_client, error) ||
            !xm_lxdp_state_save(dp, error)) {
            g_mutex_unlock(&host->nbd_lock);
            goto fail;
        }
    }
    g_mutex_unlock(&host->nbd_lock);
    g_debug("domain %s: datapath pid %d serves %u disk(s)", dp->uuid,
            (int) dp->pid, dp->disks->len);
    return TRUE;

fail:
    undo(host, dp);
    return FALSE;
}

/* ---- the host --------------------------------------------------------- */

static void
reap(gpointer data, gpointer user_data)
{
    xm_lxdp_stop(user_data, data);
}

XmLxDpHost *
xm_lxdp_host_new(const char *state_dir, GError **error)
{
    XmLxDpHost *host;
    const char *env_path = g_getenv("PATH");

    if (!state_dir || !g_path_is_absolute(state_dir)) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("xen_disk_datapath = \"nbd\" needs an absolute state directory"));
        return NULL;
    }
    host = g_new0(XmLxDpHost, 1);
    host->dir = g_build_filename(state_dir, "datapath", NULL);
    host->sock_dir = xm_datapath_socket_dir(host->dir, "xenmig-libxl", SOCK_NAME_MAX);
    host->sys_block = g_strdup("/sys/block");
    host->dev_dir = g_strdup("/dev");
    /* libvirtd's PATH may lack the sbin directories nbd-client lives in */
    host->path = g_strconcat(env_path ? env_path : "", ":/usr/local/sbin:/usr/sbin:/sbin",
                             NULL);
    g_mutex_init(&host->nbd_lock);
    g_mutex_init(&host->lock);
    host->domains = g_hash_table_new(NULL, NULL);
    host->reaper = g_thread_pool_new(reap, host, 1, FALSE, NULL);
    return host;
}

void
xm_lxdp_host_free(XmLxDpHost *host)
{
    GHashTableIter it;
    gpointer value;

    if (!host)
        return;
    /* finish stopping the datapaths of domains already dead */
    g_thread_pool_free(host->reaper, FALSE, TRUE);
    g_hash_table_iter_init(&it, host->domains);
    while (g_hash_table_iter_next(&it, NULL, &value))
        xm_lxdp_free(value);
    g_hash_table_destroy(host->domains);
    g_mutex_clear(&host->lock);
    g_mutex_clear(&host->nbd_lock);
    g_free(host->dir);
    g_free(host->sock_dir);
    g_free(host->sys_block);
    g_free(host->dev_dir);
    g_free(host->path);
    g_free(host);
}

void
xm_lxdp_bind(XmLxDpHost *host, XmLxDatapath *dp, int domid)
{
    g_autoptr(GError) err = NULL;
    XmLxDatapath *old;

    dp->domid = domid;
    if (!xm_lxdp_state_save(dp, &err))
        g_debug("domain %d: %s", domid, err->message);
    g_mutex_lock(&host->lock);
    old = g_hash_table_lookup(host->domains, GINT_TO_POINTER(domid));
    g_hash_table_replace(host->domains, GINT_TO_POINTER(domid), dp);
    g_mutex_unlock(&host->lock);
    /* a domain with this id died without us noticing */
    if (old && old != dp)
        g_thread_pool_push(host->reaper, old, NULL);
}

void
xm_lxdp_release(XmLxDpHost *host, int domid, gboolean later)
{
    XmLxDatapath *dp;

    g_mutex_lock(&host->lock);
    dp = g_hash_table_lookup(host->domains, GINT_TO_POINTER(domid));
    if (dp)
        g_hash_table_remove(host->domains, GINT_TO_POINTER(domid));
    g_mutex_unlock(&host->lock);
    if (!dp)
        return;
    if (later)
        g_thread_pool_push(host->reaper, dp, NULL);
    else
        xm_lxdp_stop(host, dp);
}

char *
xm_lxdp_control(XmLxDpHost *host, int domid, gboolean *bound)
{
    XmLxDatapath *dp;
    g_autofree char *control = NULL;
    pid_t pid = 0;

    g_mutex_lock(&host->lock);
    dp = g_hash_table_lookup(host->domains, GINT_TO_POINTER(domid));
    if (dp) {
        control = g_strdup(dp->control);
        pid = dp->pid;
    }
    g_mutex_unlock(&host->lock);
    if (bound)
        *bound = dp != NULL;
    if (!control || !xm_datapath_pid_serves(pid, control))
        return NULL;
    return g_steal_pointer(&control);
}

void
xm_lxdp_reconnect(XmLxDpHost *host, XmLxDpDomainCheck check, gpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(host->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *file = NULL;
        g_autoptr(GError) err = NULL;
        XmLxDatapath *dp;
        gboolean known;

        if (!g_str_has_suffix(name, ".state"))
            continue;
        file = g_build_filename(host->dir, name, NULL);
        dp = xm_lxdp_state_load(file, &err);
        if (!dp) {
            g_debug("%s; removed", err->message);
            unlink(file);
            continue;
        }
        g_mutex_lock(&host->lock);
        known = g_hash_table_contains(host->domains, GINT_TO_POINTER(dp->domid));
        g_mutex_unlock(&host->lock);
        if (known) {
            xm_lxdp_free(dp);
        } else if (dp->domid >= 0 && check(data, dp->domid, dp->uuid)) {
            g_debug("domain %d: datapath pid %d found again%s", dp->domid,
                    (int) dp->pid,
                    xm_datapath_pid_serves(dp->pid, dp->control) ? "" : " (not running)");
            g_mutex_lock(&host->lock);
            g_hash_table_replace(host->domains, GINT_TO_POINTER(dp->domid), dp);
            g_mutex_unlock(&host->lock);
        } else {
            g_debug("domain %s (id %d) is gone: undoing its datapath", dp->uuid,
                    dp->domid);
            xm_lxdp_stop(host, dp);
        }
    }
}

/* ---- libxl glue ------------------------------------------------------- */

/* Writable raw images the guest reaches through blkback or qdisk. */
static gboolean
is_served(const XmDiskDef *disk)
{
    return disk->device == XM_DISK_DEVICE_DISK && disk->format == XM_DISK_FORMAT_RAW &&
           !disk->readonly && (disk->type == XM_DISK_FILE || disk->type == XM_DISK_BLOCK) &&
           disk->source && *disk->source && disk->target && *disk->target;
}

static char *
uuid_text(const uint8_t *u)
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x",
                           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
                           u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

gboolean
xm_libxl_datapath_prepare(XmLibxlBackend *lb, const XmDomainDef *def,
                          libxl_domain_config *d_config, XmLxDatapath **out,
                          GError **error)
{
    g_autoptr(XmLxDatapath) dp = NULL;
    guint served = 0;

    if (!lb->dp) {
        *out = NULL;
        return TRUE;
    }
    g_return_val_if_fail((size_t) d_config->num_disks == def->ndisks, FALSE);
    for (size_t i = 0; i < def->ndisks; i++) {
        if (!is_served(&def->disks[i]))
            continue;
        if (!dp) {
            g_autofree char *uuid = uuid_text(def->uuid);
            dp = xm_lxdp_new(lb->dp, uuid);
        }
        xm_lxdp_add_disk(dp, def->disks[i].target, def->disks[i].source);
    }
    if (!dp) {
        *out = NULL;
        return TRUE;
    }
    if (!xm_lxdp_start(lb->dp, dp, error)) {
        g_prefix_error(error, _("cannot start the disk datapath of domain '%s': "),
                       def->name);
        return FALSE;
    }
    for (size_t i = 0; i < def->ndisks; i++) {
        libxl_device_disk *x = &d_config->disks[i];
        const XmLxDpDisk *disk;

        if (!is_served(&def->disks[i]))
            continue;
        disk = dp->disks->pdata[served++];
        free(x->pdev_path);
        x->pdev_path = strdup(disk->device);
        x->backend = LIBXL_DISK_BACKEND_PHY;
        x->format = LIBXL_DISK_FORMAT_RAW;
    }
    *out = g_steal_pointer(&dp);
    return TRUE;
}

gboolean
xm_libxl_datapath_open(XmLibxlBackend *lb, GError **error)
{
    const char *mode = lb->backend->config.xen_disk_datapath;

    if (!mode || g_str_equal(mode, "direct"))
        return TRUE;
    if (!g_str_equal(mode, "nbd")) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("unknown xen_disk_datapath '%s' (expected \"direct\" or \"nbd\")"),
                    mode);
        return FALSE;
    }
    lb->dp = xm_lxdp_host_new(lb->backend->config.state_dir, error);
    return lb->dp != NULL;
}

void
xm_libxl_datapath_close(XmLibxlBackend *lb)
{
    g_clear_pointer(&lb->dp, xm_lxdp_host_free);
}
