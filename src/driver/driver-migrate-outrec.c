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

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "driver-migrate.h"

#define OUTGOING_DIR "migrate-out"
#define STAGE_SUSPENDING "suspending"
#define STAGE_COMMITTING "committing"

gboolean
xm_migrate_outrec_stage(XmMigrationOutStage stage, gpointer user_data,
                        GError **error)
{
    const uint8_t *uuid = user_data;
    g_autofree char *dir = xm_migrate_record_dir(OUTGOING_DIR);
    g_autofree char *file = xm_migrate_record_path(OUTGOING_DIR, uuid);
    g_autofree char *text = g_strconcat(stage == XM_MIGRATION_OUT_COMMITTING ?
                                        STAGE_COMMITTING : STAGE_SUSPENDING,
                                        "\n", NULL);
    g_autoptr(GError) err = NULL;

    if (g_mkdir_with_parents(dir, 0700) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_OPERATION_FAILED,
                                  _("cannot record the outgoing migration in '%s'"), dir);
    /* renamed and synced: a crash leaves the old stage or the new one */
    if (!g_file_set_contents_full(file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, &err)) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("cannot record the outgoing migration: %s"), err->message);
        return FALSE;
    }
    return TRUE;
}

void
xm_migrate_outrec_clear(const uint8_t *uuid)
{
    g_autofree char *path = xm_migrate_record_path(OUTGOING_DIR, uuid);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}

/* @dom (locked, active) was left by a migration killed before its
 * completion record: give the guest back to it. */
static void
resume_one(XmDomObj *dom)
{
    g_autoptr(GError) err = NULL;
    int domid = g_atomic_int_get(&dom->domid);
    XmDomainInfo info;

    if (!xm_ops()->info(xm_driver->backend, domid, &info, &err)) {
        g_warning("domain %s: cannot check whether an interrupted migration left it suspended: %s",
                  dom->name, err->message);
        return;
    }
    if (info.state != XM_DOMSTATE_PAUSED)
        return;         /* killed before the backend suspended it */
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
recover_one(const char *path, const uint8_t *uuid)
{
    g_autofree char *text = NULL;
    XmDomObj *dom;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    g_strstrip(text);
    dom = xm_dom_find_uuid(uuid);
    if (!dom) {
        virResetLastError();
        return;
    }
    if (xm_dom_is_active(dom)) {
        if (g_str_equal(text, STAGE_COMMITTING)) {
            /* the destination may run it: never resume it here unasked */
            g_warning("domain %s: libvirtd stopped while sending the completion record of its outgoing migration; "
                      "it stays paused here: check whether the destination runs it, and resume it here only if not",
                      dom->name);
            if (dom->state == XM_DOMSTATE_PAUSED) {
                dom->reason = VIR_DOMAIN_PAUSED_MIGRATION;
                xm_dom_save_status(dom, NULL);
            }
        } else {
            resume_one(dom);
        }
    }
    xm_dom_release(dom);
}

void
xm_migrate_outrec_recover(void)
{
    g_autofree char *dir = xm_migrate_record_dir(OUTGOING_DIR);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        uint8_t uuid[16];

        if (xm_uuid_parse(name, uuid))
            recover_one(path, uuid);
        g_unlink(path);
    }
}
