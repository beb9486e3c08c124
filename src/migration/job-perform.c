/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Perform (source): copy the disks until what changes between passes fits
 * the downtime budget, stream memory through the backend into the memory
 * channel, drain and verify the disks with the guest suspended, and send
 * the completion record. Before that record, every failure resumes the
 * guest here.
 *
 * A disk served through the domain's datapath daemon (the backend names
 * its control socket) is copied by a tracked mirror job in that daemon: it
 * sees every guest write, copies what is dirty and switches to synchronous
 * mirroring by itself when dirty passes stop shrinking (at once with
 * VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES), so a guest writing faster
 * than the bandwidth still converges. Other disks are copied in scan mode:
 * the mirror re-reads the source each pass and sends the blocks whose hash
 * changed. Scan passes are pipelined: one more pass is always queued, so a
 * pass's size is known exactly when the next one starts.
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migration/migration-private.h"
#include "storage-mirror/nbd-client.h"

#define POLL_MS 50
#define PUMP_CHUNK (256 * 1024)
/* Assumed disk rate before any was measured (bytes/s). */
#define DEFAULT_RATE (100ull * 1024 * 1024)

static void
on_progress(const XmMirrorProgress *p, gpointer data)
{
    XmMigDisk *d = data;
    XmMigration *job = d->owner;

    g_mutex_lock(&job->lock);
    if ((p->phase == XM_MIRROR_PHASE_BULK || p->phase == XM_MIRROR_PHASE_DIRTY) &&
        p->pass > d->started) {
        guint64 sent = p->sent;
        if (d->pass_start_sent->len <= p->pass)
            g_array_set_size(d->pass_start_sent, p->pass + 1);
        g_array_index(d->pass_start_sent, guint64, p->pass) = sent;
        d->started = p->pass;
    }
    if (p->phase == XM_MIRROR_PHASE_SYNC)
        d->went_sync = TRUE;
    d->last = *p;
    g_mutex_unlock(&job->lock);
}

static char *
nbd_uri(const char *host, guint port, const char *export_name, gboolean tls)
{
    if (strchr(host, ':'))
        return g_strdup_printf("%s://[%s]:%u/%s", tls ? "nbds" : "nbd", host, port,
                               export_name);
    return g_strdup_printf("%s://%s:%u/%s", tls ? "nbds" : "nbd", host, port,
                           export_name);
}

/* The domain's datapath control socket, or NULL: scan mode. */
static char *
disk_datapath(XmMigration *job, GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);

    if (!ops->disk_datapath)
        return NULL;
    return ops->disk_datapath(job->backend, job->domid, error);
}

static gboolean
start_mirrors(XmMigration *job, const XmCookie *in, GError **error)
{
    g_autoptr(GError) dp_err = NULL;
    g_autofree char *control = disk_datapath(job, &dp_err);

    if (dp_err) {
        g_propagate_prefixed_error(error, g_steal_pointer(&dp_err),
                                   _("cannot find the datapath of domain '%s': "),
                                   job->def->name);
        return FALSE;
    }
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        const XmCookieDisk *cd = xm_cookie_find_disk(in, d->target);
        XmMirrorOptions opts = { 0 };
        g_autofree char *uri = NULL;
        XmDiskCopier *m;

        if (!cd || !cd->export_name || !in->nbd_host) {
            g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                        _("the destination did not prepare disk '%s'"), d->target);
            return FALSE;
        }
        if (cd->capacity != d->capacity) {
            g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                        _("the destination prepared disk '%s' with a different size"),
                        d->target);
            return FALSE;
        }
        uri = nbd_uri(in->nbd_host, cd->nbd_port ? cd->nbd_port : in->nbd_port,
                      cd->export_name, in->nbd_tls);
        opts.connections = 2;
        opts.tls_dir = in->nbd_tls ? job->params.tls_dir : NULL;
        opts.verify = TRUE;
        opts.timeout_s = 30;
        d->owner = job;
        d->pass_start_sent = g_array_new(FALSE, TRUE, sizeof(guint64));
        if (control) {
            opts.mode = XM_MIRROR_TRACKED;
            opts.auto_sync = TRUE;
            m = xm_disk_copier_new_datapath(control, d->target, uri, &opts, on_progress, d);
        } else {
            opts.mode = XM_MIRROR_SCAN;
            m = xm_disk_copier_new_local(d->source_path, uri, &opts, on_progress, d, error);
            if (!m)
                return FALSE;
        }
        /* published under the lock: stats and cancel read it */
        g_mutex_lock(&job->lock);
        d->mirror = m;
        g_mutex_unlock(&job->lock);
        if (xm_migration_is_cancelled(job))
            xm_disk_copier_cancel(m);
        {
            g_autofree char *where = xm_nbd_uri_describe(uri);

            g_debug("disk %s: mirroring %s to %s (%s)", d->target, d->source_path, where,
                    control ? "tracked by the datapath" : "scan mode");
        }
    }
    if (!control && (job->params.sync_writes || job->params.auto_converge))
        g_message("domain '%s': its disks have no datapath; synchronous writes and "
                  "auto-converge do not apply to the scan-mode copy", job->def->name);
    xm_migration_apply_bandwidth(job);
    for (size_t i = 0; i < job->ndisks; i++) {
        if (!xm_disk_copier_start(job->disks[i].mirror, error))
            return FALSE;
        if (job->params.sync_writes)
            xm_disk_copier_request_sync(job->disks[i].mirror);
        job->disks[i].requested = 1;
    }
    return TRUE;
}

/* A mirror that ended by itself failed: collect its error. */
static gboolean
check_mirrors(XmMigration *job, GError **error)
{
    for (size_t i = 0; i < job->ndisks; i++) {
        g_autoptr(GError) err = NULL;

        if (!xm_disk_copier_check(job->disks[i].mirror, &err)) {
            g_set_error(error, XM_ERROR, err->code, _("copying disk '%s' failed: %s"),
                        job->disks[i].target, err->message);
            return FALSE;
        }
    }
    return TRUE;
}

/* Keeps the destination from taking a long quiet spell (disk passes, the
 * final drain of a big disk) for a dead source. */
typedef struct {
    XmMigration *job;
    GMutex lock;
    GCond cond;
    gboolean stop;
    GThread *thread;
} Keepalive;

static gpointer
keepalive_main(gpointer data)
{
    Keepalive *k = data;

    g_mutex_lock(&k->lock);
    while (!k->stop) {
        gint64 end = g_get_monotonic_time() + XM_MIGRATION_PING_MS * 1000;
        if (g_cond_wait_until(&k->cond, &k->lock, end) || k->stop)
            continue;
        g_mutex_unlock(&k->lock);
        /* a failed ping is not an error here: the pump or the final
         * record finds the broken channel */
        xm_channel_send(k->job->channel, XM_CHANNEL_PING, NULL, 0, NULL);
        g_mutex_lock(&k->lock);
    }
    g_mutex_unlock(&k->lock);
    return NULL;
}

static void
keepalive_start(Keepalive *k, XmMigration *job)
{
    k->job = job;
    g_mutex_init(&k->lock);
    g_cond_init(&k->cond);
    k->thread = g_thread_new("xm-mig-ping", keepalive_main, k);
}

static void
keepalive_stop(Keepalive *k)
{
    if (!k->thread)
        return;
    g_mutex_lock(&k->lock);
    k->stop = TRUE;
    g_cond_signal(&k->cond);
    g_mutex_unlock(&k->lock);
    g_thread_join(k->thread);
    k->thread = NULL;
    g_mutex_clear(&k->lock);
    g_cond_clear(&k->cond);
}

/* A pass that does not send less than SHRINK_RATIO of the smallest pass
 * so far counts as stalled; after STALLED_PASSES such passes in a row,
 * more passes are pointless (the guest writes as fast as we copy) and the
 * switchover is taken at once. A tracked datapath would switch to
 * synchronous mirroring here instead. */
#define SHRINK_RATIO 0.9
#define STALLED_PASSES 3

/* Tracked disks verify ahead while the guest runs; what is not verified
 * yet is read again with the guest suspended. If that part stops
 * shrinking for this long (a writer that stales chunks as fast as they
 * are hashed), the switchover does not wait for it any more. */
#define UNVERIFIED_PATIENCE_US (3 * G_USEC_PER_SEC)

/* The downtime budget in bytes: what the disks copy within the allowed
 * downtime at their measured rate (or the limit). Under job->lock. */
static guint64
budget_locked(XmMigration *job)
{
    guint64 rate = 0;

    for (size_t i = 0; i < job->ndisks; i++)
        rate += job->disks[i].last.rate;
    if (job->bandwidth_mib)
        rate = rate ? MIN(rate, job->bandwidth_mib * 1024 * 1024)
                    : job->bandwidth_mib * 1024 * 1024;
    else if (!rate)
        rate = DEFAULT_RATE;
    return job->max_downtime_ms * rate / 1000;
}

/* Tracked disks (the datapath's mirror jobs): after the bulk copy, what
 * is dirty now is what the paused guest's final drain would copy, and
 * what is not verified yet is what it would hash. */
static gboolean
converge_tracked(XmMigration *job, GError **error)
{
    guint64 best_unverified = G_MAXUINT64;
    gint64 unverified_since = g_get_monotonic_time();

    for (;;) {
        guint64 budget, dirty = 0, unverified = 0;
        guint pass = G_MAXUINT;
        gboolean converged, ready = TRUE, sync = TRUE;
        gint64 now;

        if (!xm_migration_check_cancel(job, error) || !check_mirrors(job, error))
            return FALSE;

        g_mutex_lock(&job->lock);
        for (size_t i = 0; i < job->ndisks; i++) {
            const XmMirrorProgress *p = &job->disks[i].last;

            if (p->phase != XM_MIRROR_PHASE_DIRTY && p->phase != XM_MIRROR_PHASE_SYNC)
                ready = FALSE;
            if (p->phase != XM_MIRROR_PHASE_SYNC)
                sync = FALSE;
            dirty += p->dirty;
            unverified += p->total - MIN(p->verified, p->total);
            pass = MIN(pass, p->pass);
        }
        job->passes = pass == G_MAXUINT ? 0 : pass;
        budget = budget_locked(job);
        converged = ready && dirty <= budget;
        g_mutex_unlock(&job->lock);

        now = g_get_monotonic_time();
        /* patience counts only while verification is all that is
         * left: during a long bulk copy the unverified part cannot
         * shrink, and must not use the patience up in advance */
        if (!converged || unverified < best_unverified) {
            best_unverified = unverified;
            unverified_since = now;
        }
        /* the paused verification reads what is not verified yet:
         * wait for the early verification while it makes headway */
        if (converged && dirty + unverified > budget &&
            now - unverified_since < UNVERIFIED_PATIENCE_US) {
            g_usleep(POLL_MS * 1000);
            continue;
        }
        if (converged) {
            g_debug("tracked disks converged after %u passes: %" G_GUINT64_FORMAT
                    " bytes dirty, %" G_GUINT64_FORMAT " not verified yet, budget %"
                    G_GUINT64_FORMAT "%s", job->passes, dirty, unverified, budget,
                    sync ? " (synchronous)" : "");
            return TRUE;
        }
        /* the engine switches by itself when passes stop shrinking;
         * a slow shrink must not go on for ever either */
        if (ready && !sync && job->passes >= job->params.max_passes) {
            for (size_t i = 0; i < job->ndisks; i++)
                xm_disk_copier_request_sync(job->disks[i].mirror);
        }
        g_usleep(POLL_MS * 1000);
    }
}

/* Scan disks: copy-dirty passes until the last complete pass of every
 * disk fits the downtime budget, they stop shrinking, or the pass limit. */
static gboolean
converge_scan(XmMigration *job, GError **error)
{
    guint judged = 1, stalled = 0;
    guint64 best_delta = G_MAXUINT64;

    for (;;) {
        guint64 last_delta = 0, budget;
        guint min_done = G_MAXUINT;
        gboolean converged;

        if (!xm_migration_check_cancel(job, error) || !check_mirrors(job, error))
            return FALSE;

        g_mutex_lock(&job->lock);
        for (size_t i = 0; i < job->ndisks; i++) {
            XmMigDisk *d = &job->disks[i];
            guint done = d->started ? d->started - 1 : 0;

            if (done >= 1) {
                guint64 *s = (guint64 *) d->pass_start_sent->data;
                last_delta += s[done + 1] - s[done];
            }
            min_done = MIN(min_done, done);
        }
        job->passes = min_done;
        budget = budget_locked(job);
        converged = min_done >= 2 && last_delta <= budget;
        g_mutex_unlock(&job->lock);

        if (min_done > judged && min_done >= 2) {
            /* a new complete pass (the bulk pass is not judged) */
            if (best_delta != G_MAXUINT64 &&
                (double) last_delta >= SHRINK_RATIO * (double) best_delta) {
                stalled++;
            } else {
                stalled = 0;
            }
            best_delta = MIN(best_delta, last_delta);
            judged = min_done;
        }
        if (converged || min_done >= job->params.max_passes ||
            stalled >= STALLED_PASSES) {
            g_debug("disks %s after %u passes: last pass %" G_GUINT64_FORMAT
                    " bytes, budget %" G_GUINT64_FORMAT,
                    converged ? "converged" :
                    stalled >= STALLED_PASSES ? "stopped shrinking" : "reached the pass limit",
                    min_done, last_delta, budget);
            return TRUE;
        }
        /* keep one pass queued behind the running one */
        for (size_t i = 0; i < job->ndisks; i++) {
            XmMigDisk *d = &job->disks[i];
            gboolean more;
            g_mutex_lock(&job->lock);
            more = d->requested == d->started;
            g_mutex_unlock(&job->lock);
            if (more) {
                d->requested++;
                xm_disk_copier_request_pass(d->mirror);
            }
        }
        g_usleep(POLL_MS * 1000);
    }
}

/* Copies the disks until the switchover may start. The disks of a domain
 * are all served by its datapath (tracked) or none is (scan). */
static gboolean
copy_disks(XmMigration *job, GError **error)
{
    if (xm_disk_copier_is_tracked(job->disks[0].mirror))
        return converge_tracked(job, error);
    return converge_scan(job, error);
}

typedef struct {
    XmMigration *job;
    int fd;
    GError *error;
} Pump;

/* Backend memory stream (socketpair) → DATA records, then END. */
static gpointer
pump_main(gpointer data)
{
    Pump *pump = data;
    XmMigration *job = pump->job;
    g_autofree guint8 *buf = g_malloc(PUMP_CHUNK);
    gint64 t0 = g_get_monotonic_time();
    guint64 sent_since_t0 = 0, limit = 0;

    for (;;) {
        ssize_t n = read(pump->fd, buf, PUMP_CHUNK);
        guint64 new_limit;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            xm_set_error_errno(&pump->error, errno, XM_ERR_READ_FAILED,
                               _("cannot read the memory stream"));
            break;
        }
        if (n == 0) {
            if (!xm_channel_send(job->channel, XM_CHANNEL_END, NULL, 0, &pump->error))
                break;
            g_mutex_lock(&job->lock);
            job->mem_done = TRUE;
            g_mutex_unlock(&job->lock);
            break;
        }
        if (!xm_channel_send(job->channel, XM_CHANNEL_DATA, buf, n, &pump->error))
            break;
        __atomic_add_fetch(&job->mem_processed, n, __ATOMIC_RELAXED);

        /* bandwidth: sleep while ahead of the limit; restart the
         * reckoning when the limit changes */
        new_limit = xm_migration_memory_rate_limit(job);
        if (new_limit != limit) {
            limit = new_limit;
            t0 = g_get_monotonic_time();
            sent_since_t0 = 0;
        }
        sent_since_t0 += n;
        if (limit) {
            gint64 due = t0 + (gint64) (sent_since_t0 * G_USEC_PER_SEC / limit);
            gint64 now = g_get_monotonic_time();
            if (due > now)
                g_usleep(MIN(due - now, G_USEC_PER_SEC));
        }
        if (xm_migration_is_cancelled(job)) {
            g_set_error(&pump->error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                        _("migration cancelled"));
            break;
        }
    }
    /* the backend sees its stream fail if we stopped early */
    close(pump->fd);
    pump->fd = -1;
    return NULL;
}

static gboolean
send_memory(XmMigration *job, GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    g_autoptr(GError) err = NULL;
    Pump pump = { .job = job, .fd = -1 };
    unsigned int flags = (job->params.live && !job->params.offline) ? XM_SUSPEND_LIVE : 0;
    GThread *t;
    int sv[2];
    gboolean ok;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return xm_set_error_errno(error, errno, XM_ERR_SYSTEM_ERROR,
                                  _("cannot create a socket pair"));
    pump.fd = sv[1];
    xm_migration_set_state(job, XM_MIGRATION_STATE_PERFORMING_MEMORY);
    xm_migration_apply_bandwidth(job);
    t = g_thread_new("xm-mig-pump", pump_main, &pump);
    ok = ops->suspend_to_fd(job->backend, job->domid, sv[0], flags,
                            job->cancellable, &err);
    if (ok) {
        g_mutex_lock(&job->lock);
        job->suspended = TRUE;
        job->downtime_ms = 0;
        job->setup_done_us = job->setup_done_us ? job->setup_done_us : g_get_monotonic_time();
        g_mutex_unlock(&job->lock);
    }
    close(sv[0]);
    g_thread_join(t);
    if (!ok) {
        XmDomainInfo info;

        /* a backend may fail after stopping the guest (the last round of
         * a live save): then it is suspended and must be resumed */
        if (!job->was_paused &&
            ops->info(job->backend, job->domid, &info, NULL) &&
            info.state == XM_DOMSTATE_PAUSED) {
            g_debug("domain %d is left suspended by the failed save", job->domid);
            job->suspended = TRUE;
        }
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
            xm_migration_is_cancelled(job)) {
            g_clear_error(&pump.error);
            return xm_migration_check_cancel(job, error);
        }
        g_set_error(error, XM_ERROR, err->code == 0 ? XM_ERR_OPERATION_FAILED : err->code,
                    _("sending the memory of domain '%s' failed: %s"), job->def->name,
                    err->message);
        g_clear_error(&pump.error);
        return FALSE;
    }
    if (pump.error) {
        g_propagate_error(error, pump.error);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    XmMigDisk *disk;
    GCancellable *cancellable;
    XmMirrorResult res;
    GError *error;
    gint done;                   /* atomic */
} Drain;

static gpointer
drain_main(gpointer data)
{
    Drain *dr = data;

    xm_disk_copier_complete(dr->disk->mirror, &dr->res, dr->cancellable, &dr->error);
    g_atomic_int_set(&dr->done, 1);
    return NULL;
}

/* Waits for the drains while watching them: the guest is suspended, so a
 * drain that gets nothing done for drain_timeout_s (a cut link, a hung
 * destination) is cancelled then, not after the disk copy's own stall
 * timeout. A user's abort cancels the drains too. Returns FALSE with
 * @error set when the watchdog cancelled them. */
static gboolean
watch_drains(XmMigration *job, Drain *drains, GCancellable *drain_cancel, GError **error)
{
    gint64 quiet_us = (gint64) job->params.drain_timeout_s * G_USEC_PER_SEC;
    gint64 last_change = g_get_monotonic_time();
    guint64 last_activity = G_MAXUINT64;

    for (;;) {
        guint64 activity = 0;
        gboolean all_done = TRUE;
        gint64 now;

        for (size_t i = 0; i < job->ndisks; i++) {
            activity += xm_disk_copier_activity(drains[i].disk->mirror);
            all_done &= g_atomic_int_get(&drains[i].done);
        }
        if (all_done)
            return TRUE;
        if (g_cancellable_is_cancelled(job->cancellable))
            g_cancellable_cancel(drain_cancel);
        now = g_get_monotonic_time();
        if (activity != last_activity) {
            last_activity = activity;
            last_change = now;
        } else if (now - last_change >= quiet_us &&
                   !g_cancellable_is_cancelled(drain_cancel)) {
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("the final copy of the disks made no progress for %u s "
                          "(migration_drain_timeout) while the guest was suspended"),
                        job->params.drain_timeout_s);
            g_debug("drain watchdog: %s", (*error)->message);
            g_cancellable_cancel(drain_cancel);
            for (size_t i = 0; i < job->ndisks; i++)
                xm_disk_copier_cancel(drains[i].disk->mirror);
            /* the drain threads still end by themselves: wait for them */
        }
        g_usleep(POLL_MS * 1000);
        if (error && *error) {
            gboolean done = TRUE;

            for (size_t i = 0; i < job->ndisks; i++)
                done &= g_atomic_int_get(&drains[i].done);
            if (done)
                return FALSE;
        }
    }
}

/* With the guest suspended: each disk's final pass (only what is dirty,
 * or a last scan), flush and verification, all disks at once. No further
 * scan pass is requested here: a scan job's completion runs the final
 * pass itself and hashes the source as it reads it. */
static gboolean
drain_disks(XmMigration *job, GString *record, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    g_autofree Drain *drains = g_new0(Drain, job->ndisks);
    g_autofree GThread **threads = g_new0(GThread *, job->ndisks);
    g_autoptr(GCancellable) drain_cancel = g_cancellable_new();
    g_autoptr(GError) stalled = NULL;
    gboolean ok = TRUE;

    xm_migration_set_state(job, XM_MIGRATION_STATE_DRAINING);
    xm_migration_apply_bandwidth(job);
    for (size_t i = 0; i < job->ndisks; i++) {
        drains[i].disk = &job->disks[i];
        drains[i].cancellable = drain_cancel;
        threads[i] = g_thread_new("xm-mig-drain", drain_main, &drains[i]);
    }
    if (!watch_drains(job, drains, drain_cancel, &stalled)) {
        for (size_t i = 0; i < job->ndisks; i++) {
            g_thread_join(threads[i]);
            g_clear_error(&drains[i].error);
        }
        g_propagate_error(error, g_steal_pointer(&stalled));
        return FALSE;
    }
    for (size_t i = 0; i < job->ndisks; i++) {
        XmMigDisk *d = &job->disks[i];
        Drain *dr = &drains[i];

        g_thread_join(threads[i]);
        if (!ok) {
            g_clear_error(&dr->error);
            continue;
        }
        if (dr->error) {
            g_set_error(error, XM_ERROR, dr->error->code,
                        _("final copy of disk '%s' failed: %s"), d->target,
                        dr->error->message);
            g_clear_error(&dr->error);
            ok = FALSE;
        } else if (!dr->res.verified) {
            g_set_error(error, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                        _("disk '%s' was not verified"), d->target);
            ok = FALSE;
        } else {
            memcpy(d->checksum, dr->res.source_checksum, sizeof(d->checksum));
            g_string_append_printf(record, "%s %s\n", d->target, d->checksum);
        }
    }
    if (!ok)
        return FALSE;
    g_mutex_lock(&job->lock);
    job->disk_drain_ms = (g_get_monotonic_time() - t0) / 1000;
    g_mutex_unlock(&job->lock);
    g_debug("disks drained and verified in %" G_GUINT64_FORMAT " ms", job->disk_drain_ms);
    xm_migration_set_state(job, XM_MIGRATION_STATE_VERIFYING);
    return xm_migration_check_cancel(job, error);
}

static void
fail(XmMigration *job, GError **error)
{
    const XmBackendOps *ops = xm_backend_ops(job->backend);
    gboolean cancelled = xm_migration_is_cancelled(job);
    XmChannel *ch;

    for (size_t i = 0; i < job->ndisks; i++) {
        if (job->disks[i].mirror)
            xm_disk_copier_cancel(job->disks[i].mirror);
    }
    g_mutex_lock(&job->lock);
    ch = g_steal_pointer(&job->channel);
    g_mutex_unlock(&job->lock);
    if (ch) {
        const char *why = (error && *error) ? (*error)->message : "failed";
        /* best effort: a destination that stopped reading must not hold
         * the guest's resume up */
        if (xm_channel_writable(ch, 1000))
            xm_channel_send(ch, XM_CHANNEL_ABORT, why, MIN(strlen(why), 512), NULL);
        xm_channel_free(ch);
    }
    if (job->suspended) {
        g_autoptr(GError) err = NULL;
        if (ops->resume(job->backend, job->domid, &err)) {
            job->suspended = FALSE;
            g_debug("migration failed; domain %d resumed on the source", job->domid);
        } else if (error && *error) {
            g_prefix_error(error, _("domain %d could not be resumed (%s) after: "),
                           job->domid, err->message);
        }
    }
    xm_migration_set_state(job, cancelled ? XM_MIGRATION_STATE_CANCELLED
                                          : XM_MIGRATION_STATE_FAILED);
}

static gboolean
tell_outgoing(XmMigration *job, XmMigrationOutStage stage, GError **error)
{
    if (!job->params.outgoing)
        return TRUE;
    return job->params.outgoing(stage, job->params.outgoing_data, error);
}

gboolean
xm_migration_perform(XmMigration *job, const char *cookie_in, char **cookie_out,
                     GError **error)
{
    g_autoptr(XmCookie) in = NULL;
    g_autoptr(GString) record = g_string_new("");
    g_autoptr(GError) err = NULL;
    XmChannel *ch;
    Keepalive keepalive = { 0 };
    gint64 t_suspend;

    g_return_val_if_fail(job && job->is_source, FALSE);
    if (xm_migration_get_state(job) != XM_MIGRATION_STATE_BEGIN) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("migration is in state '%s', not 'begin'"),
                    xm_migration_state_to_string(xm_migration_get_state(job)));
        return FALSE;
    }
    in = xm_cookie_parse(cookie_in, cookie_in ? strlen(cookie_in) : 0, &err);
    if (!in)
        goto failed;
    if (!in->mem_host || !xm_channel_secret_from_hex(in->secret, job->secret)) {
        g_set_error(&err, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("the destination's cookie has no memory endpoint"));
        goto failed;
    }
    if (memcmp(in->uuid, job->def->uuid, 16) != 0) {
        g_set_error(&err, XM_ERROR, XM_ERR_INTERNAL_ERROR,
                    _("the destination's cookie is for another domain than '%s'"),
                    job->def->name);
        goto failed;
    }
    if (in->tls != job->params.tls) {
        g_set_error(&err, XM_ERROR, XM_ERR_ARGUMENT_UNSUPPORTED,
                    in->tls ? _("the destination requires a TLS migration")
                            : _("TLS migration asked for, but the destination did not enable it"));
        goto failed;
    }
    xm_migration_set_state(job, XM_MIGRATION_STATE_PERFORMING_DISKS);

    ch = xm_channel_connect(in->mem_host, in->mem_port, job->secret,
                            in->tls ? job->params.tls_dir : NULL,
                            job->params.connect_timeout_s * 1000, job->cancellable, &err);
    if (!ch)
        goto failed;
    g_mutex_lock(&job->lock);
    job->channel = ch;
    g_mutex_unlock(&job->lock);
    if (!xm_migration_check_cancel(job, &err))
        goto failed;
    keepalive_start(&keepalive, job);

    if (job->ndisks && (!start_mirrors(job, in, &err) || !copy_disks(job, &err)))
        goto failed;
    if (!tell_outgoing(job, XM_MIGRATION_OUT_SUSPENDING, &err) ||
        !send_memory(job, &err))
        goto failed;
    t_suspend = g_get_monotonic_time();
    if (job->ndisks && !drain_disks(job, record, &err))
        goto failed;

    g_mutex_lock(&job->lock);
    if (xm_migration_is_cancelled(job)) {
        g_mutex_unlock(&job->lock);
        xm_migration_check_cancel(job, &err);
        goto failed;
    }
    g_mutex_unlock(&job->lock);
    /* without this on record, a source killed from here on would resume
     * a guest the destination may run */
    if (!tell_outgoing(job, XM_MIGRATION_OUT_COMMITTING, &err))
        goto failed;
    g_mutex_lock(&job->lock);
    if (xm_migration_is_cancelled(job)) {
        g_mutex_unlock(&job->lock);
        xm_migration_check_cancel(job, &err);
        goto failed;
    }
    /* from here on cancel has no effect: the destination owns the guest
     * once it has this record */
    job->completed = TRUE;
    g_mutex_unlock(&job->lock);
    keepalive_stop(&keepalive);
    if (!xm_channel_send(job->channel, XM_CHANNEL_COMPLETE, record->str,
                         (guint32) record->len, &err)) {
        /* the record may not have arrived: the destination decides; the
         * confirm phase resumes the guest here if it says cancelled */
        g_prefix_error(&err, _("sending the completion record failed: "));
        xm_migration_error_for_libvirt(err);
        g_propagate_error(error, g_steal_pointer(&err));
        xm_migration_set_state(job, XM_MIGRATION_STATE_FAILED);
        return FALSE;
    }
    g_mutex_lock(&job->lock);
    job->downtime_ms = (g_get_monotonic_time() - t_suspend) / 1000;
    g_mutex_unlock(&job->lock);
    xm_migration_set_state(job, XM_MIGRATION_STATE_FINISHED);

    if (cookie_out) {
        XmMigrationStats st;
        g_autoptr(XmCookie) out = g_new0(XmCookie, 1);

        xm_migration_get_stats(job, &st);
        out->host_name = g_strdup(job->host_name);
        out->dom_name = g_strdup(in->dom_name);
        memcpy(out->uuid, in->uuid, 16);
        out->secret = g_strdup(in->secret);
        out->tls = in->tls;
        out->has_stats = TRUE;
        out->downtime_ms = st.downtime_ms;
        out->memory_bytes = st.memory_processed;
        out->disk_bytes = st.disk_sent;
        *cookie_out = xm_cookie_format(out);
    }
    return TRUE;

 failed:
    keepalive_stop(&keepalive);
    fail(job, &err);
    xm_migration_error_for_libvirt(err);
    g_propagate_error(error, g_steal_pointer(&err));
    return FALSE;
}
