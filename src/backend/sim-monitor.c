/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Noticing sim domains that go away on their own: a thread polls one pidfd
 * per guest (guests are not our children, so waitpid cannot see them), or
 * re-checks /proc every half second where pidfds are unavailable. The reason
 * comes from the exit file the guest writes: "shutdown", "reboot",
 * "crashed"; none means it was killed (DIED). A guest whose datapath daemon
 * died has lost its disks: it is killed and reported CRASHED. Either way
 * the datapath goes with the guest.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-sim"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/sim-private.h"
#include "util/util.h"

#define POLL_MS 500

void
sim_monitor_wake(SimBackend *sb)
{
    guint64 one = 1;

    if (write(sb->wake_fd, &one, sizeof(one)) < 0)
        g_debug("cannot wake the monitor: %s", g_strerror(errno));
}

static XmDomainEventKind
exit_reason(SimBackend *sb, int domid)
{
    g_autofree char *path = sim_path(sb, domid, "exit");
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return XM_DOMAIN_EVENT_DIED;
    g_strstrip(text);
    if (strcmp(text, "shutdown") == 0)
        return XM_DOMAIN_EVENT_SHUTDOWN;
    if (strcmp(text, "reboot") == 0)
        return XM_DOMAIN_EVENT_REBOOT;
    if (strcmp(text, "crashed") == 0)
        return XM_DOMAIN_EVENT_CRASHED;
    return XM_DOMAIN_EVENT_DIED;
}

/* @kind < 0: the reason from the exit file. */
static void
reap(SimBackend *sb, SimDomain *dom, int kind)
{
    gboolean ours;

    g_mutex_lock(&sb->lock);
    /* a destroy() may have taken it out already: then the death is no news */
    ours = g_hash_table_lookup(sb->domains, GINT_TO_POINTER(dom->domid)) == dom;
    if (ours)
        g_hash_table_remove(sb->domains, GINT_TO_POINTER(dom->domid));
    g_mutex_unlock(&sb->lock);
    if (!ours)
        return;

    if (kind < 0)
        kind = exit_reason(sb, dom->domid);
    g_debug("sim domain %d (pid %d) is gone, event %d", dom->domid,
            (int) dom->pid, kind);
    sim_datapath_stop(dom);
    sim_remove_files(sb, dom->domid,
                     kind == XM_DOMAIN_EVENT_DIED || kind == XM_DOMAIN_EVENT_CRASHED);
    xm_backend_emit_event(sb->backend, dom->domid, kind);
}

static gpointer
monitor_thread(gpointer data)
{
    SimBackend *sb = data;

    for (;;) {
        g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func(
            (GDestroyNotify) sim_domain_unref);
        g_autofree struct pollfd *pfds = NULL;
        GHashTableIter it;
        gpointer value;
        size_t n = 1;
        gboolean stopping;

        g_mutex_lock(&sb->lock);
        stopping = sb->stopping;
        g_hash_table_iter_init(&it, sb->domains);
        while (g_hash_table_iter_next(&it, NULL, &value))
            g_ptr_array_add(doms, sim_domain_ref(value));
        g_mutex_unlock(&sb->lock);
        if (stopping)
            break;

        /* [0] wake, then the guest and the datapath of each domain */
        pfds = g_new0(struct pollfd, 2 * doms->len + 1);
        pfds[0].fd = sb->wake_fd;
        pfds[0].events = POLLIN;
        for (guint i = 0; i < doms->len; i++) {
            SimDomain *dom = doms->pdata[i];
            pfds[2 * i + 1].fd = dom->pidfd;     /* poll ignores negative fds */
            pfds[2 * i + 1].events = POLLIN;
            pfds[2 * i + 2].fd = dom->dp_pidfd;
            pfds[2 * i + 2].events = POLLIN;
        }
        n += 2 * doms->len;
        if (poll(pfds, n, POLL_MS) < 0 && errno != EINTR)
            g_debug("monitor poll: %s", g_strerror(errno));
        if (pfds[0].revents) {
            guint64 v;
            if (read(sb->wake_fd, &v, sizeof(v)) < 0)
                g_debug("monitor wake read: %s", g_strerror(errno));
        }
        for (guint i = 0; i < doms->len; i++) {
            SimDomain *dom = doms->pdata[i];
            if (pfds[2 * i + 1].revents || !sim_proc_alive(dom->pid, dom->starttime)) {
                reap(sb, dom, -1);
            } else if (pfds[2 * i + 2].revents || !sim_datapath_alive(dom)) {
                g_debug("sim domain %d: datapath pid %d died; killing the guest",
                        dom->domid, (int) dom->dp_pid);
                sim_kill_and_wait(dom);
                reap(sb, dom, XM_DOMAIN_EVENT_CRASHED);
            }
        }
    }
    return NULL;
}

gboolean
sim_monitor_start(SimBackend *sb, GError **error)
{
    sb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sb->wake_fd < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR, "eventfd");
    sb->monitor = g_thread_new("xm-sim-monitor", monitor_thread, sb);
    return TRUE;
}

void
sim_monitor_stop(SimBackend *sb)
{
    if (!sb->monitor)
        return;
    g_mutex_lock(&sb->lock);
    sb->stopping = TRUE;
    g_mutex_unlock(&sb->lock);
    sim_monitor_wake(sb);
    g_thread_join(sb->monitor);
    sb->monitor = NULL;
    close(sb->wake_fd);
    sb->wake_fd = -1;
}
