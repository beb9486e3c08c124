/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stage an outgoing migration reached, on disk while it runs, so that a
 * libvirtd killed during the switchover leaves the guest running on exactly
 * one host once it starts again.
 *
 * One file per migration, <state_dir>/migrate-out/<uuid>, holding
 * "suspending" (written before the guest is handed to the backend's
 * suspend) or "committing" (written before the completion record is sent).
 * Before the completion record the destination never runs the guest (it
 * gives up when the channel breaks), so a suspended guest with a
 * "suspending" record is resumed here. After it, only the destination
 * knows whether it took the guest: resuming could run the guest twice, so
 * it stays paused and the log says to check the destination (`virsh
 * resume` works once the admin knows it did not).
 */
#define G_LOG_DOMAIN "xenmig-driver"
#include "config.h"


#include "driver-migrate.h"

#define STATE_DIR (xm_driver->cfg->state_dir)

gboolean
xm_migrate_outrec_stage(XmMigrationOutStage stage, gpointer user_data,
                        GError **error)
{
    const uint8_t *uuid = user_data;
    const char *text = stage == XM_MIGRATION_OUT_COMMITTING ? XM_OUTREC_COMMITTING "\n"
                                                            : XM_OUTREC_SUSPENDING "\n";

    if (!xm_migrate_recfile_write(STATE_DIR, XM_MIGRATE_RECORD_OUTGOING, uuid, text,
                                  error)) {
        g_prefix_error(error, _("cannot record the outgoing migration: "));
        return FALSE;
    }
    return TRUE;
}

void
xm_migrate_outrec_clear(const uint8_t *uuid)
{
    xm_migrate_recfile_remove(STATE_DIR, XM_MIGRATE_RECORD_OUTGOING, uuid);
}

/* @dom (locked, active, suspended per the backend) was left by a
 * migration killed before its completion record: give the guest back to
 * it. */
static void
resume_one(XmDomObj *dom, int domid)
{
    g_autoptr(GError) err = NULL;
    XmDomainInfo info;

    if (!xm_ops()->resume(xm_driver->backend, domid, &err)) {
        g_warning("domain %s: cannot resume it after an interrupted outgoing migration: %s",
                  dom->name, err->message);
        return;
    }
    if (!xm_ops()->info(xm_driver->backend, domid, &info, NULL) ||
        info.state == XM_DOMSTATE_PAUSED) {
        /* it was paused before the migration: paused it stays */
        g_message("domain %s: the suspension of an interrupted outgoing migration is undone",
                  dom->name);
        return;
    }
    g_warning("domain %s: resumed on this host; its outgoing migration was interrupted before the switchover",
              dom->name);
    dom->state = XM_DOMSTATE_RUNNING;
    dom->reason = VIR_DOMAIN_RUNNING_MIGRATION_CANCELED;
    xm_dom_save_status(dom, NULL);
    xm_event_lifecycle(dom, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
}

static void
recover_one(const uint8_t *uuid, const char *text, gpointer user_data)
{
    g_autoptr(GError) err = NULL;
    gboolean active, paused = FALSE;
    XmDomainInfo info;
    XmDomObj *dom;
    int domid;

    if (!uuid)
        return;
    dom = xm_dom_find_uuid(uuid);
    if (!dom) {
        virResetLastError();
        return;         /* gone: nothing to undo */
    }
    active = xm_dom_is_active(dom);
    domid = g_atomic_int_get(&dom->domid);
    if (active) {
        if (xm_ops()->info(xm_driver->backend, domid, &info, &err))
            paused = info.state == XM_DOMSTATE_PAUSED;
        else
            g_warning("domain %s: cannot check whether an interrupted migration left it suspended: %s",
                      dom->name, err->message);
    }
    switch (xm_outrec_decide(text, active, paused)) {
    case XM_OUTREC_FORGET:
        break;
    case XM_OUTREC_RESUME:
        resume_one(dom, domid);
        break;
    case XM_OUTREC_LEAVE_PAUSED:
        /* the destination may run it: never resume it here unasked */
        g_warning("domain %s: libvirtd stopped while sending the completion record of its outgoing migration; "
                  "its outcome is unknown here and it stays paused: check whether the destination runs it, "
                  "and resume it here (virsh resume) only if not",
                  dom->name);
        dom->state = XM_DOMSTATE_PAUSED;
        dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;
        xm_dom_save_status(dom, NULL);
        break;
    }
    xm_dom_release(dom);
}

void
xm_migrate_outrec_recover(void)
{
    xm_migrate_recfile_drain(STATE_DIR, XM_MIGRATE_RECORD_OUTGOING, recover_one, NULL);
}
