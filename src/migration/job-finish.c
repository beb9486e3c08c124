/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Finish (destination): wait for the restored domain and the completion
 * record, check every disk against the source's checksum, close the disk
 * endpoints and start the guest. Any failure, or a cancelled migration,
 * tears the destination's half down: the restored domain is destroyed and
 * only the images this side created are deleted.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "migration/migration-private.h"

void
xm_migration_dest_teardown(XmMigration *job)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    GThread *worker;
    int domid;

    g_mutex_lock(&job->lock);
    if (job->guest_started || job->torn_down) {
        g_mutex_unlock(&job->lock);
        return;
    }
    job->torn_down = TRUE;
    worker = g_steal_pointer(&job->worker);
    g_mutex_unlock(&job->lock);

    g_cancellable_cancel(job->cancellable);
    g_mutex_lock(&job->lock);
    if (job->channel)
        xm_channel_shutdown(job->channel);
    g_mutex_unlock(&job->lock);
    if (worker)
        g_thread_join(worker);

    for (size_t i = 0; i < job->ndisks; i++) {
        if (job->disks[i].server)
            xm_nbd_server_stop(job->disks[i].server);
    }
    g_mutex_lock(&job->lock);
    if (job->listener) {
        job->refused = xm_channel_listener_get_refused(job->listener);
        g_clear_pointer(&job->listener, xm_channel_listener_free);
    }
    domid = job->domid;
    job->domid = -1;
    g_mutex_unlock(&job->lock);
    if (domid >= 0) {
        g_autoptr(GError) err = NULL;
        if (!ops->destroy(job->backend, domid, &err))
            g_debug("cannot destroy the half-migrated domain %d: %s", domid, err->message);
        else
            g_debug("destroyed the half-migrated domain %d", domid);
    }
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        if (d->created) {
            if (unlink(d->dest_path) < 0)
                g_debug("cannot delete %s: %s", d->dest_path, g_strerror(errno));
            else
                g_debug("deleted the image %s this migration created", d->dest_path);
            d->created = FALSE;
        }
    }
}

static const char *
peer_checksum(XmMigration *job, const char *target)
{
    size_t tl = strlen(target);

    for (char **l = job->peer_checksums; l && *l; l++) {
        if (strncmp(*l, target, tl) == 0 && (*l)[tl] == ' ')
            return *l + tl + 1;
    }
    return NULL;
}

static gboolean
verify_disks(XmMigration *job, GError **error)
{
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        const char *want = peer_checksum(job, d->target);
        char have[33];

        if (!want || strlen(want) != 32) {
            g_set_error(error, XM_ERROR, XM_ERR_RPC,
                        _("the completion record has no checksum for disk '%s'"), d->target);
            return FALSE;
        }
        if (d->server) {
            guint64 reread = 0, before = 0;

            xm_nbd_server_get_chunk_hash_stats(d->server, NULL, &before);
            if (!xm_nbd_server_image_digest(d->server, job->cancellable, have, error))
                return FALSE;
            xm_nbd_server_get_chunk_hash_stats(d->server, NULL, &reread);
            g_debug("disk %s: digest with %" G_GUINT64_FORMAT " bytes read again",
                    d->target, reread - before);
        } else if (!xm_migration_image_checksum(d->dest_path, d->capacity,
                                                job->cancellable, have, error)) {
            return FALSE;
        }
        if (strcmp(have, want) != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("disk '%s' differs from the source after the copy "
                          "(checksum %s here, %s on the source)"), d->target, have, want);
            return FALSE;
        }
        memcpy(d->checksum, have, sizeof(have));
    }
    return TRUE;
}

int
xm_migration_finish(XmMigration *job, const char *cookie_in, gboolean cancelled,
                    char **cookie_out, GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    g_autoptr(GError) err = NULL;
    int domid;

    g_return_val_if_fail(job && !job->is_source, -1);
    (void) cookie_in;   /* the completion record is authoritative */
    if (xm_migration_get_state(job) == XM_MIGRATION_STATE_FINISHED) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("migration already finished"));
        return -1;
    }
    if (cancelled) {
        xm_migration_dest_teardown(job);
        xm_migration_set_state(job, XM_MIGRATION_STATE_CANCELLED);
        return -1;
    }

    g_mutex_lock(&job->lock);
    while (!job->worker_done)
        g_cond_wait(&job->worker_cond, &job->lock);
    if (job->worker_error)
        err = g_error_copy(job->worker_error);
    g_mutex_unlock(&job->lock);
    if (err)
        goto failed;

    /* no writer may remain before the data is checked and the guest runs */
    for (size_t i = 0; i < job->ndisks; i++)
        xm_nbd_server_stop(job->disks[i].server);
    xm_migration_set_state(job, XM_MIGRATION_STATE_VERIFYING);
    if (!verify_disks(job, &err))
        goto failed;

    g_mutex_lock(&job->lock);
    if (xm_migration_is_cancelled(job)) {
        g_mutex_unlock(&job->lock);
        xm_migration_check_cancel(job, &err);
        goto failed;
    }
    job->guest_started = TRUE;     /* cancel has no effect any more */
    domid = job->domid;
    g_mutex_unlock(&job->lock);

    if (!job->params.paused && !job->was_paused &&
        !ops->unpause(job->backend, domid, &err)) {
        /* the source guest is still suspended and intact: give it back */
        g_mutex_lock(&job->lock);
        job->guest_started = FALSE;
        g_mutex_unlock(&job->lock);
        g_prefix_error(&err, _("cannot start domain '%s' on the destination: "),
                       job->def->name);
        goto failed;
    }
    g_mutex_lock(&job->lock);
    job->downtime_ms = (g_get_monotonic_time() - job->end_received_us) / 1000;
    g_mutex_unlock(&job->lock);
    xm_migration_set_state(job, XM_MIGRATION_STATE_FINISHED);
    g_debug("domain '%s' runs on this host as %d", job->def->name, domid);

    if (cookie_out) {
        XmMigrationStats st;
        g_autoptr(XmCookie) out = g_new0(XmCookie, 1);

        xm_migration_get_stats(job, &st);
        out->host_name = g_strdup(job->host_name);
        out->dom_name = g_strdup(job->def->name);
        memcpy(out->uuid, job->def->uuid, 16);
        out->secret = xm_channel_secret_to_hex(job->secret);
        out->tls = job->params.tls;
        out->has_stats = TRUE;
        out->downtime_ms = st.downtime_ms;
        out->memory_bytes = st.memory_processed;
        out->disk_bytes = st.disk_total;
        *cookie_out = xm_cookie_format(out);
    }
    return domid;

 failed:
    xm_migration_dest_teardown(job);
    xm_migration_set_state(job, xm_migration_is_cancelled(job) &&
                                g_error_matches(err, XM_ERROR, XM_ERR_OPERATION_ABORTED)
                                ? XM_MIGRATION_STATE_CANCELLED : XM_MIGRATION_STATE_FAILED);
    xm_migration_error_for_libvirt(err);
    g_propagate_error(error, g_steal_pointer(&err));
    return -1;
}
