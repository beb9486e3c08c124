/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A disk's copier: the in-process scan-mode mirror job, or the tracked
 * mirror job of the domain's datapath daemon (see disk-copier.h).
 */
#define G_LOG_DOMAIN "xenmig-migration"

#include "config.h"

#include "migration/disk-copier.h"
#include "storage-mirror/datapath-client.h"
#include "util/util.h"

/* How often the poller asks the daemon for progress. */
#define POLL_MS 100

struct _XmDiskCopier {
    XmDiskCopierProgressFunc func;
    gpointer user_data;

    /* local */
    XmMirrorJob *job;

    /* datapath */
    char *control;
    char *target;
    char *dest_uri;
    XmMirrorOptions opts;
    char *tls_dir;
    GThread *poller;
    GMutex lock;
    GCond cond;
    gboolean stop;               /* poller: exit */
    gboolean completing;         /* complete() owns the daemon's job now */
    gboolean finished;           /* the daemon's job is gone (completed or cancelled) */
    gboolean cancel_wanted;
    gboolean sync_wanted;
    gboolean bandwidth_dirty;
    double bandwidth;
    XmMirrorProgress last;
    GError *poll_error;          /* the daemon stopped answering */
};

static void
local_progress(const XmMirrorProgress *p, gpointer data)
{
    XmDiskCopier *c = data;

    if (c->func)
        c->func(p, c->user_data);
}

XmDiskCopier *
xm_disk_copier_new_local(const char *source, const char *dest_uri,
                         const XmMirrorOptions *opts, XmDiskCopierProgressFunc func,
                         gpointer user_data, GError **error)
{
    XmDiskCopier *c = g_new0(XmDiskCopier, 1);

    c->func = func;
    c->user_data = user_data;
    c->job = xm_mirror_job_new(source, dest_uri, opts, error);
    if (!c->job) {
        g_free(c);
        return NULL;
    }
    xm_mirror_job_set_progress_callback(c->job, local_progress, c);
    /* hash the destination between passes, so that the paused final
     * verification reads only what the last passes changed */
    if (opts && opts->verify)
        xm_mirror_job_preverify(c->job);
    return c;
}

XmDiskCopier *
xm_disk_copier_new_datapath(const char *control, const char *target, const char *dest_uri,
                            const XmMirrorOptions *opts, XmDiskCopierProgressFunc func,
                            gpointer user_data)
{
    XmDiskCopier *c = g_new0(XmDiskCopier, 1);

    c->func = func;
    c->user_data = user_data;
    c->control = g_strdup(control);
    c->target = g_strdup(target);
    c->dest_uri = g_strdup(dest_uri);
    if (opts)
        c->opts = *opts;
    c->tls_dir = g_strdup(c->opts.tls_dir);
    c->opts.tls_dir = c->tls_dir;
    c->opts.mode = XM_MIRROR_TRACKED;
    c->bandwidth = c->opts.bandwidth_mib;
    c->last.phase = XM_MIRROR_PHASE_INIT;
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    return c;
}

gboolean
xm_disk_copier_is_tracked(XmDiskCopier *c)
{
    return c->job == NULL;
}

/* The poller: the only thread that talks to the daemon while the copy
 * runs, so the daemon sees requests in the order they were made. */
static gpointer
poller_main(gpointer data)
{
    XmDiskCopier *c = data;

    g_mutex_lock(&c->lock);
    while (!c->stop) {
        gboolean cancel = FALSE, sync = FALSE, bw_dirty = FALSE, poll;
        double bw = 0;
        XmMirrorProgress p = { 0 };
        g_autoptr(GError) err = NULL;

        if (!c->finished && !c->completing) {
            cancel = c->cancel_wanted;
            sync = c->sync_wanted;
            bw_dirty = c->bandwidth_dirty;
            bw = c->bandwidth;
            c->sync_wanted = c->bandwidth_dirty = FALSE;
        }
        /* during the final drain too: the migration watches its progress
         * (the daemon answers PROGRESS beside a running COMPLETE) */
        poll = !c->finished && !c->poll_error && !cancel;
        g_mutex_unlock(&c->lock);

        if (cancel) {
            if (!xm_datapath_cancel(c->control, c->target, &err))
                g_debug("datapath %s: cancelling %s failed: %s", c->control, c->target,
                        err->message);
            g_mutex_lock(&c->lock);
            c->finished = TRUE;
            c->last.phase = XM_MIRROR_PHASE_CANCELLED;
            continue;
        }
        if (bw_dirty && !xm_datapath_set_bandwidth(c->control, c->target, bw, &err))
            g_debug("datapath %s: bandwidth: %s", c->control, err->message);
        g_clear_error(&err);
        if (sync && !xm_datapath_request_sync(c->control, c->target, &err))
            g_debug("datapath %s: sync: %s", c->control, err->message);
        g_clear_error(&err);
        if (poll) {
            gboolean ok = xm_datapath_get_progress(c->control, c->target, &p, &err);

            g_mutex_lock(&c->lock);
            if (ok && !c->finished) {
                XmMirrorPhase phase = c->last.phase;

                c->last = p;
                if (c->completing)      /* complete() sets the phase */
                    c->last.phase = phase;
            } else if (!ok && !c->completing && !c->finished) {
                c->poll_error = g_steal_pointer(&err);
                c->last.phase = XM_MIRROR_PHASE_FAILED;
            }
            p = c->last;
            g_mutex_unlock(&c->lock);
            if (ok && c->func)
                c->func(&p, c->user_data);
        }
        g_mutex_lock(&c->lock);
        if (!c->stop)
            g_cond_wait_until(&c->cond, &c->lock,
                              g_get_monotonic_time() + POLL_MS * 1000);
    }
    g_mutex_unlock(&c->lock);
    return NULL;
}

gboolean
xm_disk_copier_start(XmDiskCopier *c, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (c->job)
        return xm_mirror_job_start(c->job, error);

    /* a libvirtd that died mid-migration may have left a job behind:
     * there is never more than one migration of a domain at a time */
    if (!xm_datapath_cancel(c->control, c->target, &err)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&err),
                                   _("the datapath of disk '%s' does not answer: "),
                                   c->target);
        return FALSE;
    }
    /* the limit set since creation goes with the request itself */
    g_mutex_lock(&c->lock);
    c->opts.bandwidth_mib = c->bandwidth;
    c->bandwidth_dirty = FALSE;
    g_mutex_unlock(&c->lock);
    if (!xm_datapath_mirror_start(c->control, c->target, c->dest_uri, &c->opts, FALSE,
                                  error))
        return FALSE;
    c->poller = g_thread_new("xm-dp-poll", poller_main, c);
    return TRUE;
}

void
xm_disk_copier_get_progress(XmDiskCopier *c, XmMirrorProgress *p)
{
    if (c->job) {
        xm_mirror_job_get_progress(c->job, p);
        return;
    }
    g_mutex_lock(&c->lock);
    *p = c->last;
    g_mutex_unlock(&c->lock);
}

guint64
xm_disk_copier_activity(XmDiskCopier *c)
{
    XmMirrorProgress p;

    xm_disk_copier_get_progress(c, &p);
    return p.done + p.sent + p.blocks_sent + p.scanned + p.verified +
           p.verify_read_source + p.verify_read_dest;
}

static void
wake_poller(XmDiskCopier *c)
{
    g_cond_signal(&c->cond);
    g_mutex_unlock(&c->lock);
}

void
xm_disk_copier_set_bandwidth(XmDiskCopier *c, double mib_per_s)
{
    if (c->job) {
        xm_mirror_job_set_bandwidth(c->job, mib_per_s);
        return;
    }
    g_mutex_lock(&c->lock);
    if (c->bandwidth != mib_per_s) {
        c->bandwidth = mib_per_s;
        c->bandwidth_dirty = TRUE;
    }
    wake_poller(c);
}

void
xm_disk_copier_request_pass(XmDiskCopier *c)
{
    if (c->job)
        xm_mirror_job_request_pass(c->job);
}

void
xm_disk_copier_request_sync(XmDiskCopier *c)
{
    if (c->job)
        return;
    g_mutex_lock(&c->lock);
    c->sync_wanted = TRUE;
    wake_poller(c);
}

void
xm_disk_copier_cancel(XmDiskCopier *c)
{
    if (c->job) {
        xm_mirror_job_cancel(c->job);
        return;
    }
    g_mutex_lock(&c->lock);
    c->cancel_wanted = TRUE;
    wake_poller(c);
}

gboolean
xm_disk_copier_complete(XmDiskCopier *c, XmMirrorResult *res, GCancellable *cancellable,
                        GError **error)
{
    gboolean ok, bw_dirty;
    double bw;
    g_autoptr(GError) err = NULL;

    if (c->job)
        return xm_mirror_job_complete(c->job, res, error);

    g_mutex_lock(&c->lock);
    if (c->finished) {
        g_mutex_unlock(&c->lock);
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_ABORTED,
                    _("the copy of disk '%s' was cancelled"), c->target);
        return FALSE;
    }
    if (c->poll_error) {
        g_propagate_error(error, g_error_copy(c->poll_error));
        g_mutex_unlock(&c->lock);
        return FALSE;
    }
    c->completing = TRUE;
    c->last.phase = XM_MIRROR_PHASE_DRAIN;
    /* the poller no longer talks to the daemon: a limit changed for the
     * drain goes now, before the drain */
    bw_dirty = c->bandwidth_dirty;
    bw = c->bandwidth;
    c->bandwidth_dirty = FALSE;
    g_mutex_unlock(&c->lock);
    if (bw_dirty && !xm_datapath_set_bandwidth(c->control, c->target, bw, &err)) {
        g_debug("datapath %s: bandwidth: %s", c->control, err->message);
        g_clear_error(&err);
    }

    ok = xm_datapath_complete(c->control, c->target, res, cancellable, &err);

    g_mutex_lock(&c->lock);
    c->finished = TRUE;
    c->last.phase = ok ? XM_MIRROR_PHASE_DONE : XM_MIRROR_PHASE_FAILED;
    if (ok)
        c->last.done = c->last.total;
    g_mutex_unlock(&c->lock);
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&err));
    return ok;
}

gboolean
xm_disk_copier_check(XmDiskCopier *c, GError **error)
{
    XmMirrorProgress p;

    xm_disk_copier_get_progress(c, &p);
    if (p.phase != XM_MIRROR_PHASE_FAILED && p.phase != XM_MIRROR_PHASE_CANCELLED)
        return TRUE;
    if (c->job)
        return xm_mirror_job_complete(c->job, NULL, error);
    g_mutex_lock(&c->lock);
    if (c->poll_error) {
        g_propagate_error(error, g_error_copy(c->poll_error));
        g_mutex_unlock(&c->lock);
        return FALSE;
    }
    g_mutex_unlock(&c->lock);
    /* the daemon's job ended by itself: its COMPLETE answer carries why */
    return xm_disk_copier_complete(c, NULL, NULL, error);
}

void
xm_disk_copier_free(XmDiskCopier *c)
{
    if (!c)
        return;
    if (c->job) {
        xm_mirror_job_free(c->job);
        g_free(c);
        return;
    }
    if (c->poller) {
        g_mutex_lock(&c->lock);
        c->stop = TRUE;
        g_cond_signal(&c->cond);
        g_mutex_unlock(&c->lock);
        g_thread_join(c->poller);
        /* a job neither completed nor cancelled must not keep tracking
         * (and, in synchronous mode, slowing) the guest's writes */
        if (!c->finished) {
            g_autoptr(GError) err = NULL;
            if (!xm_datapath_cancel(c->control, c->target, &err))
                g_debug("datapath %s: cancelling %s failed: %s", c->control, c->target,
                        err->message);
        }
    }
    g_clear_error(&c->poll_error);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->cond);
    g_free(c->control);
    g_free(c->target);
    g_free(c->dest_uri);
    g_free(c->tls_dir);
    g_free(c);
}
