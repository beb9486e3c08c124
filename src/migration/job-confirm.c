/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Confirm (source): the destination's verdict. Success: the guest runs
 * there, so the suspended source domain is destroyed (the driver undefines
 * it if asked; the source images are left as they are). Cancelled: the
 * guest is resumed here, where its disks were never modified.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <string.h>

#include "migration/migration-private.h"

gboolean
xm_migration_confirm(XmMigration *job, const char *cookie_in, gboolean cancelled,
                     GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    XmMigrationState state = xm_migration_get_state(job);

    g_return_val_if_fail(job && job->is_source, FALSE);

    if (!cancelled && state != XM_MIGRATION_STATE_FINISHED) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("cannot confirm a migration in state '%s'"),
                    xm_migration_state_to_string(state));
        return FALSE;
    }
    if (!cancelled) {
        if (cookie_in) {
            g_autoptr(GError) err = NULL;
            g_autoptr(XmCookie) in = xm_cookie_parse(cookie_in, strlen(cookie_in), &err);
            /* the statistics are informative: a bad cookie is not a reason
             * to keep two copies of the guest */
            if (in && in->has_stats) {
                g_mutex_lock(&job->lock);
                job->downtime_ms = MAX(job->downtime_ms, in->downtime_ms);
                g_mutex_unlock(&job->lock);
            } else if (!in) {
                g_debug("ignoring the destination's cookie: %s", err->message);
            }
        }
        if (!ops->destroy(job->backend, job->domid, error)) {
            g_prefix_error(error, _("the domain runs on the destination, but its "
                                    "suspended source copy could not be destroyed: "));
            return FALSE;
        }
        g_mutex_lock(&job->lock);
        job->suspended = FALSE;
        g_mutex_unlock(&job->lock);
        xm_migration_set_state(job, XM_MIGRATION_STATE_CONFIRMED);
        return TRUE;
    }

    for (size_t i = 0; i < job->ndisks; i++) {
        if (job->disks[i].mirror)
            xm_disk_copier_cancel(job->disks[i].mirror);
    }
    g_mutex_lock(&job->lock);
    g_clear_pointer(&job->channel, xm_channel_free);
    g_mutex_unlock(&job->lock);
    if (job->suspended) {
        if (!ops->resume(job->backend, job->domid, error)) {
            g_prefix_error(error, _("cannot resume domain %d on the source: "), job->domid);
            xm_migration_set_state(job, XM_MIGRATION_STATE_FAILED);
            return FALSE;
        }
        job->suspended = FALSE;
        g_debug("migration cancelled; domain %d resumed on the source", job->domid);
    }
    xm_migration_set_state(job, XM_MIGRATION_STATE_CANCELLED);
    return TRUE;
}
