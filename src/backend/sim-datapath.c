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

#include <stdio.h>
#include <string.h>
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
    sb->sock_dir = xm_datapath_socket_dir(sb->dir, "xenmig-sim", SOCK_NAME_MAX);
}

/* Creates sock_dir if it is not the state directory. */
static gboolean
make_sock_dir(SimBackend *sb, GError **error)
{
    if (strcmp(sb->sock_dir, sb->dir) == 0)
        return TRUE;
    return xm_datapath_make_private_dir(sb->sock_dir, error);
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

void
sim_datapath_stop(SimDomain *dom)
{
    if (!dom->dp_control || dom->dp_pid <= 0)
        return;
    xm_datapath_stop(dom->dp_control, dom->dp_pid, dom->dp_pidfd, QUIT_WAIT_MS);
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
