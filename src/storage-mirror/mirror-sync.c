/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write hook of a tracked job. It runs in the NBD server's connection
 * thread after the guest's write reached the source image and before the
 * guest gets its reply.
 *  - Background mode: mark the range dirty; a later pass copies it.
 *  - Synchronous mode: write the same data to the destination now, so the
 *    guest's write is acknowledged only once the destination has it. The
 *    range is held in flight meanwhile: a background copy of an
 *    overlapping range (which may have read the source before this write)
 *    finishes first, and two guest writes to one range reach the
 *    destination one after the other. When the hook had to wait, the
 *    order on the destination may differ from the source's, so the range
 *    is also re-dirtied and copied again from the source.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

gboolean
xm_mirror_write_hook(gpointer user_data, XmNbdWriteKind kind, guint64 offset,
                     guint64 length, const void *data, GError **error)
{
    XmMirrorJob *job = user_data;
    g_autoptr(GError) err = NULL;
    XmNbdConn *conn;
    gboolean waited, ok;

    /* The source changed already; the destination changes below or in a
     * later pass. Marking again at the end covers hashes taken while this
     * write was under way. */
    xm_mirror_mark_stale(job, offset, length, TRUE, TRUE);
    /* A discard may leave unspecified data on a block device: copy what
     * the source reads back instead of guessing. */
    if (!g_atomic_int_get(&job->sync_mode) || kind == XM_NBD_TRIM ||
        !job->sync_pool || xm_mirror_cancelled(job)) {
        xm_bitmap_mark_dirty(job->bitmap, offset, length);
        xm_mirror_mark_stale(job, offset, length, TRUE, TRUE);
        return TRUE;
    }

    waited = xm_bitmap_begin_inflight(job->bitmap, offset, length);
    conn = g_async_queue_pop(job->sync_pool);
    if (kind == XM_NBD_WRITE)
        ok = xm_nbd_conn_pwrite(conn, data, length, offset, &err);
    else
        ok = xm_nbd_conn_zero(conn, length, offset, &err);
    g_async_queue_push(job->sync_pool, conn);
    xm_mirror_mark_stale(job, offset, length, TRUE, TRUE);
    xm_bitmap_end_inflight(job->bitmap, offset, length, waited || !ok);
    if (!ok) {
        /* The guest's write is on the source; failing it would not undo
         * that. The mirror is what failed: end the job with the reason. */
        g_prefix_error(&err, _("synchronous mirror write failed: "));
        xm_mirror_job_fail(job, err);
        return TRUE;
    }
    if (kind == XM_NBD_WRITE)
        xm_atomic_add64(&job->sent, length);
    xm_atomic_add64(&job->blocks_sent, (length + job->granularity - 1) / job->granularity);
    return TRUE;
}
