/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mirror job: options, life cycle, the phase state machine that runs in
 * the job's thread, progress and cancel. The passes themselves live in
 * mirror-copy.c (tracked), mirror-scan.c (scan), mirror-sync.c (the write
 * hook) and mirror-verify.c.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>
#include <glib/gstdio.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

/* A pass that leaves more than this fraction of what was dirty before it
 * does not converge; auto-sync then switches to synchronous mode. */
#define AUTO_SYNC_RATIO 0.75
#define AUTO_SYNC_MAX_PASSES 10

const char *
xm_mirror_phase_to_string(XmMirrorPhase phase)
{
    switch (phase) {
    case XM_MIRROR_PHASE_INIT: return "init";
    case XM_MIRROR_PHASE_BULK: return "bulk";
    case XM_MIRROR_PHASE_DIRTY: return "dirty";
    case XM_MIRROR_PHASE_SYNC: return "sync";
    case XM_MIRROR_PHASE_DRAIN: return "drain";
    case XM_MIRROR_PHASE_VERIFY: return "verify";
    case XM_MIRROR_PHASE_DONE: return "done";
    case XM_MIRROR_PHASE_FAILED: return "failed";
    case XM_MIRROR_PHASE_CANCELLED: return "cancelled";
    }
    return "unknown";
}

XmMirrorJob *
xm_mirror_job_new(const char *source, const char *dest_uri,
                  const XmMirrorOptions *options, GError **error)
{
    static const XmMirrorOptions defaults = { 0 };
    const XmMirrorOptions *o = options ? options : &defaults;
    XmMirrorJob *job;
    int fd;
    guint64 size = 0;
    guint64 gran = o->granularity ? o->granularity : XM_MIRROR_DEFAULT_GRANULARITY;

    if (o->mode != XM_MIRROR_TRACKED && o->mode != XM_MIRROR_SCAN) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG, _("unknown mirror mode %d"),
                    o->mode);
        return NULL;
    }
    if (gran < 512 || gran > 64 * 1024 * 1024 || (gran & (gran - 1))) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("block size %" G_GUINT64_FORMAT " is not a power of two "
                      "between 512 bytes and 64 MiB"), gran);
        return NULL;
    }
    if (o->bandwidth_mib < 0) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the bandwidth limit must not be negative"));
        return NULL;
    }
    if (o->auto_sync_ratio < 0 || o->auto_sync_ratio > 1) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the auto-sync ratio must be between 0 and 1"));
        return NULL;
    }
    if (o->connections > 64) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("at most 64 connections are supported"));
        return NULL;
    }
    if (!xm_nbd_uri_check(dest_uri, NULL, error))
        return NULL;
    /* O_RDONLY: a mirror job never writes to its source */
    fd = xm_image_open(source, O_RDONLY, &size, NULL, error);
    if (fd < 0)
        return NULL;

    job = g_new0(XmMirrorJob, 1);
    job->opts = *o;
    job->source = g_strdup(source);
    job->dest_uri = g_strdup(dest_uri);
    job->dest_name = xm_nbd_uri_describe(dest_uri);
    job->tls_dir = g_strdup(o->tls_dir);
    job->state_file = g_strdup(o->state_file);
    job->opts.tls_dir = job->tls_dir;
    job->opts.state_file = job->state_file;
    job->opts.connections = o->connections ? o->connections : 4;
    job->opts.timeout_s = o->timeout_s ? o->timeout_s : 30;
    job->opts.auto_sync_ratio = o->auto_sync_ratio > 0 ? o->auto_sync_ratio
                                                       : AUTO_SYNC_RATIO;
    job->src_fd = fd;
    job->size = size;
    job->granularity = gran;
    job->max_request = o->max_request ? o->max_request : XM_MIRROR_DEFAULT_REQUEST;
    job->max_request = MAX(job->max_request, gran);
    job->max_request = MIN(job->max_request, 32u * 1024 * 1024);
    job->max_in_flight = o->max_in_flight ? o->max_in_flight : XM_MIRROR_DEFAULT_IN_FLIGHT;
    job->seek_hole = lseek(fd, 0, SEEK_DATA) >= 0 || errno == ENXIO;
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    job->buf_pool = g_async_queue_new_full(g_free);
    xm_rate_limiter_init(&job->rate, o->bandwidth_mib * 1024 * 1024,
                         g_get_monotonic_time());
    job->phase = XM_MIRROR_PHASE_INIT;
    xm_mirror_verify_init(job);
    if (o->mode == XM_MIRROR_TRACKED) {
        job->bitmap = xm_bitmap_new(size, gran, error);
        if (!job->bitmap) {
            xm_mirror_job_free(job);
            return NULL;
        }
    } else {
        job->nblocks = (size + gran - 1) / gran;
        job->hashes = g_new0(guint64, job->nblocks ? job->nblocks : 1);
        xm_mirror_source_map(job);
    }
    return job;
}

gboolean
xm_mirror_job_attach_server(XmMirrorJob *job, XmNbdServer *server,
                            GError **error)
{
    if (job->opts.mode != XM_MIRROR_TRACKED) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("only a tracked mirror job can be attached to a server"));
        return FALSE;
    }
    if (job->started || job->server) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("the mirror job is already started or attached"));
        return FALSE;
    }
    if (xm_nbd_server_get_size(server) != job->size) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("the server exports %" G_GUINT64_FORMAT " bytes, the "
                      "source '%s' has %" G_GUINT64_FORMAT),
                    xm_nbd_server_get_size(server), job->source, job->size);
        return FALSE;
    }
    job->server = server;
    xm_nbd_server_set_write_hook(server, xm_mirror_write_hook, job);
    return TRUE;
}

void
xm_mirror_job_set_progress_callback(XmMirrorJob *job, XmMirrorProgressFunc func,
                                    gpointer user_data)
{
    job->progress_cb = func;
    job->progress_data = user_data;
}

void
xm_mirror_job_fail(XmMirrorJob *job, const GError *error)
{
    g_mutex_lock(&job->lock);
    /* once the outcome is decided, nothing changes it */
    if (job->phase == XM_MIRROR_PHASE_DONE || job->phase == XM_MIRROR_PHASE_FAILED ||
        job->phase == XM_MIRROR_PHASE_CANCELLED) {
        g_mutex_unlock(&job->lock);
        return;
    }
    if (!job->error)
        job->error = g_error_copy(error);
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
    g_atomic_int_set(&job->cancel, 1);
}

void
xm_mirror_job_cancel(XmMirrorJob *job)
{
    g_autoptr(GError) err = g_error_new_literal(XM_ERROR, XM_ERR_OPERATION_ABORTED,
                                                _("cancelled"));

    xm_mirror_job_fail(job, err);
}

void
xm_mirror_job_get_progress(XmMirrorJob *job, XmMirrorProgress *p)
{
    gint64 now = g_get_monotonic_time();
    guint64 verified = xm_mirror_verified_bytes(job);

    memset(p, 0, sizeof(*p));
    p->verified = verified;
    p->verify_read_source = xm_atomic_get64(&job->verify_read_src);
    p->verify_read_dest = xm_atomic_get64(&job->verify_read_dst);
    g_mutex_lock(&job->lock);
    p->phase = job->phase;
    p->pass = job->pass;
    p->total = job->size;
    p->sent = xm_atomic_get64(&job->sent);
    p->blocks_sent = xm_atomic_get64(&job->blocks_sent);
    p->scanned = xm_atomic_get64(&job->scanned);
    if (job->rate_t0 == 0) {
        job->rate_t0 = now;
        job->rate_sent0 = p->sent;
    } else if (now - job->rate_t0 >= G_USEC_PER_SEC ||
               (job->rate_value == 0 && now - job->rate_t0 >= G_USEC_PER_SEC / 5)) {
        job->rate_value = (p->sent - job->rate_sent0) * G_USEC_PER_SEC /
                          (guint64)(now - job->rate_t0);
        job->rate_t0 = now;
        job->rate_sent0 = p->sent;
    }
    p->rate = job->rate_value;
    if (job->phase == XM_MIRROR_PHASE_DONE || job->phase == XM_MIRROR_PHASE_VERIFY) {
        p->done = job->size;
    } else if (job->bitmap) {
        guint64 left = xm_bitmap_count_dirty(job->bitmap) +
                       xm_bitmap_count_inflight(job->bitmap);

        p->dirty = xm_bitmap_count_dirty(job->bitmap);
        p->done = left < job->size ? job->size - left : 0;
    } else {
        p->done = MIN(xm_atomic_get64(&job->pass_done), job->size);
    }
    if (job->phase == XM_MIRROR_PHASE_INIT)
        p->done = 0;
    p->remaining = p->total - p->done;
    g_mutex_unlock(&job->lock);
}

void
xm_mirror_notify(XmMirrorJob *job)
{
    XmMirrorProgress p;

    if (!job->progress_cb)
        return;
    xm_mirror_job_get_progress(job, &p);
    job->progress_cb(&p, job->progress_data);
}

void
xm_mirror_set_phase(XmMirrorJob *job, XmMirrorPhase phase, guint pass)
{
    g_mutex_lock(&job->lock);
    job->phase = phase;
    job->pass = pass;
    g_mutex_unlock(&job->lock);
    g_debug("%s: phase %s pass %u", job->dest_name, xm_mirror_phase_to_string(phase),
            pass);
    xm_mirror_notify(job);
}

void
xm_mirror_job_set_bandwidth(XmMirrorJob *job, double mib_per_s)
{
    xm_rate_limiter_set_rate(&job->rate, mib_per_s > 0 ? mib_per_s * 1024 * 1024 : 0,
                             g_get_monotonic_time());
}

void
xm_mirror_job_request_sync(XmMirrorJob *job)
{
    g_mutex_lock(&job->lock);
    job->sync_requested = TRUE;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

void
xm_mirror_job_preverify(XmMirrorJob *job)
{
    g_mutex_lock(&job->lock);
    job->preverify = TRUE;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

void
xm_mirror_job_request_pass(XmMirrorJob *job)
{
    g_mutex_lock(&job->lock);
    job->passes_requested++;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

typedef struct {
    XmWorker w;
    gboolean (*fn)(XmWorker *w, GError **error);
    GError *error;
    GThread *thread;
} WorkerRun;

static gpointer
worker_main(gpointer data)
{
    WorkerRun *r = data;

    if (!r->fn(&r->w, &r->error))
        xm_mirror_job_fail(r->w.job, r->error);
    return NULL;
}

gboolean
xm_mirror_run_workers(XmMirrorJob *job, gboolean (*fn)(XmWorker *w, GError **error),
                      GError **error)
{
    return xm_mirror_run_workers_from(job, 0, fn, error);
}

gboolean
xm_mirror_run_workers_from(XmMirrorJob *job, guint first,
                           gboolean (*fn)(XmWorker *w, GError **error),
                           GError **error)
{
    g_autofree WorkerRun *runs = g_new0(WorkerRun, job->nconns);
    gboolean ok = TRUE;

    for (guint i = first; i < job->nconns; i++) {
        runs[i].w.job = job;
        runs[i].w.conn = job->conns[i];
        runs[i].w.max_reqs = MAX(job->max_in_flight / job->nconns, 1);
        runs[i].w.max_bytes = MAX(XM_MIRROR_MAX_IN_FLIGHT_BYTES / job->nconns,
                                  job->max_request);
        runs[i].fn = fn;
        runs[i].thread = g_thread_new("xm-mirror-worker", worker_main, &runs[i]);
    }
    for (guint i = first; i < job->nconns; i++) {
        g_thread_join(runs[i].thread);
        g_free(runs[i].w.vsrc);
        g_free(runs[i].w.vdst);
        if (runs[i].error) {
            ok = FALSE;
            g_clear_error(&runs[i].error);
        }
    }
    if (!ok || xm_mirror_cancelled(job)) {
        g_mutex_lock(&job->lock);
        if (job->error)
            g_propagate_error(error, g_error_copy(job->error));
        else
            g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        g_mutex_unlock(&job->lock);
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_mirror_flush_all(XmMirrorJob *job, GError **error)
{
    /* With multi-conn one flush covers the writes completed on every
     * connection; without it each connection flushes its own. */
    gboolean all = !xm_nbd_conn_can_multi_conn(job->conns[0]);

    for (guint i = 0; i < job->nconns; i++) {
        if (!xm_nbd_conn_flush(job->conns[i], error))
            return FALSE;
        if (!all)
            return TRUE;
    }
    for (guint i = 0; i < job->nsync; i++) {
        XmNbdConn *c = g_async_queue_pop(job->sync_pool);
        gboolean ok = xm_nbd_conn_flush(c, error);

        g_async_queue_push(job->sync_pool, c);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

/* Waits up to @timeout_us for a request or a change; FALSE when the job is
 * cancelled. Called with job->lock held. */
static gboolean
wait_locked(XmMirrorJob *job, gint64 timeout_us)
{
    g_cond_wait_until(&job->cond, &job->lock, g_get_monotonic_time() + timeout_us);
    return !xm_mirror_cancelled(job);
}

/* An early flush while the source still runs, so that the final one
 * (source paused) writes back only what came later. Connections of a
 * server without multi-conn flush only their own writes: each flushes. */
static gboolean
preflush(XmMirrorJob *job, GError **error)
{
    guint64 sent = xm_atomic_get64(&job->sent);
    gboolean all = !xm_nbd_conn_can_multi_conn(job->conns[0]);
    gint64 t0 = g_get_monotonic_time();

    for (guint i = 0; i < (all ? job->nconns : 1); i++) {
        if (!xm_nbd_conn_flush(job->conns[i], error))
            return FALSE;
    }
    job->preflushed_sent = sent;
    g_debug("early flush of the destination: %" G_GINT64_FORMAT " ms",
            (g_get_monotonic_time() - t0) / 1000);
    return TRUE;
}

static gboolean
run_tracked(XmMirrorJob *job, GError **error)
{
    guint pass = 1;
    gboolean complete = FALSE, preverified = FALSE;

    xm_mirror_set_phase(job, XM_MIRROR_PHASE_BULK, pass);
    if (!xm_mirror_tracked_pass(job, error))
        return FALSE;
    if (job->opts.auto_sync) {
        guint64 dirty = xm_bitmap_count_dirty(job->bitmap);
        guint64 sent = xm_atomic_get64(&job->sent);

        /* the guest dirtied about as much as the bulk copy sent in the
         * same time: on a big disk each dirty pass would take as long as
         * the bulk copy, only to show the same */
        if (dirty > XM_MIRROR_PREVERIFY_MAX_DIRTY &&
            (double) dirty > (double) sent * job->opts.auto_sync_ratio) {
            g_debug("the guest dirtied %" G_GUINT64_FORMAT " bytes during a bulk copy of %"
                    G_GUINT64_FORMAT ": synchronous mode", dirty, sent);
            g_atomic_int_set(&job->sync_mode, 1);
        }
    }

    for (;;) {
        guint64 before, after;
        gboolean sync;
        gint64 t0;

        g_mutex_lock(&job->lock);
        if (xm_mirror_cancelled(job)) {
            g_mutex_unlock(&job->lock);
            break;
        }
        complete = job->complete_requested;
        if (job->sync_requested || complete)
            g_atomic_int_set(&job->sync_mode, 1);
        sync = g_atomic_int_get(&job->sync_mode);
        before = xm_bitmap_count_dirty(job->bitmap);
        if (complete && before == 0) {
            g_mutex_unlock(&job->lock);
            break;
        }
        if (!complete && !preverified && before <= XM_MIRROR_PREVERIFY_MAX_DIRTY) {
            /* a turn of hashing ahead of time, then a pass if needed */
            g_mutex_unlock(&job->lock);
            if (xm_mirror_preverify_due(job)) {
                if (!xm_mirror_preverify_step(job, error))
                    return FALSE;
                preverified = TRUE;
                continue;
            }
            g_mutex_lock(&job->lock);
        }
        preverified = FALSE;
        if (before == 0) {
            if (job->phase != (sync ? XM_MIRROR_PHASE_SYNC : XM_MIRROR_PHASE_DIRTY)) {
                g_mutex_unlock(&job->lock);
                xm_mirror_set_phase(job, sync ? XM_MIRROR_PHASE_SYNC :
                                    XM_MIRROR_PHASE_DIRTY, pass);
                continue;
            }
            if (xm_atomic_get64(&job->sent) - job->preflushed_sent >= XM_MIRROR_PREFLUSH_MIN) {
                g_mutex_unlock(&job->lock);
                if (!preflush(job, error))
                    return FALSE;
                continue;
            }
            wait_locked(job, 50 * 1000);
            g_mutex_unlock(&job->lock);
            continue;
        }
        g_mutex_unlock(&job->lock);

        pass++;
        xm_mirror_set_phase(job, complete ? XM_MIRROR_PHASE_DRAIN :
                            sync ? XM_MIRROR_PHASE_SYNC : XM_MIRROR_PHASE_DIRTY, pass);
        t0 = g_get_monotonic_time();
        if (!xm_mirror_tracked_pass(job, error))
            return FALSE;
        after = xm_bitmap_count_dirty(job->bitmap);
        g_debug("pass %u: dirty %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT,
                pass, before, after);
        if (job->opts.auto_sync && !sync && pass >= 2 &&
            (after > before * job->opts.auto_sync_ratio || pass > AUTO_SYNC_MAX_PASSES)) {
            g_debug("dirty passes do not converge: synchronous mode");
            g_atomic_int_set(&job->sync_mode, 1);
        }
        /* tiny passes under a steady trickle of writes must not spin */
        if (!complete && g_get_monotonic_time() - t0 < 50 * 1000) {
            /* xm_mirror_job_complete() may have asked while the pass ran:
             * its broadcast is gone, the paused guest must not wait */
            g_mutex_lock(&job->lock);
            if (!job->complete_requested)
                wait_locked(job, 50 * 1000);
            g_mutex_unlock(&job->lock);
        }
        xm_mirror_notify(job);
    }
    if (xm_mirror_cancelled(job)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        return FALSE;
    }
    return TRUE;
}

static gboolean
run_scan(XmMirrorJob *job, GError **error)
{
    guint pass = 1;

    xm_mirror_set_phase(job, XM_MIRROR_PHASE_BULK, pass);
    if (!xm_mirror_scan_pass(job, TRUE, error))
        return FALSE;
    for (;;) {
        gboolean more;

        gboolean final = FALSE;

        g_mutex_lock(&job->lock);
        while (!job->passes_requested && !job->complete_requested &&
               !xm_mirror_cancelled(job)) {
            g_mutex_unlock(&job->lock);
            if (xm_atomic_get64(&job->sent) - job->preflushed_sent >= XM_MIRROR_PREFLUSH_MIN) {
                if (!preflush(job, error))
                    return FALSE;
                g_mutex_lock(&job->lock);
                continue;
            }
            /* between passes: hash the destination ahead of time */
            if (xm_mirror_preverify_due(job)) {
                if (!xm_mirror_preverify_step(job, error))
                    return FALSE;
                g_mutex_lock(&job->lock);
                continue;
            }
            g_mutex_lock(&job->lock);
            wait_locked(job, 200 * 1000);
        }
        if (job->complete_requested && job->preverify && job->opts.verify) {
            /* The source no longer changes: one last pass, which also
             * hashes the source for the verification, replaces any pass
             * still requested. */
            job->passes_requested = 0;
            final = TRUE;
        }
        more = job->passes_requested > 0;
        if (more)
            job->passes_requested--;
        g_mutex_unlock(&job->lock);
        if (xm_mirror_cancelled(job)) {
            g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
            return FALSE;
        }
        if (!more && !final)
            return TRUE;
        pass++;
        xm_mirror_set_phase(job, final ? XM_MIRROR_PHASE_DRAIN : XM_MIRROR_PHASE_DIRTY,
                            pass);
        job->hash_source_pass = final;
        if (!xm_mirror_scan_pass(job, FALSE, error))
            return FALSE;
        job->hash_source_pass = FALSE;
        if (final)
            return TRUE;
    }
}

typedef struct {
    XmMirrorJob *job;
    GError *error;
} FlushRun;

static gpointer
flush_main(gpointer data)
{
    FlushRun *f = data;

    xm_nbd_conn_flush(f->job->conns[0], &f->error);
    return NULL;
}

static gboolean
finish(XmMirrorJob *job, GError **error)
{
    FlushRun fr = { .job = job };
    GThread *flusher = NULL;
    gboolean ok = TRUE;

    /* The flush (an fsync on the destination) and the verification (reads)
     * do not depend on each other: while the guest is paused they run
     * side by side, the flush on the first connection (with multi-conn it
     * covers the writes of every connection; a cancel interrupts it) and
     * the verification on the others. */
    if (job->opts.verify && job->nconns > 1 && xm_nbd_conn_can_multi_conn(job->conns[0]))
        flusher = g_thread_new("xm-mirror-flush", flush_main, &fr);
    else if (!xm_mirror_flush_all(job, error))
        return FALSE;
    if (job->opts.verify) {
        xm_mirror_set_phase(job, XM_MIRROR_PHASE_VERIFY, job->pass);
        ok = xm_mirror_verify(job, flusher ? 1 : 0, error);
    }
    if (flusher) {
        g_thread_join(flusher);
        if (fr.error) {
            if (ok)
                g_propagate_error(error, fr.error);
            else
                g_error_free(fr.error);
            ok = FALSE;
        }
    }
    if (!ok)
        return FALSE;
    /* only a state that describes the flushed (and verified) destination
     * is written; after any failure there is none, and the next run
     * compares with the destination itself */
    if (job->opts.mode == XM_MIRROR_SCAN && job->state_file &&
        !xm_mirror_scan_save_state(job, error))
        return FALSE;
    return TRUE;
}

static gpointer
job_main(gpointer data)
{
    XmMirrorJob *job = data;
    g_autoptr(GError) err = NULL;
    gboolean ok;

    ok = job->opts.mode == XM_MIRROR_TRACKED ? run_tracked(job, &err) :
                                               run_scan(job, &err);
    if (ok)
        ok = finish(job, &err);
    /* closing the worker connections retires what is still in flight, which
     * ends every in-flight range a synchronous write may be waiting for */
    for (guint i = 0; i < job->nconns; i++)
        g_clear_pointer(&job->conns[i], xm_nbd_conn_close);

    g_mutex_lock(&job->lock);
    if (!ok && !job->error)
        job->error = g_error_copy(err);
    if (ok && job->error)
        ok = FALSE;
    if (ok)
        job->phase = XM_MIRROR_PHASE_DONE;
    else if (g_error_matches(job->error, XM_ERROR, XM_ERR_OPERATION_ABORTED))
        job->phase = XM_MIRROR_PHASE_CANCELLED;
    else
        job->phase = XM_MIRROR_PHASE_FAILED;
    g_mutex_unlock(&job->lock);
    g_atomic_int_set(&job->sync_mode, 0);
    /* the last callback runs before xm_mirror_job_complete() returns */
    xm_mirror_notify(job);

    g_mutex_lock(&job->lock);
    job->finished = TRUE;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
    return NULL;
}

static gboolean
connect_all(XmMirrorJob *job, GError **error)
{
    guint timeout_ms = job->opts.timeout_s * 1000;
    XmNbdConn *first;
    guint64 dsize;
    guint n;

    first = xm_nbd_conn_open(job->dest_uri, job->tls_dir, timeout_ms, &job->cancel, error);
    if (!first)
        return FALSE;
    dsize = xm_nbd_conn_get_size(first);
    if (dsize < job->size) {
        g_set_error(error, XM_ERROR, XM_ERR_INVALID_ARG,
                    _("destination %s has %" G_GUINT64_FORMAT " bytes, less than "
                      "the %" G_GUINT64_FORMAT " bytes of '%s'"),
                    job->dest_name, dsize, job->size, job->source);
        xm_nbd_conn_close(first);
        return FALSE;
    }
    n = xm_nbd_conn_can_multi_conn(first) ? job->opts.connections : 1;
    job->conns = g_new0(XmNbdConn *, n);
    job->conns[0] = first;
    job->nconns = 1;
    for (guint i = 1; i < n; i++) {
        job->conns[i] = xm_nbd_conn_open(job->dest_uri, job->tls_dir, timeout_ms,
                                         &job->cancel, error);
        if (!job->conns[i])
            return FALSE;
        job->nconns++;
    }
    if (job->server) {
        job->sync_pool = g_async_queue_new();
        job->sync_conns = g_new0(XmNbdConn *, XM_MIRROR_SYNC_CONNECTIONS);
        for (guint i = 0; i < XM_MIRROR_SYNC_CONNECTIONS; i++) {
            /* no cancel flag: a synchronous write must not be cut short by
             * a cancel of the background copy */
            job->sync_conns[i] = xm_nbd_conn_open(job->dest_uri, job->tls_dir,
                                                  timeout_ms, NULL, error);
            if (!job->sync_conns[i])
                return FALSE;
            job->nsync++;
            g_async_queue_push(job->sync_pool, job->sync_conns[i]);
        }
    }
    return TRUE;
}

gboolean
xm_mirror_job_start(XmMirrorJob *job, GError **error)
{
    if (job->started) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("the mirror job is already started"));
        return FALSE;
    }
    if (job->opts.mode == XM_MIRROR_SCAN && job->state_file &&
        !xm_mirror_scan_load_state(job, error))
        return FALSE;
    if (!connect_all(job, error))
        return FALSE;
    /* From now on the destination may change: a state file left behind by
     * a run that fails would no longer describe it. */
    if (job->state_file && g_unlink(job->state_file) < 0 && errno != ENOENT)
        return xm_set_error_errno(error, errno, XM_ERR_WRITE_FAILED,
                                  _("cannot remove state file '%s'"), job->state_file);
    if (job->bitmap)
        xm_bitmap_mark_all(job->bitmap);
    job->started = TRUE;
    job->thread = g_thread_new("xm-mirror-job", job_main, job);
    return TRUE;
}

gboolean
xm_mirror_job_complete(XmMirrorJob *job, XmMirrorResult *result, GError **error)
{
    if (!job->started) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_INVALID,
                    _("the mirror job is not started"));
        return FALSE;
    }
    g_mutex_lock(&job->lock);
    job->complete_requested = TRUE;
    g_cond_broadcast(&job->cond);
    while (!job->finished)
        g_cond_wait(&job->cond, &job->lock);
    if (job->error) {
        g_propagate_error(error, g_error_copy(job->error));
        g_mutex_unlock(&job->lock);
        return FALSE;
    }
    if (result)
        *result = job->result;
    g_mutex_unlock(&job->lock);
    return TRUE;
}

void
xm_mirror_job_free(XmMirrorJob *job)
{
    if (!job)
        return;
    if (job->thread) {
        xm_mirror_job_cancel(job);
        g_thread_join(job->thread);
    }
    if (job->server)
        xm_nbd_server_set_write_hook(job->server, NULL, NULL);
    for (guint i = 0; i < job->nconns; i++)
        xm_nbd_conn_close(job->conns[i]);
    g_free(job->conns);
    if (job->sync_pool) {
        for (guint i = 0; i < job->nsync; i++)
            xm_nbd_conn_close(job->sync_conns[i]);
        g_async_queue_unref(job->sync_pool);
    }
    g_free(job->sync_conns);
    xm_bitmap_free(job->bitmap);
    if (job->buf_pool)
        g_async_queue_unref(job->buf_pool);
    xm_rate_limiter_clear(&job->rate);
    /* after the connections: no request points into the mapping now */
    xm_mirror_source_unmap(job);
    if (job->src_fd >= 0)
        close(job->src_fd);
    g_clear_error(&job->error);
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job->hashes);
    xm_mirror_verify_clear(job);
    g_free(job->source);
    g_free(job->dest_uri);
    g_free(job->dest_name);
    g_free(job->tls_dir);
    g_free(job->state_file);
    g_free(job);
}
