/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting and stopping domains: create, shutdown, reboot, destroy,
 * suspend, resume. */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"

#include "driver.h"
#include "driver-migrate.h"
#include "driver-save.h"


static gboolean
check_active(XmDomObj *dom)
{
    if (!xm_dom_is_active(dom)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("domain is not running"));
        return FALSE;
    }
    return TRUE;
}

/* The domain @vdom names, if it is a running guest (not Domain-0); the
 * caller releases it. */
static XmDomObj *
lookup_active(virDomainPtr vdom)
{
    XmDomObj *dom;

    if (!(dom = xm_dom_from_virdom(vdom)))
        return NULL;
    if (!xm_dom_check_not_dom0(dom) || !check_active(dom)) {
        xm_dom_release(dom);
        return NULL;
    }
    return dom;
}

gboolean
xm_dom_start(XmDomObj *dom, gboolean paused, int *ev_detail, GError **error)
{
    int domid;

    if (xm_dom_has_managed_save(dom)) {
        g_autofree char *path = xm_dom_managed_save_path(dom);
        if (!xm_save_restore_into(dom, path, paused, error))
            return FALSE;
        /* the image is used up once the guest runs from it */
        xm_save_unlink(path);
        *ev_detail = VIR_DOMAIN_EVENT_STARTED_RESTORED;
        return TRUE;
    }
    domid = xm_ops()->create(xm_driver->backend, dom->def, paused, error);
    if (domid < 0)
        return FALSE;
    xm_dom_set_domid(dom, domid);
    dom->state = paused ? XM_DOMSTATE_PAUSED : XM_DOMSTATE_RUNNING;
    dom->reason = paused ? VIR_DOMAIN_PAUSED_USER : VIR_DOMAIN_RUNNING_BOOTED;
    dom->in_shutdown = dom->in_reboot = FALSE;
    if (!xm_dom_save_status(dom, error)) {
        /* without a status file a restarted libvirtd would lose it */
        xm_ops()->destroy(xm_driver->backend, domid, NULL);
        xm_dom_set_domid(dom, -1);
        dom->state = XM_DOMSTATE_SHUTOFF;
        dom->reason = VIR_DOMAIN_SHUTOFF_FAILED;
        return FALSE;
    }
    *ev_detail = VIR_DOMAIN_EVENT_STARTED_BOOTED;
    return TRUE;
}

void
xm_dom_mark_stopped(XmDomObj *dom, int reason)
{
    xm_dom_set_domid(dom, -1);
    dom->state = XM_DOMSTATE_SHUTOFF;
    dom->reason = reason;
    dom->in_shutdown = dom->in_reboot = FALSE;
    xm_dom_delete_status(dom);
}

gboolean
xm_dom_cleanup_stopped(XmDomObj *dom)
{
    if (dom->newdef) {
        xm_domain_def_free(dom->def);
        dom->def = g_steal_pointer(&dom->newdef);
    }
    if (!dom->persistent) {
        xm_dom_remove(dom);
        return TRUE;
    }
    return FALSE;
}

/* Starts @dom and sends the events; @dom is locked. */
static gboolean
start_and_notify(XmDomObj *dom, gboolean paused)
{
    g_autoptr(GError) err = NULL;
    int detail = VIR_DOMAIN_EVENT_STARTED_BOOTED;

    if (!xm_dom_start(dom, paused, &detail, &err)) {
        XM_REPORT_GERROR(err);
        return FALSE;
    }
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STARTED, detail);
    if (dom->state == XM_DOMSTATE_PAUSED)
        xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                           detail == VIR_DOMAIN_EVENT_STARTED_RESTORED
                               ? VIR_DOMAIN_EVENT_SUSPENDED_RESTORED
                               : VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    return TRUE;
}

int
xmDomainCreateWithFlags(virDomainPtr vdom, unsigned int flags)
{
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_FORCE_BOOT, -1);
    if (!(dom = xm_dom_from_virdom(vdom)))
        return -1;
    if (!xm_dom_check_not_dom0(dom))
        goto out;
    if (xm_dom_is_active(dom)) {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s", _("Domain is already running"));
        goto out;
    }
    if (flags & VIR_DOMAIN_START_FORCE_BOOT && xm_dom_has_managed_save(dom)) {
        g_autofree char *path = xm_dom_managed_save_path(dom);
        xm_save_unlink(path);
    }
    if (start_and_notify(dom, flags & VIR_DOMAIN_START_PAUSED))
        ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainCreate(virDomainPtr vdom)
{
    return xmDomainCreateWithFlags(vdom, 0);
}

virDomainPtr
xmDomainCreateXML(virConnectPtr conn, const char *xml, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomainDef *def;
    XmDomObj *dom;
    gboolean added = FALSE;
    virDomainPtr ret = NULL;

    XM_CHECK_FLAGS(VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_VALIDATE, NULL);
    if (!(def = xm_domain_def_parse_xml(xml, &err))) {
        XM_REPORT_GERROR(err);
        return NULL;
    }
    if (!(dom = xm_dom_add(def, TRUE, &added)))
        return NULL;
    if (added)
        dom->persistent = FALSE;
    /* a transient domain boots from its XML, never from a managed image */
    if (!dom->persistent || !xm_dom_has_managed_save(dom)) {
        if (start_and_notify(dom, flags & VIR_DOMAIN_START_PAUSED))
            ret = virGetDomain(conn, dom->name, dom->uuid,
                               g_atomic_int_get(&dom->domid));
    } else {
        XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                  _("domain has a managed save image; start it with virDomainCreate or remove the image"));
    }
    if (!ret && !xm_dom_is_active(dom))
        xm_dom_cleanup_stopped(dom);
    xm_dom_release(dom);
    return ret;
}

int
xmDomainDestroyFlags(virDomainPtr vdom, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(0, -1);
    if (!(dom = lookup_active(vdom)))
        return -1;
    if (!xm_ops()->destroy(xm_driver->backend, g_atomic_int_get(&dom->domid), &err) &&
        !g_error_matches(err, XM_ERROR, XM_ERR_NO_DOMAIN)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    xm_dom_mark_stopped(dom, VIR_DOMAIN_SHUTOFF_DESTROYED);
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_STOPPED,
                       VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    xm_dom_cleanup_stopped(dom);
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainDestroy(virDomainPtr vdom)
{
    return xmDomainDestroyFlags(vdom, 0);
}

int
xmDomainShutdownFlags(virDomainPtr vdom, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN |
                   VIR_DOMAIN_SHUTDOWN_PARAVIRT, -1);
    if (!(dom = lookup_active(vdom)))
        return -1;
    /* The guest powers off on its own time; the backend reports it and
     * the event thread finishes the job (on_poweroff). */
    if (!xm_ops()->shutdown(xm_driver->backend, g_atomic_int_get(&dom->domid), &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    dom->in_shutdown = TRUE;
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainShutdown(virDomainPtr vdom)
{
    return xmDomainShutdownFlags(vdom, 0);
}

int
xmDomainReboot(virDomainPtr vdom, unsigned int flags)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;

    XM_CHECK_FLAGS(VIR_DOMAIN_REBOOT_PARAVIRT, -1);
    if (!(dom = lookup_active(vdom)))
        return -1;
    if (!xm_ops()->reboot(xm_driver->backend, g_atomic_int_get(&dom->domid), &err)) {
        XM_REPORT_GERROR(err);
        goto out;
    }
    dom->in_reboot = TRUE;
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

/* A guest a migration suspended (its memory stream ended, or a killed
 * libvirtd left it so) is not paused: the backend undoes a suspension
 * with resume, a pause with unpause, and refuses the other one with
 * XM_ERR_OPERATION_INVALID. The object's reason says which one to try
 * first ("paused (migrating)": resume), but after a restart or a failed
 * migration it may not know: the refusal then tries the other op, so an
 * admin can always resume such a guest. */
static gboolean
resume_backend(XmDomObj *dom, int domid, GError **error)
{
    g_autoptr(GError) err = NULL;
    gboolean suspended = dom->reason == VIR_DOMAIN_PAUSED_MIGRATION;
    gboolean ok;

    ok = suspended ? xm_ops()->resume(xm_driver->backend, domid, &err)
                   : xm_ops()->unpause(xm_driver->backend, domid, &err);
    if (!ok && g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_INVALID)) {
        g_clear_error(&err);
        ok = suspended ? xm_ops()->unpause(xm_driver->backend, domid, &err)
                       : xm_ops()->resume(xm_driver->backend, domid, &err);
    }
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&err));
    return ok;
}

/* Suspend and resume differ only in the target state, the backend call and
 * the event they raise; a domain already in the target state is left alone. */
static int
set_paused(virDomainPtr vdom, gboolean pause)
{
    g_autoptr(GError) err = NULL;
    XmDomObj *dom;
    int ret = -1;
    gboolean ok;

    if (!(dom = lookup_active(vdom)))
        return -1;
    if ((dom->state == XM_DOMSTATE_PAUSED) != pause) {
        int domid = g_atomic_int_get(&dom->domid);

        if (!pause && xm_migrate_lookup(dom->uuid, XM_MIGRATE_OUT)) {
            /* the destination may be about to run it */
            XM_REPORT(VIR_ERR_OPERATION_INVALID, "%s",
                      _("domain is being migrated: abort the migration to keep it here"));
            goto out;
        }
        if (pause)
            ok = xm_ops()->pause(xm_driver->backend, domid, &err);
        else
            ok = resume_backend(dom, domid, &err);
        if (!ok) {
            XM_REPORT_GERROR(err);
            goto out;
        }
        if (pause) {
            dom->state = XM_DOMSTATE_PAUSED;
            dom->reason = VIR_DOMAIN_PAUSED_USER;
        } else {
            dom->state = XM_DOMSTATE_RUNNING;
            dom->reason = VIR_DOMAIN_RUNNING_UNPAUSED;
            /* the admin decided where it runs: a record kept by a failed
             * migration must not act on a later pause after a restart */
            xm_migrate_outrec_clear(dom->uuid);
        }
        xm_dom_save_status(dom, NULL);
        if (pause)
            xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_SUSPENDED,
                               VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
        else
            xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_RESUMED,
                               VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
    }
    ret = 0;
 out:
    xm_dom_release(dom);
    return ret;
}

int
xmDomainSuspend(virDomainPtr vdom)
{
    return set_paused(vdom, TRUE);
}

int
xmDomainResume(virDomainPtr vdom)
{
    return set_paused(vdom, FALSE);
}
