/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verification: every chunk of the source and of the destination (read
 * back over NBD, one worker per connection, the destination read
 * overlapping the source read) gets an xxh3-128 hash; the chunks are
 * compared one by one and each side's digest is the xxh3-128 of its chunk
 * hashes in order. Any difference is an error naming the first offset.
 *
 * Hashing everything while the guest is paused costs a read of both whole
 * images. With xm_mirror_job_preverify() the chunks are hashed while the
 * guest still runs, and the final verification reads only the chunks that
 * changed since. What makes an early hash trustworthy is the generation
 * of its chunk: each side of each chunk has a counter that every change
 * bumps once the change is done (the write hook for guest writes, the
 * completion of the copier's and of synchronous writes for the
 * destination), a hash is stored with the generation sampled before its
 * bytes were read, and it counts only while that generation is current.
 * A change racing with the read therefore either happened before the
 * sample (and the read saw it) or bumps the counter after it.
 *
 * Scan mode has no tracking of the source: its chunk hashes come only
 * from the final pass, which runs once the caller stopped the source; the
 * destination is hashed ahead like in tracked mode.
 */
#include "config.h"

#define G_LOG_DOMAIN "xenmig-mirror"

#include <string.h>

#include "storage-mirror/mirror-priv.h"
#include "util/util.h"

#define VERIFY_CHUNK XM_MIRROR_VERIFY_CHUNK

void
xm_mirror_verify_init(XmMirrorJob *job)
{
    guint64 n = (job->size + VERIFY_CHUNK - 1) / VERIFY_CHUNK;

    g_mutex_init(&job->vlock);
    job->nvchunks = n;
    n = MAX(n, 1);
    job->src_gen = g_new0(guint64, n);
    job->dst_gen = g_new0(guint64, n);
    job->src_hgen = g_new0(guint64, n);
    job->dst_hgen = g_new0(guint64, n);
    job->src_sums = g_new0(XXH128_hash_t, n);
    job->dst_sums = g_new0(XXH128_hash_t, n);
}

void
xm_mirror_verify_clear(XmMirrorJob *job)
{
    if (!job->src_gen)
        return;
    g_mutex_clear(&job->vlock);
    g_free(job->src_gen);
    g_free(job->dst_gen);
    g_free(job->src_hgen);
    g_free(job->dst_hgen);
    g_free(job->src_sums);
    g_free(job->dst_sums);
}

void
xm_mirror_mark_stale(XmMirrorJob *job, guint64 offset, guint64 length,
                     gboolean source, gboolean dest)
{
    guint64 first, last;

    if (length == 0 || offset >= job->size)
        return;
    first = offset / VERIFY_CHUNK;
    last = MIN((offset + length - 1) / VERIFY_CHUNK, job->nvchunks - 1);
    g_mutex_lock(&job->vlock);
    for (guint64 i = first; i <= last; i++) {
        if (source)
            job->src_gen[i]++;
        if (dest)
            job->dst_gen[i]++;
    }
    g_mutex_unlock(&job->vlock);
}

/* Called with vlock held. */
static gboolean
src_valid(XmMirrorJob *job, guint64 i)
{
    return job->src_hgen[i] == job->src_gen[i] + 1;
}

static gboolean
dst_valid(XmMirrorJob *job, guint64 i)
{
    return job->dst_hgen[i] == job->dst_gen[i] + 1;
}

void
xm_mirror_record_source_sum(XmMirrorJob *job, guint64 offset, XXH128_hash_t sum)
{
    guint64 i = offset / VERIFY_CHUNK;

    g_mutex_lock(&job->vlock);
    job->src_sums[i] = sum;
    job->src_hgen[i] = job->src_gen[i] + 1;
    g_mutex_unlock(&job->vlock);
}

guint64
xm_mirror_verified_bytes(XmMirrorJob *job)
{
    guint64 n = 0;

    g_mutex_lock(&job->vlock);
    for (guint64 i = 0; i < job->nvchunks; i++) {
        if (src_valid(job, i) && dst_valid(job, i) &&
            XXH128_isEqual(job->src_sums[i], job->dst_sums[i]))
            n += MIN(VERIFY_CHUNK, job->size - i * VERIFY_CHUNK);
    }
    g_mutex_unlock(&job->vlock);
    return n;
}

/* Only a tracked job attached to its server sees every change of its
 * source; otherwise a source hash is trusted only from the final pass. */
static gboolean
source_tracked(XmMirrorJob *job)
{
    return job->opts.mode == XM_MIRROR_TRACKED && job->server != NULL;
}

typedef struct {
    gint refs;
    guint8 *buf;
    gboolean done;
    int err;
} VerifyRead;

static void
vread_unref(VerifyRead *r)
{
    if (g_atomic_int_dec_and_test(&r->refs)) {
        g_free(r->buf);
        g_free(r);
    }
}

static void
vread_done(gpointer data, int err)
{
    VerifyRead *r = data;

    r->err = err;
    r->done = TRUE;
    vread_unref(r);
}

/* Hashes chunk @i of the source (if @want_src) and of the destination (if
 * @want_dst) and stores each hash with the generation sampled before its
 * read. The destination read overlaps the source read. */
static gboolean
hash_chunk(XmWorker *w, guint64 i, gboolean want_src, gboolean want_dst,
           gboolean throttled, GError **error)
{
    XmMirrorJob *job = w->job;
    guint64 off = i * VERIFY_CHUNK, len = MIN(VERIFY_CHUNK, job->size - off);
    VerifyRead *r = NULL;
    g_autofree guint8 *src = NULL;
    XXH128_hash_t hs = { 0 }, hd = { 0 };
    guint64 sg, dg;
    gboolean ok = FALSE;

    g_mutex_lock(&job->vlock);
    sg = job->src_gen[i];
    dg = job->dst_gen[i];
    g_mutex_unlock(&job->vlock);

    if (want_dst) {
        if (throttled && !xm_mirror_throttle(w, len, error))
            return FALSE;
        r = g_new0(VerifyRead, 1);
        r->refs = 2;
        r->buf = g_malloc(len);
        if (!xm_nbd_conn_submit_read(w->conn, r->buf, len, off, vread_done, r, error)) {
            r->refs = 1;
            goto out;
        }
    }
    if (want_src) {
        src = g_malloc(len);
        if (!xm_mirror_read_source(job, src, len, off, error))
            goto out;
        xm_atomic_add64(&job->verify_read_src, len);
        hs = XXH3_128bits(src, len);
    }
    if (want_dst) {
        if (!xm_nbd_conn_wait_flag(w->conn, &r->done, error))
            goto out;
        if (r->err) {
            g_set_error(error, XM_ERROR, XM_ERR_READ_FAILED,
                        _("cannot read %s at offset %" G_GUINT64_FORMAT ": %s"),
                        job->dest_uri, off, g_strerror(r->err));
            goto out;
        }
        xm_atomic_add64(&job->verify_read_dst, len);
        hd = XXH3_128bits(r->buf, len);
    }
    g_mutex_lock(&job->vlock);
    if (want_src && job->src_gen[i] == sg) {
        job->src_sums[i] = hs;
        job->src_hgen[i] = sg + 1;
    }
    if (want_dst && job->dst_gen[i] == dg) {
        job->dst_sums[i] = hd;
        job->dst_hgen[i] = dg + 1;
    }
    g_mutex_unlock(&job->vlock);
    ok = TRUE;

 out:
    if (r)
        vread_unref(r);
    return ok;
}

/* A sweep gives way to the copy: at the end of its turn, to a growing
 * dirty backlog, a requested pass or the completion. */
static gboolean
preverify_yield(XmMirrorJob *job)
{
    gboolean stop;

    if (g_get_monotonic_time() >= job->pv_slice_end)
        return TRUE;
    g_mutex_lock(&job->lock);
    stop = job->complete_requested || job->passes_requested > 0;
    g_mutex_unlock(&job->lock);
    if (!stop && job->bitmap)
        stop = xm_bitmap_count_dirty(job->bitmap) > XM_MIRROR_PREVERIFY_MAX_DIRTY;
    return stop;
}

static gboolean
preverify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;
    gboolean hash_src = source_tracked(job);

    while (!xm_mirror_cancelled(job)) {
        guint64 i;
        gboolean want_src = FALSE, want_dst = FALSE;

        if (preverify_yield(job))
            break;
        g_mutex_lock(&job->vlock);
        for (;;) {
            i = job->pv_cursor;
            if (i >= job->nvchunks)
                break;
            job->pv_cursor++;
            want_src = hash_src && !src_valid(job, i);
            want_dst = !dst_valid(job, i);
            if (want_src || want_dst)
                break;
        }
        g_mutex_unlock(&job->vlock);
        if (i >= job->nvchunks)
            break;
        if (!hash_chunk(w, i, want_src, want_dst, TRUE, error))
            return FALSE;
    }
    if (xm_mirror_cancelled(job)) {
        g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
        return FALSE;
    }
    return TRUE;
}

gboolean
xm_mirror_preverify_due(XmMirrorJob *job)
{
    gboolean want;

    g_mutex_lock(&job->lock);
    want = job->preverify && job->opts.verify && !job->complete_requested;
    g_mutex_unlock(&job->lock);
    if (!want)
        return FALSE;
    g_mutex_lock(&job->vlock);
    /* an interrupted sweep goes on at once; a new one waits a little */
    want = job->pv_cursor < job->nvchunks ||
           g_get_monotonic_time() >= job->pv_next_sweep;
    if (want) {
        gboolean hash_src = source_tracked(job);
        guint64 i;

        for (i = 0; i < job->nvchunks; i++) {
            if (!dst_valid(job, i) || (hash_src && !src_valid(job, i)))
                break;
        }
        want = i < job->nvchunks;
    }
    g_mutex_unlock(&job->vlock);
    return want;
}

gboolean
xm_mirror_preverify_step(XmMirrorJob *job, GError **error)
{
    gboolean ok;

    job->pv_slice_end = g_get_monotonic_time() + XM_MIRROR_PREVERIFY_SLICE_US;
    g_mutex_lock(&job->vlock);
    if (job->pv_cursor >= job->nvchunks)
        job->pv_cursor = 0;     /* a new sweep */
    g_mutex_unlock(&job->vlock);
    ok = xm_mirror_run_workers(job, preverify_worker, error);
    g_mutex_lock(&job->vlock);
    if (job->pv_cursor >= job->nvchunks)
        job->pv_next_sweep = g_get_monotonic_time() + XM_MIRROR_PREVERIFY_INTERVAL_US;
    g_mutex_unlock(&job->vlock);
    return ok;
}

/* The final verification: only what has no current hash is read. */
static gboolean
verify_worker(XmWorker *w, GError **error)
{
    XmMirrorJob *job = w->job;

    while (!xm_mirror_cancelled(job)) {
        guint64 i;
        gboolean want_src, want_dst, valid, same;

        g_mutex_lock(&job->lock);
        if (job->scan_cursor >= job->nvchunks) {
            g_mutex_unlock(&job->lock);
            return TRUE;
        }
        i = job->scan_cursor++;
        g_mutex_unlock(&job->lock);
        g_mutex_lock(&job->vlock);
        want_src = !src_valid(job, i);
        want_dst = !dst_valid(job, i);
        g_mutex_unlock(&job->vlock);
        if ((want_src || want_dst) &&
            !hash_chunk(w, i, want_src, want_dst, FALSE, error))
            return FALSE;
        g_mutex_lock(&job->vlock);
        valid = src_valid(job, i) && dst_valid(job, i);
        same = XXH128_isEqual(job->src_sums[i], job->dst_sums[i]);
        g_mutex_unlock(&job->vlock);
        if (!valid) {
            /* nothing may change the images any more */
            g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                        _("'%s' or %s changed at offset %" G_GUINT64_FORMAT
                          " during the final verification"), job->source,
                        job->dest_uri, i * VERIFY_CHUNK);
            return FALSE;
        }
        if (!same) {
            guint64 off = i * VERIFY_CHUNK;

            g_mutex_lock(&job->lock);
            if (job->mismatch_chunks++ == 0 || off < job->first_mismatch)
                job->first_mismatch = off;
            g_mutex_unlock(&job->lock);
        }
    }
    g_set_error_literal(error, XM_ERROR, XM_ERR_OPERATION_ABORTED, _("cancelled"));
    return FALSE;
}

static void
digest(const XXH128_hash_t *sums, guint64 n, char out[33])
{
    XXH3_state_t *st = XXH3_createState();
    XXH128_canonical_t canon;
    XXH128_hash_t h;

    XXH3_128bits_reset(st);
    for (guint64 i = 0; i < n; i++) {
        XXH128_canonicalFromHash(&canon, sums[i]);
        XXH3_128bits_update(st, &canon, sizeof(canon));
    }
    h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    XXH128_canonicalFromHash(&canon, h);
    for (guint i = 0; i < 16; i++)
        g_snprintf(out + 2 * i, 3, "%02x", canon.digest[i]);
}

gboolean
xm_mirror_verify(XmMirrorJob *job, GError **error)
{
    guint64 n = job->nvchunks;
    guint64 src0 = xm_atomic_get64(&job->verify_read_src);
    guint64 dst0 = xm_atomic_get64(&job->verify_read_dst);

    g_mutex_lock(&job->lock);
    job->scan_cursor = 0;
    job->mismatch_chunks = 0;
    g_mutex_unlock(&job->lock);
    if (!xm_mirror_run_workers(job, verify_worker, error))
        return FALSE;

    g_mutex_lock(&job->lock);
    g_mutex_lock(&job->vlock);
    digest(job->src_sums, n, job->result.source_checksum);
    digest(job->dst_sums, n, job->result.dest_checksum);
    g_mutex_unlock(&job->vlock);
    g_debug("verify: source %s destination %s; read %" G_GUINT64_FORMAT
            " bytes of the source and %" G_GUINT64_FORMAT " of the destination",
            job->result.source_checksum, job->result.dest_checksum,
            xm_atomic_get64(&job->verify_read_src) - src0,
            xm_atomic_get64(&job->verify_read_dst) - dst0);
    if (job->mismatch_chunks > 0) {
        g_set_error(error, XM_ERROR, XM_ERR_OPERATION_FAILED,
                    _("verification failed: %s differs from '%s' in %" G_GUINT64_FORMAT
                      " chunk(s) of %u bytes, the first at offset %" G_GUINT64_FORMAT
                      " (checksums %s and %s)"),
                    job->dest_uri, job->source, job->mismatch_chunks, VERIFY_CHUNK,
                    job->first_mismatch, job->result.dest_checksum,
                    job->result.source_checksum);
        g_mutex_unlock(&job->lock);
        return FALSE;
    }
    job->result.verified = TRUE;
    g_mutex_unlock(&job->lock);
    return TRUE;
}
