/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The datapath of a sim domain: with sim_disk_datapath = "nbd" every
 * writable image disk of a guest is served by a per-domain xenmig-datapath
 * daemon on a unix socket, and the guest opens nbd+unix URIs instead of the
 * files, so that each guest write passes through the daemon (where a
 * migration can track it). The daemon lives exactly as long as the guest:
 * started before it, stopped after it, and, being detached like the guest,
 * found again by a backend that reconnects after a libvirtd restart.
 *
 * State files next to the guest's: <domid>.dp.ctl (control socket),
 * .dp.pid (written by the daemon), .dp.log (its stderr) and one
 * .dp-<N>.sock per served disk. A state directory too deep for a unix
 * socket's 108 bytes (test trees) gets its sockets in a short directory
 * named after it instead (sock_dir), so that the daemon, the guest's NBD
 * client and the control client all reach them by a plain path.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/sim-private.h"
#include "util/util.h"
#include "storage-mirror/datapath-client.h"

#define QUIT_WAIT_MS 3000
/* the longest socket name in sock_dir: "/<domid>.dp-<N>.sock" */
#define SOCK_NAME_MAX (1 + 10 + 4 + 20 + 5)

void
sim_datapath_init(SimBackend *sb)
{
    g_autofree char *hash = NULL;
    const char *base;

    if (strlen(sb->dir) + SOCK_NAME_MAX < sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
        sb->sock_dir = g_strdup(sb->dir);
        return;
    }
    /* stable, so that a backend reconnecting to the same state directory
     * uses the same one */
    hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, sb->dir, -1);
    base = geteuid() == 0 ? "/run" : g_get_user_runtime_dir();
    sb->sock_dir = g_strdup_printf("%s/xenmig-sim/%.16s", base, hash);
    g_debug("sim state directory %s is too deep for sockets; they go to %s",
            sb->dir, sb->sock_dir);
}

/* Creates sock_dir if it is not the state directory: ours, 0700, no symlink. */
static gboolean
make_sock_dir(SimBackend *sb, GError **error)
{
    struct stat st;

    if (strcmp(sb->sock_dir, sb->dir) == 0)
        return TRUE;
    if (g_mkdir_with_parents(sb->sock_dir, 0700) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot create '%s'"), sb->sock_dir);
    if (lstat(sb->sock_dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("'%s' is not a private directory of this user"), sb->sock_dir);
        return FALSE;
    }
    return TRUE;
}

/* Disks the guest reaches on its own: NBD exports somebody else serves. */
static gboolean
is_nbd_uri(const char *path)
{
    return g_str_has_prefix(path, "nbd:") || g_str_has_prefix(path, "nbds:") ||
           g_str_has_prefix(path, "nbd+") || g_str_has_prefix(path, "nbds+");
}

static char *
socket_uri(const char *socket)
{
    g_autofree char *escaped = g_uri_escape_string(socket, "/", FALSE);

    return g_strconcat("nbd+unix:///?socket=", escaped, NULL);
}

gboolean
sim_datapath_start(SimBackend *sb, SimDomain *dom, const XmDiskDef *const *disks,
                   size_t n, char ***paths, GError **error)
{
    g_autofree XmDatapathDisk *served = g_new0(XmDatapathDisk, n ? n : 1);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *control = NULL, *pid_file = NULL, *log = NULL;
    size_t nserved = 0;
    pid_t pid;

    for (size_t i = 0; i < n; i++) {
        const XmDiskDef *d = disks[i];
        g_autofree char *suffix = NULL;
        char *sock;

        if (!sb->use_datapath || is_nbd_uri(d->source)) {
            g_ptr_array_add(out, g_strdup(d->source));
            continue;
        }
        suffix = g_strdup_printf("dp-%zu.sock", nserved);
        sock = sim_sock_path(sb, dom->domid, suffix);
        g_ptr_array_add(names, sock);
        served[nserved].image = d->source;
        served[nserved].socket = sock;
        if (d->target) {
            served[nserved].target = d->target;
        } else {
            char *t = g_strdup_printf("disk%zu", i);
            g_ptr_array_add(names, t);
            served[nserved].target = t;
        }
        g_ptr_array_add(out, socket_uri(sock));
        nserved++;
    }

    if (nserved > 0) {
        if (!make_sock_dir(sb, error))
            return FALSE;
        control = sim_sock_path(sb, dom->domid, "dp.ctl");
        pid_file = sim_path(sb, dom->domid, "dp.pid");
        log = sim_path(sb, dom->domid, "dp.log");
        pid = xm_datapath_spawn(control, pid_file, log, served, nserved, error);
        if (pid < 0) {
            g_prefix_error(error, _("cannot start the disk datapath of domain '%s': "),
                           dom->name);
            return FALSE;
        }
        dom->dp_pid = pid;
        dom->dp_starttime = sim_proc_starttime(pid);
        dom->dp_pidfd = sim_pidfd_open(pid);
        dom->dp_control = g_steal_pointer(&control);
        g_debug("sim domain %d: datapath pid %d serves %zu disk(s)", dom->domid,
                (int) pid, nserved);
    }
    g_ptr_array_add(out, NULL);
    *paths = (char **) g_ptr_array_free(g_steal_pointer(&out), FALSE);
    return TRUE;
}

/* Waits up to @ms for @dom's daemon to exit; TRUE once it is gone. */
static gboolean
wait_gone(SimDomain *dom, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000LL;

    while (sim_proc_alive(dom->dp_pid, dom->dp_starttime)) {
        gint64 left = (end - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return FALSE;
        if (dom->dp_pidfd >= 0) {
            struct pollfd pfd = { .fd = dom->dp_pidfd, .events = POLLIN };
            poll(&pfd, 1, MIN(left, 50));
        } else {
            g_usleep(10000);
        }
    }
    return TRUE;
}

void
sim_datapath_stop(SimDomain *dom)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = NULL;

    if (!dom->dp_control || dom->dp_pid <= 0)
        return;
    /* QUIT lets it cancel mirror jobs and remove its sockets; a daemon that
     * does not answer in time (the client's own limit is 30 s) or lingers
     * is killed */
    if (sim_proc_alive(dom->dp_pid, dom->dp_starttime)) {
        reply = xm_datapath_call_raw(dom->dp_control, "QUIT", QUIT_WAIT_MS, NULL, &err);
        if (!reply || !g_str_has_prefix(reply, "OK"))
            g_debug("sim domain %d: datapath QUIT: %s", dom->domid,
                    reply ? reply : err->message);
    }
    if (!wait_gone(dom, QUIT_WAIT_MS)) {
        g_debug("sim domain %d: datapath pid %d did not quit; killing it",
                dom->domid, (int) dom->dp_pid);
        sim_kill_pid_and_wait(dom->dp_pid, dom->dp_starttime, dom->dp_pidfd);
    }
}

gboolean
sim_datapath_alive(SimDomain *dom)
{
    return !dom->dp_control || sim_proc_alive(dom->dp_pid, dom->dp_starttime);
}

gboolean
sim_datapath_reconnect(SimBackend *sb, SimDomain *dom, const char *control)
{
    g_autofree char *pid_file = sim_path(sb, dom->domid, "dp.pid");
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    pid_t pid = 0;

    dom->dp_control = g_strdup(control);
    if (g_file_get_contents(pid_file, &text, NULL, NULL))
        pid = atoi(text);
    /* a pid file read after a restart may name a reused pid */
    if (pid <= 0 || !xm_datapath_pid_serves(pid, control)) {
        g_debug("sim domain %d: its datapath is gone", dom->domid);
        return FALSE;
    }
    dom->dp_pid = pid;
    dom->dp_starttime = sim_proc_starttime(pid);
    dom->dp_pidfd = sim_pidfd_open(pid);
    if (!xm_datapath_ping(control, &err)) {
        g_debug("sim domain %d: datapath pid %d does not answer: %s", dom->domid,
                (int) pid, err->message);
        return FALSE;
    }
    g_debug("sim domain %d: datapath pid %d found again", dom->domid, (int) pid);
    return TRUE;
}
