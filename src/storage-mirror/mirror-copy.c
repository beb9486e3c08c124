/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Copying ranges of the source to the destination: reading, hole and zero
 * detection, bandwidth limiting, bounded asynchronous requests; and the
 * tracked-mode pass that sweeps the dirty bitmap with one worker per
 * connection.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <errno.h>
#include <unistd.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

XmChunk *
xm_chunk_new(XmMirrorJob *job, guint64 offset, guint64 length, gboolean tracked)
{
    XmChunk *c = g_new0(XmChunk, 1);

    c->refs = 1;
    c->job = job;
    c->offset = offset;
    c->length = length;
    c->tracked = tracked;
    return c;
}

void
xm_chunk_unref(XmChunk *c)
{
    if (!g_atomic_int_dec_and_test(&c->refs))
        return;
    if (c->tracked)
        xm_bitmap_end_inflight(c->job->bitmap, c->offset, c->length,
                               g_atomic_int_get(&c->failed));
    else if (!g_atomic_int_get(&c->failed))
        xm_atomic_add64(&c->job->pass_done, c->length);
    g_free(c->buf);
    g_free(c);
}

static void
chunk_request_done(gpointer data, int err)
{
    XmChunk *c = data;

    if (err)
        g_atomic_int_set(&c->failed, 1);
    xm_chunk_unref(c);
}

gboolean
xm_mirror_read_source(XmMirrorJob *job, void *buf, guint64 len, guint64 offset,
                      GError **error)
{
    guint8 *p = buf;

    while (len > 0) {
        ssize_t n = pread(job->src_fd, p, MIN(len, (guint64)G_MAXSSIZE), (off_t)offset);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return xm_set_error_errno(error, errno, XM_ERR_READ_FAILED,
                                      _("cannot read '%s' at offset %" G_GUINT64_FORMAT),
                                      job->source, offset);
        }
        if (n == 0) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("'%s' ended at offset %" G_GUINT64_FORMAT
                          " (it shrank while being mirrored?)"), job->source, offset);
            return FALSE;
        }
        p += n;
        len -= (guint64)n;
        offset += (guint64)n;
    }
    return TRUE;
}

gboolean
xm_mirror_range_is_hole(XmMirrorJob *job, guint64 offset, guint64 len)
{
    off_t d;

    if (!job->seek_hole)
        return FALSE;
    d = lseek(job->src_fd, (off_t)offset, SEEK_DATA);
    if (d < 0)
        return errno == ENXIO;  /* no data up to the end of the file */
    return (guint64)d >= offset + len;
}

/* Waits for the bandwidth limiter, serving the connection meanwhile so
 * replies keep flowing and a cancel is noticed. */
static gboolean
throttle(XmWorker *w, guint64 bytes, GError **error)
{
    gint64 wait = xm_rate_limiter_reserve(&w->job->rate, bytes, g_get_monotonic_time());
    gint64 until = g_get_monotonic_time() + wait;

    while (wait > 0) {
        gint64 left = until - g_get_monotonic_time();

        if (left <= 0)
            break;
        if (!xm_nbd_conn_poll(w->conn, (int)MAX(MIN(left / 1000, 50), 1), error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
send_one(XmWorker *w, XmChunk *c, const guint8 *data, guint64 offset, guint64 len,
         GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 room = w->max_bytes > len ? w->max_bytes - len : 0;

    if (!xm_nbd_conn_wait(w->conn, w->max_reqs - 1, room, error))
        return FALSE;
    g_atomic_int_inc(&c->refs);
    if (data) {
        if (!throttle(w, len, error)) {
            xm_chunk_unref(c);
            return FALSE;
        }
        if (!xm_nbd_conn_submit_write(w->conn, data, len, offset,
                                      chunk_request_done, c, error))
            return FALSE;
        xm_atomic_add64(&job->sent, len);
    } else {
        if (!xm_nbd_conn_submit_zero(w->conn, len, offset, chunk_request_done, c,
                                     error))
            return FALSE;
    }
    xm_atomic_add64(&job->blocks_sent, (len + job->granularity - 1) / job->granularity);
    return TRUE;
}

gboolean
xm_mirror_send(XmWorker *w, XmChunk *c, const guint8 *data, guint64 offset,
               guint64 len, GError **error)
{
    guint64 pos = 0;

    if (!data)
        return send_one(w, c, NULL, offset, len, error);
    /* split at zero blocks aligned on the image, coalescing equal kinds */
    while (pos < len) {
        guint64 start = pos;
        gboolean zero = FALSE;

        while (pos < len) {
            guint64 end = MIN(((offset + pos) / XM_MIRROR_ZERO_BLOCK + 1) *
                              XM_MIRROR_ZERO_BLOCK - offset, len);
            gboolean z = xm_mirror_is_zero(data + pos, end - pos);

            if (pos == start)
                zero = z;
            else if (z != zero)
                break;
            pos = end;
        }
        if (!send_one(w, c, zero ? NULL : data + start, offset + start,
                      pos - start, error))
            return FALSE;
    }
    return TRUE;
}

/* Copies one claimed range; the chunk ends its in-flight range when the
 * last request completed (re-dirtying it if one failed). */
static gboolean
copy_range(XmWorker *w, XmChunk *c, GError **error)
{
    XmMirrorJob *job = w->job;

    if (xm_mirror_range_is_hole(job, c->offset, c->length))
        return xm_mirror_send(w, c, NULL, c->offset, c->length, error);
    c->buf = g_malloc(c->length);
    if (!xm_mirror_read_source(job, c->buf, c->length, c->offset, error)) {
        g_atomic_int_set(&c->failed, 1);
        return FALSE;
    }
    return xm_mirror_send(w, c, c->buf, c->offset, c->length, error);
}

/* Requests no larger than a quarter second of the bandwidth limit keep
 * progress smooth and cancel quick under a low limit. */
guint64
xm_mirror_request_size(XmMirrorJob *job)
{
    double rate;
    guint64 n = job->max_request;

    g_mutex_lock(&job->rate.lock);
    rate = job->rate.rate;
    g_mutex_unlock(&job->rate.lock);
    if (rate > 0 && rate / 4 < (double)n)
        n = MAX((guint64)(rate / 4), job->granularity);
    return n;
}

static gboolean
tracked_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 off, len;
        XmChunk *c;
        gboolean ok;

        if (!xm_bitmap_claim_dirty(job->bitmap, &job->pass_cursor,
                                   xm_mirror_request_size(job), &off, &len))
            break;
        c = xm_chunk_new(job, off, len, TRUE);
        ok = copy_range(w, c, error);
        if (!ok)
            g_atomic_int_set(&c->failed, 1);
        xm_chunk_unref(c);
        if (!ok)
            return FALSE;
    }
    if (xm_mirror_cancelled(job)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        return FALSE;
    }
    return xm_nbd_conn_wait(w->conn, 0, 0, error);
}

gboolean
xm_mirror_tracked_pass(XmMirrorJob *job, GError **error)
{
    /* the bitmap's lock guards the cursor; no worker runs now */
    job->pass_cursor = 0;
    return xm_mirror_run_workers(job, tracked_worker, error);
}
