/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state driver: start-up (configuration, backend, domains found again,
 * autostart), reload and clean-up; and the handling of domain state changes
 * the backend reports on its own (guest shutdown, reboot, crash).
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "driver.h"
#include "driver-migrate.h"

XmDriver *xm_driver;

typedef struct {
    int domid;
    XmDomainEventKind kind;
    gboolean quit;
} XmBackendEvent;

const XmBackendOps *
xm_ops(void)
{
    return xm_backend_ops(xm_driver->backend);
}

/* Backend thread: hand over to our own thread, which may take locks. */
static void
backend_event_cb(XmBackend *backend, int domid, XmDomainEventKind kind,
                 gpointer user_data)
{
    XmDriver *drv = user_data;
    XmBackendEvent *ev = g_new0(XmBackendEvent, 1);

    ev->domid = domid;
    ev->kind = kind;
    g_async_queue_push(drv->backend_events, ev);
}

static XmLifecycleAction
action_for(const XmDomainDef *def, XmDomainEventKind kind)
{
    switch (kind) {
    case XM_DOMAIN_EVENT_SHUTDOWN:
        return def->on_poweroff;
    case XM_DOMAIN_EVENT_REBOOT:
        return def->on_reboot;
    case XM_DOMAIN_EVENT_CRASHED:
        return def->on_crash;
    default:
        return XM_LIFECYCLE_DESTROY;
    }
}

static void
handle_backend_event(const XmBackendEvent *ev)
{
    XmDomObj *dom = NULL;
    g_autoptr(GError) err = NULL;
    XmLifecycleAction action;
    int stop_detail, stop_reason;

    g_mutex_lock(&xm_driver->lock);
    for (guint i = 0; i < xm_driver->doms->len; i++) {
        XmDomObj *d = g_ptr_array_index(xm_driver->doms, i);
        if (!g_atomic_int_get(&d->removed) && g_atomic_int_get(&d->domid) == ev->domid) {
            dom = xm_dom_ref(d);
            break;
        }
    }
    g_mutex_unlock(&xm_driver->lock);
    if (!dom) {
        g_debug("event %d for unknown domid %d", ev->kind, ev->domid);
        return;
    }
    g_mutex_lock(&dom->lock);
    if (g_atomic_int_get(&dom->domid) != ev->domid) {
        /* stopped by a call meanwhile */
        xm_dom_release(dom);
        return;
    }

    if (ev->kind == XM_DOMAIN_EVENT_SUSPENDED) {
        dom->state = XM_DOMSTATE_PAUSED;
        dom->reason = VIR_DOMAIN_PAUSED_UNKNOWN;
        xm_dom_save_status(dom, NULL);
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                           VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
        xm_dom_release(dom);
        return;
    }

    action = action_for(dom->def, ev->kind);
    if (ev->kind == XM_DOMAIN_EVENT_CRASHED &&
        (action == XM_LIFECYCLE_PRESERVE || action == XM_LIFECYCLE_COREDUMP_DESTROY)) {
        /* keep it for inspection (there are no core dumps: preserved) */
        dom->state = XM_DOMSTATE_CRASHED;
        dom->reason = VIR_DOMAIN_CRASHED_PANICKED;
        xm_dom_save_status(dom, NULL);
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_CRASHED,
                           VIR_DOMAIN_EVENT_CRASHED_PANICKED);
        xm_dom_release(dom);
        return;
    }
    if (ev->kind == XM_DOMAIN_EVENT_DIED)
        action = XM_LIFECYCLE_DESTROY;

    if (!xm_ops()->destroy(xm_driver->backend, ev->domid, &err) &&
        !g_error_matches(err, XM_ERROR, XM_ERR_NO_DOMAIN))
        g_warning("cannot clean up domain %s after it stopped: %s",
                  dom->name, err->message);
    g_clear_error(&err);

    if (action == XM_LIFECYCLE_RESTART || action == XM_LIFECYCLE_RENAME_RESTART ||
        action == XM_LIFECYCLE_COREDUMP_RESTART) {
        int detail;
        /* Not a stop for libvirt's clients: the domain stays running with a
         * new domid, booting the (possibly updated) persistent definition. */
        xm_dom_set_domid(dom, -1);
        if (dom->newdef) {
            xm_domain_def_free(dom->def);
            dom->def = g_steal_pointer(&dom->newdef);
        }
        if (xm_dom_start(dom, FALSE, &detail, &err)) {
            if (ev->kind == XM_DOMAIN_EVENT_REBOOT) {
                xm_event_reboot(dom);
            } else {
                /* A power-off or crash under on_poweroff/on_crash=restart is
                 * a stop and a new boot for libvirt's clients (as libvirt's
                 * libxl driver reports it): without the events a manager
                 * never learns that its guest crashed. */
                if (ev->kind == XM_DOMAIN_EVENT_SHUTDOWN)
                    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SHUTDOWN,
                                       VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED);
                xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STOPPED,
                                   ev->kind == XM_DOMAIN_EVENT_CRASHED
                                       ? VIR_DOMAIN_EVENT_STOPPED_CRASHED
                                       : VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN);
                xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STARTED, detail);
            }
            xm_dom_release(dom);
            return;
        }
        g_warning("cannot restart domain %s: %s", dom->name, err->message);
        stop_detail = VIR_DOMAIN_EVENT_STOPPED_FAILED;
        stop_reason = VIR_DOMAIN_SHUTOFF_FAILED;
    } else {
        switch (ev->kind) {
        case XM_DOMAIN_EVENT_SHUTDOWN:
        case XM_DOMAIN_EVENT_REBOOT:
            stop_detail = VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN;
            stop_reason = VIR_DOMAIN_SHUTOFF_SHUTDOWN;
            xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SHUTDOWN,
                               VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED);
            break;
        case XM_DOMAIN_EVENT_CRASHED:
            stop_detail = VIR_DOMAIN_EVENT_STOPPED_CRASHED;
            stop_reason = VIR_DOMAIN_SHUTOFF_CRASHED;
            break;
        default:
            stop_detail = VIR_DOMAIN_EVENT_STOPPED_FAILED;
            stop_reason = VIR_DOMAIN_SHUTOFF_UNKNOWN;
            break;
        }
    }
    xm_dom_mark_stopped(dom, stop_reason);
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STOPPED, stop_detail);
    xm_dom_cleanup_stopped(dom);
    xm_dom_release(dom);
}

static gpointer
event_thread(gpointer data)
{
    GAsyncQueue *q = data;

    for (;;) {
        g_autofree XmBackendEvent *ev = g_async_queue_pop(q);
        if (ev->quit)
            break;
        handle_backend_event(ev);
    }
    return NULL;
}

static void
autostart_all(void)
{
    g_autoptr(GPtrArray) doms = xm_dom_list();
    g_autofree char *marker = g_build_filename(xm_driver->cfg->state_dir,
                                               "autostarted", NULL);

    /* Like libvirt: autostart once per host boot (state_dir is on a tmpfs),
     * not on every restart of libvirtd. */
    if (g_file_test(marker, G_FILE_TEST_EXISTS)) {
        g_debug("%s exists: not autostarting", marker);
        return;
    }
    if (!g_file_set_contents(marker, "", 0, NULL))
        g_debug("cannot create %s", marker);

    for (guint i = 0; i < doms->len; i++) {
        XmDomObj *dom = g_ptr_array_index(doms, i);
        g_autoptr(GError) err = NULL;
        int detail = VIR_DOMAIN_EVENT_STARTED_BOOTED;

        g_mutex_lock(&dom->lock);
        if (!g_atomic_int_get(&dom->removed) && dom->autostart &&
            !xm_dom_is_active(dom)) {
            if (xm_dom_start(dom, FALSE, &detail, &err))
                xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STARTED, detail);
            else
                g_warning("cannot autostart domain %s: %s", dom->name,
                          err->message);
        }
        g_mutex_unlock(&dom->lock);
    }
}

static void
driver_free(XmDriver *drv)
{
    if (!drv)
        return;
    if (drv->event_thread) {
        XmBackendEvent *quit = g_new0(XmBackendEvent, 1);
        quit->quit = TRUE;
        g_async_queue_push(drv->backend_events, quit);
        g_thread_join(drv->event_thread);
    }
    /* Domains keep running: only our view of them goes. */
    g_clear_pointer(&drv->backend, xm_backend_free);
    if (drv->doms)
        g_ptr_array_unref(drv->doms);
    if (drv->backend_events)
        g_async_queue_unref(drv->backend_events);
    if (drv->events)
        virObjectUnref(drv->events);
    xm_driver_config_free(drv->cfg);
    g_mutex_clear(&drv->lock);
    g_free(drv);
}

static gboolean
make_dirs(const XmDriverConfig *cfg, GError **error)
{
    const char *dirs[] = { cfg->state_dir, cfg->config_dir, cfg->autostart_dir,
                           cfg->save_dir };

    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++)
        if (g_mkdir_with_parents(dirs[i], 0755) < 0)
            return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                      _("cannot create directory '%s'"), dirs[i]);
    return TRUE;
}

int
xmStateInitialize(bool privileged, const char *root, bool monolithic,
                  void *callback, void *opaque)
{
    g_autoptr(GError) err = NULL;
    XmDriver *drv;
    XmBackendConfig bcfg = { 0 };

    xm_init();
    if (root) {
        XM_REPORT(VIR_ERR_INVALID_ARG, "%s",
                  _("Driver does not support embedded mode"));
        return XM_VIR_DRV_STATE_INIT_ERROR;
    }
    if (!privileged) {
        /* Xen needs root, like libvirt's libxl driver: no session daemon. */
        g_message("xenmig: not privileged, the Xen driver is not loaded");
        return XM_VIR_DRV_STATE_INIT_SKIPPED;
    }

    drv = g_new0(XmDriver, 1);
    g_mutex_init(&drv->lock);
    drv->cfg = xm_driver_config_new();
    if (!xm_driver_config_load(drv->cfg, xm_driver_config_path(), &err) ||
        !make_dirs(drv->cfg, &err)) {
        XM_REPORT_GERROR(err);
        driver_free(drv);
        return XM_VIR_DRV_STATE_INIT_ERROR;
    }

    drv->backend_events = g_async_queue_new_full(g_free);
    bcfg.backend = drv->cfg->backend;
    bcfg.state_dir = drv->cfg->state_dir;
    bcfg.sim_host_name = drv->cfg->sim_host_name;
    bcfg.sim_host_memory_mib = drv->cfg->sim_host_memory_mib;
    bcfg.sim_host_cpus = drv->cfg->sim_host_cpus;
    bcfg.sim_disk_datapath = drv->cfg->sim_disk_datapath;
    bcfg.xen_disk_datapath = drv->cfg->xen_disk_datapath;
    drv->backend = xm_backend_new(&bcfg, backend_event_cb, drv, &err);
    if (!drv->backend) {
        if (g_error_matches(err, XM_ERROR, XM_ERR_NO_XEN)) {
            /* No Xen on this host: let libvirtd run its other drivers. */
            g_message("xenmig: %s; the Xen driver is not loaded", err->message);
            driver_free(drv);
            return XM_VIR_DRV_STATE_INIT_SKIPPED;
        }
        XM_REPORT_GERROR(err);
        driver_free(drv);
        return XM_VIR_DRV_STATE_INIT_ERROR;
    }

    drv->events = virObjectEventStateNew();
    if (!drv->events) {
        driver_free(drv);
        return XM_VIR_DRV_STATE_INIT_ERROR;
    }
    drv->doms = g_ptr_array_new_with_free_func((GDestroyNotify)xm_dom_unref);
    drv->inhibit = callback;
    drv->inhibit_opaque = opaque;
    xm_driver = drv;

    xm_dom_load_all();
    xm_migrate_recover();
    xm_migrate_outrec_recover();
    drv->event_thread = g_thread_new("xenmig-events", event_thread,
                                     drv->backend_events);
    autostart_all();
    return XM_VIR_DRV_STATE_INIT_COMPLETE;
}

int
xmStateCleanup(void)
{
    /* xm_driver stays set until the event thread has stopped: it uses it */
    driver_free(xm_driver);
    xm_driver = NULL;
    return 0;
}

int
xmStateReload(void)
{
    g_autoptr(GPtrArray) doms = NULL;

    if (!xm_driver)
        return 0;
    /* New or changed files in config_dir/autostart_dir; what we hold stays. */
    xm_dom_load_all_configs();
    doms = xm_dom_list();
    for (guint i = 0; i < doms->len; i++) {
        XmDomObj *dom = g_ptr_array_index(doms, i);
        g_autofree char *file = g_strconcat(dom->name, ".xml", NULL);
        g_autofree char *link = g_build_filename(xm_driver->cfg->autostart_dir,
                                                 file, NULL);
        g_mutex_lock(&dom->lock);
        if (dom->persistent)
            dom->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
        g_mutex_unlock(&dom->lock);
    }
    return 0;
}
