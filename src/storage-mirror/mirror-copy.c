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
#include <string.h>
#include <sys/mman.h>
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
    /* every request made from the chunk completed: hashes of the
     * destination taken before do not describe it any more */
    if (g_atomic_int_get(&c->wrote))
        xm_mirror_mark_stale(c->job, c->offset, c->length, FALSE, TRUE);
    if (c->tracked)
        xm_bitmap_end_inflight(c->job->bitmap, c->offset, c->length,
                               g_atomic_int_get(&c->failed));
    else if (!g_atomic_int_get(&c->failed))
        xm_atomic_add64(&c->job->pass_done, c->length);
    if (c->buf && c->length <= c->job->max_request)
        g_async_queue_push(c->job->buf_pool, c->buf);
    else
        g_free(c->buf);
    g_free(c);
}

guint8 *
xm_chunk_alloc_buf(XmChunk *c)
{
    if (c->length <= c->job->max_request) {
        c->buf = g_async_queue_try_pop(c->job->buf_pool);
        if (!c->buf)
            c->buf = g_malloc(c->job->max_request);
    } else {
        c->buf = g_malloc(c->length);
    }
    return c->buf;
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

void
xm_mirror_source_map(XmMirrorJob *job)
{
    void *p;

    if (job->size == 0 || job->size > G_MAXSIZE)
        return;
    p = mmap(NULL, (size_t)job->size, PROT_READ, MAP_SHARED, job->src_fd, 0);
    if (p == MAP_FAILED) {
        g_debug("cannot map '%s' (%s): reading it with pread", job->source,
                g_strerror(errno));
        return;
    }
    job->src_map = p;
    g_atomic_int_set(&job->src_map_ok, 1);
}

void
xm_mirror_source_unmap(XmMirrorJob *job)
{
    if (job->src_map)
        munmap((void *)job->src_map, (size_t)job->size);
    job->src_map = NULL;
}

/* The pages of [offset, offset+len) of the mapping */
static void
map_pages(XmMirrorJob *job, guint64 offset, guint64 len, guint8 **start, gsize *n)
{
    guint64 page = (guint64)sysconf(_SC_PAGESIZE);
    guint64 first = offset & ~(page - 1);

    *start = (guint8 *)job->src_map + first;
    *n = (gsize)(MIN(offset + len, job->size) - first);
}

const guint8 *
xm_mirror_source_view(XmMirrorJob *job, guint64 offset, guint64 len)
{
    guint8 *start;
    gsize n;

    if (!job->src_map || !g_atomic_int_get(&job->src_map_ok) ||
        offset + len > job->size)
        return NULL;
    map_pages(job, offset, len, &start, &n);
    /* Faulting the range in with one call is cheaper than a fault per few
     * pages, and a range past the end of a file that shrank fails here
     * (EFAULT) instead of raising SIGBUS when touched. */
    if (madvise(start, n, MADV_POPULATE_READ) < 0) {
        if (errno == EINVAL) {
            /* a kernel before 5.14: touching the mapping could raise
             * SIGBUS, so do not use it at all */
            g_debug("no MADV_POPULATE_READ: reading '%s' with pread", job->source);
            g_atomic_int_set(&job->src_map_ok, 0);
        }
        return NULL;
    }
    return job->src_map + offset;
}

void
xm_mirror_source_release(XmMirrorJob *job, guint64 offset, guint64 len)
{
    guint8 *start;
    gsize n;

    /* drop the page table entries (not the page cache): mapped ranges of a
     * large image would otherwise cost page tables of 1/512 of its size */
    map_pages(job, offset, len, &start, &n);
    madvise(start, n, MADV_DONTNEED);
}

/* Whether @pos lies in a hole of the source; *@end is where that hole or
 * data extent ends. Remembers the extent so a sequential sweep costs
 * about one lseek() pair per extent instead of per request. */
static gboolean
extent_at(XmWorker *w, guint64 pos, guint64 *end)
{
    XmMirrorJob *job = w->job;
    off_t d, h;

    if (!job->seek_hole) {
        *end = job->size;
        return FALSE;
    }
    if (pos >= w->ext_start && pos < w->ext_end) {
        *end = w->ext_end;
        return w->ext_hole;
    }
    d = lseek(job->src_fd, (off_t)pos, SEEK_DATA);
    if (d < 0) {
        if (errno != ENXIO) {
            *end = job->size;
            return FALSE;
        }
        d = (off_t)job->size;     /* a hole up to the end of the file */
    }
    if ((guint64)d > pos) {
        w->ext_hole = TRUE;
        w->ext_end = MIN((guint64)d, job->size);
    } else {
        h = lseek(job->src_fd, d, SEEK_HOLE);
        w->ext_hole = FALSE;
        w->ext_end = h > d ? MIN((guint64)h, job->size) : job->size;
    }
    w->ext_start = pos;
    *end = w->ext_end;
    return w->ext_hole;
}

gboolean
xm_mirror_range_is_hole(XmWorker *w, guint64 offset, guint64 len)
{
    guint64 end;

    return extent_at(w, offset, &end) && end >= offset + len;
}

/* Waits for the bandwidth limiter, serving the connection meanwhile so
 * replies keep flowing and a cancel is noticed. */
/* How often a worker waiting for the limiter looks whether the rate
 * changed or it should give up: a paused guest must not wait out a debt
 * made at the old rate (the final drain lifts the limit). */
#define THROTTLE_SLICE_MS 2

gboolean
xm_mirror_throttle_until(XmWorker *w, guint64 bytes,
                         gboolean (*stop)(XmMirrorJob *job), gboolean *stopped,
                         GError **error)
{
    XmRateLimiter *rl = &w->job->rate;
    guint epoch = xm_rate_limiter_epoch(rl);
    gint64 wait = xm_rate_limiter_reserve(rl, bytes, g_get_monotonic_time());
    gint64 until = g_get_monotonic_time() + wait;

    if (stopped)
        *stopped = FALSE;
    while (wait > 0) {
        gint64 left = until - g_get_monotonic_time();

        if (left <= 0)
            break;
        /* a new rate forgave the debt this wait pays */
        if (xm_rate_limiter_epoch(rl) != epoch)
            break;
        if (stop && stop(w->job)) {
            xm_rate_limiter_refund(rl, bytes, g_get_monotonic_time());
            *stopped = TRUE;
            break;
        }
        if (!xm_nbd_conn_poll(w->conn, (int)MAX(MIN(left / 1000, THROTTLE_SLICE_MS), 1),
                              error))
            return FALSE;
    }
    return TRUE;
}

gboolean
xm_mirror_throttle(XmWorker *w, guint64 bytes, GError **error)
{
    return xm_mirror_throttle_until(w, bytes, NULL, NULL, error);
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
    g_atomic_int_set(&c->wrote, 1);
    if (data) {
        w->data_sent += len;
        if (!w->prepaid && !xm_mirror_throttle(w, len, error)) {
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

/* Classes of the 4 KiB pieces of a range being sent. */
enum { PIECE_DATA, PIECE_ZERO, PIECE_HOLE };
#define PIECE 4096u

/* Marks the pieces lying entirely in a hole of the source. */
static void
mark_holes(XmWorker *w, guint64 offset, guint64 len, guint8 *kind)
{
    guint64 pos = offset, end = offset + len;

    while (pos < end) {
        guint64 ext_end;
        gboolean hole = extent_at(w, pos, &ext_end);
        guint64 stop = MIN(ext_end, end);

        if (ext_end <= pos)
            return;
        if (hole) {
            /* pieces fully inside [pos, stop) */
            for (guint64 p = (pos - offset + PIECE - 1) / PIECE;
                 (p + 1) * PIECE <= stop - offset; p++)
                kind[p] = PIECE_HOLE;
        }
        pos = stop;
    }
}

gboolean
xm_mirror_send(XmWorker *w, XmChunk *c, const guint8 *data, guint64 offset,
               guint64 len, GError **error)
{
    guint64 n = (len + PIECE - 1) / PIECE;
    g_autofree guint8 *kind = NULL;
    guint64 i = 0;

    if (!data)
        return send_one(w, c, NULL, offset, len, error);

    /* A piece is a hole if the source has a hole there (and it still reads
     * as zeros: a write may have filled it since), zero if it reads as
     * zeros. Holes go as WRITE_ZEROES whatever their size so the
     * destination keeps every hole the source has; allocated zeros only
     * in runs of at least XM_MIRROR_ZERO_BLOCK, so short zero runs inside
     * data do not split it into many small requests. */
    kind = g_new0(guint8, n);
    mark_holes(w, offset, len, kind);
    for (i = 0; i < n; i++) {
        guint64 plen = MIN(PIECE, len - i * PIECE);

        if (!xm_mirror_is_zero(data + i * PIECE, plen))
            kind[i] = PIECE_DATA;
        else if (kind[i] != PIECE_HOLE)
            kind[i] = PIECE_ZERO;
    }
    for (i = 0; i < n;) {
        guint64 j = i;

        while (j < n && kind[j] == PIECE_ZERO)
            j++;
        if (j > i && (j - i) * PIECE < XM_MIRROR_ZERO_BLOCK && j - i < n)
            memset(kind + i, PIECE_DATA, j - i);
        i = MAX(j, i + 1);
    }
    for (i = 0; i < n;) {
        gboolean zero = kind[i] != PIECE_DATA;
        guint64 j = i + 1, start = i * PIECE, end;

        while (j < n && (kind[j] != PIECE_DATA) == zero)
            j++;
        end = MIN(j * PIECE, len);
        if (!send_one(w, c, zero ? NULL : data + start, offset + start,
                      end - start, error))
            return FALSE;
        i = j;
    }
    return TRUE;
}

/* Copies one claimed range; the chunk ends its in-flight range when the
 * last request completed (re-dirtying it if one failed). */
static gboolean
copy_range(XmWorker *w, XmChunk *c, GError **error)
{
    XmMirrorJob *job = w->job;

    if (c->tracked)
        w->ext_start = w->ext_end = 0;
    if (xm_mirror_range_is_hole(w, c->offset, c->length))
        return xm_mirror_send(w, c, NULL, c->offset, c->length, error);
    xm_chunk_alloc_buf(c);
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

/* The bandwidth is reserved before a range is claimed, so a range stays
 * in flight only while its I/O runs: a synchronous guest write that
 * overlaps it waits for the copy, never for the limiter. */
static gboolean
tracked_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 off, len, req = xm_mirror_request_size(job);
        XmChunk *c;
        gboolean ok;

        if (!xm_mirror_throttle(w, req, error))
            return FALSE;
        if (!xm_bitmap_claim_dirty(job->bitmap, &job->pass_cursor, req, &off, &len)) {
            xm_rate_limiter_refund(&job->rate, req, g_get_monotonic_time());
            break;
        }
        c = xm_chunk_new(job, off, len, TRUE);
        w->prepaid = TRUE;
        w->data_sent = 0;
        ok = copy_range(w, c, error);
        w->prepaid = FALSE;
        if (w->data_sent < req)
            xm_rate_limiter_refund(&job->rate, req - w->data_sent,
                                   g_get_monotonic_time());
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
