/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The migration job object: life cycle, state, statistics, cancel and the
 * live settings. The phases live in job-<phase>.c.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "migration/migration-private.h"

static const char *const state_names[] = {
    [XM_MIGRATION_STATE_NONE] = "none",
    [XM_MIGRATION_STATE_BEGIN] = "begin",
    [XM_MIGRATION_STATE_PREPARED] = "prepared",
    [XM_MIGRATION_STATE_PERFORMING_DISKS] = "performing-disks",
    [XM_MIGRATION_STATE_PERFORMING_MEMORY] = "performing-memory",
    [XM_MIGRATION_STATE_DRAINING] = "draining",
    [XM_MIGRATION_STATE_VERIFYING] = "verifying",
    [XM_MIGRATION_STATE_FINISHED] = "finished",
    [XM_MIGRATION_STATE_CONFIRMED] = "confirmed",
    [XM_MIGRATION_STATE_CANCELLED] = "cancelled",
    [XM_MIGRATION_STATE_FAILED] = "failed",
};

const char *
xm_migration_state_to_string(XmMigrationState state)
{
    if ((guint) state >= G_N_ELEMENTS(state_names))
        return "unknown";
    return state_names[state];
}

XmMigration *
xm_migration_new(gboolean is_source, XmBackend *backend, const XmDomainDef *def,
                 const XmMigrationParams *params)
{
    XmMigration *job = g_new0(XmMigration, 1);
    XmMigrationParams *p = &job->params;

    job->is_source = is_source;
    job->backend = backend;
    job->def = xm_domain_def_copy(def);
    job->domid = -1;
    *p = *params;
    p->uri = g_strdup(params->uri);
    p->dest_name = g_strdup(params->dest_name);
    p->migrate_disks = (const char *const *) g_strdupv((char **) params->migrate_disks);
    p->disks_uri = g_strdup(params->disks_uri);
    p->listen_address = g_strdup(params->listen_address);
    p->tls_dir = g_strdup(params->tls_dir);
    p->host_name = g_strdup(params->host_name);
    if (!p->connect_timeout_s)
        p->connect_timeout_s = XM_MIGRATION_DEFAULT_TIMEOUT_S;
    if (!p->drain_timeout_s)
        p->drain_timeout_s = XM_MIGRATION_DEFAULT_DRAIN_TIMEOUT_S;
    if (!p->max_passes)
        p->max_passes = XM_MIGRATION_DEFAULT_MAX_PASSES;
    if (!p->port_min)
        p->port_min = XM_MIGRATION_PORT_MIN;
    if (!p->port_max)
        p->port_max = MAX(p->port_min, XM_MIGRATION_PORT_MAX);
    job->host_name = g_strdup(params->host_name ? params->host_name : g_get_host_name());
    job->bandwidth_mib = params->bandwidth_mib;
    job->max_downtime_ms = params->max_downtime_ms ? params->max_downtime_ms
                                                   : XM_MIGRATION_DEFAULT_DOWNTIME_MS;
    g_mutex_init(&job->lock);
    g_cond_init(&job->worker_cond);
    job->cancellable = g_cancellable_new();
    job->start_us = g_get_monotonic_time();
    if (def)
        job->mem_total = def->current_memory_kib * 1024;
    return job;
}

const char *
xm_migration_host_name(XmMigration *job)
{
    return job->host_name;
}

gboolean
xm_migration_check_params(const XmMigrationParams *p, GError **error)
{
    if (p->live && p->offline) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("live and offline migration are mutually exclusive"));
        return FALSE;
    }
    if (p->non_shared_disk && p->non_shared_inc) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("copying full disks and incremental disks are mutually exclusive"));
        return FALSE;
    }
    if (p->migrate_disks && !p->non_shared_disk && !p->non_shared_inc) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("a list of disks to migrate needs a disk copy (non-shared disk or incremental)"));
        return FALSE;
    }
    if (p->tls && !p->tls_dir) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("TLS migration asked for, but no x509 certificate directory is configured"));
        return FALSE;
    }
    if (p->tls_dir && p->tls) {
        g_autofree char *ca = g_build_filename(p->tls_dir, "ca-cert.pem", NULL);
        if (access(ca, R_OK) != 0) {
            g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                        _("TLS migration asked for, but '%s' cannot be read"), ca);
            return FALSE;
        }
    }
    if (p->port_min && p->port_max && p->port_min > p->port_max) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("invalid migration port range %u-%u"), p->port_min, p->port_max);
        return FALSE;
    }
    if (p->port_max > 65535 || p->disks_port > 65535) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("migration ports must be at most 65535"));
        return FALSE;
    }
    if (p->bandwidth_mib > G_MAXINT64 / (1024 * 1024)) {
        g_set_error(error, XM_ERROR, XM_ERR_OVERFLOW,
                    _("migration bandwidth %" G_GUINT64_FORMAT " MiB/s is too large"),
                    p->bandwidth_mib);
        return FALSE;
    }
    if (p->dest_name && (!*p->dest_name || strchr(p->dest_name, '/'))) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("invalid destination domain name '%s'"), p->dest_name);
        return FALSE;
    }
    for (guint i = 0; i < 2; i++) {
        const char *uri = i ? p->disks_uri : p->uri;
        g_autofree char *host = NULL;
        guint port;
        if (uri && !xm_migration_uri_parse(uri, &host, &port, error))
            return FALSE;
    }
    return TRUE;
}

void
xm_migration_set_state(XmMigration *job, XmMigrationState state)
{
    g_mutex_lock(&job->lock);
    g_debug("migration of '%s' (%s): %s -> %s", job->def ? job->def->name : "?",
            job->is_source ? "source" : "destination",
            xm_migration_state_to_string(job->state),
            xm_migration_state_to_string(state));
    job->state = state;
    if (state == XM_MIGRATION_STATE_PERFORMING_DISKS && !job->setup_done_us)
        job->setup_done_us = g_get_monotonic_time();
    g_mutex_unlock(&job->lock);
}

XmMigrationState
xm_migration_get_state(XmMigration *job)
{
    XmMigrationState s;

    g_mutex_lock(&job->lock);
    s = job->state;
    g_mutex_unlock(&job->lock);
    return s;
}

gboolean
xm_migration_is_cancelled(XmMigration *job)
{
    return g_cancellable_is_cancelled(job->cancellable);
}

gboolean
xm_migration_check_cancel(XmMigration *job, GError **error)
{
    if (!xm_migration_is_cancelled(job))
        return TRUE;
    g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                _("migration of domain '%s' cancelled"), job->def->name);
    return FALSE;
}

void
xm_migration_cancel(XmMigration *job)
{
    XmChannel *ch;

    if (!job)
        return;
    g_mutex_lock(&job->lock);
    /* past the completion record (source) or once the guest runs
     * (destination) there is nothing left to undo */
    if (job->completed || job->guest_started) {
        g_mutex_unlock(&job->lock);
        return;
    }
    ch = job->channel;
    /* under the lock: the channel is freed only after being taken from
     * the job under it. Shutting it down wakes the destination's worker
     * and the source's pump, and the peer sees the end at once. */
    if (ch)
        xm_channel_shutdown(ch);
    /* never blocks: safe under the lock, which keeps the mirrors alive */
    for (size_t i = 0; i < job->ndisks; i++) {
        if (job->disks[i].mirror)
            xm_disk_copier_cancel(job->disks[i].mirror);
    }
    g_mutex_unlock(&job->lock);
    g_debug("migration of '%s': cancel requested", job->def->name);
    g_cancellable_cancel(job->cancellable);
}

void
xm_migration_get_stats(XmMigration *job, XmMigrationStats *st)
{
    gint64 now = g_get_monotonic_time();

    memset(st, 0, sizeof(*st));
    g_mutex_lock(&job->lock);
    st->state = job->state;
    st->elapsed_ms = (now - job->start_us) / 1000;
    st->setup_time_ms = job->setup_done_us ? (job->setup_done_us - job->start_us) / 1000 : 0;
    st->downtime_ms = job->downtime_ms;
    st->disk_drain_ms = job->disk_drain_ms;
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        XmMirrorProgress p;

        st->disk_total += d->capacity;
        if (d->mirror) {
            guint64 est;

            xm_disk_copier_get_progress(d->mirror, &p);
            /* The mirror restarts its count every pass; callers (virsh
             * --verbose) want a figure that only grows. After the bulk
             * copy, what the last complete pass had to send is the best
             * estimate of what is still dirty. */
            if (xm_disk_copier_is_tracked(d->mirror)) {
                /* the tracked job counts what is dirty or in flight */
                est = p.phase == XM_MIRROR_PHASE_DONE ? d->capacity
                                                      : MIN(p.done, d->capacity);
            } else if (d->started <= 1 && p.phase != XM_MIRROR_PHASE_DONE) {
                est = MIN(p.done, d->capacity);
            } else {
                guint done = d->started ? d->started - 1 : 0;
                guint64 pending = 0;
                if (done >= 1 && d->pass_start_sent->len > done + 1) {
                    guint64 *ps = (guint64 *) d->pass_start_sent->data;
                    pending = ps[done + 1] - ps[done];
                }
                est = p.phase == XM_MIRROR_PHASE_DONE ? d->capacity
                      : d->capacity - MIN(pending, d->capacity);
            }
            d->reported = MAX(d->reported, est);
            if (xm_disk_copier_is_tracked(d->mirror)) {
                st->disks_tracked++;
                st->disks_synchronous += d->went_sync;
            }
            st->disk_processed += d->reported;
            st->disk_sent += p.sent;
            st->disk_bps += p.rate;
        } else if (!job->is_source && job->worker_done && !job->worker_error) {
            st->disk_processed += d->capacity;
        }
    }
    if (job->state == XM_MIGRATION_STATE_FINISHED ||
        job->state == XM_MIGRATION_STATE_CONFIRMED)
        st->disk_processed = st->disk_total;
    st->disk_remaining = st->disk_total - st->disk_processed;
    st->memory_processed = __atomic_load_n(&job->mem_processed, __ATOMIC_RELAXED);
    st->memory_total = MAX(job->mem_total, st->memory_processed);
    st->memory_remaining = job->mem_done ? 0 : st->memory_total - st->memory_processed;
    if (job->mem_done)
        st->memory_total = st->memory_processed;
    if (now - job->mem_rate_t0 >= G_USEC_PER_SEC) {
        job->mem_rate = (st->memory_processed - job->mem_rate_b0) * G_USEC_PER_SEC /
                        (now - job->mem_rate_t0);
        job->mem_rate_t0 = now;
        job->mem_rate_b0 = st->memory_processed;
    }
    st->memory_bps = job->mem_rate;
    st->data_total = st->disk_total + st->memory_total;
    st->data_processed = st->disk_processed + st->memory_processed;
    st->data_remaining = st->disk_remaining + st->memory_remaining;
    st->passes = job->passes;
    st->bandwidth_mib = job->bandwidth_mib;
    st->max_downtime_ms = job->max_downtime_ms;
    st->refused_connections = job->listener ?
        xm_channel_listener_get_refused(job->listener) : job->refused;
    g_mutex_unlock(&job->lock);
}

void
xm_migration_error_for_libvirt(GError *err)
{
    if (err && err->domain == XM_ERROR &&
        (err->code == XM_ERR_READ_FAILED || err->code == XM_ERR_WRITE_FAILED))
        err->code = XM_ERR_OPERATION_FAILED;
}

/* Disk and memory share the limit: while memory flows it gets half and
 * the disks split the other half, otherwise the disks split all of it.
 * Once the guest is suspended for the final drain, the disks are not
 * limited: what is left was sized to fit the downtime budget, and every
 * moment spent now is downtime. */
void
xm_migration_apply_bandwidth(XmMigration *job)
{
    guint64 bw;
    gboolean memory;
    double per_disk;

    g_mutex_lock(&job->lock);
    bw = job->state == XM_MIGRATION_STATE_DRAINING ? 0 : job->bandwidth_mib;
    memory = job->state == XM_MIGRATION_STATE_PERFORMING_MEMORY;
    g_mutex_unlock(&job->lock);
    if (job->ndisks == 0)
        return;
    per_disk = bw ? (memory ? bw / 2.0 : (double) bw) / job->ndisks : 0;
    for (size_t i = 0; i < job->ndisks; i++) {
        if (job->disks[i].mirror)
            xm_disk_copier_set_bandwidth(job->disks[i].mirror, per_disk);
    }
}

/* Memory gets what the disks leave of the limit (they are capped at half
 * of it while memory flows), but never less than half: disks that have
 * nothing left to copy must not slow the memory down. */
guint64
xm_migration_memory_rate_limit(XmMigration *job)
{
    guint64 bw, disk_bps = 0;

    g_mutex_lock(&job->lock);
    bw = job->bandwidth_mib * 1024 * 1024;
    for (size_t i = 0; bw && i < job->ndisks; i++) {
        XmMirrorProgress p;
        if (!job->disks[i].mirror)
            continue;
        xm_disk_copier_get_progress(job->disks[i].mirror, &p);
        if (p.phase == XM_MIRROR_PHASE_BULK || p.phase == XM_MIRROR_PHASE_DIRTY ||
            p.phase == XM_MIRROR_PHASE_DRAIN)
            disk_bps += p.rate;
    }
    g_mutex_unlock(&job->lock);
    if (!bw)
        return 0;
    return MAX(bw / 2, bw - MIN(disk_bps, bw));
}

void
xm_migration_set_bandwidth(XmMigration *job, guint64 mib_per_s)
{
    g_mutex_lock(&job->lock);
    job->bandwidth_mib = mib_per_s;
    g_mutex_unlock(&job->lock);
    xm_migration_apply_bandwidth(job);
}

guint64
xm_migration_get_bandwidth(XmMigration *job)
{
    guint64 bw;

    g_mutex_lock(&job->lock);
    bw = job->bandwidth_mib;
    g_mutex_unlock(&job->lock);
    return bw;
}

void
xm_migration_set_max_downtime(XmMigration *job, guint64 ms)
{
    g_mutex_lock(&job->lock);
    job->max_downtime_ms = ms ? ms : XM_MIGRATION_DEFAULT_DOWNTIME_MS;
    g_mutex_unlock(&job->lock);
}

void
xm_migration_free(XmMigration *job)
{
    if (!job)
        return;
    xm_migration_cancel(job);
    if (!job->is_source)
        xm_migration_dest_teardown(job);
    if (job->worker)
        g_thread_join(job->worker);
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        g_clear_pointer(&d->mirror, xm_disk_copier_free);
        g_clear_pointer(&d->server, xm_nbd_server_free);
        if (d->pass_start_sent)
            g_array_unref(d->pass_start_sent);
        g_free(d->target);
        g_free(d->source_path);
        g_free(d->dest_path);
        g_free(d->export_name);
    }
    g_free(job->disks);
    g_clear_pointer(&job->listener, xm_channel_listener_free);
    g_clear_pointer(&job->channel, xm_channel_free);
    g_clear_pointer(&job->cookie, xm_cookie_free);
    g_clear_error(&job->worker_error);
    g_strfreev(job->peer_checksums);
    g_clear_object(&job->cancellable);
    xm_domain_def_free(job->def);
    g_free((char *) job->params.uri);
    g_free((char *) job->params.dest_name);
    g_strfreev((char **) job->params.migrate_disks);
    g_free((char *) job->params.disks_uri);
    g_free((char *) job->params.listen_address);
    g_free((char *) job->params.tls_dir);
    g_free((char *) job->params.host_name);
    g_free(job->host_name);
    memset(job->secret, 0, sizeof(job->secret));
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->worker_cond);
    g_free(job);
}
